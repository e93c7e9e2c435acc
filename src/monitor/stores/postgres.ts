import pg from 'pg';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
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

export interface PostgresStoreOptions {
  /** `postgres://user@host:port/db`. */
  url: string;
  /** Schema holding the tables (created when missing). */
  schema?: string;
  /** Daily partitions older than this are dropped (0 keeps them). */
  retentionDays: number;
  /** Daily partitions created ahead of today. */
  partitionsAhead?: number;
  /** Pool size; writes are serialised by the sink, so 2 is enough (one write, one query). */
  maxConnections?: number;
  /** Server-side and client-side limit of one statement. */
  statementTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** How often partitions are created ahead and old ones dropped (0 = only on start and `prune()`). */
  maintenanceIntervalMs?: number;
  clock: Clock;
  logger: Logger;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Ordered migrations; each runs once, recorded in `schema_migrations`. `$S` is the quoted schema. */
const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'events partitioned by day',
    sql: `
CREATE TABLE $S.events (
  id text NOT NULL,
  ts timestamptz NOT NULL,
  kind text NOT NULL,
  category text NOT NULL,
  type text NOT NULL,
  action text NOT NULL,
  outcome text,
  reason text,
  severity integer,
  ip text,
  principal text,
  api text,
  route text,
  method text,
  status integer,
  request_id text,
  data jsonb NOT NULL,
  PRIMARY KEY (ts, id)
) PARTITION BY RANGE (ts);
CREATE INDEX events_category_ts ON $S.events (category, ts);
CREATE INDEX events_ip_ts ON $S.events (ip, ts);
CREATE INDEX events_principal_ts ON $S.events (principal, ts);
CREATE INDEX events_api_route_ts ON $S.events (api, route, ts);`,
  },
];

const DAY_MS = 86_400_000;

/**
 * PostgreSQL text and jsonb refuse NUL characters and lone surrogates, which a client can smuggle into an
 * event (a token `sub`, a header): one such event would fail its whole batch on every retry. They become
 * U+FFFD here.
 */
function clean(s: string): string {
  return s.isWellFormed() && !s.includes('\0') ? s : s.toWellFormed().replaceAll('\0', '\uFFFD');
}

function pgText(s: string | null): string | null {
  return s === null ? null : clean(s);
}

function pgJson(e: StoredEvent): string {
  const json = restJson(e);
  // JSON.stringify writes NUL as \u0000 and a lone surrogate as \udXXX; only then is the slow path needed.
  if (!json.includes('\\u0000') && !/\\ud[89a-f]/i.test(json)) return json;
  return JSON.stringify(JSON.parse(json), (_k, v) => (typeof v === 'string' ? clean(v) : v));
}

function dayKey(ms: number): string {
  return new Date(ms - (ms % DAY_MS)).toISOString().slice(0, 10).replaceAll('-', '');
}

function dayStart(key: string): number {
  return Date.UTC(Number(key.slice(0, 4)), Number(key.slice(4, 6)) - 1, Number(key.slice(6, 8)));
}

/**
 * Event store on PostgreSQL: one table partitioned by day (partitions created ahead and on demand, dropped
 * past `retentionDays`), migrations on start under an advisory lock, one multi-row `INSERT ... SELECT FROM
 * unnest(...)` per batch with `ON CONFLICT DO NOTHING` so a retried batch never duplicates.
 *
 * @example
 * const store = await createPostgresStore({ url: 'postgres://postgres@127.0.0.1/portcullis', retentionDays: 30, clock, logger });
 */
