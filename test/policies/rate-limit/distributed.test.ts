import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { problems } from '../../../src/core/problems.ts';
import { echoHandler, op, openapi, startServer, type TestServer } from '../../harness.ts';
import { REDIS_URL } from '../../kit/redis.ts';
import { parseItemList } from '../../kit/structured-fields.ts';
import type { LoadResult } from './load.ts';
import { runLoad } from './load.ts';
import { type ChildGateway, startChildGateways } from './processes.ts';

/**
 * Three gateway processes share the Redis at 127.0.0.1:6379; 20 concurrent clients hammer one key (all come
 * from 127.0.0.1 and the limits are keyed by ip). Admitted requests must match the limit exactly.
 */
const N = 200;
const WINDOW_S = 10;
/**
 * The fixed window's own length: its test must run inside one epoch-aligned window, and a long one makes the
 * wait for a fresh window rare (the last 5 s of 60, not of 10).
 */
const FIXED_WINDOW_S = 60;
const prefix = `pctest:${randomBytes(6).toString('hex')}:`;

const spec = openapi({
  '/gcra': { get: op('gcra') },
  '/fixed': { get: op('fixed') },
  '/sliding': { get: op('sliding') },
  '/warm': { get: op('warm') },
});

const limitOf = (name: string, algorithm: string, windowSeconds = WINDOW_S) => ({
  policies: { rateLimit: { limits: [{ name, algorithm, limit: N, windowSeconds, key: 'ip' }] } },
});

function admitted(r: LoadResult): number {
  return r.byStatus.get(200) ?? 0;
}

function assertOnlyDecisions(r: LoadResult): void {
  assert.equal(r.errors, 0, 'transport errors');
  for (const status of r.byStatus.keys()) assert.ok(status === 200 || status === 429, `unexpected ${status}`);
}

/** Every RateLimit field parses as an RFC 9651 list, and a 429 carries Retry-After ≥ t and the problem body. */
function assertHeaders(r: LoadResult, name: string, windowSeconds = WINDOW_S): void {
  for (const s of r.samples) {
    const policy = parseItemList(s.headers['ratelimit-policy'] as string);
    assert.equal(policy[0].value, name);
    assert.equal(policy[0].params.get('q'), N);
    assert.equal(policy[0].params.get('w'), windowSeconds);
    const rl = parseItemList(s.headers.ratelimit as string);
    assert.equal(typeof rl[0].params.get('r'), 'number');
    if (s.status === 429) {
      const t = rl[0].params.get('t') as number;
      assert.ok(Number(s.headers['retry-after']) >= t, 'Retry-After earlier than t');
      const body = JSON.parse(s.body);
      assert.equal(body.type, problems.quotaExceeded.type);
      assert.deepEqual(body['violated-policies'], [name]);
    }
  }
}

/** Waits until at least `needMs` remain in the current epoch-aligned window (fixed windows must not roll). */
async function waitForWindowRoom(needMs: number): Promise<void> {
  const w = FIXED_WINDOW_S * 1000;
  const into = Date.now() % w;
  if (into > 100 && w - into > needMs) return;
  await new Promise((r) => setTimeout(r, (w - into + 150) % w));
}

describe('limits shared by three gateway processes through Redis', () => {
  let upstream: TestServer;
  let gateways: ChildGateway[];
  let urls: string[];

  before(async () => {
    upstream = await startServer(echoHandler);
    gateways = await startChildGateways(
      3,
      { 'openapi.yaml': spec },
      {
        state: { store: 'redis', redis: { url: REDIS_URL, keyPrefix: prefix } },
        apis: [
          {
            name: 'lim',
            spec: './openapi.yaml',
            upstream: { url: upstream.url },
            operations: {
              gcra: limitOf('g', 'gcra'),
              fixed: limitOf('f', 'fixed-window', FIXED_WINDOW_S),
              sliding: limitOf('s', 'sliding-window'),
            },
          },
        ],
      },
    );
    urls = gateways.map((g) => g.url);
    // Warm the processes up (JIT, upstream and Redis connections) on a route without limits.
    await runLoad({ urls, path: '/warm', clients: 6, durationMs: 3000, maxRequests: 300 });
  });

  after(async () => {
    const seen = await Promise.all((gateways ?? []).map((g) => g.stop()));
    // Any fail-open decision would void the exactness claims above; say so if Redis was ever unavailable.
    assert.deepEqual(
      seen,
      [{}, {}, {}],
      'a gateway lost Redis during the run (see rate-limit-store-* counts)',
    );
    await upstream?.close();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  test('a fixed window admits exactly N per window across the three processes', async (t) => {
    await waitForWindowRoom(5000);
    const r = await runLoad({ urls, path: '/fixed', clients: 20, durationMs: 4000, maxRequests: 3 * N });
    assertOnlyDecisions(r);
    assert.ok((r.byStatus.get(429) ?? 0) > 0, 'the load must exceed the limit');
    t.diagnostic(`fixed: admitted ${admitted(r)} of ${N}, ${r.byStatus.get(429)} rejected`);
    assert.equal(admitted(r), N);
    assertHeaders(r, 'f', FIXED_WINDOW_S);
  });

  test('a sliding window admits exactly N within one window across the three processes', async (t) => {
    const r = await runLoad({ urls, path: '/sliding', clients: 20, durationMs: 4000, maxRequests: 3 * N });
    assertOnlyDecisions(r);
    assert.ok((r.byStatus.get(429) ?? 0) > 0, 'the load must exceed the limit');
    t.diagnostic(`sliding: admitted ${admitted(r)} of ${N}, ${r.byStatus.get(429)} rejected`);
    assert.equal(admitted(r), N);
    assertHeaders(r, 's');
  });

  test('GCRA admits the burst plus one unit per emission interval, never more, across the three processes', async (t) => {
    const r = await runLoad({ urls, path: '/gcra', clients: 20, durationMs: 2000 });
    assertOnlyDecisions(r);
    const T = (WINDOW_S * 1000) / N;
    // GCRA's guarantee: the k-th admitted request comes no sooner than (k − burst)·T after the first, and all
    // decisions fell between startedAt and endedAt.
    const upper = N + Math.floor((r.endedAt - r.startedAt) / T);
    // Under continuous demand every unit earned between the first and the last decision is taken.
    const lower = N + Math.floor((r.lastSendAt - r.firstAnswerAt) / T) - 1;
    const got = admitted(r);
    t.diagnostic(`gcra: admitted ${got}, bounds [${lower}, ${upper}], ${r.byStatus.get(429) ?? 0} rejected`);
    assert.ok(got <= upper, `${got} admitted, more than ${upper}`);
    // The lower bound holds only under continuous demand. On a machine too loaded for 20 clients to outrun the
    // limit, nothing is refused: then every request was admitted, which the upper bound already judges.
    if ((r.byStatus.get(429) ?? 0) === 0) {
      t.diagnostic('the load never reached the limit: only the upper bound applies');
      const answered = [...r.byStatus.values()].reduce((a, b) => a + b, 0);
      assert.equal(got, answered, 'without a refusal every request is admitted');
      return;
    }
    assert.ok(got >= lower, `${got} admitted, fewer than ${lower}`);
    // The bounds are exact statements about GCRA; their gap is only how precisely this test can time the run
    // from outside (a CPU stall on a shared machine widens it). Refuse a measurement too loose to mean much.
    assert.ok(upper - lower <= Math.ceil(upper / 20), `bounds [${lower}, ${upper}] too loose to judge`);
    assertHeaders(r, 'g');
  });
});
