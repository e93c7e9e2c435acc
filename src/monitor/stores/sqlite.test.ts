import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { writeVersion1File } from '../../../test/kit/version1-file.ts';
import { createManualClock } from '../../core/clock.ts';
import { type EventStore, encodeCursor, type StoredEvent } from './event-store.ts';
import { createSqliteStore, type SqliteStoreOptions } from './sqlite.ts';
import { createSqliteWorkerStore } from './sqlite-worker-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 0, 1);

function access(i: number, more: Record<string, unknown> = {}): StoredEvent {
  return {
    '@timestamp': new Date(T0 + i * 1000).toISOString(),
    'event.id': `e${i}`,
    'event.kind': 'event',
    'event.category': 'web',
    'event.type': 'access',
    'event.action': 'http-request',
    'event.outcome': 'success',
    'http.request.id': `r${i}`,
    'http.request.method': 'GET',
    'http.route': '/users/{id}',
    'http.response.status_code': 200,
    'client.address': i % 2 === 0 ? '10.0.0.1' : '10.0.0.2',
    'user.id': i % 3 === 0 ? 'alice' : 'bob',
    'portcullis.api': 'demo',
    'portcullis.path_params': { id: String(i) },
    ...more,
  };
}

const variants: Array<[string, (o: SqliteStoreOptions) => Promise<EventStore>]> = [
  ['in-thread', async (o) => createSqliteStore(o)],
  ['worker-thread', createSqliteWorkerStore],
];

for (const [variant, open] of variants)
  describe(`sqlite event store (${variant})`, () => {
    test('returns written events newest first with every field restored', async () => {
      const clock = createManualClock(T0);
      const store = await open({
        path: join(dir, variant, 'events.db'),
        retentionDays: 0,
        maxRows: 0,
        clock,
      });
      await store.write([access(1), access(2)]);
      const page = await store.query({});
      assert.deepEqual(page.events, [access(2), access(1)]);
      assert.equal(page.nextCursor, undefined);
      await store.close();
    });

    test('filters by ip, principal, route, category and time range', async () => {
      const clock = createManualClock(T0);
      const store = await open({ path: ':memory:', retentionDays: 0, maxRows: 0, clock });
      await store.write(Array.from({ length: 12 }, (_, i) => access(i)));
      await store.write([
        {
          '@timestamp': new Date(T0 + 5500).toISOString(),
          'event.id': 'alert1',
          'event.kind': 'alert',
          'event.category': 'intrusion_detection',
          'event.type': 'indicator',
          'event.action': 'bola-enumeration',
          'client.address': '10.0.0.9',
        },
      ]);
      const ids = async (q: Parameters<typeof store.query>[0]) =>
        (await store.query(q)).events.map((e) => e['event.id']);
      assert.deepEqual(await ids({ ip: '10.0.0.2', principal: 'alice' }), ['e9', 'e3']);
      assert.deepEqual(await ids({ kind: 'alert' }), ['alert1']);
      assert.deepEqual(await ids({ category: 'intrusion_detection', action: 'bola-enumeration' }), [
        'alert1',
      ]);
      assert.deepEqual(await ids({ route: '/users/{id}', from: T0 + 10_000 }), ['e11', 'e10']);
      assert.deepEqual(await ids({ from: new Date(T0 + 2000).toISOString(), to: T0 + 4000, api: 'demo' }), [
        'e3',
        'e2',
      ]);
      await store.close();
    });

    test('pages through events with a cursor without gaps or repeats', async () => {
      const clock = createManualClock(T0);
      const store = await open({ path: ':memory:', retentionDays: 0, maxRows: 0, clock });
      // Same timestamp for several events: the cursor must break ties.
      await store.write(
        Array.from({ length: 25 }, (_, i) => ({ ...access(Math.floor(i / 4)), 'event.id': `x${i}` })),
      );
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.query({ limit: 7, cursor });
        seen.push(...page.events.map((e) => e['event.id'] as string));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== undefined);
      assert.equal(pages, 4);
      assert.equal(seen.length, 25);
      assert.equal(new Set(seen).size, 25);
      await store.close();
    });

    test('rejects a forged cursor and an out-of-range limit with ERR_EVENT_STORE_QUERY', async () => {
      const store = await open({
        path: ':memory:',
        retentionDays: 0,
        maxRows: 0,
        clock: createManualClock(),
      });
      await assert.rejects(store.query({ cursor: 'nonsense' }), { code: 'ERR_EVENT_STORE_QUERY' });
      await assert.rejects(store.query({ limit: 5000 }), { code: 'ERR_EVENT_STORE_QUERY' });
      await store.close();
    });

    test('deletes events older than retentionDays', async () => {
      const clock = createManualClock(T0);
      const store = await open({ path: ':memory:', retentionDays: 1, maxRows: 0, clock });
      await store.write([access(0), access(86_400 + 10), access(2 * 86_400)]);
      clock.set(T0 + 2 * 86_400_000 + 5000);
      await store.prune();
      assert.deepEqual(
        (await store.query({})).events.map((e) => e['event.id']),
        ['e172800', 'e86410'],
      );
      await store.close();
    });

    test('keeps only the newest maxRows events', async () => {
      const clock = createManualClock(T0);
      const store = await open({ path: ':memory:', retentionDays: 0, maxRows: 10, clock });
      for (let b = 0; b < 3; b++) await store.write(Array.from({ length: 6 }, (_, i) => access(b * 6 + i)));
      await store.prune();
      const events = (await store.query({ limit: 100 })).events;
      assert.equal(events.length, 10);
      assert.equal(events[0]['event.id'], 'e17');
      assert.equal(events[9]['event.id'], 'e8');
      await store.close();
    });

    test('deletes the oldest events until they use at most maxMegabytes', async () => {
      const clock = createManualClock(T0);
      const store = await open({
        path: join(dir, `size-${variant}.db`),
        retentionDays: 0,
        maxRows: 0,
        maxMegabytes: 1,
        clock,
      });
      const pad = 'x'.repeat(2000);
      for (let b = 0; b < 10; b++)
        await store.write(
          Array.from({ length: 100 }, (_, i) => access(b * 100 + i, { 'portcullis.pad': pad })),
        );
      await store.prune();
      const left = (await store.query({ limit: 1000 })).events;
      // About 1000 events of ~2 kB is ~2 MB: roughly half had to go, the newest stay.
      assert.ok(left.length < 600 && left.length > 200, `kept ${left.length}`);
      assert.equal(left[0]['event.id'], 'e999');
      await store.close();
    });

    test('keeps events across a reopen of the same file', async () => {
      const path = join(dir, `reopen-${variant}.db`);
      const clock = createManualClock(T0);
      const a = await open({ path, retentionDays: 0, maxRows: 0, clock });
      await a.write([access(1)]);
      await a.close();
      const b = await open({ path, retentionDays: 0, maxRows: 0, clock });
      assert.deepEqual((await b.query({})).events, [access(1)]);
      await b.close();
    });
  });

