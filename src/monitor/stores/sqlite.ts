import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import type { Clock } from '../../core/clock.ts';
import { BoundedCache } from '../../shared/bounded-cache.ts';
import {
  coreColumns,
  decodeCursor,
  type EventPage,
  type EventQuery,
  type EventStore,
  EventStoreError,
  encodeCursor,
  normaliseQuery,
  restJson,
  restoreRow,
  type StoredEvent,
} from './event-store.ts';

export interface SqliteStoreOptions {
  /** Database file (`:memory:` for tests); its folder is created. */
  path: string;
  /** Events older than this are deleted (0 keeps them). */
  retentionDays: number;
  /** At most this many events are kept; the oldest go first (0 = no cap). */
  maxRows: number;
  /** The events may use at most this many megabytes of the file (pages in use); oldest go first (0 = no cap). */
  maxMegabytes?: number;
  clock: Clock;
  /** How often retention runs on its own (0 = only when `prune()` is called). */
  pruneIntervalMs?: number;
  /** In-thread store on a file: how often the checkpointing thread checkpoints the log (default 1000 ms). */
  checkpointIntervalMs?: number;
}

/** The SQLite event store (in this thread or on a worker thread). */
export interface SqliteStore extends EventStore {
  /** Set when the file had an earlier layout and was rewritten on open. */
  readonly migrated: SqliteMigration | undefined;
}

const DELETE_CHUNK = 5000;
/** Above every `seq` (the year 2248 in ms × 1024 stays below 2^53). */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;
/** Buckets fetched per step of a keyed query. */
const BUCKET_PAGE = 64;

/** Bounds the work of one prune run so it never holds the event loop for long. */
const MAX_CHUNKS_PER_PRUNE = 20;

/** A row of `events` as read back. */
type Row = Record<string, unknown> & { seq: number; ts: number; data: string };

/**
 * Layout (version 2). Writing an event costs an append to the `events` table and, now and then, a key
 * row: no secondary index of `events` is written per event. Those indexes, whose inserts land at random
 * pages, made storing dear: 8.4-9.6 µs per event with four of them and one client, 37 µs with 2000
 * addresses and users after a million events; this layout costs 5.4-5.9 µs and 9.4 µs (in process).
 *
 * - `seq` is the event time in ms × 1024 plus the event's place among those of its millisecond (see
 *   `createSeqAllocator`), so the table itself is in time order: newest first, a time range and a cursor
 *   are all ranges of `seq`, and an insert appends.
 * - `event_keys` says which values of the filterable fields (address, principal, API, route, and the
 *   rare kinds and categories) occur in which 4.096-second bucket of time, one row per value and bucket.
 *   A query by one of them visits only the buckets where the value occurs, newest first, and reads each
 *   bucket's slice of `events`. A key row is written the first time a value is seen in a bucket, so one
 *   client making many requests costs one key row per 4 seconds.
 * - `event_meta` keeps the row count, for the `maxRows` cap.
 */
const SCHEMA_VERSION = 2;
/** `seq` = time in ms × SEQ_PER_MS + place in that millisecond (more run on into the next); up to year 2248. */
const SEQ_PER_MS = 1024;
const MAX_MS = Math.floor(MAX_SEQ / SEQ_PER_MS) - 1;
/**
 * A key bucket spans 4096 ms, so its events are the `seq` range [bucket × SEQ_PER_BUCKET, + SEQ_PER_BUCKET).
 * Wider buckets mean fewer key rows and more rows read per visited bucket: with 5000 client addresses at
 * 3000 events/s, 1-second buckets cost 12 µs per event written, 4-second ones 7 µs (16-second ones 6 µs),
 * while a visited bucket holds about 12 000 events at that rate.
 */
const MS_PER_BUCKET = 4096;
const SEQ_PER_BUCKET = SEQ_PER_MS * MS_PER_BUCKET;

