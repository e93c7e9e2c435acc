import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { type Logger, pino } from 'pino';
import { createAdminRoutes } from '../admin/api.ts';
import { adminMonitorFrom } from '../admin/monitor-port.ts';
import { type AdminRoutes, startAdminServer } from '../admin/server.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { type EventSink, nullSink } from '../core/events.ts';
import { createMetrics, type MetricsRegistry } from '../core/metrics.ts';
import type { PolicyDefinition } from '../core/policy.ts';
import type { Tracer } from '../core/tracing.ts';
import { type AccessRecord, type BodyObserver, createGateway, type Gateway } from '../gateway/gateway.ts';
import { type Listeners, openListeners } from '../gateway/listener.ts';
import type { Discovery } from '../monitor/discovery/discovery.ts';
import { createMonitor } from '../monitor/monitor.ts';
import type { MonitorConfigInput } from '../monitor/schema.ts';
import { resolveTracingConfig, type TracingConfigInput } from '../monitor/tracing/schema.ts';
import { createTracer } from '../monitor/tracing/tracer.ts';
import { policies } from '../policies/registry.ts';
import { type ScanScheduler, type ScheduledJob, startScanScheduler } from '../scanner/schedule.ts';
import { compileCidrMatcher } from '../shared/ip.ts';
import { packageVersion } from '../shared/package-version.ts';
import { createMemoryStore } from '../state/memory-store.ts';
import { createRedisStore } from '../state/redis-store.ts';
import type { StateStore } from '../state/store.ts';
import { createAccessLog } from './access-log.ts';
import { createLineWriter, type LineWriter } from './line-writer.ts';

export interface RuntimeOptions {
  readonly config: Config;
  /** The process's metrics registry; defaults to a new one. */
  readonly metrics?: MetricsRegistry;
  /** Renders the admin `/metrics` (`serve --workers`: all workers' merged); defaults to the registry's. */
  readonly renderMetrics?: () => Promise<string>;
  /** Defaults to JSON logs on stdout at the config's level. */
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly accessLog?: (rec: AccessRecord) => void;
  readonly events?: EventSink;
  /** Policy definitions; defaults to every registered policy. */
  readonly policies?: ReadonlyArray<PolicyDefinition>;
  /** Re-reads the config for `POST /api/reload` (serve passes the file loader). */
  readonly loadConfig?: () => Promise<Config>;
  readonly adminRoutes?: (deps: {
    gateway: Gateway;
    metrics: MetricsRegistry;
    store: StateStore;
  }) => AdminRoutes;
}

/** A running Portcullis: gateway, listeners and admin server. */
export interface Runtime {
  readonly gateway: Gateway;
  readonly listeners: Listeners;
  readonly adminAddress: AddressInfo | undefined;
  readonly metrics: MetricsRegistry;
  readonly store: StateStore;
  readonly logger: Logger;
  /** Scheduled audits and scans (`scans:` in the config). */
  readonly scans: ScanScheduler;
  /** Where events go: the monitor's sink, the caller's, or none. */
  readonly events: EventSink;
  /** `http://host:port` of each gateway listener, in config order. */
  readonly urls: readonly string[];
  reload(config: Config): Promise<void>;
  /** Drains in-flight requests, then closes everything. */
  close(): Promise<void>;
}

/**
 * Stdout, buffered and written asynchronously; shared by the logger and the access log so lines never
 * interleave. A cluster worker writes in pipe-atomic chunks, so workers sharing stdout never split a line.
 */
export function stdoutDestination(onDrop?: (dropped: number) => void): LineWriter {
  return createLineWriter({ chunkBytes: cluster.isWorker ? 4096 : 64 * 1024, onDrop });
}

