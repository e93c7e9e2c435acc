import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, test } from 'node:test';
import pino from 'pino';
import { Pool } from 'undici';
import { systemClock } from '../../src/core/clock.ts';
import { createMonitor } from '../../src/monitor/monitor.ts';
import { createEventSink } from '../../src/monitor/sink.ts';
import { createPostgresStore } from '../../src/monitor/stores/postgres.ts';
import { createMemoryStore } from '../../src/state/memory-store.ts';
import { connectPostgres, postgresRelay as relay } from '../kit/postgres.ts';

const admin = await connectPostgres();
const schema = admin.freshSchema('portcullis_cutoff');
const lateSchema = admin.freshSchema('portcullis_late');
after(() => admin.close());

test('PostgreSQL cut off mid-load: requests keep being served and written + dropped equals emitted exactly', async () => {
  const proxy = relay();
  await proxy.up();
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  const store = await createPostgresStore({
    url: `postgres://postgres@127.0.0.1:${proxy.port()}/test`,
    schema,
    retentionDays: 0,
    clock: systemClock,
    logger,
    connectTimeoutMs: 500,
  });
  const sink = createEventSink({
    store,
    queueSize: 300,
    batchSize: 100,
    flushIntervalMs: 10,
    retryInitialMs: 20,
    retryMaxMs: 100,
    dropLogIntervalMs: 50,
    closeTimeoutMs: 10_000,
    logger,
  });

  // The "gateway side": every request emits one access event and answers at once.
  const gateway = createServer((req, res) => {
    sink.emit({
      '@timestamp': new Date().toISOString(),
      'event.kind': 'event',
      'event.category': 'web',
      'event.type': 'access',
      'event.action': 'http-request',
      'http.request.method': req.method,
      'url.path': req.url,
      'http.response.status_code': 200,
      'client.address': '127.0.0.1',
    });
    res.end('ok');
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  const client = new Pool(`http://127.0.0.1:${(gateway.address() as { port: number }).port}`, {
    connections: 16,
  });

  const N = 4000;
  let ok = 0;
  async function load(from: number, to: number): Promise<void> {
    let next = from;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < to) {
          const i = next++;
          const r = await client.request({ method: 'GET', path: `/items/${i}` });
          await r.body.text();
          if (r.statusCode === 200) ok++;
        }
      }),
    );
  }

  await load(0, 1000);
  await proxy.cut();
  await load(1000, 3000); // 2000 events while the store is unreachable; the queue holds 300 + one batch
  const during = sink.stats();
  assert.equal(during.storeHealthy, false);
  assert.ok(during.dropped > 0);
  await proxy.up();
  await load(3000, N);
  await sink.close();

  const stats = sink.stats();
  const rows = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".events`);
  const stored = rows.rows[0].n as number;
  assert.equal(ok, N);
  assert.equal(stats.emitted, N);
  assert.equal(stats.buffered, 0);
  assert.equal(stored, stats.written);
  assert.equal(stored + stats.dropped, N);
  assert.ok(stats.dropped >= 2000 - 300 - 100, `dropped ${stats.dropped}`);
  // The exact number lost is in the log.
  const logged = lines.reduce((n, l) => n + (typeof l.droppedEvents === 'number' ? l.droppedEvents : 0), 0);
  assert.equal(logged, stats.dropped);
  const closing = lines.find((l) => l.msg === 'event sink closed');
  assert.deepEqual(
    { written: closing?.written, dropped: closing?.dropped },
    { written: stored, dropped: stats.dropped },
  );

  await client.close();
  await new Promise((r) => gateway.close(r));
  await proxy.cut();
});

test('the monitor starts while PostgreSQL is unreachable, buffers, and stores everything once it answers', async () => {
  const proxy = relay();
  await proxy.up();
  await proxy.cut(); // the port is known and refuses connections
  const monitor = await createMonitor(
    {
      events: {
        store: 'postgres',
        postgres: { url: `postgres://postgres@127.0.0.1:${proxy.port()}/test`, schema: lateSchema },
        flushIntervalMs: 10,
      },
    },
    {
      logger: pino({ level: 'silent' }),
      clock: systemClock,
      store: createMemoryStore({ clock: systemClock }),
    },
  );
  for (let i = 0; i < 50; i++)
    monitor.events.emit({
      '@timestamp': new Date().toISOString(),
      'event.kind': 'event',
      'event.category': 'web',
      'event.type': 'access',
      'event.action': 'http-request',
      'http.request.id': `late-${i}`,
    });
  for (let i = 0; i < 100 && monitor.stats().sink.writeErrors === 0; i++)
    await new Promise((r) => setTimeout(r, 10));
  assert.equal(monitor.stats().sink.storeHealthy, false);
  assert.equal(monitor.stats().sink.buffered, 50);

  await proxy.up();
  for (let i = 0; i < 1000 && monitor.stats().sink.written < 50; i++)
    await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(
    { written: monitor.stats().sink.written, dropped: monitor.stats().sink.dropped },
    { written: 50, dropped: 0 },
  );
  const page = await monitor.query({ limit: 100 });
  assert.equal(page.events.length, 50);
  await monitor.close();
  await proxy.cut();
});
