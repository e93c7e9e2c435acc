import { PortcullisError } from '../../core/errors.ts';
import { isoMillis, type SecurityEvent } from '../../core/events.ts';

/** An event as stored: the sink gives every event an `event.id` before its first write attempt. */
export type StoredEvent = SecurityEvent & { 'event.id': string };

/** Filters for reading events back; every field is optional and fields combine with AND. */
export interface EventQuery {
  /** Inclusive lower bound, epoch ms or ISO-8601. */
  from?: number | string;
  /** Exclusive upper bound, epoch ms or ISO-8601. */
  to?: number | string;
  kind?: string;
  category?: string;
  type?: string;
  action?: string;
  outcome?: string;
  /** `client.address` (or `source.ip`). */
  ip?: string;
  /** `user.id`, else `portcullis.consumer`. */
  principal?: string;
  /** `portcullis.api`. */
  api?: string;
  /** `http.route`. */
  route?: string;
  /** Page size, 1..1000 (default 100). */
  limit?: number;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
}

/** One page of events, newest first. */
export interface EventPage {
  events: SecurityEvent[];
  /** Present when there may be more events after this page. */
  nextCursor?: string;
}

/** Durable home of events: SQLite (embedded default) or PostgreSQL. */
export interface EventStore {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Writes a batch atomically: either every event is kept or the call rejects and none is. Writing an event
   * whose `event.id` is already stored is a no-op, so a retried batch never duplicates.
   */
  write(batch: readonly StoredEvent[]): Promise<void>;
  query(q: EventQuery): Promise<EventPage>;
  /** Applies the retention rules now (stores also run them on their own schedule). */
  prune(): Promise<void>;
  close(): Promise<void>;
}

/** A store error with a stable code. */
export class EventStoreError extends PortcullisError {
  readonly code: 'ERR_EVENT_STORE_QUERY' | 'ERR_EVENT_STORE_CONFIG';
  constructor(code: EventStoreError['code'], message: string) {
    super(message);
    this.name = 'EventStoreError';
    this.code = code;
  }
}

export const MAX_PAGE = 1000;

/** Normalised query bounds and page size shared by both stores. */
export function normaliseQuery(q: EventQuery): { fromMs?: number; toMs?: number; limit: number } {
  const limit = q.limit === undefined ? 100 : Math.trunc(q.limit);
  if (!(limit >= 1 && limit <= MAX_PAGE))
    throw new EventStoreError('ERR_EVENT_STORE_QUERY', `limit must be 1..${MAX_PAGE}`);
  return { fromMs: toMs(q.from, 'from'), toMs: toMs(q.to, 'to'), limit };
}

function toMs(v: number | string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const ms = typeof v === 'number' ? v : Date.parse(v);
  if (!Number.isFinite(ms)) throw new EventStoreError('ERR_EVENT_STORE_QUERY', `${name} is not a valid time`);
  return ms;
}

/** Keyset cursor: the (time, tiebreak) of the last event of a page. */
export function encodeCursor(ts: number, tiebreak: string | number): string {
  return Buffer.from(JSON.stringify([ts, tiebreak])).toString('base64url');
}

export function decodeCursor<T extends string | number>(
  cursor: string,
  tiebreak: 'string' | 'number',
): [number, T] {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || typeof v[1] !== tiebreak)
    throw new EventStoreError('ERR_EVENT_STORE_QUERY', 'invalid cursor');
  return v as [number, T];
}

/** The columns both stores keep outside the JSON document, read from an event. */
export interface CoreColumns {
  id: string;
  ts: number;
  kind: string;
  category: string;
  type: string;
  action: string;
  outcome: string | null;
  reason: string | null;
  severity: number | null;
  ip: string | null;
  principal: string | null;
  api: string | null;
  route: string | null;
  method: string | null;
  status: number | null;
  requestId: string | null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function coreColumns(e: StoredEvent): CoreColumns {
  const stamp = e['@timestamp'];
  const ts = typeof stamp === 'string' ? isoMillis(stamp) : Number.NaN;
  return {
    id: e['event.id'],
    ts: Number.isFinite(ts) ? ts : 0,
    kind: e['event.kind'],
    category: e['event.category'],
    type: e['event.type'],
    action: e['event.action'],
    outcome: str(e['event.outcome']),
    reason: str(e['event.reason']),
    severity: num(e['event.severity']),
    ip: str(e['client.address']) ?? str(e['source.ip']),
    principal: str(e['user.id']) ?? str(e['portcullis.consumer']),
    api: str(e['portcullis.api']),
    route: str(e['http.route']),
    method: str(e['http.request.method']),
    status: num(e['http.response.status_code']),
    requestId: str(e['http.request.id']),
  };
}

/** Fields kept in their own columns and left out of the JSON document (restored by `restoreEvent`). */
const COLUMN_FIELDS = new Set([
  '@timestamp',
  'event.id',
  'event.kind',
  'event.category',
  'event.type',
  'event.action',
  'event.outcome',
  'event.reason',
  'event.severity',
  'http.route',
  'http.request.method',
  'http.response.status_code',
  'http.request.id',
  'portcullis.api',
]);

/** JSON text of the fields that have no column of their own. */
export function restJson(e: StoredEvent): string {
  const rest: Record<string, unknown> = {};
  // Absent fields (the access event names every field, many undefined) are skipped here rather than by
  // JSON.stringify: a smaller object is cheaper to build and to serialise (0.9 µs per event against 1.4).
  for (const k in e) {
    const v = e[k];
    if (v !== undefined && !COLUMN_FIELDS.has(k)) rest[k] = v;
  }
  return JSON.stringify(rest);
}

/**
 * Rebuilds the flat event from a stored row: both stores name their columns alike (`request_id` in SQL),
 * only the time column differs, so the caller passes the row's time in epoch milliseconds.
 */
export function restoreRow(
  r: Record<string, unknown>,
  tsMs: number,
  rest: Record<string, unknown>,
): StoredEvent {
  return restoreEvent(
    {
      id: r.id as string,
      ts: tsMs,
      kind: r.kind as string,
      category: r.category as string,
      type: r.type as string,
      action: r.action as string,
      outcome: r.outcome as string | null,
      reason: r.reason as string | null,
      severity: r.severity as number | null,
      api: r.api as string | null,
      route: r.route as string | null,
      method: r.method as string | null,
      status: r.status as number | null,
      requestId: r.request_id as string | null,
    },
    rest,
  );
}

/** Rebuilds the flat event from its columns and JSON document. */
export function restoreEvent(
  c: Omit<CoreColumns, 'ip' | 'principal'>,
  rest: Record<string, unknown>,
): StoredEvent {
  const e: Record<string, unknown> = {
    '@timestamp': new Date(c.ts).toISOString(),
    'event.id': c.id,
    'event.kind': c.kind,
    'event.category': c.category,
    'event.type': c.type,
    'event.action': c.action,
  };
  if (c.outcome !== null) e['event.outcome'] = c.outcome;
  if (c.reason !== null) e['event.reason'] = c.reason;
  if (c.severity !== null) e['event.severity'] = c.severity;
  if (c.route !== null) e['http.route'] = c.route;
  if (c.method !== null) e['http.request.method'] = c.method;
  if (c.status !== null) e['http.response.status_code'] = c.status;
  if (c.requestId !== null) e['http.request.id'] = c.requestId;
  if (c.api !== null) e['portcullis.api'] = c.api;
  return Object.assign(e, rest) as StoredEvent;
}
