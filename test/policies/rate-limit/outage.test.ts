import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createManualClock } from '../../../src/core/clock.ts';
import { createMetrics } from '../../../src/core/metrics.ts';
import type { PolicyHandler } from '../../../src/core/policy.ts';
import { problems } from '../../../src/core/problems.ts';
import { createLimitMetrics, LIMIT_METRICS_KEY } from '../../../src/policies/limit-metrics.ts';
import { rateLimitPolicy } from '../../../src/policies/rate-limit/policy.ts';
import { createRedisStore } from '../../../src/state/redis-store.ts';
import { context, exchange } from '../../kit/operation.ts';
import { freePort, PrivateRedis } from '../../kit/redis.ts';
import { until } from '../../kit/server.ts';

describe('rate limiting through a Redis outage', () => {
  let redis: PrivateRedis;
  let store: ReturnType<typeof createRedisStore>;
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  const statuses: string[] = [];

  before(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    store = createRedisStore({
      url: redis.url,
      keyPrefix: 'outage:',
      onStatus: (s) => statuses.push(s),
    });
    assert.equal(await store.whenReady(2000), true, 'redis ready');
  });
  after(async () => {
    await store.close();
    await redis.stop();
  });

  test('open falls back to a local limiter, closed answers 503, and Redis limits return after a restart', async () => {
    const c = context(store, clock);
    const registry = createMetrics();
    c.shared.get(LIMIT_METRICS_KEY, () => createLimitMetrics(registry));
    const limits = [{ name: 'per-ip', algorithm: 'gcra' as const, limit: 5, windowSeconds: 60 }];
    const open = (await rateLimitPolicy.compile(
      { mode: 'enforce', failMode: 'open', limits },
      c.ctx,
    )) as PolicyHandler;
    const closed = (await rateLimitPolicy.compile(
      { mode: 'enforce', failMode: 'closed', limits: [{ ...limits[0], name: 'strict' }] },
      c.ctx,
    )) as PolicyHandler;
    const ask = async (h: PolicyHandler, ip = '192.0.2.10') =>
      (await h.onRequest!(exchange({ ip }))) ?? undefined;
    const admitted = async (h: PolicyHandler, n: number, ip?: string) => {
      const all = await Promise.all(Array.from({ length: n }, () => ask(h, ip)));
      return all.filter((p) => p === undefined).length;
    };

    // Redis decides: exactly the burst.
    assert.equal(await admitted(open, 8), 5);
    assert.equal(await admitted(closed, 8), 5);

    // Stop Redis while requests are in flight: nothing throws, every answer is a decision.
    const inFlight = Promise.all(Array.from({ length: 50 }, () => ask(open, '192.0.2.20')));
    await redis.stop();
    const during = await inFlight;
    assert.ok(during.every((p) => p === undefined || p.problem.status === 429));
    await until(() => !store.isReady(), 'client to notice the outage');

    // open: the local fallback limiter enforces the same limit per instance.
    assert.equal(await admitted(open, 8, '192.0.2.30'), 5);
    // closed: 503 with Retry-After.
    const refused = await ask(closed, '192.0.2.30');
    assert.equal(refused?.problem, problems.temporaryReducedCapacity);
    assert.equal(refused?.headers?.['retry-after'], '1');
    const down = c.events.filter((e) => e['event.action'] === 'rate-limit-store-unavailable');
    assert.equal(down.length, 1, 'one event per outage, not per request');
    const text = registry.render();
    assert.match(
      text,
      /portcullis_ratelimit_store_errors_total\{policy="rateLimit",error="ERR_STORE_UNAVAILABLE"\} [1-9]/,
    );
    assert.match(
      text,
      /portcullis_ratelimit_decisions_total\{api="things",policy="rateLimit",outcome="fallback"\} [1-9]/,
    );
    assert.match(
      text,
      /portcullis_ratelimit_decisions_total\{api="things",policy="rateLimit",outcome="fail_closed"\} 1/,
    );

    // Redis comes back (empty: no persistence); the client reconnects by itself, no restart.
    await redis.start();
    await until(() => store.isReady(), 'reconnect');
    clock.advance(1001);
    assert.equal(await admitted(open, 8, '192.0.2.40'), 5);
    const up = c.events.filter((e) => e['event.action'] === 'rate-limit-store-recovered');
    assert.equal(up.length, 1);
    // Decisions go to Redis again: its key exists there.
    const keys = await store.client.keys('outage:*');
    assert.ok(keys.length > 0);
    assert.ok(statuses.includes('unavailable') && statuses.at(-1) === 'ready');
  });
});

describe('rate limiting with a Redis that stops answering', () => {
  let redis: PrivateRedis;
  let store: ReturnType<typeof createRedisStore>;
  const clock = createManualClock(Date.UTC(2026, 0, 1));

  before(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    store = createRedisStore({
      url: redis.url,
      keyPrefix: 'slow:',
      commandTimeoutMs: 100,
      probeIntervalMs: 50,
    });
    assert.equal(await store.whenReady(2000), true, 'redis ready');
  });
  after(async () => {
    redis.resume();
    await store.close();
    await redis.stop();
  });

  test('a slow answer is decided by the fail mode, and only a few in a row degrade to the local limiter', async () => {
    const c = context(store, clock);
    const limits = [{ name: 'per-ip', algorithm: 'gcra' as const, limit: 3, windowSeconds: 60 }];
    const h = (await rateLimitPolicy.compile(
      { mode: 'enforce', failMode: 'open', limits },
      c.ctx,
    )) as PolicyHandler;
    const ask = async () => (await h.onRequest!(exchange({ ip: '192.0.2.50' }))) ?? undefined;
    assert.equal(await ask(), undefined);
    redis.pause();
    // Two timeouts: answered by the fallback limiter, no outage declared yet.
    assert.equal(await ask(), undefined);
    assert.equal(await ask(), undefined);
    assert.equal(c.events.filter((e) => e['event.action'] === 'rate-limit-store-unavailable').length, 0);
    // The third in a row declares it; then decisions stay local without waiting on Redis.
    assert.equal(await ask(), undefined);
    const down = c.events.filter((e) => e['event.action'] === 'rate-limit-store-unavailable');
    assert.equal(down.length, 1);
    assert.equal(down[0]['event.reason'], 'timeout');
    assert.equal((await ask())?.problem.status, 429, 'the local limiter has used its 3 units');
    redis.resume();
    // The store's probe decides when Redis is back; until then decisions stay local without asking it.
    await until(() => store.isAvailable(), "the store's probe to see Redis again");
    clock.advance(1001);
    await ask();
    assert.equal(c.events.filter((e) => e['event.action'] === 'rate-limit-store-recovered').length, 1);
  });
});
