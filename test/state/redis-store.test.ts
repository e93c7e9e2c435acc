import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { type LimitCheck, StoreUnavailableError } from '../../src/state/limiter.ts';
import { limiterSuite } from '../../src/state/limiter-suite.ts';
import { createRedisStore } from '../../src/state/redis-store.ts';
import { REDIS_URL } from '../kit/redis.ts';

const URL = REDIS_URL;
const runPrefix = `pctest:${randomBytes(6).toString('hex')}:`;

describe('redis store', () => {
  let store: ReturnType<typeof createRedisStore>;
  before(async () => {
    store = createRedisStore({ url: URL, keyPrefix: runPrefix });
    assert.equal(await store.whenReady(2000), true, 'redis at 127.0.0.1:6379 not ready');
  });
  after(async () => {
    const keys = await store.client.keys(`${runPrefix}*`);
    if (keys.length > 0) await store.client.del(...keys);
    await store.close();
  });

  limiterSuite(
    () => store,
    () => '',
  );

  test('decides correctly after the script cache was flushed (NOSCRIPT falls back to EVAL)', async () => {
    const c: LimitCheck = {
      key: '{noscript}:g',
      algorithm: 'gcra',
      limit: 2,
      burst: 2,
      windowMs: 1000,
      windowEndMs: 0,
      subWindows: 10,
      cost: 1,
      countRejected: false,
    };
    const now = Date.UTC(2026, 0, 1);
    await store.consume({ nowMs: now, limits: [c], leaseId: '' });
    await store.client.script('FLUSH');
    const r = await store.consume({ nowMs: now, limits: [c], leaseId: '' });
    assert.equal(r.allowed, true);
    assert.equal(r.results[0].remaining, 0);
    assert.equal((await store.consume({ nowMs: now, limits: [c], leaseId: '' })).allowed, false);
  });

  test('decisions taken in one tick share a call yet each stays atomic and in order', async () => {
    const now = Date.UTC(2026, 0, 1);
    const g: LimitCheck = {
      key: '{batch}:g',
      algorithm: 'gcra',
      limit: 10,
      burst: 10,
      windowMs: 60_000,
      windowEndMs: 0,
      subWindows: 10,
      cost: 1,
      countRejected: false,
    };
    const f: LimitCheck = {
      ...g,
      key: '{batch}:f',
      algorithm: 'fixed-window',
      limit: 100,
      windowEndMs: now + 60_000,
    };
    const runs = Array.from({ length: 150 }, (_, i) =>
      store.consume({ nowMs: now, limits: i % 2 === 0 ? [g, f] : [g], leaseId: '' }),
    );
    const results = await Promise.all(runs);
    assert.deepEqual(
      results.map((r) => r.allowed),
      Array.from({ length: 150 }, (_, i) => i < 10),
    );
    // Only the 5 admitted two-limit decisions used the fixed window.
    const last = await store.consume({ nowMs: now, limits: [f], leaseId: '' });
    assert.equal(last.results[0].remaining, 100 - 5 - 1);
  });

  test('writes limiter keys with a time to live and the hash tag of the check', async () => {
    const c: LimitCheck = {
      key: '{ttl}:f:1',
      algorithm: 'fixed-window',
      limit: 5,
      burst: 5,
      windowMs: 60_000,
      windowEndMs: Date.now() + 60_000,
      subWindows: 10,
      cost: 1,
      countRejected: false,
    };
    await store.consume({ nowMs: Date.now(), limits: [c], leaseId: '' });
    const ttl = await store.client.pttl(`${runPrefix}{ttl}:f:1`);
    assert.ok(ttl > 50_000 && ttl <= 60_000, `ttl ${ttl}`);
  });

  test('keeps key/value entries with a time to live and set-if-absent semantics', async () => {
    await store.set('kv:a', 'one', 60_000);
    assert.equal(await store.get('kv:a'), 'one');
    assert.equal(await store.setIfAbsent('kv:a', 'two', 60_000), false);
    assert.equal(await store.setIfAbsent('kv:b', 'two', 60_000), true);
    const listed = await store.scan('kv:', 10);
    assert.deepEqual(listed.map((e) => e.key).sort(), ['kv:a', 'kv:b']);
    await store.delete('kv:a');
    assert.equal(await store.get('kv:a'), undefined);
  });
});

