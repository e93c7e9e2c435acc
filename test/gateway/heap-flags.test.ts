/**
 * `portcullis serve` restarts itself in place (execve: same pid) with the V8 heap flags of
 * bin/portcullis.js, unless the operator chose other flags (docs/limits.md, "Resident memory").
 * Reads /proc (Linux).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { type ServeProcess, startServeProcess } from '../kit/process.ts';

/** The heap flags serve starts Node with by default (bin/portcullis.js, docs/limits.md). */
const LOW_MEMORY = '--max-semi-space-size=16 --heap-growing-percent=50';
const DEFAULT_FLAGS = LOW_MEMORY.split(' ');

let upstream: http.Server;
let configDir: string;

before(async () => {
  upstream = http.createServer((_req, res) => res.end('{}'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  configDir = await mkdtemp(path.join(tmpdir(), 'portcullis-heap-flags-'));
  await writeFile(
    path.join(configDir, 'api.yaml'),
    stringify({
      openapi: '3.1.0',
      info: { title: 't', version: '1' },
      security: [],
      paths: { '/items': { get: { operationId: 'listItems', responses: { '200': { description: 'ok' } } } } },
    }),
  );
  await writeFile(
    path.join(configDir, 'portcullis.yaml'),
    stringify({
      version: 1,
      server: { listen: [{ host: '127.0.0.1', port: 0 }] },
      admin: { enabled: false },
      logging: { level: 'info', accessLog: false },
      monitor: { enabled: false },
      apis: [
        {
          name: 'shop',
          spec: 'api.yaml',
          upstream: { url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` },
        },
      ],
    }),
  );
});

after(() => new Promise<void>((r) => upstream.close(() => r())));

/** The arguments a process runs with now (after any execve), from /proc. */
async function cmdline(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
}

/** The pids of a process's children (Linux /proc). */
async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
  return text.split(' ').filter(Boolean).map(Number);
}

/**
 * Starts `serve` with `env` added to this process's environment (PORTCULLIS_NODE_FLAGS and
 * NODE_OPTIONS removed unless given) and waits until a request through it is answered.
 */
async function startServe(env: Record<string, string>, args: string[] = []): Promise<ServeProcess> {
  const base = { ...process.env };
  delete base.PORTCULLIS_NODE_FLAGS;
  delete base.PORTCULLIS_HEAP_FLAGS_APPLIED;
  delete base.NODE_OPTIONS;
  const serve = await startServeProcess(path.join(configDir, 'portcullis.yaml'), {
    args,
    env: { ...base, ...env },
  });
  const res = await fetch(`${serve.gatewayUrl}/items`);
  assert.equal(res.status, 200);
  return serve;
}

test('serve runs, under the pid it was started with, with the V8 heap flags it is given', async () => {
  const gw = await startServe({ PORTCULLIS_NODE_FLAGS: LOW_MEMORY });
  try {
    const args = await cmdline(gw.child.pid!);
    for (const flag of DEFAULT_FLAGS) assert.ok(args.includes(flag), `${flag} in ${args.join(' ')}`);
    // One process: the flags came by execve, not by a child Node.
    assert.deepEqual(await childrenOf(gw.child.pid!), []);
  } finally {
    await gw.stop();
  }
});

test('without PORTCULLIS_NODE_FLAGS, serve runs with its default heap flags', async () => {
  const gw = await startServe({});
  try {
    const args = await cmdline(gw.child.pid!);
    for (const flag of DEFAULT_FLAGS) assert.ok(args.includes(flag), `${flag} in ${args.join(' ')}`);
    assert.deepEqual(await childrenOf(gw.child.pid!), []);
  } finally {
    await gw.stop();
  }
});

test("PORTCULLIS_NODE_FLAGS set and empty keeps Node's own heap defaults", async () => {
  const gw = await startServe({ PORTCULLIS_NODE_FLAGS: '' });
  try {
    const args = await cmdline(gw.child.pid!);
    assert.ok(!args.some((a) => a.startsWith('--max-semi-space-size') || a.startsWith('--heap-growing')));
  } finally {
    await gw.stop();
  }
});

test('PORTCULLIS_NODE_FLAGS replaces the heap flags serve restarts with', async () => {
  const gw = await startServe({ PORTCULLIS_NODE_FLAGS: '--max-semi-space-size=16' });
  try {
    const args = await cmdline(gw.child.pid!);
    assert.ok(args.includes('--max-semi-space-size=16'));
    assert.ok(!args.some((a) => a.startsWith('--heap-growing')));
  } finally {
    await gw.stop();
  }
});

test('a heap flag the operator gave in NODE_OPTIONS is not overridden', async () => {
  const gw = await startServe({ NODE_OPTIONS: '--max-semi-space-size=32' });
  try {
    const args = await cmdline(gw.child.pid!);
    assert.ok(!args.some((a) => a.startsWith('--max-semi-space-size')), args.join(' '));
    assert.ok(args.includes('--heap-growing-percent=50'));
  } finally {
    await gw.stop();
  }
});

test('the workers of serve --workers run with the heap flags too', async () => {
  const gw = await startServe({}, ['--workers', '2']);
  try {
    const workers = await childrenOf(gw.child.pid!);
    assert.equal(workers.length, 2);
    for (const pid of workers) {
      const args = await cmdline(pid);
      for (const flag of DEFAULT_FLAGS)
        assert.ok(args.includes(flag), `worker: ${flag} in ${args.join(' ')}`);
    }
  } finally {
    await gw.stop();
  }
});