/** Creates the process logger: JSON on stdout, secrets redacted, written asynchronously. */
export function createLogger(level: string, destination: LineWriter = stdoutDestination()): Logger {
  return pino(
    {
      level,
      base: { service: 'portcullis' },
      redact: {
        paths: ['*.authorization', '*.cookie', '*.token', '*.secret', '*.password'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

function urlOf(scheme: string, a: AddressInfo): string {
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `${scheme}://${host}:${a.port}`;
}

/** Feeds sampled request and response bodies to API discovery, which learns their JSON shapes. */
function learnBodies(discovery: Discovery): BodyObserver {
  return (endpoint, request, response, status) => {
    const at = { ...endpoint, declared: true };
    if (request !== undefined) discovery.observeBody(at, 'request', request);
    if (response !== undefined) discovery.observeBody(at, 'response', response, status);
  };
}

/** The tracer of a `tracing:` section that is enabled, else undefined. */
function tracerFor(config: Config, logger: Logger, metrics: MetricsRegistry): Tracer | undefined {
  const tracing = resolveTracingConfig(config.tracing as TracingConfigInput | undefined);
  if (!tracing.enabled) return undefined;
  return createTracer(tracing, { logger, metrics, version: packageVersion() });
}

/** How long the start waits for the Redis state store before serving without it. */
const REDIS_START_WAIT_MS = 3000;

/** Builds every part from the config and starts serving. */
export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const { config } = opts;
  const metrics = opts.metrics ?? createMetrics();
  const droppedLines = metrics.counter(
    'portcullis_log_lines_dropped_total',
    'Log and access lines dropped because stdout could not keep up (16 MiB were waiting) or was closed.',
  );
  const destination = stdoutDestination(() => droppedLines.inc());
  // Lines wait in the destination's buffer until a chunk is full; at low traffic, flush once a second.
  const flusher = setInterval(() => destination.flush(), 1000);
  flusher.unref();
  const logger = opts.logger ?? createLogger(config.logging.level, destination);
  const clock = opts.clock ?? systemClock;
  /** Stops the periodic flush and writes what is buffered (2 s at most). */
  const stopOutput = async () => {
    clearInterval(flusher);
    await new Promise<unknown>((resolve) => {
      destination.flush(resolve);
      setTimeout(resolve, 2000).unref();
    });
  };
  // What has been started so far, stopped again (newest first) if a later step fails: a start that fails
  // must leave nothing running, or the process would not exit after reporting the error.
  const undo: Array<() => unknown> = [];
  try {
    let store: StateStore;
    // The store reports its outages as events, but the event sink is built later (the monitor needs the store).
    let storeEvents: EventSink = nullSink;
    if (config.state.store === 'redis') {
      const { url, keyPrefix, commandTimeoutMs, failureThreshold, probeIntervalMs } = config.state.redis!;
      const redis = createRedisStore({
        url,
        keyPrefix,
        commandTimeoutMs,
        failureThreshold,
        probeIntervalMs,
        logger,
        metrics,
        clock,
        events: { emit: (e) => storeEvents.emit(e) },
      });
      // Traffic waits for the connection (a few milliseconds, normally), so a starting instance does not
      // answer its first requests with the fail mode; a Redis that is down only delays the start.
      if (!(await redis.whenReady(REDIS_START_WAIT_MS)))
        logger.warn(
          { waitedMs: REDIS_START_WAIT_MS },
          "redis state store not reachable at start; serving with the policies' fail modes until it is",
        );
      store = redis;
    } else store = createMemoryStore({ clock, maxEntries: config.state.maxEntries });
    undo.push(() => store.close());
    // The watch loop (event store, detectors, bans, alerts) runs unless the caller brings its own sink.
    const { enabled: monitorEnabled = true, ...monitorConfig } = (config.monitor ??
      {}) as MonitorConfigInput & {
      enabled?: boolean;
    };
    const monitor =
      opts.events === undefined && monitorEnabled
        ? await createMonitor(monitorConfig, {
            logger,
            clock,
            store,
            metrics,
            baseDir: config.baseDir,
          })
        : undefined;
    if (monitor) undo.push(() => monitor.close());
    const events = opts.events ?? monitor?.events ?? nullSink;
    storeEvents = events;
    const tracer = tracerFor(config, logger, metrics);
    if (tracer) undo.push(() => tracer.close());
    const gateway = await createGateway(config, {
      logger,
      events,
      metrics,
      store,
      clock,
      policies: opts.policies ?? policies,
      accessLog: opts.accessLog ?? (config.logging.accessLog ? createAccessLog(destination) : () => {}),
      observeBodies: monitor?.config.discovery.enabled ? learnBodies(monitor.discovery) : undefined,
      tracer,
    });
    undo.push(() => gateway.close());
    let draining = false;
    const listeners = await openListeners(
      config,
      gateway.handle,
      logger,
      compileCidrMatcher(config.server.trustedProxies),
    );
    undo.push(() => listeners.close(0, () => 0));
    const adminApi: AdminRoutes | undefined = config.admin.enabled
      ? opts.adminRoutes
        ? opts.adminRoutes({ gateway, metrics, store })
        : createAdminRoutes({
            token: config.admin.token,
            gateway,
            metrics,
            store,
            clock,
            logger,
            monitor: monitor ? adminMonitorFrom(monitor) : undefined,
            reload: opts.loadConfig ? async () => gateway.reload(await opts.loadConfig!()) : undefined,
          })
      : undefined;
    undo.push(() => (adminApi as { close?: () => void } | undefined)?.close?.());
    const admin = config.admin.enabled
      ? await startAdminServer({
          host: config.admin.host,
          port: config.admin.port,
          allowedHosts: config.admin.allowedHosts,
          token: config.admin.token,
          metrics,
          renderMetrics: opts.renderMetrics,
          logger,
          isReady: () => !draining,
          routes: adminApi,
        })
      : undefined;
    undo.push(() => admin?.close());
    const scans = startScanScheduler({
      jobs: (config.scans ?? []) as ScheduledJob[],
      specFile: (api) => gateway.config.apis.find((a) => a.name === api)?.spec,
      events,
      logger,
      clock,
    });
    return {
      gateway,
      listeners,
      scans,
      events,
      adminAddress: admin?.address,
      metrics,
      store,
      logger,
      urls: listeners.listeners.map((l) => urlOf(l.scheme, l.address)),
      async reload(next) {
        const changed = JSON.stringify(next.server.listen) !== JSON.stringify(gateway.config.server.listen);
        await gateway.reload(next);
        if (changed) logger.warn('listener changes take effect after a restart; the other changes are live');
      },
      async close() {
        draining = true;
        scans.stop();
        await listeners.close(config.server.shutdownTimeoutMs, gateway.inFlight);
        await admin?.close();
        (adminApi as { close?: () => void } | undefined)?.close?.();
        await gateway.close();
        await tracer?.close();
        await monitor?.close();
        await store.close();
        await stopOutput();
      },
    };
  } catch (err) {
    for (const stop of undo.reverse()) {
      try {
        await stop();
      } catch {
        // Already failing: the first error is the one to report.
      }
    }
    await stopOutput();
    throw err;
  }
}
