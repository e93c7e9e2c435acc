import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { SecurityEvent } from '../core/events.ts';
import type { MetricsRegistry } from '../core/metrics.ts';
import { type Ban, type BanKind, type BanList, createBanList } from '../state/bans.ts';
import type { StateStore } from '../state/store.ts';
import { createWebhookNotifier, type WebhookNotifier, type WebhookStats } from './alerts.ts';
import {
  type Alert,
  type AlertDraft,
  type Detector,
  SEVERITY_SCORE,
  type Severity,
  timeOf,
} from './detectors/detector.ts';
import { createDetectors } from './detectors/index.ts';
import { createDiscovery, type Discovery } from './discovery/discovery.ts';
import { createResponder } from './responder.ts';
import { type MonitorConfig, type MonitorConfigInput, resolveMonitorConfig } from './schema.ts';
import { createEventSink, type EventSubscriber, type MonitorSink, type SinkStats } from './sink.ts';
import type { EventPage, EventQuery, EventStore } from './stores/event-store.ts';
import { createPostgresStore } from './stores/postgres.ts';
import { createSqliteStore } from './stores/sqlite.ts';
import { createSqliteWorkerStore } from './stores/sqlite-worker-store.ts';

export interface MonitorDeps {
  logger: Logger;
  clock: Clock;
  /** The gateway's state store (memory or Redis): bans live there, shared by every instance. */
  store: StateStore;
  /** When given, the monitor registers its counters and gauges there. */
  metrics?: MetricsRegistry;
  /** Folder that a relative SQLite path is resolved against (the config file's folder); default cwd. */
  baseDir?: string;
}

export interface MonitorStats {
  sink: SinkStats;
  store: 'sqlite' | 'postgres' | 'none';
  alerts: number;
  webhook?: WebhookStats;
  detectors: Array<{ name: string; trackedKeys: number }>;
  discovery: { endpoints: number; overflow: number };
}

/** Longest wait of an event for the detectors, and the batch that is handed over at once. */
const OBSERVE_DELAY_MS = 20;
const OBSERVE_BATCH = 256;

/** Filters of the recent-alerts view. */
export interface AlertQuery {
  limit?: number;
  detector?: string;
  severity?: Severity;
  ip?: string;
  subject?: string;
}

/** The watch loop, wired: event sink → store and detectors → alerts → log, webhook, responder (bans). */
export interface Monitor {
  readonly config: MonitorConfig;
  /** The gateway's event sink (`RuntimeOptions.events`): O(1), never blocks, never throws. */
  readonly events: MonitorSink;
  /** Manual ban, unban and list for the admin API; every change is logged and emitted as an event. */
  readonly bans: BanList;
  readonly discovery: Discovery;
  /** Stored events, newest first, with paging (empty when the store is `none`). */
  query(q: EventQuery): Promise<EventPage>;
  /** Recent alerts (bounded by `alerts.recent`), newest first. */
  alerts(q?: AlertQuery): Alert[];
  /** Live alert feed (dashboard); returns the unsubscribe function. */
  onAlert(fn: (alert: Alert) => void): () => void;
  /** Live event feed (dashboard): every event, alerts and bans included. */
  subscribe(fn: EventSubscriber): () => void;
  stats(): MonitorStats;
  /** Drains the sink to the store (bounded), stops the webhook, closes the store. */
  close(): Promise<void>;
}

/** Opens the store on first use and again after a failed open, so a database down at start is not fatal. */
function lazyStore(kind: 'sqlite' | 'postgres', open: () => Promise<EventStore>, logger: Logger): EventStore {
  let store: EventStore | undefined;
  let opening: Promise<EventStore> | undefined;
  let closed = false;
  // The sink retries often while the database is down: one error line per outage, not one per try.
  let failing = false;
  function get(): Promise<EventStore> {
    if (store) return Promise.resolve(store);
    opening ??= open().then(
      (s) => {
        store = s;
        failing = false;
        logger.info({ store: kind }, 'event store open');
        return s;
      },
      (err) => {
        opening = undefined;
        if (!failing)
          logger.error({ err, store: kind }, 'event store cannot be opened; events are buffered meanwhile');
        failing = true;
        throw err;
      },
    );
    return opening;
  }
  return {
    kind,
    async write(batch) {
      await (await get()).write(batch);
    },
    async query(q) {
      return (await get()).query(q);
    },
    async prune() {
      await (await get()).prune();
    },
    async close() {
      if (closed) return;
      closed = true;
      const s = store ?? (await opening?.catch(() => undefined));
      await s?.close();
    },
  };
}

