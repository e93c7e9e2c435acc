import assert from 'node:assert/strict';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { SecurityEvent } from '../../src/core/events.ts';
import { createMetrics } from '../../src/core/metrics.ts';
import type { AvailabilityTransition } from '../../src/state/availability.ts';
import { type LimitCheck, StoreUnavailableError } from '../../src/state/limiter.ts';
import { createRedisStore } from '../../src/state/redis-store.ts';
import { freePort, PrivateRedis, watchCommands } from '../kit/redis.ts';
import { until } from '../kit/server.ts';

const check: LimitCheck = {
  key: '{o}:g',
  algorithm: 'gcra',
  limit: 5,
  burst: 5,
  windowMs: 1000,
  windowEndMs: 0,
  subWindows: 10,
  cost: 1,
  countRejected: false,
};

const isReason = (reason: string) => (e: unknown) =>
  e instanceof StoreUnavailableError && e.reason === reason;

describe('the Redis store through a frozen redis-server', () => {
  let redis: PrivateRedis;
  let store: ReturnType<typeof createRedisStore>;
  const transitions: AvailabilityTransition[] = [];
  const events: SecurityEvent[] = [];
  const metrics = createMetrics();

  before(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    store = createRedisStore({
      url: redis.url,
      keyPrefix: 'so:',
      commandTimeoutMs: 100,
      failureThreshold: 2,
      probeIntervalMs: 50,
      metrics,
      events: { emit: (e) => events.push(e) },
      onStatus: (_s, t) => transitions.push(t),
    });
    assert.equal(await store.whenReady(2000), true);
    await store.set('kv:a', '1', 60_000);
  });
  after(async () => {
    redis.resume();
    await store.close();
    await redis.stop();
  });

  test('every operation is refused at once during an outage and none reaches Redis; the probe ends it', async (t) => {
    const sent = await watchCommands(redis.port);
    t.after(() => sent.stop());
    redis.pause();
    // Two timeouts in a row (the threshold) open the outage.
    await assert.rejects(store.get('kv:a'), isReason('timeout'));
    await assert.rejects(store.setIfAbsent('dpop:x', '1', 1000), isReason('timeout'));
    assert.equal(store.isAvailable(), false);
    assert.deepEqual(
      transitions.map((x) => [x.available, x.reason, x.operation, x.keyspace]),
      [[false, 'timeout', 'setIfAbsent', 'dpop']],
    );

    // Refused without a round trip: every kind of call, many times over.
    for (let i = 0; i < 20; i++) {
      await assert.rejects(store.get('ban:ip:192.0.2.1'), isReason('outage'));
      await assert.rejects(store.set('kv:b', '1', 1000), isReason('outage'));
      await assert.rejects(store.setIfAbsent('dpop:y', '1', 1000), isReason('outage'));
      await assert.rejects(store.delete('kv:a'), isReason('outage'));
      await assert.rejects(store.scan('kv:', 10), isReason('outage'));
      await assert.rejects(
        Promise.resolve(store.consume({ nowMs: Date.now(), limits: [check], leaseId: '' })),
        isReason('outage'),
      );
      await store.release([{ key: '{o}:c', leaseId: 'l' }]);
    }
    assert.match(metrics.render(), /^portcullis_state_store_errors_total\{reason="outage"\} 140$/m);
    assert.match(metrics.render(), /^portcullis_state_store_errors_total\{reason="timeout"\} 2$/m);

    redis.resume();
    await until(() => store.isAvailable(), 'the probe to see Redis again');
    assert.deepEqual(
      transitions.map((x) => [x.available, x.reason]),
      [
        [false, 'timeout'],
        [true, 'probe'],
      ],
    );
    assert.equal(transitions[1].refused, 140);
    // Redis got the two commands that timed out, then PINGs only.
    await until(() => sent.commands.some((c) => c.name === 'ping'), 'the probe in the command log');
    assert.deepEqual(
      sent.commands.filter((c) => c.name !== 'ping').map((c) => c.name),
      ['get', 'set'],
    );
    assert.equal(await store.get('kv:a'), '1');
    assert.deepEqual(
      events.map((e) => [e['event.action'], e['event.reason']]),
      [
        ['state-store-unavailable', 'timeout'],
        ['state-store-recovered', 'probe'],
      ],
    );
  });

  test('a killed redis-server is an outage at once, and the reconnection ends it', async () => {
    transitions.length = 0;
    const port = redis.port;
    await redis.stop();
    await until(() => transitions.length > 0, 'the lost connection');
    assert.deepEqual(
      transitions.map((x) => [x.available, x.reason, x.operation]),
      [[false, 'disconnected', 'connection']],
    );
    await assert.rejects(store.get('kv:a'), isReason('outage'));
    // Reconnection attempts that fail report nothing more.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(transitions.length, 1);
    redis = new PrivateRedis(port);
    await redis.start();
    await until(() => store.isAvailable(), 'the reconnection');
    assert.deepEqual(
      transitions.map((x) => [x.available, x.reason]),
      [
        [false, 'disconnected'],
        [true, 'reconnected'],
      ],
    );
    await store.set('kv:c', '2', 1000);
    assert.equal(await store.get('kv:c'), '2');
  });
});

