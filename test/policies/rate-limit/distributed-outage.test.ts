import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { problems } from '../../../src/core/problems.ts';
import { echoHandler, op, openapi, startServer, type TestServer } from '../../harness.ts';
import { freePort, PrivateRedis } from '../../kit/redis.ts';
import { runLoad } from './load.ts';
import { type ChildGateway, startChildGateways } from './processes.ts';

/**
 * Three gateway processes share a private redis-server that the test stops under load and starts again.
 * Keys are a header value, so each phase starts from a fresh budget.
 */
const N = 30;
const spec = openapi({
  '/open': { get: op('open') },
  '/closed': { get: op('closed') },
  '/probe': { get: op('probe') },
});
const limits = (failMode: string, limit = N) => ({
  policies: {
    rateLimit: {
      failMode,
      limits: [{ name: 'run', algorithm: 'sliding-window', limit, windowSeconds: 60, key: 'header:x-run' }],
    },
  },
});

describe('three gateway processes through a Redis outage', () => {
  let redis: PrivateRedis;
  let upstream: TestServer;
  let gateways: ChildGateway[];
  let urls: string[];
  const agent = new Agent({ connections: 32 });

  async function get(url: string, run: string) {
    const res = await request(url, { dispatcher: agent, headers: { 'x-run': run } });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  }

  /** Exactly one of three requests (one per gateway) on a fresh 1-unit key passes only if all use Redis. */
  async function allOnRedis(probe: string): Promise<boolean> {
    let ok = 0;
    for (const u of urls) if ((await get(`${u}/probe`, probe)).status === 200) ok++;
    return ok === 1;
  }

  before(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    upstream = await startServer(echoHandler);
    gateways = await startChildGateways(
      3,
      { 'openapi.yaml': spec },
      {
        state: { store: 'redis', redis: { url: redis.url, keyPrefix: 'outage:' } },
        apis: [
          {
            name: 'o',
            spec: './openapi.yaml',
            upstream: { url: upstream.url },
            operations: { open: limits('open'), closed: limits('closed'), probe: limits('open', 1) },
          },
        ],
      },
    );
    urls = gateways.map((g) => g.url);
  });

  after(async () => {
    await Promise.all((gateways ?? []).map((g) => g.stop()));
    await upstream?.close();
    await redis?.stop();
    await agent.close();
  });

  test('open keeps answering with local limits, closed answers 503, and shared limits return with Redis', async (t) => {
    // Redis up: exactly N across the three processes.
    const before = await runLoad({
      urls,
      path: '/open',
      clients: 20,
      durationMs: 4000,
      maxRequests: 3 * N,
      headers: { 'x-run': 'a' },
    });
    assert.equal(before.byStatus.get(200), N);

    // Redis stopped while 20 clients are sending: only decisions (200/429), no crash, no transport error.
    const during = runLoad({ urls, path: '/open', clients: 20, durationMs: 2500, headers: { 'x-run': 'b' } });
    await new Promise((r) => setTimeout(r, 300));
    await redis.stop();
    const d = await during;
    t.diagnostic(`during outage: ${JSON.stringify([...d.byStatus])}, errors ${d.errors}`);
    assert.equal(d.errors, 0);
    assert.deepEqual(
      [...d.byStatus.keys()].filter((s) => s !== 200 && s !== 429),
      [],
    );
    // Fail open to the local limiters: at most N from Redis plus N per process.
    assert.ok((d.byStatus.get(200) ?? 0) <= 4 * N, `${d.byStatus.get(200)} admitted during the outage`);
    const closed = await get(`${urls[1]}/closed`, 'c');
    assert.equal(closed.status, 503);
    assert.equal(JSON.parse(closed.body).type, problems.temporaryReducedCapacity.type);
    assert.equal(closed.headers['retry-after'], '1');

    // Redis back (empty): each process reconnects by itself; shared limits return without a restart.
    await redis.start();
    let probes = 0;
    while (!(await allOnRedis(`probe-${probes}`))) {
      assert.ok(++probes < 60, 'gateways did not return to Redis');
      await new Promise((r) => setTimeout(r, 100));
    }
    const afterwards = await runLoad({
      urls,
      path: '/open',
      clients: 20,
      durationMs: 4000,
      maxRequests: 3 * N,
      headers: { 'x-run': 'd' },
    });
    assert.equal(afterwards.byStatus.get(200), N);
    assert.equal((await get(`${urls[2]}/closed`, 'e')).status, 200);
  });
});