/** An alert in the flat event form (`event.kind: alert`) that the store and the live feed carry. */
export function alertEvent(a: Alert): SecurityEvent {
  const e: SecurityEvent = {
    '@timestamp': a['@timestamp'],
    'event.id': a.id,
    'event.kind': 'alert',
    'event.category': 'intrusion_detection',
    'event.type': 'indicator',
    'event.action': a.detector,
    'event.severity': SEVERITY_SCORE[a.severity],
    'rule.name': a.rule,
    message: a.summary,
    'portcullis.alert': {
      severity: a.severity,
      offender: a.offender,
      ...(a.target ? { target: a.target } : {}),
      evidence: a.evidence,
    },
  };
  if (a.offender.ip) e['client.address'] = a.offender.ip;
  if (a.offender.subject) e['user.id'] = a.offender.subject;
  if (a.offender.consumer) e['portcullis.consumer'] = a.offender.consumer;
  if (a.offender.tokenHash) e['portcullis.credential.hash'] = a.offender.tokenHash;
  if (a.api) e['portcullis.api'] = a.api;
  if (a.route) e['http.route'] = a.route;
  if (a.operationId) e['portcullis.operation_id'] = a.operationId;
  return e;
}

const BAN_FIELD: Record<BanKind, string> = {
  ip: 'client.address',
  subject: 'user.id',
  consumer: 'portcullis.consumer',
  token: 'portcullis.credential.hash',
};

function banEvent(ban: Ban, action: 'ban' | 'unban', at: number): SecurityEvent {
  return {
    '@timestamp': new Date(at).toISOString(),
    'event.kind': 'event',
    'event.category': 'iam',
    'event.type': action === 'ban' ? 'creation' : 'deletion',
    'event.action': action,
    'event.reason': ban.reason,
    [BAN_FIELD[ban.kind]]: ban.value,
    'portcullis.ban': {
      kind: ban.kind,
      source: ban.source,
      level: ban.level,
      expiresAt: new Date(ban.expiresAt).toISOString(),
      ...(ban.alertId ? { alertId: ban.alertId } : {}),
    },
  };
}

/**
 * Builds the watch loop from its config (partial; defaults filled in).
 *
 * @example
 * const monitor = await createMonitor(config.monitor, { logger, clock, store, metrics, baseDir });
 * const runtime = await startRuntime({ config, logger, events: monitor.events });
 * // admin API: monitor.query({ ip, limit: 50 }), monitor.alerts(), monitor.bans.unban('ip', ip)
 */
