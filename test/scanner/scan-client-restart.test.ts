import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createScanClient } from '../../src/scanner/scan/client.ts';

/** A target that crashes (stops listening, its connections cut) and comes back on the same port. */
function start(port = 0): Promise<Server> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url }));
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

function crash(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

test('a target that went away after answering is waited for while it restarts, and the refusals are counted', async () => {
  let server = await start();
  const port = (server.address() as AddressInfo).port;
  const client = createScanClient({
    target: `http://127.0.0.1:${port}`,
    concurrency: 2,
    ratePerSecond: 1000,
    timeoutMs: 5000,
  });
  try {
    assert.equal((await client.send({ method: 'GET', path: '/before' })).status, 200);
    await crash(server);
    const restarted = new Promise<Server>((resolve) => setTimeout(() => resolve(start(port)), 600));
    const res = await client.trySend({ method: 'GET', path: '/during' });
    server = await restarted;
    assert.equal(res?.status, 200);
    assert.deepEqual(res?.json, { path: '/during' });
    assert.equal(client.refusedAfterAnswering(), 1);
  } finally {
    await client.close();
    await crash(server);
  }
});

test('a target that never answered is not waited for, and one that stays down fails within the request timeout', async () => {
  const server = await start();
  const port = (server.address() as AddressInfo).port;
  await crash(server);
  const client = createScanClient({
    target: `http://127.0.0.1:${port}`,
    concurrency: 2,
    ratePerSecond: 1000,
    timeoutMs: 5000,
  });
  try {
    assert.equal(await client.trySend({ method: 'GET', path: '/' }), undefined);
    assert.equal(client.refusedAfterAnswering(), 0);
  } finally {
    await client.close();
  }
  const back = await start();
  const short = createScanClient({
    target: `http://127.0.0.1:${(back.address() as AddressInfo).port}`,
    concurrency: 1,
    ratePerSecond: 1000,
    timeoutMs: 1000,
  });
  try {
    assert.equal((await short.send({ method: 'GET', path: '/' })).status, 200);
    await crash(back);
    // A request on the kept-alive connection the crash cut is not sent again (it may be what crashed it).
    assert.equal(await short.trySend({ method: 'GET', path: '/' }), undefined);
    assert.equal(await short.trySend({ method: 'GET', path: '/' }), undefined);
  } finally {
    await short.close();
  }
});

test('a target that stays down is waited for up to the patience; later requests fail at once until it answers again', async () => {
  let server = await start();
  const port = (server.address() as AddressInfo).port;
  const client = createScanClient({
    target: `http://127.0.0.1:${port}`,
    concurrency: 1,
    ratePerSecond: 1000,
    timeoutMs: 10_000,
    restartPatienceMs: 1000,
  });
  const servers: Server[] = [server];
  try {
    assert.equal((await client.send({ method: 'GET', path: '/' })).status, 200);
    await crash(server);
    await client.trySend({ method: 'GET', path: '/cut' }); // the kept-alive connection the crash cut, if any
    assert.equal(await client.trySend({ method: 'GET', path: '/a' }), undefined); // waited, then gave up
    const refusals = client.refusedAfterAnswering();
    // Sent once each, without the waits: if they waited, the restart 0.5 s later would let /c through.
    const back = new Promise<Server>((resolve) => setTimeout(() => resolve(start(port)), 500));
    assert.equal(await client.trySend({ method: 'GET', path: '/b' }), undefined);
    assert.equal(await client.trySend({ method: 'GET', path: '/c' }), undefined);
    server = await back;
    servers.push(server);
    assert.equal(client.refusedAfterAnswering(), refusals + 2);
    assert.equal((await client.send({ method: 'GET', path: '/d' })).status, 200);
    await crash(server);
    await client.trySend({ method: 'GET', path: '/cut' });
    const restarted = new Promise<Server>((resolve) => setTimeout(() => resolve(start(port)), 300));
    assert.equal(
      (await client.trySend({ method: 'GET', path: '/e' }))?.status,
      200,
      'waits again once answered',
    );
    servers.push(await restarted);
  } finally {
    await client.close();
    for (const s of servers) if (s.listening) await crash(s);
  }
});
