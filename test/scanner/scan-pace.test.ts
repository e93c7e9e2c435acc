import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createScanClient } from '../../src/scanner/scan/client.ts';
import { startServer, type TestServer } from '../kit/server.ts';

/**
 * The scan client's pace against a target's own limits: a 429 with a short Retry-After makes it wait as asked and
 * send the request once more (RFC 6585 section 4: a 429 was not acted on), unless the request probes the limits
 * (`seeLimits`); a lockout's long Retry-After is not waited for and slows nothing down.
 */
describe('the scan client honours a 429’s Retry-After without stalling', () => {
  let api: TestServer;
  const seen = new Map<string, number[]>();
  before(async () => {
    api = await startServer((req, res) => {
      const path = req.url ?? '/';
      const times = seen.get(path) ?? [];
      times.push(performance.now());
      seen.set(path, times);
      // `/limited/*`: the first request of each path is refused with a short wait; `/locked`: always, for 900 s;
      // `/shut`: always, asking 1 s; `/bare`: always, naming no wait.
      if (path === '/locked' || path === '/shut' || (path.startsWith('/limited/') && times.length === 1)) {
        res.writeHead(429, {
          'content-type': 'application/json',
          'retry-after': path === '/locked' ? '900' : '1',
        });
        return res.end('{"error":"slow down"}');
      }
      if (path === '/bare') {
        res.writeHead(429, { 'content-type': 'application/json' });
        return res.end('{"error":"too many failed sign-ins"}');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  after(() => api.close());

  test('a request answered 429 with Retry-After: 1 is sent again after the wait and gets its answer', async () => {
    const client = createScanClient({ target: api.url, concurrency: 2, ratePerSecond: 100, timeoutMs: 5000 });
    try {
      const res = await client.send({ method: 'GET', path: '/limited/a' });
      assert.equal(res.status, 200);
      const [first, second] = seen.get('/limited/a') ?? [];
      assert.ok(second - first >= 950, `sent again after ${Math.round(second - first)} ms`);
      assert.deepEqual(client.limitedAnswers(), { answers: 1, retried: 1 });
    } finally {
      await client.close();
    }
  });

  test('a request that probes the limits (seeLimits) gets the 429 as it came', async () => {
    const client = createScanClient({ target: api.url, concurrency: 2, ratePerSecond: 100, timeoutMs: 5000 });
    try {
      const res = await client.send({ method: 'GET', path: '/limited/b' }, { seeLimits: true });
      assert.equal(res.status, 429);
      assert.equal(seen.get('/limited/b')?.length, 1);
    } finally {
      await client.close();
    }
  });

  test('a lockout’s Retry-After of 900 s is not waited for: the answer stands and the next request goes at once', async () => {
    const client = createScanClient({ target: api.url, concurrency: 2, ratePerSecond: 100, timeoutMs: 5000 });
    try {
      const started = performance.now();
      assert.equal((await client.send({ method: 'GET', path: '/locked' })).status, 429);
      assert.equal((await client.send({ method: 'GET', path: '/free' })).status, 200);
      assert.ok(performance.now() - started < 900, `${Math.round(performance.now() - started)} ms`);
      assert.equal(seen.get('/locked')?.length, 1);
    } finally {
      await client.close();
    }
  });

  test('a 429 naming no wait (a route locked for the run) is neither waited for nor sent again', async () => {
    const client = createScanClient({ target: api.url, concurrency: 2, ratePerSecond: 100, timeoutMs: 5000 });
    try {
      const started = performance.now();
      for (let i = 0; i < 5; i++)
        assert.equal((await client.send({ method: 'POST', path: '/bare' })).status, 429);
      assert.equal(seen.get('/bare')?.length, 5);
      assert.ok(performance.now() - started < 900, `${Math.round(performance.now() - started)} ms`);
    } finally {
      await client.close();
    }
  });

  test('a route still refused after the wait it asked is waited for once, then no more', async () => {
    const client = createScanClient({ target: api.url, concurrency: 2, ratePerSecond: 100, timeoutMs: 5000 });
    try {
      const started = performance.now();
      assert.equal((await client.send({ method: 'POST', path: '/shut' })).status, 429);
      const first = performance.now() - started;
      assert.ok(first >= 950, `first: ${Math.round(first)} ms`);
      for (let i = 0; i < 3; i++)
        assert.equal((await client.send({ method: 'POST', path: '/shut' })).status, 429);
      assert.ok(
        performance.now() - started - first < 900,
        `then ${Math.round(performance.now() - started - first)} ms`,
      );
      assert.equal(seen.get('/shut')?.length, 5);
    } finally {
      await client.close();
    }
  });
});