describe('redis store on a stalled event loop', () => {
  test('a reply that arrived while the process was stalled is not taken for a timeout', async () => {
    // A GC pause or a CPU-starved process wakes up with the deadline due and the reply already in the
    // socket; libuv runs due timers and immediates before it polls the sockets again, so a plain timer
    // declares a timeout Redis never had. The client here writes each command at once (the store's own
    // pipelines a turn's commands into one write at the end of the turn), so the GETs are on the wire
    // before the stall.
    const client = new Redis(URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const store = createRedisStore({ client, keyPrefix: runPrefix, commandTimeoutMs: 50 });
    try {
      assert.equal(await store.whenReady(2000), true);
      await store.set('stall', 'v', 60_000);
      const answers: Array<Promise<string | undefined>> = [];
      for (let i = 0; i < 5; i++) answers.push(store.get('stall'));
      // The process stalls past the deadline, and until Redis has answered: a PING from another client,
      // sent after the GETs and waited for synchronously, is answered after them.
      const until = performance.now() + 100;
      while (performance.now() < until) {
        // stalled
      }
      assert.equal(execFileSync('redis-cli', ['-u', URL, 'ping'], { encoding: 'utf8' }).trim(), 'PONG');
      assert.deepEqual(await Promise.all(answers), ['v', 'v', 'v', 'v', 'v']);
      assert.equal(store.isAvailable(), true);
    } finally {
      await store.delete('stall');
      await store.close();
      client.disconnect();
    }
  });

  test('with the store its own client, a stall longer than twice the deadline is forgiven too', async () => {
    // The store's own client has ioredis's commandTimeout as a backstop, and ioredis rejects from its
    // timer, before the poll phase reads a reply that waits in the socket: a backstop of twice the
    // deadline turned every call in flight during a stall of a second or more (at the default 500 ms) into
    // an error, and three of them into an outage and a second of fail modes.
    const store = createRedisStore({ url: URL, keyPrefix: runPrefix, commandTimeoutMs: 50 });
    try {
      assert.equal(await store.whenReady(2000), true);
      await store.set('stall-own', 'v', 60_000);
      const answers: Array<Promise<string | undefined>> = [];
      for (let i = 0; i < 5; i++) answers.push(store.get('stall-own'));
      // The store's client writes a turn's commands from an immediate queued by the first of them; this
      // one runs after it, with the GETs on the wire.
      await new Promise((resolve) => setImmediate(resolve));
      const until = performance.now() + 300;
      while (performance.now() < until) {
        // stalled, six times the deadline
      }
      assert.equal(execFileSync('redis-cli', ['-u', URL, 'ping'], { encoding: 'utf8' }).trim(), 'PONG');
      assert.deepEqual(await Promise.all(answers), ['v', 'v', 'v', 'v', 'v']);
      assert.equal(store.isAvailable(), true);
    } finally {
      // (fails during an outage: the key expires by itself)
      await store.delete('stall-own').catch(() => {});
      await store.close();
    }
  });
});

describe('redis store without a server', () => {
  test('fails fast with StoreUnavailableError when Redis cannot be reached', async () => {
    const store = createRedisStore({ url: 'redis://127.0.0.1:1', keyPrefix: runPrefix });
    try {
      await assert.rejects(
        async () =>
          store.consume({
            nowMs: Date.now(),
            limits: [
              {
                key: '{x}:g',
                algorithm: 'gcra',
                limit: 1,
                burst: 1,
                windowMs: 1000,
                windowEndMs: 0,
                subWindows: 10,
                cost: 1,
                countRejected: false,
              },
            ],
            leaseId: '',
          }),
        (e: unknown) =>
          e instanceof StoreUnavailableError &&
          e.code === 'ERR_STORE_UNAVAILABLE' &&
          e.reason === 'disconnected',
      );
    } finally {
      await store.close();
    }
  });
});
