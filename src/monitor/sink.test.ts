import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { createManualClock } from '../core/clock.ts';
import type { SecurityEvent } from '../core/events.ts';
import { createEventSink, RETRY_MAX_MS } from './sink.ts';
import type { EventPage, EventStore, StoredEvent } from './stores/event-store.ts';

function event(i: number): SecurityEvent {
  return {
    '@timestamp': new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    'event.kind': 'event',
    'event.category': 'web',
    'event.type': 'access',
    'event.action': 'http-request',
    'http.request.id': `r${i}`,
  };
}

/** An in-process EventStore whose availability the test switches; it keeps what it was given. */
function switchableStore() {
  const kept: StoredEvent[] = [];
  const sizes: number[] = [];
  let up = true;
  let writes = 0;
  const store: EventStore = {
    kind: 'sqlite',
    async write(batch) {
      writes++;
      await new Promise((r) => setImmediate(r));
      if (!up) throw new Error('store down');
      kept.push(...batch);
      sizes.push(batch.length);
    },
    async query(): Promise<EventPage> {
      return { events: kept };
    },
    async prune() {},
    async close() {},
  };
  return {
    store,
    kept,
    sizes,
    setUp(v: boolean) {
      up = v;
    },
    writes: () => writes,
  };
}

function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { logger, lines };
}

