import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { createLineWriter } from '../../src/cli/line-writer.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-lines-'));
const lines = (n: number, width = 40) =>
  Array.from({ length: n }, (_, i) => `${JSON.stringify({ n: i, pad: 'x'.repeat(width) })}\n`);
const flushed = (w: ReturnType<typeof createLineWriter>) =>
  new Promise<Error | undefined>((resolve) => w.flush(resolve));

describe('createLineWriter', () => {
  test('writes every line, in order, across many chunks, once flushed', async () => {
    const file = path.join(dir, 'order.log');
    const fd = openSync(file, 'w');
    const w = createLineWriter({ fd, chunkBytes: 1024 });
    const input = lines(5000);
    // Multi-byte text must be encoded, not cut: the chunk bound counts 3 bytes per UTF-16 unit.
    input[17] = `${JSON.stringify({ name: 'Zoë Ørsted 🛡' })}\n`;
    for (const l of input) assert.equal(w.write(l), true);
    assert.equal(await flushed(w), undefined);
    closeSync(fd);
    assert.equal(readFileSync(file, 'utf8'), input.join(''));
    assert.equal(w.dropped, 0);
  });

  test('a line longer than a chunk is written whole, in its place', async () => {
    const file = path.join(dir, 'long.log');
    const fd = openSync(file, 'w');
    const w = createLineWriter({ fd, chunkBytes: 256 });
    const input = ['short\n', `${'y'.repeat(5000)}\n`, 'after\n'];
    for (const l of input) w.write(l);
    await flushed(w);
    closeSync(fd);
    assert.equal(readFileSync(file, 'utf8'), input.join(''));
  });

  test('drops and counts lines beyond the pending bound instead of holding them', async () => {
    const file = path.join(dir, 'bounded.log');
    const fd = openSync(file, 'w');
    let reported = 0;
    const w = createLineWriter({
      fd,
      chunkBytes: 1024,
      maxPendingBytes: 8192,
      onDrop: (n) => {
        reported = n;
      },
    });
    const input = lines(2000);
    let accepted = 0;
    for (const l of input) if (w.write(l)) accepted++;
    await flushed(w);
    closeSync(fd);
    assert.ok(w.dropped > 0 && accepted > 0);
    assert.equal(accepted + w.dropped, input.length);
    assert.equal(reported, w.dropped);
    // Nothing is written synchronously, so what was dropped is exactly the tail written past the bound.
    assert.equal(readFileSync(file, 'utf8'), input.slice(0, accepted).join(''));
  });

  test('a closed descriptor counts every line it could not take', async () => {
    const fd = openSync(path.join(dir, 'closed.log'), 'w');
    closeSync(fd);
    const w = createLineWriter({ fd, chunkBytes: 256 });
    for (const l of lines(30)) w.write(l);
    const err = await flushed(w);
    assert.equal((err as NodeJS.ErrnoException | undefined)?.code, 'EBADF');
    assert.equal(w.dropped, 30);
    assert.equal(w.write('late\n'), false);
    assert.equal(w.dropped, 31);
  });

  test('keeps every line, in order, when stdout is a pipe whose reader stalls', async () => {
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createLineWriter } from ${JSON.stringify(path.join(import.meta.dirname, '../../src/cli/line-writer.ts'))};
         const w = createLineWriter();
         for (let i = 0; i < 40000; i++) w.write(JSON.stringify({ n: i, pad: 'z'.repeat(60) }) + '\\n');
         w.flush((err) => { if (err) process.exitCode = 3; });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 300));
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stdout.resume();
    const code = await new Promise((r) => child.once('close', r));
    assert.equal(code, 0);
    const got = Buffer.concat(chunks).toString('utf8').split('\n');
    assert.equal(got.pop(), '');
    assert.equal(got.length, 40000);
    got.forEach((l, i) => {
      if ((JSON.parse(l) as { n: number }).n !== i) assert.fail(`line ${i} out of order: ${l}`);
    });
  });
});
