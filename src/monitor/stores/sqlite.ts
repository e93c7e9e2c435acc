import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import type { Clock } from '../../state/clock.ts';
import {
  coreColumns,
  decodeCursor,
  type EventPage,
  type EventQuery,
  type EventStore,
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
}

const DELETE_CHUNK = 5000;
/** Bounds the work of one prune run so it never holds the event loop for long. */
const MAX_CHUNKS_PER_PRUNE = 20;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
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
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
-- Category lookups are for the rare events (security, iam, ...): access events ('web', nearly every row)
-- are found through events_ts, so they skip this index. Replaces the full index of earlier versions.
DROP INDEX IF EXISTS events_category_ts;
CREATE INDEX IF NOT EXISTS events_rare_category_ts ON events (category, ts) WHERE category <> 'web';
CREATE INDEX IF NOT EXISTS events_ip_ts ON events (ip, ts) WHERE ip IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_principal_ts ON events (principal, ts) WHERE principal IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_api_route_ts ON events (api, route, ts) WHERE api IS NOT NULL;
`;

/** The synchronous core shared by the in-thread store and the worker-thread store. */
export interface SqliteEvents {
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
  db.exec(SCHEMA);
  const insert = db.prepare(
    `INSERT INTO events (id, ts, kind, category, type, action, outcome, reason, severity, ip, principal, api,
       route, method, status, request_id, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const deleteOld = db.prepare(
    `DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE ts < ? ORDER BY ts LIMIT ${DELETE_CHUNK})`,
  );
  const maxSeq = db.prepare('SELECT max(seq) AS m, min(seq) AS n FROM events');
  const deleteBelow = db.prepare(
    `DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ? ORDER BY seq LIMIT ${DELETE_CHUNK})`,
  );
  const usedBytes = db.prepare(
    'SELECT (page_count - freelist_count) * page_size AS used FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()',
  );
  const deleteOldest = db.prepare(
    'DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)',
  );
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

  function insertRows(batch: readonly StoredEvent[], from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const e = batch[i];
      const c = coreColumns(e);
      insert.run(
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
    }
  }

  const events: SqliteEvents = {
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
      if (db.isTransaction) db.exec('ROLLBACK');
    },
    query(q) {
      const { fromMs, toMs, limit } = normaliseQuery(q);
      const where: string[] = [];
      const args: SQLInputValue[] = [];
      const eq = (col: string, v: string | undefined) => {
        if (v === undefined) return;
        where.push(`${col} = ?`);
        args.push(v);
      };
      if (fromMs !== undefined) {
        where.push('ts >= ?');
        args.push(fromMs);
      }
      if (toMs !== undefined) {
        where.push('ts < ?');
        args.push(toMs);
      }
      eq('kind', q.kind);
      eq('category', q.category);
      // Lets SQLite use the partial index (its WHERE must appear in the query's).
      if (q.category !== undefined && q.category !== 'web') where.push("category <> 'web'");
      eq('type', q.type);
      eq('action', q.action);
      eq('outcome', q.outcome);
      eq('ip', q.ip);
      eq('principal', q.principal);
      eq('api', q.api);
      eq('route', q.route);
      if (q.cursor !== undefined) {
        const [ts, seq] = decodeCursor<number>(q.cursor, 'number');
        where.push('(ts < ? OR (ts = ? AND seq < ?))');
        args.push(ts, ts, seq);
      }
      const sql =
        'SELECT * FROM events' +
        (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
        ' ORDER BY ts DESC, seq DESC LIMIT ?';
      args.push(limit + 1);
      const rows = statement(sql).all(...args) as Array<Record<string, never>>;
      const more = rows.length > limit;
      if (more) rows.pop();
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
        for (let i = 0; i < MAX_CHUNKS_PER_PRUNE; i++)
          if (Number(deleteOld.run(cutoff).changes) < DELETE_CHUNK) break;
      }
      if (opts.maxRows > 0) {
        const row = maxSeq.get() as { m: number | null; n: number | null };
        if (row.m !== null && row.n !== null && row.m - row.n + 1 > opts.maxRows) {
          // seq only grows, so "the newest maxRows" is every seq above max - maxRows.
          const limit = row.m - opts.maxRows;
          for (let i = 0; i < MAX_CHUNKS_PER_PRUNE; i++)
            if (Number(deleteBelow.run(limit).changes) < DELETE_CHUNK) break;
        }
      }
      const maxBytes = (opts.maxMegabytes ?? 0) * 1_048_576;
      if (maxBytes > 0) {
        // Freed pages are reused by later inserts, so the file stops growing once under the cap.
        for (let i = 0; i < MAX_CHUNKS_PER_PRUNE; i++) {
          const used = (usedBytes.get() as { used: number }).used;
          if (used <= maxBytes) break;
          const row = maxSeq.get() as { m: number | null; n: number | null };
          if (row.m === null || row.n === null) break;
          // Delete the share of rows that is over the cap (pages free up unevenly, so re-measure each time).
          const rows = row.m - row.n + 1;
          const n = Math.min(DELETE_CHUNK, Math.max(1, Math.ceil((rows * (used - maxBytes)) / used)));
          if (Number(deleteOldest.run(n).changes) === 0) break;
        }
      }
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
export function createSqliteStore(opts: SqliteStoreOptions): EventStore {
  const file = opts.path !== ':memory:';
  const db = openSqliteEvents({ ...opts, autoCheckpoint: !file });
  const checkpointer = file ? startCheckpointer(opts.path, () => db.resumeAutoCheckpoint()) : undefined;
  const timer =
    opts.pruneIntervalMs && opts.pruneIntervalMs > 0
      ? setInterval(() => db.prune(opts.clock.now()), opts.pruneIntervalMs)
      : undefined;
  timer?.unref();
  let writing: Promise<void> | undefined; // the batch being inserted, awaited by prune and close
  return {
    kind: 'sqlite',
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
      return db.query(q);
    },
    async prune() {
      await writing;
      db.prune(opts.clock.now());
    },
    async close() {
      if (timer) clearInterval(timer);
      await writing;
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
function startCheckpointer(path: string, fallback: () => void): { close(): Promise<void> } {
  const worker = new Worker(new URL('./sqlite-checkpointer.ts', import.meta.url), {
    workerData: { path, intervalMs: CHECKPOINT_INTERVAL_MS },
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