/** An in-thread store in memory, with no retention. */
function inMemoryStore() {
  return createSqliteStore({ path: ':memory:', retentionDays: 0, maxRows: 0, clock: createManualClock(T0) });
}

describe('sqlite event store layout', () => {
  test('a millisecond of more than 1024 events runs on into the next; a late event follows its own', async () => {
    const store = inMemoryStore();
    // 1100 events of one millisecond in one batch, then one of the next millisecond.
    const crowd = Array.from({ length: 1100 }, (_, i) => ({ ...access(0), 'event.id': `c${i}` }));
    await store.write(crowd);
    await store.write([{ ...access(0), '@timestamp': new Date(T0 + 1).toISOString(), 'event.id': 'next' }]);
    // A late event of an earlier, quiet millisecond, and another of the crowded one (its slots are taken).
    await store.write([
      { ...access(0), '@timestamp': new Date(T0 - 5).toISOString(), 'event.id': 'late' },
      { ...access(0), 'event.id': 'late-crowded' },
    ]);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.query({ limit: 1000, cursor });
      seen.push(...page.events.map((e) => e['event.id'] as string));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    assert.equal(seen.length, 1103);
    assert.equal(new Set(seen).size, 1103);
    // Newest first: the crowded millisecond in its order (the late one of it at the end, filed after the
    // spill), then the quiet late one last.
    assert.deepEqual(seen.slice(0, 3), ['late-crowded', 'next', 'c1099']);
    assert.deepEqual(seen.slice(-2), ['c0', 'late']);
    assert.deepEqual(
      (await store.query({ to: T0 })).events.map((e) => e['event.id']),
      ['late'],
    );
    await store.close();
  });

  test('a query running in steps finishes before close() closes the database', async () => {
    const store = inMemoryStore();
    await store.write(Array.from({ length: 100 }, (_, i) => access(i * 5, { 'event.id': `q${i}` })));
    const pending = store.query({ ip: '10.0.0.1', limit: 1000 });
    await store.close();
    assert.equal((await pending).events.length, 50);
    await assert.rejects(store.query({}), { code: 'ERR_EVENT_STORE_QUERY' });
  });

  test('a keyed query walks buckets newest first across many pages of buckets', async () => {
    const store = inMemoryStore();
    // 300 events 5 s apart: each in its own bucket, the address of every third one is 10.0.0.7.
    const events = Array.from({ length: 300 }, (_, i) =>
      access(i * 5, { 'event.id': `s${i}`, 'client.address': i % 3 === 0 ? '10.0.0.7' : '10.0.0.8' }),
    );
    await store.write(events);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.query({ ip: '10.0.0.7', limit: 9, cursor });
      seen.push(...page.events.map((e) => e['event.id'] as string));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    const expected = events
      .filter((e) => e['client.address'] === '10.0.0.7')
      .map((e) => e['event.id'])
      .reverse();
    assert.deepEqual(seen, expected);
    // One bucket read per turn of the event loop: a query over 100 buckets lets others run in between.
    let turns = 0;
    let querying = true;
    const tick = () => {
      turns++;
      if (querying) setImmediate(tick);
    };
    setImmediate(tick);
    assert.equal((await store.query({ ip: '10.0.0.7', limit: 1000 })).events.length, 100);
    querying = false;
    assert.ok(turns >= 90, `the event loop turned ${turns} times`);
    // Two keys at once, and a time range inside the walk.
    assert.deepEqual(
      (
        await store.query({ ip: '10.0.0.7', principal: 'alice', from: T0 + 1_000_000, to: T0 + 1_200_000 })
      ).events.map((e) => e['event.id']),
      // access(i * 5) is alice's when i * 5, so i, is a multiple of 3: the same events as the address.
      events
        .filter((_e, i) => i % 3 === 0 && i * 5 * 1000 >= 1_000_000 && i * 5 * 1000 < 1_200_000)
        .map((e) => e['event.id'])
        .reverse(),
    );
    await store.close();
  });

  test('an event stored after retention emptied the store is found by its keys', async () => {
    const clock = createManualClock(T0);
    const store = createSqliteStore({ path: ':memory:', retentionDays: 1, maxRows: 0, clock });
    await store.write([access(0)]);
    clock.set(T0 + 3 * 86_400_000);
    await store.prune();
    assert.equal((await store.query({})).events.length, 0);
    // Same bucket as the pruned event: its key row must be written again.
    await store.write([{ ...access(0), 'event.id': 'again' }]);
    assert.deepEqual(
      (await store.query({ ip: '10.0.0.1' })).events.map((e) => e['event.id']),
      ['again'],
    );
    await store.close();
  });

  test('opens a file of the version-1 layout and rewrites it in place, keeping every event', async () => {
    const path = join(dir, 'v1.db');
    // Besides the six events: a time before 1970, and 1100 events of one millisecond followed by one more.
    writeVersion1File(path, [
      ['neg', -5, '10.0.0.4'],
      ...Array.from({ length: 1100 }, (_, i): [string, number, string] => [`p${i}`, T0 + 40_000, '10.0.0.5']),
      ['after', T0 + 40_001, '10.0.0.5'],
    ]);
    const store = createSqliteStore({ path, retentionDays: 0, maxRows: 4, clock: createManualClock(T0) });
    assert.deepEqual({ ...store.migrated, ms: 0 }, { fromVersion: 1, toVersion: 2, events: 1108, ms: 0 });
    const ids = async (q: Parameters<typeof store.query>[0]) =>
      (await store.query(q)).events.map((e) => e['event.id']);
    assert.deepEqual(await ids({ ip: '10.0.0.4' }), ['neg']);
    const crowd = await ids({ ip: '10.0.0.5', limit: 1000 });
    assert.deepEqual(crowd.slice(0, 2), ['after', 'p1099']);
    assert.equal(
      (
        await store.query({
          ip: '10.0.0.5',
          limit: 1000,
          cursor: (await store.query({ ip: '10.0.0.5', limit: 1000 })).nextCursor,
        })
      ).events.length,
      101,
    );
    // A cursor of the version-1 layout (a small autoincrement seq) is refused, not read as a position.
    await assert.rejects(store.query({ cursor: encodeCursor(T0 + 9000, 2) }), {
      code: 'ERR_EVENT_STORE_QUERY',
    });
    assert.deepEqual(await ids({ to: T0 + 40_000 }), ['o6', 'o5', 'o2', 'o4', 'o3', 'o1', 'neg']);
    assert.deepEqual(await ids({ ip: '10.0.0.1' }), ['o5', 'o3', 'o1']);
    assert.deepEqual(await ids({ ip: '10.0.0.2', from: T0 + 5000, to: T0 + 9000 }), ['o4']);
    // The row count came across: maxRows 4 keeps the newest four.
    await store.prune();
    assert.deepEqual(await ids({}), ['after', 'p1099', 'p1098', 'p1097']);
    await store.close();

    const check = new DatabaseSync(path);
    assert.equal((check.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, 2);
    const indexes = (
      check
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'")
        .all() as Array<{ name: string }>
    ).map((r) => r.name);
    assert.deepEqual(indexes, []);
    check.close();
  });
});

test('the worker-thread store rewrites a version-1 file too, and says so once', async () => {
  const path = join(dir, 'v1-worker.db');
  writeVersion1File(path);
  const store = await createSqliteWorkerStore({
    path,
    retentionDays: 0,
    maxRows: 0,
    clock: createManualClock(T0),
  });
  assert.equal(store.migrated?.events, 6);
  assert.deepEqual(
    (await store.query({ ip: '10.0.0.2' })).events.map((e) => e['event.id']),
    ['o2', 'o4'],
  );
  await store.close();
  const again = await createSqliteWorkerStore({
    path,
    retentionDays: 0,
    maxRows: 0,
    clock: createManualClock(T0),
  });
  assert.equal(again.migrated, undefined);
  assert.equal((await again.query({})).events.length, 6);
  await again.close();
});

test('the worker-thread store replaces a worker that died and keeps what was written', async () => {
  const store = await createSqliteWorkerStore({
    path: join(dir, 'restart.db'),
    retentionDays: 0,
    maxRows: 0,
    clock: createManualClock(T0),
  });
  await store.write([access(1)]);
  await store.terminateWorker();
  await store.write([access(2)]);
  assert.deepEqual(
    (await store.query({})).events.map((e) => e['event.id']),
    ['e2', 'e1'],
  );
  await store.close();
});

describe('in-thread SQLite store, large batches', () => {
  test('writes a batch in one transaction, in slices with the event loop free between them', async () => {
    const store = inMemoryStore();
    await store.write(Array.from({ length: 250 }, (_, i) => access(i)));
    assert.equal((await store.query({ limit: 1000 })).events.length, 250);

    // The loop turns while a batch of 1000 is inserted (timers and I/O callbacks run between slices).
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    await store.write(Array.from({ length: 1000 }, (_, i) => access(500 + i)));
    clearInterval(ticker);
    assert.ok(turns >= 2, `the event loop turned ${turns} times`);
    assert.equal((await store.query({ limit: 1000 })).events.length, 1000);

    // An event without its kind breaks the NOT NULL column in the last slice: the whole batch is rolled
    // back, so a retry of the same batch cannot store any event twice.
    const batch = Array.from({ length: 250 }, (_, i) => access(2000 + i));
    delete (batch[220] as Record<string, unknown>)['event.kind'];
    await assert.rejects(store.write(batch));
    const ids = new Set(
      (await store.query({ limit: 1000, from: T0 + 2_000_000 })).events.map((e) => e['event.id']),
    );
    assert.equal(ids.size, 0);
    batch[220]['event.kind'] = 'event';
    await store.write(batch);
    const after = (await store.query({ limit: 1000, from: T0 + 2_000_000 })).events.map((e) => e['event.id']);
    assert.equal(after.length, 250);
    assert.equal(new Set(after).size, 250);
    // The key rows written by the failed attempt were rolled back with it, and written again by the retry.
    const byIp = await store.query({ limit: 1000, from: T0 + 2_000_000, ip: '10.0.0.2' });
    assert.equal(byIp.events.length, 125);
    await store.close();
  });
});

describe('in-thread SQLite store, write-ahead log', () => {
  test('a separate thread checkpoints the log into the database, and closing empties the log', async () => {
    const path = join(dir, 'checkpointed.db');
    const store = createSqliteStore({
      path,
      retentionDays: 0,
      maxRows: 0,
      clock: createManualClock(T0),
      checkpointIntervalMs: 50,
    });
    const empty = statSync(path).size;
    await store.write(Array.from({ length: 1000 }, (_, i) => access(i)));
    // SQLite's own checkpoint would wait for 16384 frames; these 1000 events make a few hundred, so only
    // the checkpointing thread (every 50 ms here, every second by default) moves them into the database file.
    let size = statSync(path).size;
    for (let i = 0; i < 60 && size <= empty + 100_000; i++) {
      await new Promise((r) => setTimeout(r, 50));
      size = statSync(path).size;
    }
    assert.ok(size > empty + 100_000, `database file still ${size} bytes`);
    await store.close();
    assert.equal(statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0, 0);
    const reopened = createSqliteStore({ path, retentionDays: 0, maxRows: 0, clock: createManualClock(T0) });
    assert.equal((await reopened.query({ limit: 1000 })).events.length, 1000);
    await reopened.close();
  });
});