const EVENT_COLUMNS = `id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  category TEXT NOT NULL,
  type TEXT NOT NULL,
  action TEXT NOT NULL,
  outcome TEXT,
  reason TEXT,
  severity INTEGER,
  ip TEXT,
  principal TEXT,
  api TEXT,
  route TEXT,
  method TEXT,
  status INTEGER,
  request_id TEXT,
  data TEXT NOT NULL`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  ${EVENT_COLUMNS}
);
CREATE TABLE IF NOT EXISTS event_keys (
  bucket INTEGER NOT NULL,
  field INTEGER NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (bucket, field, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_keys_value ON event_keys (field, value, bucket);
CREATE TABLE IF NOT EXISTS event_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO event_meta (name, value) VALUES ('rows', 0);
`;

/** The keyed fields: their number in `event_keys.field`, and the column that holds them. */
const KEY_FIELDS = [
  { field: 0, column: 'ip' },
  { field: 1, column: 'principal' },
  { field: 2, column: 'api' },
  { field: 3, column: 'route' },
  { field: 4, column: 'kind' },
  { field: 5, column: 'category' },
] as const;
type KeyColumn = (typeof KEY_FIELDS)[number]['column'];
/** Kinds and categories that nearly every event has are not keyed: a filter on them scans. */
const COMMON_VALUE: Partial<Record<KeyColumn, string>> = { kind: 'event', category: 'web' };
/** Values remembered per field as already keyed in their bucket; past this the memory starts over. */
const KEY_MEMO_SIZE = 10_000;

/**
 * Hands out `seq` values. In time order (the usual case) an event takes the first slot of its millisecond
 * after the last one given, so events keep their order, and a millisecond with more than 1024 events
 * runs on into the next one's slots. A late event (older than the newest stored) takes the slot after
 * the last one used in its millisecond, or, when that millisecond is full, the next slot at the end.
 * No two events ever get the same slot, so an insert never fails for it.
 */
function createSeqAllocator(db: DatabaseSync): (ms: number) => number {
  const newest = db.prepare('SELECT max(seq) AS s FROM events');
  const lastInMs = db.prepare('SELECT max(seq) AS s FROM events WHERE seq >= ? AND seq < ?');
  let next = ((newest.get() as { s: number | null }).s ?? -1) + 1;
  return (ms) => {
    const first = ms * SEQ_PER_MS;
    if (first + SEQ_PER_MS > next) {
      const seq = Math.max(first, next);
      next = seq + 1;
      return seq;
    }
    const last = (lastInMs.get(first, first + SEQ_PER_MS) as { s: number | null }).s;
    if (last === null) return first;
    if (last + 1 < first + SEQ_PER_MS) return last + 1;
    return next++;
  };
}

/** A time outside 1970..2248 (a broken clock, an unparsable stamp) is filed at the nearer end. */
function fileMs(ts: number): number {
  return Math.min(Math.max(Number.isFinite(ts) ? Math.trunc(ts) : 0, 0), MAX_MS);
}

/** What opening a file of an earlier layout did. */
export interface SqliteMigration {
  fromVersion: number;
  toVersion: number;
  events: number;
  ms: number;
}

/**
 * Rewrites a version-1 file (an autoincrement `seq` and five indexes) into version 2, in one transaction.
 * Events that share a millisecond keep their order. Returns what it did, if anything.
 */
function migrate(db: DatabaseSync): SqliteMigration | undefined {
  const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
  if (version === SCHEMA_VERSION) return undefined;
  const started = performance.now();
  const hasEvents =
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get() !== undefined;
  db.exec('BEGIN IMMEDIATE');
  try {
    if (hasEvents) {
      if (version !== 0)
        throw new Error(
          `events database has layout version ${version}; this Portcullis reads ${SCHEMA_VERSION}`,
        );
      db.exec(`ALTER TABLE events RENAME TO events_v1;
        DROP INDEX IF EXISTS events_ts; DROP INDEX IF EXISTS events_category_ts;
        DROP INDEX IF EXISTS events_rare_category_ts; DROP INDEX IF EXISTS events_ip_ts;
        DROP INDEX IF EXISTS events_principal_ts; DROP INDEX IF EXISTS events_api_route_ts;`);
    }
    db.exec(SCHEMA);
    if (hasEvents) {
      // Copied in time order through the allocator of new events, so every event gets a slot (events
      // piled on one millisecond run on into the next ones; times outside 1970..2248 are filed at the ends).
      const columns =
        'id, ts, kind, category, type, action, outcome, reason, severity, ip, principal, api, route, method, status, request_id, data';
      const copy = db.prepare(
        `INSERT INTO events (seq, ${columns}) SELECT ?, ${columns} FROM events_v1 WHERE seq = ?`,
      );
      const seqFor = createSeqAllocator(db);
      const old = db.prepare(`SELECT seq, ts FROM events_v1 ORDER BY max(0, min(ts, ${MAX_MS})), seq`);
      for (const row of old.iterate() as Iterable<{ seq: number; ts: number }>)
        copy.run(seqFor(fileMs(row.ts)), row.seq);
      db.exec('DROP TABLE events_v1;');
      for (const k of KEY_FIELDS) {
        const common = COMMON_VALUE[k.column];
        db.exec(`INSERT OR IGNORE INTO event_keys (bucket, field, value)
          SELECT DISTINCT seq / ${SEQ_PER_BUCKET}, ${k.field}, ${k.column} FROM events
          WHERE ${k.column} IS NOT NULL${common ? ` AND ${k.column} <> '${common}'` : ''}`);
      }
      db.exec("UPDATE event_meta SET value = (SELECT count(*) FROM events) WHERE name = 'rows'");
    }
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
  if (!hasEvents) return undefined;
  const events = (db.prepare("SELECT value FROM event_meta WHERE name = 'rows'").get() as { value: number })
    .value;
  return { fromVersion: 1, toVersion: SCHEMA_VERSION, events, ms: Math.round(performance.now() - started) };
}

/** The synchronous core shared by the in-thread store and the worker-thread store. */
export interface SqliteEvents {
  /** Set when the file had an earlier layout and was rewritten on open. */
  readonly migrated: SqliteMigration | undefined;
  /** Writes the batch in one transaction. */
  write(batch: readonly StoredEvent[]): void;
  /**
   * The same in steps, for a caller that yields between slices of a batch: `begin`, `insert` any number
   * of times, then `commit` (or `rollback`). A retention run during the batch is skipped.
   */
  begin(): void;
  insert(batch: readonly StoredEvent[], from: number, to: number): void;
  commit(): void;
  rollback(): void;
  query(q: EventQuery): EventPage;
  /** The same query in steps: it yields after each bucket it reads, so a caller can let others run. */
  queryInSteps(q: EventQuery): Generator<void, EventPage>;
  prune(nowMs: number): void;
  close(): void;
  /** Turns SQLite's own checkpoints after commits back on (when the checkpointing thread is gone). */
  resumeAutoCheckpoint(): void;
}

/** Opens (and creates) the events database; every call on the result runs synchronously. */
export function openSqliteEvents(opts: {
  path: string;
  retentionDays: number;
  maxRows: number;
  maxMegabytes?: number;
  /** False when another connection checkpoints the log (see `createSqliteStore`). */
  autoCheckpoint?: boolean;
}): SqliteEvents {
  if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
  const db = new DatabaseSync(opts.path);
  // 16 KiB pages (a new file only; an existing one keeps its size): 15% less per insert than 4 KiB with
  // one client, 17% with many (fewer page splits and log frames for the same rows), measured in process.
  db.exec('PRAGMA page_size = 16384;');
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 1000;');
  // Another thread checkpoints every second; SQLite's own checkpoint after a commit stays as a safety net
  // for a log that thread cannot catch up with (writes that never pause). After a burst, the log file is
  // cut back to 64 MiB.
  if (opts.autoCheckpoint === false) db.exec('PRAGMA wal_autocheckpoint = 16384;');
  db.exec('PRAGMA journal_size_limit = 67108864;');
  const migrated = migrate(db);
  const insert = db.prepare(
    `INSERT INTO events (seq, id, ts, kind, category, type, action, outcome, reason, severity, ip, principal,
       api, route, method, status, request_id, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertKey = db.prepare('INSERT OR IGNORE INTO event_keys (bucket, field, value) VALUES (?, ?, ?)');
  const addRows = db.prepare("UPDATE event_meta SET value = max(0, value + ?) WHERE name = 'rows'");
  const rowCount = db.prepare("SELECT value FROM event_meta WHERE name = 'rows'");
  const oldestSeq = db.prepare('SELECT min(seq) AS s FROM events');
  const deleteBelow = db.prepare(
    `DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq < ? ORDER BY seq LIMIT ${DELETE_CHUNK})`,
  );
  const deleteOldest = db.prepare(
    'DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)',
  );
  const deleteKeysBelow = db.prepare('DELETE FROM event_keys WHERE bucket < ?');
  const usedBytes = db.prepare(
    'SELECT (page_count - freelist_count) * page_size AS used FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()',
  );
  const bucketsOf = db.prepare(
    'SELECT bucket FROM event_keys WHERE field = ? AND value = ? AND bucket >= ? AND bucket <= ? ORDER BY bucket DESC LIMIT ?',
  );
  const hasKey = db.prepare('SELECT 1 AS x FROM event_keys WHERE bucket = ? AND field = ? AND value = ?');
  const queries = new Map<string, StatementSync>();
  let closed = false;

  function statement(sql: string): StatementSync {
    let s = queries.get(sql);
    if (s === undefined) {
      s = db.prepare(sql);
      // The set of filter combinations is finite (one statement per combination of present filters).
      queries.set(sql, s);
    }
    return s;
  }

  let inBatch = false;
  const seqFor = createSeqAllocator(db);
  /** Per keyed field, the bucket each value was last keyed in during this process (a cache of event_keys). */
  const keyed = KEY_FIELDS.map(() => new BoundedCache<string, number>(KEY_MEMO_SIZE));

  function key(i: number, value: string | null, bucket: number): void {
    const k = KEY_FIELDS[i];
    if (value === null || COMMON_VALUE[k.column] === value) return;
    const memo = keyed[i];
    if (memo.get(value) === bucket) return;
    insertKey.run(bucket, k.field, value);
    memo.set(value, bucket);
  }

  function insertRows(batch: readonly StoredEvent[], from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const e = batch[i];
      const c = coreColumns(e);
      const seq = seqFor(fileMs(c.ts));
      insert.run(
        seq,
        c.id,
        c.ts,
        c.kind,
        c.category,
        c.type,
        c.action,
        c.outcome,
        c.reason,
        c.severity,
        c.ip,
        c.principal,
        c.api,
        c.route,
        c.method,
        c.status,
        c.requestId,
        restJson(e),
      );
      const bucket = Math.floor(seq / SEQ_PER_BUCKET);
      key(0, c.ip, bucket);
      key(1, c.principal, bucket);
      key(2, c.api, bucket);
      key(3, c.route, bucket);
      key(4, c.kind, bucket);
      key(5, c.category, bucket);
    }
    addRows.run(to - from);
  }

  function forgetKeys(): void {
    for (const memo of keyed) memo.clear();
  }

  /** Rows matching `where` in the `seq` range [lo, hi), newest first. */
  function scan(where: string[], args: SQLInputValue[], lo: number, hi: number, limit: number): Row[] {
    const sql = `SELECT * FROM events WHERE seq >= ? AND seq < ?${where.map((w) => ` AND ${w}`).join('')} ORDER BY seq DESC LIMIT ?`;
    return statement(sql).all(lo, hi, ...args, limit) as Row[];
  }

  /** Runs one delete and moves the row count by what it removed, in one transaction. */
  function deleting(run: () => { changes: number | bigint }): number {
    db.exec('BEGIN');
    try {
      const n = Number(run().changes);
      addRows.run(-n);
      db.exec('COMMIT');
      return n;
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }

  /** Removes events below `seq` in bounded chunks; false when the bound of chunks per run was reached. */
  function deleteBefore(seq: number): boolean {
    for (let i = 0; i < MAX_CHUNKS_PER_PRUNE; i++) {
      if (deleting(() => deleteBelow.run(seq)) < DELETE_CHUNK) return true;
    }
    return false;
  }

  const events: SqliteEvents = {
    migrated,
    write(batch) {
      if (batch.length === 0 || closed) return;
      events.begin();
      try {
        insertRows(batch, 0, batch.length);
        events.commit();
      } catch (err) {
        events.rollback();
        throw err;
      }
    },
    begin() {
      db.exec('BEGIN');
      inBatch = true;
    },
    insert: insertRows,
    commit() {
      db.exec('COMMIT');
      inBatch = false;
    },
    rollback() {
      inBatch = false;
      // The key rows of the batch are undone with it.
      forgetKeys();
      if (db.isTransaction) db.exec('ROLLBACK');
    },
    query(q) {
      const steps = events.queryInSteps(q);
      for (;;) {
        const step = steps.next();
        if (step.done) return step.value;
      }
    },
    *queryInSteps(q) {
      const { fromMs, toMs, limit } = normaliseQuery(q);
      const lo = fromMs === undefined ? 0 : Math.max(0, Math.ceil(fromMs)) * SEQ_PER_MS;
      let hi = toMs === undefined ? MAX_SEQ : Math.max(0, Math.ceil(toMs)) * SEQ_PER_MS;
      if (q.cursor !== undefined) {
        const [ts, seq] = decodeCursor<number>(q.cursor, 'number');
        // Every slot is at or after its event's millisecond; a cursor from before the layout change is not.
        if (!(Number.isSafeInteger(seq) && seq >= fileMs(ts) * SEQ_PER_MS))
          throw new EventStoreError('ERR_EVENT_STORE_QUERY', 'invalid cursor');
        hi = Math.min(hi, seq);
      }
      const where: string[] = [];
      const args: SQLInputValue[] = [];
      const keys: Array<[number, string]> = [];
      const eq = (col: string, v: string | undefined) => {
        if (v === undefined) return;
        where.push(`${col} = ?`);
        args.push(v);
        const k = KEY_FIELDS.find((f) => f.column === col);
        if (k !== undefined && COMMON_VALUE[k.column] !== v) keys.push([k.field, v]);
      };
      eq('kind', q.kind);
      eq('category', q.category);
      eq('type', q.type);
      eq('action', q.action);
      eq('outcome', q.outcome);
      eq('ip', q.ip);
      eq('principal', q.principal);
      eq('api', q.api);
      eq('route', q.route);
      let rows: Row[] = [];
      if (lo < hi) {
        if (keys.length === 0) rows = scan(where, args, lo, hi, limit + 1);
        else {
          // The buckets where the first keyed value occurs, newest first, a page of them at a time; each is
          // read only if every other keyed value occurs in it too.
          const [[field, value], ...others] = keys;
          let top = Math.floor((hi - 1) / SEQ_PER_BUCKET);
          const bottom = Math.floor(lo / SEQ_PER_BUCKET);
          outer: while (top >= bottom) {
            const buckets = bucketsOf.all(field, value, bottom, top, BUCKET_PAGE) as Array<{
              bucket: number;
            }>;
            for (const { bucket } of buckets) {
              if (others.some(([f, v]) => hasKey.get(bucket, f, v) === undefined)) continue;
              const start = bucket * SEQ_PER_BUCKET;
              const found = scan(
                where,
                args,
                Math.max(lo, start),
                Math.min(hi, start + SEQ_PER_BUCKET),
                limit + 1 - rows.length,
              );
              rows = rows.length === 0 ? found : rows.concat(found);
              yield;
              if (rows.length > limit) break outer;
            }
            if (buckets.length < BUCKET_PAGE) break;
            top = buckets[buckets.length - 1].bucket - 1;
          }
        }
      }
      const more = rows.length > limit;
      if (more) rows.length = limit;
      const events = rows.map((r) => restoreRow(r, r.ts, JSON.parse(r.data)));
      const last = rows.at(-1);
      return more && last ? { events, nextCursor: encodeCursor(last.ts, last.seq) } : { events };
    },
    prune(nowMs) {
      if (closed) return;
      // Never inside an open batch: its failure would undo the retention too. The next run does the work.
      if (inBatch) return;
      if (opts.retentionDays > 0) {
        const cutoff = nowMs - opts.retentionDays * 86_400_000;
        if (cutoff > 0) deleteBefore(cutoff * SEQ_PER_MS);
      }
      if (opts.maxRows > 0) {
        for (let i = 0; i < MAX_CHUNKS_PER_PRUNE; i++) {
          const over = (rowCount.get() as { value: number }).value - opts.maxRows;
          if (over <= 0) break;
          const limit = Math.min(DELETE_CHUNK, over);
          if (deleting(() => deleteOldest.run(limit)) === 0) break;
        }
      }
      const maxBytes = (opts.maxMegabytes ?? 0) * 1_048_576;
      if (maxBytes > 0) {
        // Freed pages are reused by later inserts, so the file stops growing once under the cap.
        for (let i = 0; i < MAX_CHUNKS_PER_PRUNE; i++) {
          const used = (usedBytes.get() as { used: number }).used;
          if (used <= maxBytes) break;
          const rows = (rowCount.get() as { value: number }).value;
          if (rows === 0) break;
          // Delete the share of rows that is over the cap (pages free up unevenly, so re-measure each time).
          const n = Math.min(DELETE_CHUNK, Math.max(1, Math.ceil((rows * (used - maxBytes)) / used)));
          if (deleting(() => deleteOldest.run(n)) === 0) break;
        }
      }
      // Key rows of buckets that no longer hold any event.
      const oldest = (oldestSeq.get() as { s: number | null }).s;
      // An empty table also resets the row count, should it ever have drifted.
      if (oldest === null) addRows.run(-Number.MAX_SAFE_INTEGER);
      const gone = deleteKeysBelow.run(oldest === null ? MAX_SEQ : Math.floor(oldest / SEQ_PER_BUCKET));
      // The memory of keyed values may name a bucket whose key rows just went.
      if (Number(gone.changes) > 0) forgetKeys();
    },
    close() {
      if (closed) return;
      closed = true;
      db.close();
    },
    resumeAutoCheckpoint() {
      if (!closed) db.exec('PRAGMA wal_autocheckpoint = 1000;');
    },
  };
  return events;
}

/** How often the checkpointing thread of an in-thread store checkpoints the log. */
const CHECKPOINT_INTERVAL_MS = 1000;

/** Events inserted per turn of the event loop (about half a millisecond of work). */
const IN_THREAD_SLICE = 100;

/**
 * Embedded event store on `node:sqlite`, in this thread: one file in WAL mode, batched inserts in one
 * transaction per batch with a prepared statement, keyset paging, retention by age and by row count.
 * With more than one CPU the gateway uses `createSqliteWorkerStore` (the same store on a worker thread).
 *
 * @example
 * const store = createSqliteStore({ path: './data/events.db', retentionDays: 7, maxRows: 1_000_000, clock });
 */
export function createSqliteStore(opts: SqliteStoreOptions): SqliteStore {
  const file = opts.path !== ':memory:';
  const db = openSqliteEvents({ ...opts, autoCheckpoint: !file });
  const checkpointer = file
    ? startCheckpointer(opts.path, opts.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS, () =>
        db.resumeAutoCheckpoint(),
      )
    : undefined;
  const timer =
    opts.pruneIntervalMs && opts.pruneIntervalMs > 0
      ? setInterval(() => db.prune(opts.clock.now()), opts.pruneIntervalMs)
      : undefined;
  timer?.unref();
  let writing: Promise<void> | undefined; // the batch being inserted, awaited by prune and close
  const querying = new Set<Promise<void>>(); // queries in steps, awaited by close
  let closing = false;
  return {
    kind: 'sqlite',
    migrated: db.migrated,
    async write(batch) {
      if (batch.length === 0) return;
      // One transaction per batch: its commit writes each page it touched once, so a larger batch costs
      // less per event (500 events: 20% less than five transactions of 100). The rows go in slices with a
      // turn of the event loop between them, so requests are never held up for long.
      const done = (async () => {
        db.begin();
        try {
          for (let i = 0; i < batch.length; i += IN_THREAD_SLICE) {
            if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
            db.insert(batch, i, Math.min(batch.length, i + IN_THREAD_SLICE));
          }
          db.commit();
        } catch (err) {
          db.rollback();
          throw err;
        }
      })();
      writing = done.catch(() => undefined);
      await done;
    },
    async query(q) {
      if (closing) throw new EventStoreError('ERR_EVENT_STORE_QUERY', 'the event store is closed');
      // A keyed query reads one bucket (about 12 000 events at 3000 per second, 2 ms) per turn of the loop.
      const steps = db.queryInSteps(q);
      const run = (async () => {
        for (;;) {
          const step = steps.next();
          if (step.done) return step.value;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      })();
      const settled = run.then(
        () => undefined,
        () => undefined,
      );
      querying.add(settled);
      void settled.then(() => querying.delete(settled));
      return run;
    },
    async prune() {
      await writing;
      db.prune(opts.clock.now());
    },
    async close() {
      closing = true;
      if (timer) clearInterval(timer);
      await writing;
      // A query in steps finishes before the database goes.
      await Promise.all(querying);
      await checkpointer?.close();
      db.close();
    },
  };
}

/**
 * Starts the thread that checkpoints the write-ahead log of an in-thread store, every second: the
 * event loop then never waits for the fsync that ends a checkpoint. If the thread fails or exits,
 * `fallback` hands checkpoints back to SQLite, so the log never grows without end.
 */
function startCheckpointer(
  path: string,
  intervalMs: number,
  fallback: () => void,
): { close(): Promise<void> } {
  const worker = new Worker(new URL('./sqlite-checkpointer.ts', import.meta.url), {
    workerData: { path, intervalMs },
  });
  worker.unref();
  let closing = false;
  const gone = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('message', (m: { error?: string }) => {
    if (m.error !== undefined) fallback();
  });
  worker.on('error', () => fallback());
  void gone.then(() => {
    if (!closing) fallback();
  });
  return {
    async close() {
      closing = true;
      // Keep the process up until the last checkpoint is done.
      worker.ref();
      worker.postMessage('close');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000).unref())]);
      await worker.terminate();
    },
  };
}
