import { randomFillSync } from 'node:crypto';

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/**
 * Random hex identifiers (trace ids, span ids, request ids) drawn from a pooled buffer: one
 * `randomFillSync` per 4 KiB instead of one per id, which matters at tens of thousands of requests a
 * second. Ids are still from the CSPRNG, so they stay unguessable. The writer puts the hex digits of
 * `bytes` random bytes (two per byte, lower case) into `out` at `at`, for ids assembled in a buffer
 * without a string per part.
 */
export function createHexWriter(poolBytes = 4096): (out: Buffer, at: number, bytes: number) => void {
  const pool = Buffer.allocUnsafe(poolBytes);
  let offset = poolBytes;
  return (out, at, bytes) => {
    if (offset + bytes > poolBytes) {
      randomFillSync(pool);
      offset = 0;
    }
    for (let i = 0; i < bytes; i++) {
      const b = pool[offset + i];
      out[at + 2 * i] = HEX_DIGITS[b >> 4];
      out[at + 2 * i + 1] = HEX_DIGITS[b & 15];
    }
    offset += bytes;
  };
}
