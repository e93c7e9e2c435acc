import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { echoHandler, op, openapi, startProxy, type TestProxy } from '../../harness.ts';
import { parseItemList } from '../../kit/structured-fields.ts';
import { runLoad } from './load.ts';

/** One gateway process with the memory store: decisions are exact. */
const N = 100;
const spec = openapi({
  '/sliding': { get: op('sliding') },
  '/gcra': { get: op('gcra') },
  '/pre': { get: op('pre') },
});

describe('limits in one gateway process (memory store)', () => {
  let gw: TestProxy;

  before(async () => {
    gw = await startProxy({
      upstream: echoHandler,
      spec,
      api: {
        name: 'mem',
        operations: {
          sliding: {
            policies: {
              rateLimit: {
                limits: [{ name: 's', algorithm: 'sliding-window', limit: N, windowSeconds: 60 }],
              },
            },
          },
          gcra: {
            policies: {
              rateLimit: { limits: [{ name: 'g', algorithm: 'gcra', limit: N, windowSeconds: 10 }] },
            },
          },
          pre: {
            policies: {
              ipRateLimit: {
                limits: [{ name: 'per-ip', algorithm: 'fixed-window', limit: 5, windowSeconds: 3600 }],
              },
              rateLimit: {
                legacyHeaders: true,
                limits: [{ name: 'per-consumer', algorithm: 'gcra', limit: 1000, key: 'consumer' }],
              },
            },
          },
        },
      },
    });
  });
  after(() => gw?.close());

  test('a sliding window admits exactly N to 20 concurrent clients', async () => {
    const r = await runLoad({
      urls: [gw.url],
      path: '/sliding',
      clients: 20,
      durationMs: 4000,
      maxRequests: 3 * N,
    });
    assert.equal(r.errors, 0);
    assert.equal(r.byStatus.get(200), N);
    // Every request past the N-th is refused. On an overloaded machine the load may stop at its deadline
    // before all 3N are sent, so count what was sent rather than assume 3N.
    const sent = [...r.byStatus.values()].reduce((a, b) => a + b, 0);
    assert.ok(sent > N, `the load reached the limit (${sent} sent)`);
    assert.equal(r.byStatus.get(429), sent - N);
  });

  test('GCRA admits the burst plus one unit per emission interval to 20 concurrent clients', async () => {
    const r = await runLoad({ urls: [gw.url], path: '/gcra', clients: 20, durationMs: 1500 });
    const T = 10_000 / N;
    const upper = N + Math.floor((r.endedAt - r.startedAt) / T);
    const lower = N + Math.floor((r.lastSendAt - r.firstAnswerAt) / T) - 1;
    const got = r.byStatus.get(200) ?? 0;
    assert.ok(got >= lower && got <= upper, `${got} not in [${lower}, ${upper}]`);
  });

  test('ipRateLimit and rateLimit both report in one RateLimit field, and the rejection lists the violated limit', async () => {
    const r = await runLoad({ urls: [gw.url], path: '/pre', clients: 1, durationMs: 4000, maxRequests: 6 });
    assert.equal(r.byStatus.get(200), 5);
    const ok = r.samples.find((s) => s.status === 200)!;
    const items = parseItemList(ok.headers.ratelimit as string).map((i) => i.value);
    assert.deepEqual(items, ['per-ip', 'per-consumer']);
    assert.ok(ok.headers['x-ratelimit-limit'] !== undefined);
    const denied = r.samples.find((s) => s.status === 429)!;
    assert.deepEqual(JSON.parse(denied.body)['violated-policies'], ['per-ip']);
    // The per-IP limit ran before anything else: the per-consumer limit never saw the rejected request.
    assert.deepEqual(
      parseItemList(denied.headers.ratelimit as string).map((i) => i.value),
      ['per-ip'],
    );
    const events = gw.events.filter(
      (e) => e['event.action'] === 'rate-limit-exceeded' && e['rule.name'] === 'ipRateLimit',
    );
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]['portcullis.ratelimit.limits'], ['per-ip']);
  });
});

describe('limits configured per API and overridden per operation', () => {
  let gw: TestProxy;
  before(async () => {
    gw = await startProxy({
      upstream: echoHandler,
      spec: openapi({ '/light': { get: op('light') }, '/heavy': { get: op('heavy') } }),
      api: {
        name: 'cost',
        policies: {
          rateLimit: {
            limits: [{ name: 'budget', algorithm: 'fixed-window', limit: 10, windowSeconds: 3600 }],
          },
        },
        operations: { heavy: { policies: { rateLimit: { cost: 4 } } } },
      },
    });
  });
  after(() => gw?.close());

  test('an operation that only sets a cost keeps the API limits and draws from the same budget', async () => {
    const heavy = await runLoad({
      urls: [gw.url],
      path: '/heavy',
      clients: 1,
      durationMs: 4000,
      maxRequests: 3,
    });
    assert.equal(heavy.byStatus.get(200), 2);
    const light = await runLoad({
      urls: [gw.url],
      path: '/light',
      clients: 1,
      durationMs: 4000,
      maxRequests: 3,
    });
    assert.equal(light.byStatus.get(200), 2);
  });
});
