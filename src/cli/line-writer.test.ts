import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createLineWriter } from './line-writer.ts';

test('lines written into the buffer and as strings come out in order, across chunks and beyond one', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'line-writer-'));
  const file = path.join(dir, 'out.log');
  const fd = openSync(file, 'w');
  try {
    const out = createLineWriter({ fd, chunkBytes: 256 });
    const fill = (buf: Buffer, at: number, text: string, n: number) =>
      at + buf.write(`${text}${n}\n`, at, 'utf8');
    const expected: string[] = [];
    for (let i = 0; i < 50; i++) {
      const text = i === 20 ? `big ${'é'.repeat(300)} ` : `line ${i} `;
      // A generous bound, as the access log asks for: the writer seals a chunk that could not hold it.
      assert.equal(out.writeInto(Buffer.byteLength(text) + 100, fill, text, i), true);
      expected.push(`${text}${i}`);
      if (i % 7 === 0) {
        out.write(`string ${i}\n`);
        expected.push(`string ${i}`);
      }
    }
    await new Promise<void>((resolve, reject) => out.flush((err) => (err ? reject(err) : resolve())));
    assert.deepEqual(readFileSync(file, 'utf8').split('\n').slice(0, -1), expected);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true });
  }
});

test('a line the pending bound cannot take is dropped and counted', () => {
  const drops: number[] = [];
  const out = createLineWriter({
    fd: -1,
    chunkBytes: 256,
    maxPendingBytes: 1000,
    onDrop: (n) => drops.push(n),
  });
  const fill = (buf: Buffer, at: number, _a: undefined, _b: undefined) => at + buf.write('x\n', at);
  assert.equal(out.writeInto(2000, fill, undefined, undefined), false);
  assert.deepEqual(drops, [1]);
  assert.equal(out.dropped, 1);
});
