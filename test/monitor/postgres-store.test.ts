import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import pino from 'pino';
import { createManualClock } from '../../src/core/clock.ts';
import type { StoredEvent } from '../../src/monitor/stores/event-store.ts';
import { createPostgresStore } from '../../src/monitor/stores/postgres.ts';
import { connectPostgres, POSTGRES_URL } from '../kit/postgres.ts';

const URL = POSTGRES_URL;
const admin = await connectPostgres();
after(() => admin.close());
const freshSchema = () => admin.freshSchema();

const logger = pino({ level: 'silent' });
const T0 = Date.UTC(2026, 0, 10, 12);

function access(i: number, more: Record<string, unknown> = {}): StoredEvent {
  return {
    '@timestamp': new Date(T0 + i * 1000).toISOString(),
    'event.id': `e${i}`,
    'event.kind': 'event',
    'event.category': 'web',
    'event.type': 'access',
    'event.action': 'http-request',
    'http.request.id': `r${i}`,
    'http.request.method': 'GET',
    'http.route': '/users/{id}',
    'http.response.status_code': 404,
    'client.address': i % 2 === 0 ? '10.0.0.1' : '10.0.0.2',
    'user.id': i % 3 === 0 ? 'alice' : 'bob',
    'portcullis.api': 'demo',
    'portcullis.path_params': { id: String(i) },
    ...more,
  };
}

/** A store on a fresh schema, with what most tests use; each test names only what it changes. */
async function openStore(options: Partial<Parameters<typeof createPostgresStore>[0]> = {}) {
  const schema = freshSchema();
  const store = await createPostgresStore({
    url: URL,
    schema,
    retentionDays: 0,
    clock: createManualClock(T0),
    logger,
    ...options,
  });
  return { schema, store };
}

async function partitions(schema: string): Promise<string[]> {
  const r = await admin.query(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n
       ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1`,
    [schema],
  );
  return r.rows.map((x) => String(x.relname));
}

describe('postgres event store', () => {
  test('runs its migrations once and records them in schema_migrations', async () => {
    const schema = freshSchema();
    const clock = createManualClock(T0);
    const a = await createPostgresStore({ url: URL, schema, retentionDays: 0, clock, logger });
    const b = await createPostgresStore({ url: URL, schema, retentionDays: 0, clock, logger });
    const r = await admin.query(`SELECT version FROM "${schema}".schema_migrations`);
    assert.deepEqual(
      r.rows.map((x) => x.version),
      [1],
    );
    await a.close();
    await b.close();
  });

  test('creates daily partitions ahead of today', async () => {
    const { schema, store } = await openStore({ partitionsAhead: 2 });
    assert.deepEqual(await partitions(schema), ['events_p20260110', 'events_p20260111', 'events_p20260112']);
    await store.close();
  });

  test('writes a batch, restores every field and filters like the sqlite store', async () => {
    const { store } = await openStore();
    await store.write(Array.from({ length: 12 }, (_, i) => access(i)));
    const all = await store.query({ limit: 100 });
    assert.equal(all.events.length, 12);
    assert.deepEqual(all.events[0], access(11));
    const ids = async (q: Parameters<typeof store.query>[0]) =>
      (await store.query(q)).events.map((e) => e['event.id']);
    assert.deepEqual(await ids({ ip: '10.0.0.2', principal: 'alice' }), ['e9', 'e3']);
    assert.deepEqual(
      await ids({ from: T0 + 2000, to: new Date(T0 + 4000).toISOString(), route: '/users/{id}' }),
      ['e3', 'e2'],
    );
    await store.close();
  });

  test('creates the partition of an event whose day has none yet', async () => {
    const { schema, store } = await openStore({ partitionsAhead: 0 });
    await store.write([access(10 * 86_400)]);
    assert.ok((await partitions(schema)).includes('events_p20260120'));
    assert.equal((await store.query({})).events.length, 1);
    await store.close();
  });

  test('writing the same batch twice keeps one copy of each event', async () => {
    const { schema, store } = await openStore();
    const batch = Array.from({ length: 5 }, (_, i) => access(i));
    await store.write(batch);
    await store.write(batch);
    const r = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".events`);
    assert.equal(r.rows[0].n, 5);
    await store.close();
  });

  test('pages with a cursor without gaps or repeats when timestamps tie', async () => {
    const { store } = await openStore();
    await store.write(
      Array.from({ length: 25 }, (_, i) => ({ ...access(Math.floor(i / 4)), 'event.id': `x${i}` })),
    );
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.query({ limit: 7, cursor });
      seen.push(...page.events.map((e) => e['event.id'] as string));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    assert.equal(seen.length, 25);
    assert.equal(new Set(seen).size, 25);
    await store.close();
  });

  test('drops partitions older than retentionDays', async () => {
    const schema = freshSchema();
    const clock = createManualClock(T0);
    const store = await createPostgresStore({
      url: URL,
      schema,
      retentionDays: 2,
      partitionsAhead: 0,
      clock,
      logger,
    });
    await store.write([access(0), access(86_400), access(2 * 86_400), access(3 * 86_400)]);
    clock.set(T0 + 3 * 86_400_000);
    await store.prune();
    assert.deepEqual(await partitions(schema), ['events_p20260111', 'events_p20260112', 'events_p20260113']);
    assert.deepEqual(
      (await store.query({})).events.map((e) => e['event.id']),
      ['e259200', 'e172800', 'e86400'],
    );
    await store.close();
  });

  test('recreates a partition that another instance dropped behind its back', async () => {
    const schema = freshSchema();
    const clock = createManualClock(T0);
    const store = await createPostgresStore({
      url: URL,
      schema,
      retentionDays: 0,
      partitionsAhead: 0,
      clock,
      logger,
    });
    await store.write([access(1)]);
    await admin.query(`DROP TABLE "${schema}".events_p20260110`);
    await store.write([access(2)]);
    assert.deepEqual(
      (await store.query({})).events.map((e) => e['event.id']),
      ['e2'],
    );
    await store.close();
  });

  test('stores events carrying NUL characters and lone surrogates instead of failing the batch', async () => {
    const { store } = await openStore();
    await store.write([
      access(1, {
        'user.id': 'eve\u0000admin',
        'user_agent.original': 'x\ud800y',
        'portcullis.claims': { n: 'a\u0000' },
      }),
      access(2),
    ]);
    const [second, first] = (await store.query({})).events;
    assert.equal(second['event.id'], 'e2');
    assert.equal(first['user.id'], 'eve\ufffdadmin');
    assert.equal(first['user_agent.original'], 'x\ufffdy');
    assert.deepEqual(first['portcullis.claims'], { n: 'a\ufffd' });
    assert.equal((await store.query({ principal: 'eve\ufffdadmin' })).events.length, 1);
    await store.close();
  });

  test('rejects a schema name that is not a plain identifier', async () => {
    await assert.rejects(
      createPostgresStore({
        url: URL,
        schema: 'x"; drop',
        retentionDays: 0,
        clock: createManualClock(),
        logger,
      }),
      { code: 'ERR_EVENT_STORE_CONFIG' },
    );
  });
});
