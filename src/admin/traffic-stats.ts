import { isUndeclaredDecision } from '../core/decisions.ts';
/**
 * Live traffic figures for the dashboard, computed from the event stream: a per-second ring of request counts
 * and latency histograms, totals by status class and decision, top offenders, traffic per operation and per
 * consumer, and undeclared (shadow) endpoints. Every map keyed by client input is bounded.
 */

import type { Clock } from '../core/clock.ts';
import type { SecurityEvent } from '../core/events.ts';
import { templatePath } from '../monitor/discovery/template.ts';

/** Upper bounds (ms) of the latency buckets kept per second; the last bucket is open. */
export const LATENCY_BOUNDS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

export interface SecondBucket {
  /** Epoch second. */
  t: number;
  requests: number;
  /** Requests stopped by a policy or the gateway (decision other than `allow`). */
  denied: number;
  /** Counts by status class: index 0 = 1xx ... 4 = 5xx. */
  status: [number, number, number, number, number];
  /** Counts per `LATENCY_BOUNDS_MS` bucket plus one open bucket. */
  latency: number[];
}

export interface SeriesPoint {
  t: number;
  requests: number;
  denied: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
  /** Latency percentiles in ms (upper bound of the bucket holding it); null without requests. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface OffenderView {
  ip: string;
  requests: number;
  denied: number;
  /** Failed authentications (denials in stage `authenticate`, or 401 answers). */
  authFailures: number;
  alerts: number;
  lastSeen: string;
}

export interface TallyView {
  requests: number;
  denied: number;
  errors: number;
  lastSeen: string | null;
}

export interface TrafficSnapshot {
  since: string;
  totals: { requests: number; denied: number; byStatus: Record<string, number> };
  decisions: Record<string, number>;
  series: SeriesPoint[];
  offenders: OffenderView[];
}

export interface TrafficStatsOptions {
  clock: Clock;
  /** Seconds of history in the series. */
  windowSeconds?: number;
  /** Distinct client addresses tracked for the top offenders. */
  maxClients?: number;
  /** Distinct undeclared method+path pairs tracked. */
  maxShadow?: number;
  /** Distinct operations and consumers tracked. */
  maxKeys?: number;
  /** Distinct decision reasons counted; the rest fold into `other`. */
  maxDecisions?: number;
}

interface ClientTally {
  requests: number;
  denied: number;
  authFailures: number;
  alerts: number;
  lastSeen: number;
}

interface Tally {
  requests: number;
  denied: number;
  errors: number;
  lastSeen: number;
}

interface ShadowTally {
  method: string;
  path: string;
  api: string | undefined;
  count: number;
  firstSeen: number;
  lastSeen: number;
}

/**
 * A map with at most `max` entries: when full, the half with the lowest score is evicted in one sort, so an
 * attacker inventing keys costs O(log n) amortised per new key and can only push out small fry.
 */
