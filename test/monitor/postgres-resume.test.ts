/**
 * Issue 14 item 8: once PostgreSQL answers again, the event sink writes within a second, however long the
 * outage was (it used to wait out a backoff grown to 10 s, dropping events meanwhile). The outage is real
 * (a TCP relay in front of the shared server, cut and restored); only the clock that times the retries
 * is moved by hand, so a 15-minute outage takes a few seconds.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pino from 'pino';
import { createManualClock } from '../../src/core/clock.ts';
import type { SecurityEvent } from '../../src/core/events.ts';
import { createEventSink, type MonitorSink } from '../../src/monitor/sink.ts';
import { createPostgresStore } from '../../src/monitor/stores/postgres.ts';
import { connectPostgres, postgresRelay } from '../kit/postgres.ts';

const admin = await connectPostgres();
const schema = admin.freshSchema('portcullis_resume');
after(() => admin.close());

/** Waits (polling every 10 ms, at most `ms` of real time) until `done()` holds; returns whether it did. */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  for (let waited = 0; !done() && waited < ms; waited += 10) await new Promise((r) => setTimeout(r, 10));
  return done();
}

test('after a 15-minute PostgreSQL outage the sink writes again within a second of clock time, counting every event it dropped', async (t) => {
  const clock = createManualClock(Date.now());
  const relay = postgresRelay();
  await relay.up();
  const logger = pino({ level: 'silent' });
  const store = await createPostgresStore({
    url: `postgres://postgres@127.0.0.1:${relay.port()}/test`,
    schema,
    retentionDays: 0,
    clock,
    logger,
    connectTimeoutMs: 2000,
  });
  // The retry options are the defaults: they are what is under test.
  const sink: MonitorSink = createEventSink({
    store,
    queueSize: 200,
    batchSize: 50,
    flushIntervalMs: 10,
    clock,
    logger,
  });
  // Also when an assertion fails: an open pool would keep the test process alive.
  t.after(async () => {
    await sink.close();
    await relay.cut();
  });
  let n = 0;
  const emit = (count: number) => {
    for (let i = 0; i < count; i++) {
      const e: SecurityEvent = {
        '@timestamp': new Date(clock.now()).toISOString(),
        'event.kind': 'event',
        'event.category': 'web',
        'event.type': 'access',
        'event.action': 'http-request',
        'http.request.id': `resume-${n++}`,
      };
      sink.emit(e);
    }
  };

  emit(20);
  await sink.flush();
  assert.equal(sink.stats().written, 20);

  await relay.cut();
  // Fifteen failed writes, one per minute of clock time: a doubling backoff would have reached its cap.
  for (let minute = 0; minute < 15; minute++) {
    emit(20); // 300 in all: the queue keeps the newest 200 (plus the batch being retried)
    const errors = sink.stats().writeErrors;
    clock.advance(60_000);
    assert.ok(await until(() => sink.stats().writeErrors > errors, 10_000), `no retry in minute ${minute}`);
  }
  const during = sink.stats();
  assert.equal(during.storeHealthy, false);
  assert.ok(during.dropped > 0);
  assert.equal(during.written + during.dropped + during.buffered, during.emitted);

  await relay.up();
  clock.advance(1000);
  // Real time only bounds the wait: the retry is due on the clock already and the relay answers.
  assert.ok(
    await until(() => sink.stats().buffered === 0, 10_000),
    `still ${sink.stats().buffered} buffered one second (on the clock) after PostgreSQL came back`,
  );
  const stats = sink.stats();
  assert.equal(stats.storeHealthy, true);
  assert.equal(stats.emitted, 320);
  assert.equal(stats.written + stats.dropped, 320);
  const rows = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".events`);
  assert.equal(rows.rows[0].n, stats.written);
});
