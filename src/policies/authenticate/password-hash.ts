import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { PortcullisError } from '../../core/errors.ts';

/** scrypt cost parameters (RFC 7914 §2): N (CPU/memory cost, a power of two), r (block size), p (parallelism). */
export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** A stored password hash: its parameters, salt and derived key. */
export interface PasswordHash extends ScryptParams {
  readonly salt: Buffer;
  readonly key: Buffer;
}

/**
 * Cost of new hashes: N=2^15, r=8, p=3 is one of the OWASP Password Storage Cheat Sheet's scrypt settings
 * (32 MiB per verification), chosen over N=2^17 (128 MiB) because a gateway may verify several at once.
 */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 3 };

/** Weakest and strongest parameters accepted in config: below is too cheap to guess, above too costly to serve. */
export const SCRYPT_BOUNDS = { minN: 2 ** 14, maxN: 2 ** 20, minR: 8, maxR: 32, maxP: 16 } as const;

/** scrypt's working memory is about 128·N·r bytes; hashes needing more than this are refused. */
const MAX_MEMORY_BYTES = 256 * 1024 * 1024;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
const B64URL = '[A-Za-z0-9_-]';
const FORMAT = new RegExp(
  `^scrypt\\$(\\d{1,8})\\$(\\d{1,3})\\$(\\d{1,3})\\$(${B64URL}{22,88})\\$(${B64URL}{22,88})$`,
);

/** A stored hash that is not `scrypt$N$r$p$salt$key` within the accepted bounds. */
export class PasswordHashError extends PortcullisError {
  readonly code = 'ERR_PASSWORD_HASH';
  constructor(message: string) {
    super(message);
    this.name = 'PasswordHashError';
  }
}

/**
 * Passwords are compared as the UTF-8 bytes of their NFC form (RFC 7617 §2.1 with `charset="UTF-8"`
 * asks for the RFC 8265 OpaqueString profile, whose normalisation is NFC), so the same password typed on
 * two keyboards hashes alike.
 */
export function passwordBytes(password: string): Buffer {
  return Buffer.from(password.normalize('NFC'), 'utf8');
}

/**
 * Parses `scrypt$N$r$p$salt$key` (salt and key unpadded base64url). Throws PasswordHashError naming what
 * is wrong; never echoes the value.
 */
export function parsePasswordHash(text: string): PasswordHash {
  const m = FORMAT.exec(text);
  if (m === null) throw new PasswordHashError('expected scrypt$N$r$p$salt$key (salt and key base64url)');
  const params = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  checkScryptParams(params);
  const salt = strictBase64url(m[4]);
  const key = strictBase64url(m[5]);
  if (salt === undefined || key === undefined) throw new PasswordHashError('salt and key must be base64url');
  if (salt.length < SALT_BYTES)
    throw new PasswordHashError(`the salt must have at least ${SALT_BYTES} bytes`);
  if (key.length < 16 || key.length > 64) throw new PasswordHashError('the key must have 16 to 64 bytes');
  return { ...params, salt, key };
}

/** Throws PasswordHashError when scrypt parameters are outside `SCRYPT_BOUNDS`. */
export function checkScryptParams({ N, r, p }: ScryptParams): void {
  if (!Number.isInteger(Math.log2(N)) || N < SCRYPT_BOUNDS.minN || N > SCRYPT_BOUNDS.maxN) {
    throw new PasswordHashError(
      `N must be a power of two from ${SCRYPT_BOUNDS.minN} to ${SCRYPT_BOUNDS.maxN}, not ${N}`,
    );
  }
  if (!Number.isInteger(r) || r < SCRYPT_BOUNDS.minR || r > SCRYPT_BOUNDS.maxR) {
    throw new PasswordHashError(`r must be from ${SCRYPT_BOUNDS.minR} to ${SCRYPT_BOUNDS.maxR}, not ${r}`);
  }
  if (!Number.isInteger(p) || p < 1 || p > SCRYPT_BOUNDS.maxP) {
    throw new PasswordHashError(`p must be from 1 to ${SCRYPT_BOUNDS.maxP}, not ${p}`);
  }
  if (128 * N * r > MAX_MEMORY_BYTES) {
    throw new PasswordHashError(`N·r needs more than ${MAX_MEMORY_BYTES / 2 ** 20} MiB per verification`);
  }
}

function strictBase64url(s: string): Buffer | undefined {
  const b = Buffer.from(s, 'base64url');
  // Node ignores stray trailing bits; only the canonical spelling of the bytes is accepted.
  return b.toString('base64url') === s ? b : undefined;
}

/** The config form of a hash. */
export function formatPasswordHash(h: PasswordHash): string {
  return `scrypt$${h.N}$${h.r}$${h.p}$${h.salt.toString('base64url')}$${h.key.toString('base64url')}`;
}

/** Runs scrypt on the libuv thread pool (never on the event loop). */
export function deriveKey(
  password: Buffer,
  params: ScryptParams,
  salt: Buffer,
  length: number,
): Promise<Buffer> {
  const { N, r, p } = params;
  return new Promise((resolve, reject) => {
    // OpenSSL needs about 128·r·(N + p + 2) bytes; leave room so a valid hash is never refused for memory.
    scrypt(password, salt, length, { N, r, p, maxmem: 128 * r * (N + p + 2) + 2 ** 20 }, (err, key) =>
      err === null ? resolve(key) : reject(err),
    );
  });
}

/**
 * Hashes a password with a fresh random salt, for `portcullis password hash`.
 *
 * @example
 * const stored = await hashPassword('correct horse battery staple'); // scrypt$32768$8$3$...$...
 */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  checkScryptParams(params);
  const salt = randomBytes(SALT_BYTES);
  const key = await deriveKey(passwordBytes(password), params, salt, KEY_BYTES);
  return formatPasswordHash({ ...params, salt, key });
}

/** Whether `password` (already `passwordBytes`) derives the stored key; compared in constant time. */
export async function verifyPassword(password: Buffer, stored: PasswordHash): Promise<boolean> {
  const derived = await deriveKey(password, stored, stored.salt, stored.key.length);
  return timingSafeEqual(derived, stored.key);
}