class BoundedTally<V> {
  readonly #map = new Map<string, V>();
  readonly #max: number;
  readonly #score: (v: V) => number;
  constructor(max: number, score: (v: V) => number) {
    this.#max = max;
    this.#score = score;
  }
  get(key: string, create: () => V): V {
    let v = this.#map.get(key);
    if (v === undefined) {
      if (this.#map.size >= this.#max) this.#evict();
      v = create();
      this.#map.set(key, v);
    }
    return v;
  }
  peek(key: string): V | undefined {
    return this.#map.get(key);
  }
  #evict(): void {
    const sorted = [...this.#map].sort((a, b) => this.#score(a[1]) - this.#score(b[1]));
    for (let i = 0; i < Math.ceil(sorted.length / 2); i++) this.#map.delete(sorted[i][0]);
  }
  entries(): IterableIterator<[string, V]> {
    return this.#map.entries();
  }
  get size(): number {
    return this.#map.size;
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function latencyMs(e: SecurityEvent): number | undefined {
  const ms = e['event.duration_ms'];
  if (typeof ms === 'number') return ms;
  const ns = e['event.duration'];
  if (typeof ns === 'number') return ns / 1e6;
  return undefined;
}

function percentile(latency: readonly number[], total: number, q: number): number | null {
  if (total === 0) return null;
  const rank = Math.ceil(total * q);
  let seen = 0;
  for (let i = 0; i < latency.length; i++) {
    seen += latency[i];
    if (seen >= rank) return LATENCY_BOUNDS_MS[i] ?? LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1] * 2;
  }
  return null;
}

export interface TrafficStats {
  /** Takes one event (access events feed the counters; alerts feed the offenders). */
  record(event: SecurityEvent): void;
  /** Totals, breakdowns, the series of the last `seconds` (default: the whole window) and top offenders. */
  snapshot(seconds?: number, topOffenders?: number): TrafficSnapshot;
  /** Requests and denials since the start, by status class. */
  totals(): TrafficSnapshot['totals'];
  /** Requests by decision since the start. */
  decisions(): Record<string, number>;
  /** The point of one second (default: the last complete second). */
  point(t?: number): SeriesPoint;
  operation(api: string, operationId: string): TallyView | undefined;
  consumer(name: string): TallyView | undefined;
  shadowEndpoints(limit?: number): Array<{
    method: string;
    path: string;
    api?: string;
    count: number;
    firstSeen: string;
    lastSeen: string;
  }>;
}

/** Creates the dashboard's traffic tally. */
export function createTrafficStats(opts: TrafficStatsOptions): TrafficStats {
  const window = opts.windowSeconds ?? 600;
  const maxDecisions = opts.maxDecisions ?? 64;
  const clock = opts.clock;
  const startedAt = clock.now();
  const ring: SecondBucket[] = Array.from({ length: window }, () => emptyBucket(-1));
  const byStatus = [0, 0, 0, 0, 0];
  let requests = 0;
  let denied = 0;
  const decisions = new Map<string, number>();
  const clients = new BoundedTally<ClientTally>(
    opts.maxClients ?? 2000,
    (c) => c.denied * 4 + c.authFailures * 4 + c.alerts * 100 + c.requests,
  );
  const operations = new BoundedTally<Tally>(opts.maxKeys ?? 5000, (t) => t.requests);
  const consumers = new BoundedTally<Tally>(opts.maxKeys ?? 5000, (t) => t.requests);
  const shadow = new BoundedTally<ShadowTally>(opts.maxShadow ?? 500, (s) => s.count);

  /** The tally of client `ip`, made on first sight; `now` is its last-seen time. */
  function clientAt(ip: string, now: number): ClientTally {
    const c = clients.get(ip, () => ({ requests: 0, denied: 0, authFailures: 0, alerts: 0, lastSeen: now }));
    c.lastSeen = now;
    return c;
  }

  function emptyBucket(t: number): SecondBucket {
    return {
      t,
      requests: 0,
      denied: 0,
      status: [0, 0, 0, 0, 0],
      latency: new Array(LATENCY_BOUNDS_MS.length + 1).fill(0),
    };
  }

  function bucketAt(t: number): SecondBucket {
    const b = ring[t % window];
    if (b.t !== t) {
      b.t = t;
      b.requests = 0;
      b.denied = 0;
      b.status.fill(0);
      b.latency.fill(0);
    }
    return b;
  }

  function recordAccess(e: SecurityEvent, now: number): void {
    const t = Math.floor(now / 1000);
    const b = bucketAt(t);
    const status = typeof e['http.response.status_code'] === 'number' ? e['http.response.status_code'] : 0;
    const decision = str(e['portcullis.decision']) ?? 'allow';
    const isDenied = decision !== 'allow';
    const cls = Math.min(4, Math.max(0, Math.floor(status / 100) - 1));
    b.requests++;
    b.status[cls]++;
    byStatus[cls]++;
    requests++;
    if (isDenied) {
      b.denied++;
      denied++;
    }
    const ms = latencyMs(e);
    if (ms !== undefined) {
      let i = 0;
      while (i < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[i]) i++;
      b.latency[i]++;
    }
    const dkey = decisions.has(decision) || decisions.size < maxDecisions ? decision : 'other';
    decisions.set(dkey, (decisions.get(dkey) ?? 0) + 1);

    const ip = str(e['client.address']) ?? str(e['source.ip']);
    if (ip !== undefined) {
      const c = clientAt(ip, now);
      c.requests++;
      if (isDenied) c.denied++;
      if (e['portcullis.stage'] === 'authenticate' || status === 401) c.authFailures++;
    }
    const bump = (tally: BoundedTally<Tally>, key: string) => {
      const x = tally.get(key, () => ({ requests: 0, denied: 0, errors: 0, lastSeen: now }));
      x.requests++;
      x.lastSeen = now;
      if (isDenied) x.denied++;
      if (status >= 500) x.errors++;
    };
    const api = str(e['portcullis.api']);
    const opId = str(e['portcullis.operation_id']);
    if (api !== undefined && opId !== undefined) bump(operations, `${api}\u0000${opId}`);
    const consumer = str(e['portcullis.consumer']) ?? str(e['user.id']);
    if (consumer !== undefined) bump(consumers, consumer);
    if (e['http.route'] === undefined && isUndeclaredDecision(decision)) {
      const method = (str(e['http.request.method']) ?? 'GET').slice(0, 16);
      const path = templatePath(str(e['url.path']) ?? '/');
      const s = shadow.get(`${method} ${path}`, () => ({
        method,
        path,
        api,
        count: 0,
        firstSeen: now,
        lastSeen: now,
      }));
      s.count++;
      s.lastSeen = now;
    }
  }

  function toPoint(b: SecondBucket, t: number): SeriesPoint {
    if (b.t !== t)
      return {
        t,
        requests: 0,
        denied: 0,
        s2xx: 0,
        s3xx: 0,
        s4xx: 0,
        s5xx: 0,
        p50: null,
        p95: null,
        p99: null,
      };
    const measured = b.latency.reduce((a, n) => a + n, 0);
    return {
      t,
      requests: b.requests,
      denied: b.denied,
      s2xx: b.status[1],
      s3xx: b.status[2],
      s4xx: b.status[3],
      s5xx: b.status[4],
      p50: percentile(b.latency, measured, 0.5),
      p95: percentile(b.latency, measured, 0.95),
      p99: percentile(b.latency, measured, 0.99),
    };
  }

  const totals = () => ({
    requests,
    denied,
    byStatus: {
      '1xx': byStatus[0],
      '2xx': byStatus[1],
      '3xx': byStatus[2],
      '4xx': byStatus[3],
      '5xx': byStatus[4],
    },
  });

  const tallyView = (t: Tally | undefined): TallyView | undefined =>
    t && {
      requests: t.requests,
      denied: t.denied,
      errors: t.errors,
      lastSeen: new Date(t.lastSeen).toISOString(),
    };

  return {
    record(e) {
      const now = clock.now();
      if (e['event.type'] === 'access') {
        recordAccess(e, now);
        return;
      }
      if (e['event.kind'] === 'alert') {
        const ip = str(e['client.address']) ?? str(e['source.ip']);
        if (ip === undefined) return;
        clientAt(ip, now).alerts++;
      }
    },
    snapshot(seconds = window, topOffenders = 10) {
      // The series ends at the last complete second, so a chart never dips on a second still being counted.
      const last = Math.floor(clock.now() / 1000) - 1;
      const n = Math.max(1, Math.min(window, Math.trunc(seconds)));
      // Nothing was counted before the start: the series begins there (at least one point).
      const first = Math.min(last, Math.max(last - n + 1, Math.floor(startedAt / 1000)));
      const series: SeriesPoint[] = [];
      for (let t = first; t <= last; t++) series.push(toPoint(ring[t % window], t));
      const offenders = [...clients.entries()]
        .filter(([, c]) => c.denied > 0 || c.authFailures > 0 || c.alerts > 0)
        .sort(
          (a, b) =>
            b[1].alerts - a[1].alerts ||
            b[1].denied + b[1].authFailures - (a[1].denied + a[1].authFailures) ||
            b[1].requests - a[1].requests,
        )
        .slice(0, topOffenders)
        .map(([ip, c]) => ({
          ip,
          requests: c.requests,
          denied: c.denied,
          authFailures: c.authFailures,
          alerts: c.alerts,
          lastSeen: new Date(c.lastSeen).toISOString(),
        }));
      return {
        since: new Date(startedAt).toISOString(),
        totals: totals(),
        decisions: Object.fromEntries(decisions),
        series,
        offenders,
      };
    },
    totals,
    decisions: () => Object.fromEntries(decisions),
    point(t = Math.floor(clock.now() / 1000) - 1) {
      return toPoint(ring[t % window], t);
    },
    operation: (api, operationId) => tallyView(operations.peek(`${api}\u0000${operationId}`)),
    consumer: (name) => tallyView(consumers.peek(name)),
    shadowEndpoints(limit = 100) {
      return [...shadow.entries()]
        .map(([, s]) => s)
        .sort((a, b) => b.count - a.count)
        .slice(0, limit)
        .map((s) => ({
          method: s.method,
          path: s.path,
          ...(s.api === undefined ? {} : { api: s.api }),
          count: s.count,
          firstSeen: new Date(s.firstSeen).toISOString(),
          lastSeen: new Date(s.lastSeen).toISOString(),
        }));
    },
  };
}

export { templatePath };
