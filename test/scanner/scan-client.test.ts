import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createScanClient, joinUrl, type Session } from '../../src/scanner/scan/client.ts';

describe('scan HTTP client', () => {
  let server: Server;
  let base = '';
  let inFlight = 0;
  let maxInFlight = 0;
  const seenCookies: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const done = (status: number, body: string, headers: Record<string, string | string[]> = {}) =>
        setTimeout(() => {
          inFlight--;
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(body);
        }, 20);
      if (req.url === '/api/login')
        return done(200, '{}', { 'set-cookie': ['sid=abc; HttpOnly', 'theme=dark'] });
      if (req.url === '/api/hang') return; // never answers
      seenCookies.push(String(req.headers.cookie ?? ''));
      done(200, JSON.stringify({ path: req.url, auth: req.headers.authorization ?? null }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/api`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test('joins the target base path and an operation path', () => {
    assert.equal(joinUrl('http://h/api/', '/v2/x'), 'http://h/api/v2/x');
    assert.equal(joinUrl('http://h', 'v2/x'), 'http://h/v2/x');
  });

  test('never has more requests in flight than its concurrency', async () => {
    const client = createScanClient({ target: base, concurrency: 2, ratePerSecond: 1000, timeoutMs: 2000 });
    maxInFlight = 0;
    const all = await Promise.all(
      Array.from({ length: 8 }, (_, i) => client.send({ method: 'GET', path: `/n${i}` })),
    );
    assert.equal(maxInFlight, 2);
    assert.deepEqual(
      all.map((r) => (r.json as { path: string }).path),
      Array.from({ length: 8 }, (_, i) => `/api/n${i}`),
    );
    assert.equal(client.requests(), 8);
    await client.close();
  });

  test('spaces requests by the rate, except a burst', async () => {
    const client = createScanClient({ target: base, concurrency: 4, ratePerSecond: 20, timeoutMs: 2000 });
    let started = performance.now();
    await Promise.all(Array.from({ length: 5 }, () => client.send({ method: 'GET', path: '/r' })));
    // 5 requests at 20/s: the last may start no earlier than 200 ms after the first.
    assert.ok(performance.now() - started >= 195);
    started = performance.now();
    const burst = await Promise.all(
      Array.from({ length: 5 }, () => client.send({ method: 'GET', path: '/b' }, { burst: true })),
    );
    assert.equal(burst.length, 5);
    await client.close();
  });

  test('keeps cookies per session and sends the session headers', async () => {
    const client = createScanClient({ target: base, concurrency: 2, ratePerSecond: 1000, timeoutMs: 2000 });
    const alice: Session = { name: 'alice', headers: { authorization: 'Bearer a' }, cookies: new Map() };
    const bob: Session = { name: 'bob', headers: {}, cookies: new Map() };
    await client.send({ method: 'POST', path: '/login', body: {} }, { session: alice });
    assert.deepEqual(
      [...alice.cookies],
      [
        ['sid', 'abc'],
        ['theme', 'dark'],
      ],
    );
    seenCookies.length = 0;
    const res = await client.send({ method: 'GET', path: '/me' }, { session: alice });
    await client.send({ method: 'GET', path: '/me' }, { session: bob });
    assert.deepEqual(seenCookies, ['sid=abc; theme=dark', '']);
    assert.equal((res.json as { auth: string }).auth, 'Bearer a');
    await client.close();
  });

  test('times a request out and trySend resolves to undefined', async () => {
    const client = createScanClient({ target: base, concurrency: 2, ratePerSecond: 1000, timeoutMs: 100 });
    assert.equal(await client.trySend({ method: 'GET', path: '/hang' }), undefined);
    await assert.rejects(client.send({ method: 'GET', path: '/hang' }), { name: 'TimeoutError' });
    await client.close();
  });
});
