import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { echoHandler, op, openapi, startProxy, type TestProxy } from '../harness.ts';

function connect(url: string): Promise<net.Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname, () => resolve(s));
    s.once('error', reject);
  });
}

describe('slow and greedy clients', () => {
  let gw: TestProxy;
  before(async () => {
    gw = await startProxy({
      upstream: echoHandler,
      spec: openapi({ '/a': { get: op('getA') } }),
      api: { name: 'a' },
      config: { server: { headersTimeoutMs: 1000, requestTimeoutMs: 2000, maxConnectionsPerIp: 5 } },
    });
  });
  after(() => gw.close());

  test('cuts off a slowloris client after the header timeout while others are served', async () => {
    const slow = await connect(gw.url);
    let received = '';
    slow.on('data', (c) => {
      received += c;
    });
    const closed = new Promise<number>((resolve) => {
      const started = Date.now();
      slow.once('close', () => resolve(Date.now() - started));
    });
    slow.write('GET /a HTTP/1.1\r\nHost: x\r\n');
    // Trickle one header line every 200 ms, never finishing the head.
    const trickle = setInterval(() => {
      if (!slow.destroyed) slow.write(`X-Slow-${Date.now()}: 1\r\n`);
    }, 200);
    // Meanwhile a normal client is served.
    const r = await fetch(`${gw.url}/a`);
    assert.equal(r.status, 200);
    await r.text();
    const lifetime = await closed;
    clearInterval(trickle);
    assert.ok(lifetime < 5000, `slow client kept its connection for ${lifetime} ms`);
    assert.match(received, /^HTTP\/1\.1 408 /);
  });

  test('closes connections beyond the per-address cap', async () => {
    const sockets = await Promise.all(Array.from({ length: 5 }, () => connect(gw.url)));
    const extra = await connect(gw.url);
    const extraClosed = await Promise.race([
      new Promise<boolean>((resolve) => extra.once('close', () => resolve(true))),
      sleep(2000).then(() => false),
    ]);
    assert.equal(extraClosed, true);
    for (const s of sockets) s.destroy();
    await sleep(100);
    // Once the others are gone, the address may connect again.
    const r = await fetch(`${gw.url}/a`);
    assert.equal(r.status, 200);
  });
});
