import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { type ConsumeResult, type LimitCheck, StoreUnavailableError } from '../../src/state/limiter.ts';
import { createRedisStore } from '../../src/state/redis-store.ts';
import { freePort, PrivateRedis, watchCommands } from '../kit/redis.ts';

const check: LimitCheck = {
  key: '{nagle}:g',
  algorithm: 'gcra',
  limit: 10,
  burst: 10,
  windowMs: 60_000,
  windowEndMs: 0,
  subWindows: 10,
  cost: 1,
  countRejected: false,
};
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('the Redis store keeps one script call in flight', () => {
  let redis: PrivateRedis;
  before(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
  });
  after(async () => {
    await redis.stop();
  });

  test('decisions issued in separate turns while a call is in flight go out together in the next call', async () => {
    // Long timeout (the hold before a second call is a tenth of it): only the call in flight holds them back.
    const store = createRedisStore({ url: redis.url, keyPrefix: 'nb:', commandTimeoutMs: 4000 });
    const busy = new Redis({ port: redis.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    let log: Awaited<ReturnType<typeof watchCommands>> | undefined;
    const evalshaCalls = async () =>
      Number(/cmdstat_evalsha:calls=(\d+)/.exec(await busy.info('commandstats'))?.[1] ?? 0);
    try {
      assert.equal(await store.whenReady(2000), true);
      const now = Date.UTC(2026, 0, 1);
      // Loads the script (NOSCRIPT, then EVAL) before the commands are watched.
      await store.consume({ nowMs: now, limits: [{ ...check, key: '{warm}:g' }], leaseId: '' });
      log = await watchCommands(redis.port);
      const evalsha0 = await evalshaCalls();
      const calls0 = store.scriptCalls();
      // Redis is busy for 100 ms with another client's script, so the first call stays in flight meanwhile.
      const spin = busy.eval(
        "local t = redis.call('TIME'); local s = t[1] * 1e6 + t[2]; repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] - s > 100000; return 1",
        0,
      );
      await new Promise((r) => setTimeout(r, 10));
      const answers: Array<ConsumeResult | Promise<ConsumeResult>> = [
        store.consume({ nowMs: now, limits: [check], leaseId: '' }),
      ];
      await nextTurn();
      await nextTurn();
      assert.equal(store.scriptCalls() - calls0, 1, 'the first decision went out at the end of its turn');
      for (let i = 1; i < 15; i++) {
        answers.push(store.consume({ nowMs: now, limits: [check], leaseId: '' }));
        await nextTurn();
      }
      assert.equal(store.scriptCalls() - calls0, 1, 'nothing more is sent while the first call is out');
      const results = await Promise.all(answers);
      await spin;
      // Atomic and in order: the first 10 of the 15 are admitted, with a falling remaining count.
      assert.deepEqual(
        results.map((r) => r.allowed),
        Array.from({ length: 15 }, (_, i) => i < 10),
      );
      assert.deepEqual(
        results.slice(0, 10).map((r) => r.results[0].remaining),
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
      );
      // 14 decisions from 14 turns, in one following call; Redis saw exactly those two script calls.
      assert.equal(store.scriptCalls() - calls0, 2);
      assert.equal((await evalshaCalls()) - evalsha0, 2);
      // MONITOR's copy of the second call, when it has arrived: 14 keys and one argument per decision.
      await new Promise((r) => setTimeout(r, 50));
      const second = log.commands.filter((c) => c.name === 'evalsha')[1];
      if (second !== undefined)
        assert.equal(second.args.length, 2 + 14 + 14, 'sha, key count, keys, arguments');
    } finally {
      log?.stop();
      busy.disconnect();
      await store.close();
    }
  });

  test('a lease id holding commas survives the one-argument encoding of a decision', async () => {
    const store = createRedisStore({ url: redis.url, keyPrefix: 'nl:' });
    try {
      assert.equal(await store.whenReady(2000), true);
      const now = Date.now();
      const c: LimitCheck = { ...check, key: '{lease}:c', algorithm: 'concurrency', limit: 1, burst: 1 };
      const lease = 'a,b,,c';
      const first = await store.consume({ nowMs: now, limits: [c], leaseId: lease });
      assert.equal(first.allowed, true);
      assert.deepEqual(await store.client.zrange('nl:{lease}:c', '0', '-1'), [lease]);
      assert.equal((await store.consume({ nowMs: now, limits: [c], leaseId: 'other' })).allowed, false);
      await store.release([{ key: c.key, leaseId: lease }]);
      assert.equal((await store.consume({ nowMs: now, limits: [c], leaseId: 'other' })).allowed, true);
    } finally {
      await store.close();
    }
  });

  test('a decision queued behind a call that hangs (SIGSTOP) is answered within about one timeout', async () => {
    const timeoutMs = 300;
    const store = createRedisStore({
      url: redis.url,
      keyPrefix: 'nh:',
      commandTimeoutMs: timeoutMs,
      failureThreshold: 10,
      probeIntervalMs: 50,
    });
    try {
      assert.equal(await store.whenReady(2000), true);
      const now = Date.UTC(2026, 0, 1);
      await store.consume({ nowMs: now, limits: [check], leaseId: '' });
      redis.pause();
      const settle = (p: ConsumeResult | Promise<ConsumeResult>, t0: number) =>
        Promise.resolve(p).then(
          () => ({ ok: true as const, ms: performance.now() - t0, err: undefined }),
          (err: unknown) => ({ ok: false as const, ms: performance.now() - t0, err }),
        );
      const t0 = performance.now();
      const first = settle(store.consume({ nowMs: now, limits: [check], leaseId: '' }), t0);
      await nextTurn();
      await nextTurn();
      // The first call is out and hangs; this one is queued behind it.
      await new Promise((r) => setTimeout(r, 10));
      const t1 = performance.now();
      const queued = settle(store.consume({ nowMs: now, limits: [check], leaseId: '' }), t1);
      const [a, b] = await Promise.all([first, queued]);
      for (const r of [a, b]) {
        assert.equal(r.ok, false);
        assert.ok(r.err instanceof StoreUnavailableError && r.err.reason === 'timeout', String(r.err));
      }
      // Waiting for the hung call to give up and then for a call of its own would take about 2 timeouts
      // (~590 ms); the hold (a tenth of the timeout) sends it on its own: one timeout and a tenth.
      assert.ok(b.ms >= timeoutMs * 0.9, `queued answered in ${b.ms} ms`);
      assert.ok(b.ms < timeoutMs * 1.5, `queued answered in ${b.ms} ms`);
    } finally {
      redis.resume();
      await store.close();
    }
  });
});