export async function createPostgresStore(opts: PostgresStoreOptions): Promise<EventStore> {
  const { clock, logger } = opts;
  const schema = opts.schema ?? 'public';
  if (!SCHEMA_NAME.test(schema))
    throw new EventStoreError('ERR_EVENT_STORE_CONFIG', `invalid schema name ${JSON.stringify(schema)}`);
  const S = `"${schema}"`;
  const ahead = opts.partitionsAhead ?? 2;
  const timeoutMs = opts.statementTimeoutMs ?? 10_000;
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.maxConnections ?? 2,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs + 1000,
    application_name: 'portcullis-events',
  });
  // An idle client whose connection dies emits here; without a listener the process would crash.
  pool.on('error', (err) => logger.warn({ err }, 'event store connection lost'));

  const known = new Set<string>();

  async function migrate(): Promise<void> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`portcullis.events.${schema}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${S}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${S}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const done = new Set(
        (await client.query(`SELECT version FROM ${S}.schema_migrations`)).rows.map((r) => Number(r.version)),
      );
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await client.query(m.sql.replaceAll('$S', S));
        await client.query(`INSERT INTO ${S}.schema_migrations (version, name) VALUES ($1, $2)`, [
          m.version,
          m.name,
        ]);
        logger.info({ version: m.version, migration: m.name }, 'event store migrated');
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      client.release(true);
      throw err;
    }
    client.release();
  }

  async function ensurePartition(key: string): Promise<void> {
    if (known.has(key)) return;
    const from = new Date(dayStart(key)).toISOString();
    const to = new Date(dayStart(key) + DAY_MS).toISOString();
    try {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${S}.events_p${key} PARTITION OF ${S}.events FOR VALUES FROM ('${from}') TO ('${to}')`,
      );
    } catch (err) {
      // Another instance created it between our check and our CREATE.
      if ((err as { code?: string }).code !== '42P07') throw err;
    }
    known.add(key);
  }

  async function listPartitions(): Promise<string[]> {
    const r = await pool.query(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace
        WHERE n.nspname = $1 AND p.relname = 'events'`,
      [schema],
    );
    return r.rows.map((row) => String(row.relname)).filter((n) => /^events_p\d{8}$/.test(n));
  }

  async function maintain(): Promise<void> {
    const now = clock.now();
    for (let d = 0; d <= ahead; d++) await ensurePartition(dayKey(now + d * DAY_MS));
    if (opts.retentionDays > 0) {
      const cutoff = now - opts.retentionDays * DAY_MS;
      for (const name of await listPartitions()) {
        const key = name.slice('events_p'.length);
        if (dayStart(key) + DAY_MS > cutoff) continue;
        await pool.query(`DROP TABLE IF EXISTS ${S}.${name}`);
        known.delete(key);
        logger.info({ partition: name }, 'event store partition dropped (retention)');
      }
    }
    // `known` only remembers recent days, so it stays small whatever the timestamps seen.
    if (known.size > 64) known.clear();
  }

  try {
    await migrate();
    await maintain();
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  const timer =
    (opts.maintenanceIntervalMs ?? 3_600_000) > 0
      ? setInterval(() => {
          maintain().catch((err) => logger.warn({ err }, 'event store maintenance failed'));
        }, opts.maintenanceIntervalMs ?? 3_600_000)
      : undefined;
  timer?.unref();

  const insertSql = `INSERT INTO ${S}.events (id, ts, kind, category, type, action, outcome, reason, severity, ip,
      principal, api, route, method, status, request_id, data)
    SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
      $8::text[], $9::integer[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::integer[],
      $16::text[], $17::jsonb[])
    ON CONFLICT DO NOTHING`;
  const insertName = `portcullis_events_insert_${schema}`;
  let closed = false;

  return {
    kind: 'postgres',
    async write(batch: readonly StoredEvent[]) {
      if (batch.length === 0) return;
      const cols: unknown[][] = Array.from({ length: 17 }, () => new Array(batch.length));
      const days = new Set<string>();
      for (let i = 0; i < batch.length; i++) {
        const c = coreColumns(batch[i]);
        days.add(dayKey(c.ts));
        cols[0][i] = pgText(c.id);
        cols[1][i] = new Date(c.ts).toISOString();
        cols[2][i] = pgText(c.kind);
        cols[3][i] = pgText(c.category);
        cols[4][i] = pgText(c.type);
        cols[5][i] = pgText(c.action);
        cols[6][i] = pgText(c.outcome);
        cols[7][i] = pgText(c.reason);
        cols[8][i] = c.severity === null ? null : Math.round(c.severity);
        cols[9][i] = pgText(c.ip);
        cols[10][i] = pgText(c.principal);
        cols[11][i] = pgText(c.api);
        cols[12][i] = pgText(c.route);
        cols[13][i] = pgText(c.method);
        cols[14][i] = c.status === null ? null : Math.round(c.status);
        cols[15][i] = pgText(c.requestId);
        cols[16][i] = pgJson(batch[i]);
      }
      for (const d of days) await ensurePartition(d);
      try {
        await pool.query({ name: insertName, text: insertSql, values: cols });
      } catch (err) {
        // 23514: no partition for a row. Another instance's retention dropped a day this one thought it had;
        // forget what we know, recreate, and try once more.
        if ((err as { code?: string }).code !== '23514') throw err;
        for (const d of days) known.delete(d);
        for (const d of days) await ensurePartition(d);
        await pool.query({ name: insertName, text: insertSql, values: cols });
      }
    },
    async query(q: EventQuery): Promise<EventPage> {
      const { fromMs, toMs, limit } = normaliseQuery(q);
      const where: string[] = [];
      const args: unknown[] = [];
      const add = (sql: string, ...values: unknown[]) => {
        let s = sql;
        for (const v of values) {
          args.push(v);
          s = s.replace('?', `$${args.length}`);
        }
        where.push(s);
      };
      if (fromMs !== undefined) add('ts >= ?', new Date(fromMs).toISOString());
      if (toMs !== undefined) add('ts < ?', new Date(toMs).toISOString());
      const filters: Array<[string, string | undefined]> = [
        ['kind', q.kind],
        ['category', q.category],
        ['type', q.type],
        ['action', q.action],
        ['outcome', q.outcome],
        ['ip', q.ip],
        ['principal', q.principal],
        ['api', q.api],
        ['route', q.route],
      ];
      for (const [col, v] of filters) if (v !== undefined) add(`${col} = ?`, v);
      if (q.cursor !== undefined) {
        const [ts, id] = decodeCursor<string>(q.cursor, 'string');
        add('(ts, id) < (?, ?)', new Date(ts).toISOString(), id);
      }
      args.push(limit + 1);
      const sql = `SELECT id, (extract(epoch FROM ts) * 1000)::float8 AS ts_ms, kind, category, type, action, outcome,
          reason, severity, api, route, method, status, request_id, data FROM ${S}.events
        ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ts DESC, id DESC LIMIT $${args.length}`;
      const rows = (await pool.query(sql, args)).rows as Array<Record<string, never>>;
      const more = rows.length > limit;
      if (more) rows.pop();
      const events = rows.map((r) => restoreRow(r, r.ts_ms, r.data));
      const last = rows.at(-1);
      return more && last ? { events, nextCursor: encodeCursor(last.ts_ms, last.id) } : { events };
    },
    async prune() {
      await maintain();
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      await pool.end();
    },
  };
}