describe('event sink', () => {
  test('writes emitted events to the store in order, in batches of batchSize', async () => {
    const s = switchableStore();
    const { logger } = captureLogger();
    const sink = createEventSink({
      store: s.store,
      queueSize: 100,
      batchSize: 10,
      flushIntervalMs: 5,
      logger,
    });
    for (let i = 0; i < 15; i++) sink.emit(event(i));
    await sink.flush();
    assert.deepEqual(s.sizes, [10, 5]);
    assert.deepEqual(
      s.kept.map((e) => e['http.request.id']),
      Array.from({ length: 15 }, (_, i) => `r${i}`),
    );
    assert.deepEqual(sink.stats(), {
      emitted: 15,
      written: 15,
      dropped: 0,
      buffered: 0,
      writeErrors: 0,
      storeHealthy: true,
    });
    await sink.close();
  });

  test('takes up to four batches per write while a backlog of two batches or more waits', async () => {
    const s = switchableStore();
    const sink = createEventSink({
      store: s.store,
      queueSize: 1000,
      batchSize: 10,
      flushIntervalMs: 5,
      logger: captureLogger().logger,
    });
    for (let i = 0; i < 95; i++) sink.emit(event(i));
    await sink.flush();
    assert.deepEqual(s.sizes, [40, 40, 10, 5]);
    assert.equal(s.kept.length, 95);
    await sink.close();
  });

  test('gives each event a unique event.id before it is written', async () => {
    const s = switchableStore();
    const sink = createEventSink({
      store: s.store,
      queueSize: 100,
      batchSize: 10,
      flushIntervalMs: 5,
      logger: captureLogger().logger,
    });
    for (let i = 0; i < 20; i++) sink.emit(event(i));
    await sink.close();
    assert.equal(new Set(s.kept.map((e) => e['event.id'])).size, 20);
  });

  test('flushes a partial batch after flushIntervalMs', async () => {
    const s = switchableStore();
    const sink = createEventSink({
      store: s.store,
      queueSize: 100,
      batchSize: 50,
      flushIntervalMs: 10,
      logger: captureLogger().logger,
    });
    sink.emit(event(1));
    for (let i = 0; i < 100 && s.kept.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(s.kept.length, 1);
    await sink.close();
  });

  test('keeps the newest queueSize events while the store is down, counts and logs the dropped oldest', async () => {
    const s = switchableStore();
    const { logger, lines } = captureLogger();
    const sink = createEventSink({
      store: s.store,
      queueSize: 20,
      batchSize: 5,
      flushIntervalMs: 1,
      retryInitialMs: 5,
      retryMaxMs: 20,
      logger,
      dropLogIntervalMs: 0,
    });
    s.setUp(false);
    for (let i = 0; i < 100; i++) sink.emit(event(i));
    const st = sink.stats();
    assert.equal(st.emitted, 100);
    assert.equal(st.written + st.dropped + st.buffered, 100);
    assert.ok(st.dropped >= 75, `dropped ${st.dropped}`);
    s.setUp(true);
    await sink.close();
    const end = sink.stats();
    assert.equal(end.written, s.kept.length);
    assert.equal(end.written + end.dropped, 100);
    assert.equal(end.buffered, 0);
    // The newest events survived.
    assert.equal(s.kept.at(-1)?.['http.request.id'], 'r99');
    const dropLines = lines.filter((l) => l.droppedEvents !== undefined);
    assert.equal(
      dropLines.reduce((n, l) => n + (l.droppedEvents as number), 0),
      end.dropped,
    );
  });

  test('retries a failed batch with backoff and writes it once the store is back', async () => {
    const s = switchableStore();
    const { logger, lines } = captureLogger();
    const sink = createEventSink({
      store: s.store,
      queueSize: 100,
      batchSize: 10,
      flushIntervalMs: 1,
      retryInitialMs: 5,
      retryMaxMs: 10,
      logger,
    });
    s.setUp(false);
    for (let i = 0; i < 10; i++) sink.emit(event(i));
    for (let i = 0; i < 200 && s.writes() < 3; i++) await new Promise((r) => setTimeout(r, 2));
    assert.ok(sink.stats().writeErrors >= 2);
    assert.equal(sink.stats().storeHealthy, false);
    s.setUp(true);
    for (let i = 0; i < 200 && s.kept.length < 10; i++) await new Promise((r) => setTimeout(r, 2));
    assert.equal(s.kept.length, 10);
    assert.equal(sink.stats().storeHealthy, true);
    assert.equal(sink.stats().dropped, 0);
    assert.ok(lines.some((l) => l.msg === 'event store reachable again'));
    await sink.close();
  });

  test('retries a failed batch once the clock passes its delay, which stops growing at RETRY_MAX_MS', async () => {
    const s = switchableStore();
    const clock = createManualClock();
    const sink = createEventSink({
      store: s.store,
      queueSize: 100,
      batchSize: 10,
      flushIntervalMs: 1,
      clock,
      logger: captureLogger().logger,
    });
    const waitFor = async (done: () => boolean) => {
      for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 2));
      return done();
    };
    s.setUp(false);
    sink.emit(event(1));
    // Twelve failures, each retried once an hour of clock time has passed: far past any doubling cap.
    for (let i = 1; i <= 12; i++) {
      assert.ok(await waitFor(() => sink.stats().writeErrors === i), `failure ${i}`);
      clock.advance(3_600_000);
    }
    assert.ok(await waitFor(() => sink.stats().writeErrors === 13));
    s.setUp(true);
    clock.advance(RETRY_MAX_MS * 1.25);
    assert.ok(await waitFor(() => s.kept.length === 1), 'written within RETRY_MAX_MS (+25% jitter)');
    // A clock stepped back does not hold a retry up either.
    s.setUp(false);
    sink.emit(event(2));
    assert.ok(await waitFor(() => sink.stats().writeErrors === 14));
    s.setUp(true);
    clock.advance(-86_400_000);
    assert.ok(await waitFor(() => s.kept.length === 2));
    await sink.close();
  });

  test('counts what is still buffered as dropped when closing with the store down', async () => {
    const s = switchableStore();
    const sink = createEventSink({
      store: s.store,
      queueSize: 50,
      batchSize: 10,
      flushIntervalMs: 1,
      retryInitialMs: 5,
      closeTimeoutMs: 30,
      logger: captureLogger().logger,
    });
    s.setUp(false);
    for (let i = 0; i < 30; i++) sink.emit(event(i));
    await sink.close();
    assert.deepEqual(
      { written: sink.stats().written, dropped: sink.stats().dropped, buffered: sink.stats().buffered },
      { written: 0, dropped: 30, buffered: 0 },
    );
  });

  test('hands every event to subscribers and survives a subscriber that throws', async () => {
    const { logger, lines } = captureLogger();
    const sink = createEventSink({
      store: undefined,
      queueSize: 10,
      batchSize: 5,
      flushIntervalMs: 5,
      logger,
    });
    const seen: string[] = [];
    sink.subscribe(() => {
      throw new Error('boom');
    });
    const off = sink.subscribe((e) => seen.push(e['http.request.id'] as string));
    sink.emit(event(1));
    off();
    sink.emit(event(2));
    assert.deepEqual(seen, ['r1']);
    // Two failures, one log line within the interval.
    assert.equal(lines.filter((l) => l.msg === 'event subscriber failed').length, 1);
    await sink.close();
  });

  test('counts a non-object passed to emit as dropped instead of throwing', async () => {
    const s = switchableStore();
    const sink = createEventSink({
      store: s.store,
      queueSize: 10,
      batchSize: 5,
      flushIntervalMs: 5,
      logger: captureLogger().logger,
    });
    sink.emit(null as unknown as SecurityEvent);
    sink.emit(event(1));
    await sink.close();
    assert.deepEqual([sink.stats().emitted, sink.stats().written, sink.stats().dropped], [2, 1, 1]);
  });

  test('drops and counts an event without a field the stores require, so it never blocks a batch', async () => {
    const s = switchableStore();
    const { logger, lines } = captureLogger();
    const seen: unknown[] = [];
    const sink = createEventSink({ store: s.store, queueSize: 10, batchSize: 3, flushIntervalMs: 1, logger });
    sink.subscribe((e) => seen.push(e['http.request.id']));
    for (const field of ['@timestamp', 'event.kind', 'event.category', 'event.type', 'event.action']) {
      const bad: Record<string, unknown> = { ...event(9) };
      delete bad[field];
      sink.emit(bad as SecurityEvent);
    }
    sink.emit({ ...event(8), 'event.kind': 42 } as unknown as SecurityEvent);
    for (let i = 0; i < 3; i++) sink.emit(event(i));
    await sink.close();
    assert.deepEqual(
      s.kept.map((e) => e['http.request.id']),
      ['r0', 'r1', 'r2'],
    );
    assert.deepEqual(seen, ['r0', 'r1', 'r2']);
    assert.deepEqual([sink.stats().emitted, sink.stats().written, sink.stats().dropped], [9, 3, 6]);
    // One line within the interval, with the running count.
    const logged = lines.filter((l) => String(l.msg).startsWith('event dropped: it lacks one of @timestamp'));
    assert.equal(logged.length, 1);
    assert.equal(logged[0].malformed, 1);
  });

  test('counts events emitted after close as dropped', async () => {
    const s = switchableStore();
    const sink = createEventSink({
      store: s.store,
      queueSize: 10,
      batchSize: 5,
      flushIntervalMs: 5,
      logger: captureLogger().logger,
    });
    await sink.close();
    sink.emit(event(1));
    assert.equal(sink.stats().dropped, 1);
  });
});