describe('the Redis store on a connection that stays silent', () => {
  test('replaces the connection after reconnectAfterMs without an answer, and recovers on the new one', async () => {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    const transitions: AvailabilityTransition[] = [];
    const metrics = createMetrics();
    const store = createRedisStore({
      url: redis.url,
      keyPrefix: 'so:',
      commandTimeoutMs: 100,
      failureThreshold: 1,
      probeIntervalMs: 50,
      reconnectAfterMs: 300,
      metrics,
      onStatus: (_s, t) => transitions.push(t),
    });
    let closes = 0;
    store.client.on('close', () => closes++);
    try {
      assert.equal(await store.whenReady(2000), true);
      redis.pause();
      await assert.rejects(store.get('kv:a'), isReason('timeout'));
      assert.equal(store.isAvailable(), false);
      // The open connection answers nothing: it is dropped and a new one is opened (whose ready check
      // then waits for the frozen server); the outage is not reported again.
      await until(() => closes >= 1, 'the silent connection to be replaced');
      assert.match(metrics.render(), /^portcullis_state_store_reconnects_total [1-9]/m);
      assert.equal(transitions.length, 1);
      redis.resume();
      await until(() => store.isAvailable(), 'the new connection to be ready');
      assert.deepEqual(
        transitions.map((x) => [x.available, x.reason]),
        [
          [false, 'timeout'],
          [true, 'reconnected'],
        ],
      );
      await store.set('kv:a', '1', 1000);
      assert.equal(await store.get('kv:a'), '1');
    } finally {
      redis.resume();
      await store.close();
      await redis.stop();
    }
  });
  test('a connection replaced while its ready check is in flight is not a second outage', async () => {
    // The race seen under load: Redis comes back, the new connection's handshake is answered and its ready
    // check (INFO) sent; the probe, due in that turn, replaces the connection; Redis answers INFO before it sees
    // the connection's end. That answer must not end the outage (the connection is closing, and its close
    // would open a second one): the next connection ends it, once.
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    const relay = await holdingRelay(redis.port);
    const transitions: AvailabilityTransition[] = [];
    const metrics = createMetrics();
    const store = createRedisStore({
      url: `redis://127.0.0.1:${relay.port}`,
      keyPrefix: 'so:',
      commandTimeoutMs: 100,
      failureThreshold: 1,
      probeIntervalMs: 20,
      reconnectAfterMs: 300,
      metrics,
      onStatus: (_s, t) => transitions.push(t),
    });
    const replaced = () =>
      Number(/^portcullis_state_store_reconnects_total (\d+)/m.exec(metrics.render())?.[1] ?? 0);
    try {
      assert.equal(await store.whenReady(2000), true);
      relay.freeze();
      await assert.rejects(store.get('kv:a'), isReason('timeout'));
      // The silent first connection is replaced; answer the second one's handshake until it sends INFO.
      await until(() => relay.connections() >= 2 && store.client.status === 'connect', 'a second connection');
      const second = relay.connections() - 1;
      await until(() => {
        relay.release(second);
        return relay.sent(second).includes('INFO');
      }, 'the ready check to be sent');
      const before = replaced();
      await until(() => replaced() > before && relay.ended(second), 'the probe to replace the connection');
      assert.equal(store.client.status, 'connect');
      // Redis's answer to INFO reaches the client first, the end of the connection 100 ms later.
      relay.thaw(100);
      await until(() => store.isAvailable(), 'the outage to end');
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        transitions.map((x) => [x.available, x.reason]),
        [
          [false, 'timeout'],
          [true, 'reconnected'],
        ],
      );
      await store.set('kv:b', '1', 1000);
      assert.equal(await store.get('kv:b'), '1');
    } finally {
      await store.close();
      relay.close();
      await redis.stop();
    }
  });
});