export async function createMonitor(
  input: MonitorConfigInput | undefined,
  deps: MonitorDeps,
): Promise<Monitor> {
  const config = resolveMonitorConfig(input);
  const { logger, clock, metrics } = deps;
  const log = logger.child({ component: 'monitor' });

  let store: EventStore | undefined;
  const ev = config.events;
  if (ev.store === 'sqlite') {
    const path =
      ev.sqlite.path === ':memory:' || isAbsolute(ev.sqlite.path)
        ? ev.sqlite.path
        : resolve(deps.baseDir ?? process.cwd(), ev.sqlite.path);
    const opts = {
      path,
      retentionDays: ev.sqlite.retentionDays,
      maxRows: ev.sqlite.maxRows,
      maxMegabytes: ev.sqlite.maxMegabytes,
      clock,
      pruneIntervalMs: 60_000,
    };
    // SQLite is local: a failure to open it is a config error, reported at start.
    const worker = ev.sqlite.worker === 'auto' ? availableParallelism() > 1 : ev.sqlite.worker;
    const sqlite = worker ? await createSqliteWorkerStore(opts) : createSqliteStore(opts);
    if (sqlite.migrated)
      log.info(
        { path, ...sqlite.migrated },
        `events database rewritten to layout ${sqlite.migrated.toVersion} (${sqlite.migrated.events} events, ${sqlite.migrated.ms} ms)`,
      );
    store = sqlite;
    await store.prune();
  } else if (ev.store === 'postgres') {
    const pg = ev.postgres;
    if (!pg) throw new TypeError('events.postgres.url is required when events.store is postgres');
    store = lazyStore(
      'postgres',
      () =>
        createPostgresStore({
          url: pg.url,
          schema: pg.schema,
          retentionDays: pg.retentionDays,
          partitionsAhead: pg.partitionsAhead,
          clock,
          logger: log,
        }),
      log,
    );
    // Open now so migrations run at start, but a database that is down only delays storing.
    await store.prune().catch(() => {});
  }

  const dropped = metrics?.counter(
    'portcullis_events_dropped_total',
    'Events dropped by the event sink (store slow or down).',
  );
  const written = metrics?.counter('portcullis_events_written_total', 'Events written to the event store.');
  const sink = createEventSink({
    store,
    queueSize: ev.queueSize,
    batchSize: ev.batchSize,
    flushIntervalMs: ev.flushIntervalMs,
    logger: log,
    onDrop: dropped ? (n) => dropped.inc(undefined, n) : undefined,
    onWrite: written ? (n) => written.inc(undefined, n) : undefined,
  });
  metrics?.gauge(
    'portcullis_events_buffered',
    'Events waiting for the event store.',
    [],
    () => sink.stats().buffered,
  );
  // Under --workers each process writes its own events: the merged flag is 1 only when all are healthy.
  metrics?.gauge(
    'portcullis_event_store_healthy',
    '1 when the last event store write succeeded.',
    [],
    () => (sink.stats().storeHealthy ? 1 : 0),
    'min',
  );
  const alertsTotal = metrics?.counter('portcullis_alerts_total', 'Alerts raised by the detectors.', [
    'detector',
    'severity',
  ]);
  const bansTotal = metrics?.counter('portcullis_bans_total', 'Bans made.', ['kind', 'source']);

  // Bans: every change goes to the log, the event stream and the metrics.
  const banStore = createBanList({ store: deps.store, clock, policy: config.bans });
  const bans: BanList = {
    async ban(kind, value, opts) {
      const ban = await banStore.ban(kind, value, opts);
      bansTotal?.inc({ kind, source: opts.source });
      sink.emit(banEvent(ban, 'ban', clock.now()));
      if (opts.source === 'manual') log.info({ kind, expiresAt: ban.expiresAt }, `manual ban of ${kind}`);
      return ban;
    },
    async unban(kind, value) {
      const existing = await banStore.get(kind, value);
      const had = await banStore.unban(kind, value);
      if (had && existing) {
        sink.emit(banEvent({ ...existing, reason: 'unban' }, 'unban', clock.now()));
        log.info({ kind }, `ban of ${kind} lifted`);
      }
      return had;
    },
    get: (kind, value) => banStore.get(kind, value),
    list: (limit) => banStore.list(limit),
  };
  const responder = createResponder({ bans, config: config.bans, logger: log });

  const webhook: WebhookNotifier | undefined = config.alerts.webhook
    ? createWebhookNotifier(config.alerts.webhook, log)
    : undefined;
  if (webhook)
    metrics?.gauge(
      'portcullis_alert_webhook_queued',
      'Alerts waiting for webhook delivery.',
      [],
      () => webhook.stats().queued,
    );

  const recent: Alert[] = [];
  let alertCount = 0;
  let alertListeners: Array<(a: Alert) => void> = [];

  function publish(draft: AlertDraft, at: string): void {
    const alert: Alert = { id: randomUUID(), '@timestamp': at, ...draft };
    alertCount++;
    recent.push(alert);
    if (recent.length > config.alerts.recent) recent.shift();
    alertsTotal?.inc({ detector: alert.detector, severity: alert.severity });
    if (config.alerts.log)
      log.warn(
        {
          alert: {
            id: alert.id,
            detector: alert.detector,
            rule: alert.rule,
            severity: alert.severity,
            offender: alert.offender,
          },
        },
        `alert: ${alert.summary}`,
      );
    sink.emit(alertEvent(alert));
    webhook?.send(alert);
    for (const fn of alertListeners) {
      try {
        fn(alert);
      } catch (err) {
        log.error({ err }, 'alert listener failed');
      }
    }
    void responder.handle(alert);
  }

  const detectors: Detector[] = createDetectors(config.detectors);
  const discovery = createDiscovery(config.discovery);
  // Events of one millisecond share their timestamp text: parse it once per distinct value.
  let lastStamp = '';
  let lastMs = Number.NaN;
  function observe(e: SecurityEvent): void {
    if (config.discovery.enabled) discovery.observe(e);
    if (e['@timestamp'] !== lastStamp) {
      lastStamp = e['@timestamp'];
      lastMs = timeOf(e);
    }
    for (const d of detectors) {
      const drafts = d.observe(e, lastMs);
      for (let i = 0; i < drafts.length; i++) publish(drafts[i], e['@timestamp']);
    }
  }

  // Detectors and discovery take the events in batches, within OBSERVE_DELAY_MS of their emission, not
  // one at a time inside each request's completion: between two requests the gateway's own work pushes
  // their state out of the CPU caches: one event at a time cost 7-10 µs in the running gateway under
  // load, batches of about 75 cost 3-4 µs per event, and the same events in a tight loop under 1 µs
  // (measured with per-call timers).
  let observing: SecurityEvent[] = [];
  let observeTimer: NodeJS.Timeout | undefined;
  let observeErrors = 0;
  let lastObserveErrorLog = Number.NEGATIVE_INFINITY;
  function observePending(): void {
    if (observeTimer !== undefined) {
      clearTimeout(observeTimer);
      observeTimer = undefined;
    }
    const batch = observing;
    observing = [];
    for (let i = 0; i < batch.length; i++) {
      try {
        observe(batch[i]);
      } catch (err) {
        // One line per 10 s at most: a detector failing on every event must not flood the log.
        observeErrors++;
        const now = Date.now();
        if (now - lastObserveErrorLog >= 10_000) {
          log.error({ err, observeErrors }, 'detector failed on an event');
          lastObserveErrorLog = now;
        }
      }
    }
  }
  sink.subscribe((e) => {
    if (e['event.kind'] === 'alert') return;
    observing.push(e);
    if (observing.length >= OBSERVE_BATCH) observePending();
    else if (observeTimer === undefined) {
      observeTimer = setTimeout(observePending, OBSERVE_DELAY_MS);
      observeTimer.unref();
    }
  });
  /** Discovery as the admin API reads it: every event emitted before a read is counted in it. */
  const discoveryView: Discovery = {
    observe: (e) => discovery.observe(e),
    observeBody: (input, direction, body, status) => discovery.observeBody(input, direction, body, status),
    endpoints(api) {
      observePending();
      return discovery.endpoints(api);
    },
    overflow() {
      observePending();
      return discovery.overflow();
    },
    toOpenApi(opts) {
      observePending();
      return discovery.toOpenApi(opts);
    },
    drift(api, spec) {
      observePending();
      return discovery.drift(api, spec);
    },
  };
  /** The gateway's sink, with `flush` first handing the detectors what they have not seen yet. */
  const events: MonitorSink = {
    emit: sink.emit,
    subscribe: (fn) => sink.subscribe(fn),
    stats: () => sink.stats(),
    flush() {
      observePending();
      return sink.flush();
    },
    close() {
      observePending();
      return sink.close();
    },
  };

  let closing: Promise<void> | undefined;
  return {
    config,
    events,
    bans,
    discovery: discoveryView,
    async query(q) {
      if (!store) return { events: [] };
      return store.query(q);
    },
    alerts(q = {}) {
      observePending();
      const out: Alert[] = [];
      const limit = Math.max(1, Math.min(q.limit ?? 100, config.alerts.recent));
      for (let i = recent.length - 1; i >= 0 && out.length < limit; i--) {
        const a = recent[i];
        if (q.detector !== undefined && a.detector !== q.detector) continue;
        if (q.severity !== undefined && a.severity !== q.severity) continue;
        if (q.ip !== undefined && a.offender.ip !== q.ip) continue;
        if (q.subject !== undefined && a.offender.subject !== q.subject) continue;
        out.push(a);
      }
      return out;
    },
    onAlert(fn) {
      alertListeners = [...alertListeners, fn];
      return () => {
        alertListeners = alertListeners.filter((f) => f !== fn);
      };
    },
    subscribe: (fn) => sink.subscribe(fn),
    stats() {
      observePending();
      return {
        sink: sink.stats(),
        store: ev.store,
        alerts: alertCount,
        ...(webhook ? { webhook: webhook.stats() } : {}),
        detectors: detectors.map((d) => ({ name: d.name, trackedKeys: d.size() })),
        discovery: { endpoints: discovery.endpoints().length, overflow: discovery.overflow() },
      };
    },
    close() {
      closing ??= (async () => {
        observePending();
        await webhook?.close();
        await sink.close(); // drains, then closes the store
      })();
      return closing;
    },
  };
}