describe('the Redis store when Redis is down at start', () => {
  test('reports one outage however many reconnection attempts fail, and recovers when Redis starts', async () => {
    const port = await freePort();
    const transitions: AvailabilityTransition[] = [];
    const store = createRedisStore({
      url: `redis://127.0.0.1:${port}`,
      keyPrefix: 'so:',
      onStatus: (_s, t) => transitions.push(t),
    });
    const redis = new PrivateRedis(port);
    try {
      assert.equal(await store.whenReady(600), false);
      assert.deepEqual(
        transitions.map((x) => [x.available, x.reason, x.operation]),
        [[false, 'disconnected', 'connect']],
      );
      await assert.rejects(store.get('kv:a'), isReason('outage'));
      await redis.start();
      assert.equal(await store.whenReady(5000), true);
      assert.deepEqual(
        transitions.map((x) => [x.available, x.reason]),
        [
          [false, 'disconnected'],
          [true, 'reconnected'],
        ],
      );
    } finally {
      await store.close();
      await redis.stop();
    }
  });
});

/**
 * A TCP relay to a real redis-server that can hold what Redis sends (its answers and its end of each
 * connection), to order a reconnection race exactly: Redis itself runs and answers throughout.
 */
async function holdingRelay(target: number) {
  interface Relayed {
    client: Socket;
    holding: boolean;
    data: Buffer[];
    ended: boolean;
    sent: string;
  }
  let frozen = false;
  const all: Relayed[] = [];
  const flush = (e: Relayed) => {
    for (const d of e.data.splice(0)) e.client.write(d);
  };
  // Half-open: a client's end reaches Redis, but Redis's end reaches the client only when this relay lets it.
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect(target, '127.0.0.1');
    const e: Relayed = { client, holding: frozen, data: [], ended: false, sent: '' };
    all.push(e);
    client.on('data', (d) => {
      e.sent = (e.sent + d.toString('latin1')).slice(-4096);
      upstream.write(d);
    });
    client.on('end', () => upstream.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    upstream.on('data', (d) => (e.holding ? e.data.push(d) : client.write(d)));
    upstream.on('end', () => {
      if (e.holding) e.ended = true;
      else client.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => all.length,
    /** What the client of connection `i` (in the order they came) has sent lately. */
    sent: (i: number) => all[i]?.sent ?? '',
    /** Whether Redis has ended connection `i` (held from its client). */
    ended: (i: number) => all[i]?.ended === true,
    freeze() {
      frozen = true;
      for (const e of all) e.holding = true;
    },
    /** Passes what Redis has answered on connection `i` so far; later answers are still held. */
    release(i: number) {
      const e = all[i];
      if (e !== undefined) flush(e);
    },
    /** Lets everything through again: held answers at once, held ends of connections `delayEndMs` later. */
    thaw(delayEndMs: number) {
      frozen = false;
      for (const e of all) {
        if (!e.holding) continue;
        e.holding = false;
        flush(e);
        if (e.ended) setTimeout(() => e.client.end(), delayEndMs);
      }
    },
    close() {
      server.close();
      for (const e of all) e.client.destroy();
    },
  };
}
