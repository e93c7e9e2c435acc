import cluster from 'node:cluster';
import { watch } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { ConfigError, formatIssue } from '../../config/load.ts';
import { createMetrics, type MetricsRegistry } from '../../core/metrics.ts';
import { GatewayBuildError } from '../../gateway/gateway.ts';
import {
  createEventRelay,
  createFirstWorkerFeed,
  RELAY_BUFFER_MAX_BYTES,
  RELAY_BUFFER_MAX_EVENTS,
  receiveRelayedEvents,
} from '../cluster-events.ts';
import { answerMetricsCollection, createClusterScrape, createMetricsGatherer } from '../cluster-metrics.ts';
import { loadConfig } from '../config.ts';
import { CliError } from '../errors.ts';
import { type Runtime, startRuntime } from '../runtime.ts';

export interface ServeOptions {
  readonly configFile: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reload when the config file changes (SIGHUP always reloads). */
  readonly watch: boolean;
  readonly out: (line: string) => void;
}

function describeError(err: unknown): string {
  if (err instanceof ConfigError) return err.issues.map(formatIssue).join('; ');
  if (err instanceof GatewayBuildError) return err.issues.join('; ');
  return (err as Error).message;
}

/** Events relayed towards worker 0's monitor and lost, by reason (declared alike in workers and primary). */
function relayDroppedCounter(metrics: MetricsRegistry) {
  return metrics.counter(
    'portcullis_events_relay_dropped_total',
    "Events relayed towards worker 0's monitor (serve --workers) and dropped: reason channel (a worker's channel to the primary was closed or behind), buffer-full (the primary's buffer for worker 0 was full) or first-worker-exited (worker 0 exited before taking them).",
    ['reason'],
  );
}

/**
 * Turns off V8's allocation-site pretenuring for the gateway process. At start-up the young generation is
 * 1 MB and 64 requests may be in flight, so the object literals of the request path look long-lived and
 * V8 starts allocating them straight in the old generation, for good. Such an object, dead once its
 * request is over, still points at that request's young objects, and the young collector counts it as a
 * root until the next full collection: every request's objects were promoted (1.6-5 KB per request, young
 * pauses of 10-200 ms against 2 ms). Without pretenuring the gateway promotes as little as the bare undici
 * proxy (about 25 bytes per request). Only where the runtime offers the switch (V8's node:v8).
 */
function keepRequestsYoung(): void {
  try {
    if (typeof v8.setFlagsFromString === 'function')
      v8.setFlagsFromString('--no-allocation-site-pretenuring');
  } catch {
    // another runtime: its own collector, its own heuristics
  }
}

/** `portcullis serve --config FILE`: runs the gateway until SIGINT/SIGTERM, reloading on SIGHUP. */
export async function serve(opts: ServeOptions): Promise<Runtime> {
  keepRequestsYoung();
  let runtime: Runtime;
  let relay: ReturnType<typeof createEventRelay> | undefined;
  const first = cluster.isWorker && opts.env.PORTCULLIS_WORKER === '0';
  const secondary = cluster.isWorker && !first;
  try {
    const config = await loadConfig(opts.configFile, opts.env);
    // In multi-process mode worker 0 alone serves the admin listener, runs the scheduled scans and the
    // watch loop; the other workers relay their events to it.
    if (secondary) {
      config.admin.enabled = false;
      config.scans = [];
    }
    // Every worker answers the primary's metric collection; worker 0's /metrics merges them all.
    const metrics = cluster.isWorker ? createMetrics() : undefined;
    if (metrics) answerMetricsCollection(metrics);
    const renderMetrics =
      first && metrics
        ? createClusterScrape(metrics, { index: 0, workers: Number(opts.env.PORTCULLIS_WORKERS) || 1 })
        : undefined;
    const watchLoop = (config.monitor as { enabled?: boolean } | undefined)?.enabled !== false;
    if (secondary && watchLoop) {
      const dropped = relayDroppedCounter(metrics!).bind({ reason: 'channel' });
      const sent = metrics!.counter(
        'portcullis_events_relayed_total',
        "Events a worker handed to the primary for worker 0's monitor (serve --workers).",
      );
      sent.inc(undefined, 0);
      relay = createEventRelay({ onDrop: (n) => dropped.inc(n), onSent: (n) => sent.inc(undefined, n) });
    }
    runtime = await startRuntime({
      config,
      metrics,
      renderMetrics,
      events: relay,
      loadConfig: () => loadConfig(opts.configFile, opts.env),
    });
    // Only now, serving, does worker 0 take the events held for it: a backlog arriving while it starts
    // would compete with its start (issue 14).
    if (first) receiveRelayedEvents(runtime.events);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof GatewayBuildError) {
      throw new CliError(`${opts.configFile}: ${describeError(err)}`, 1);
    }
    throw err;
  }
  const { logger } = runtime;
  let reloading: Promise<void> = Promise.resolve();
  const reload = (why: string) => {
    reloading = reloading.then(async () => {
      try {
        const next = await loadConfig(opts.configFile, opts.env);
        await runtime.reload(next);
        logger.info({ why }, 'reload applied');
      } catch (err) {
        logger.error(
          { why, problems: describeError(err) },
          'reload refused; the previous config keeps serving',
        );
      }
    });
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (opts.watch) {
    // Watch the folder: editors and Kubernetes replace files by rename.
    let timer: NodeJS.Timeout | undefined;
    const base = path.basename(opts.configFile);
    watch(path.dirname(path.resolve(opts.configFile)), { persistent: false }, (_event, name) => {
      if (name !== null && name !== base && !name.startsWith('..')) return;
      clearTimeout(timer);
      timer = setTimeout(() => reload('file change'), 200);
    });
  }
  if (relay !== undefined) {
    // The events of the last requests go out after the drain.
    const close = runtime.close;
    const flush = relay.close;
    runtime = { ...runtime, close: () => close().then(flush) };
  }
  if (secondary) return runtime;
  for (const url of runtime.urls) opts.out(`portcullis: gateway listening on ${url}`);
  if (runtime.adminAddress)
    opts.out(`portcullis: admin on http://${runtime.adminAddress.address}:${runtime.adminAddress.port}`);
  return runtime;
}

/** A worker that dies later than this after its start is restarted without delay. */
const STABLE_MS = 10_000;

/**
 * Multi-process mode (`--workers N`): the primary forks N workers that share the listening sockets
 * (node:cluster) and restarts any that dies. Each worker holds its own memory state: with more than one
 * worker, use `state.store: redis` so limits and bans are shared. The primary also gathers the workers'
 * metrics for worker 0's `/metrics` (cluster-metrics.ts) and passes the other workers' events to worker
 * 0's monitor, holding them while worker 0 restarts (cluster-events.ts). Returns true in the primary,
 * which then only supervises; false in a worker, which goes on to serve.
 */
export async function superviseWorkers(count: number, out: (line: string) => void): Promise<boolean> {
  if (cluster.isWorker) return false;
  let stopping = false;
  // The primary's own metrics (the relay buffer it holds for worker 0), merged into worker 0's /metrics.
  const own = createMetrics();
  const metrics = createMetricsGatherer({ workers: count, local: own });
  const dropped = relayDroppedCounter(own);
  const delivered = own.counter(
    'portcullis_events_relay_delivered_total',
    'Relayed events worker 0 acknowledged: handed to its monitor (serve --workers).',
  );
  delivered.inc(undefined, 0);
  let relayDropped = 0;
  let lastDropLine = 0;
  const feed = createFirstWorkerFeed({
    onDeliver: (n) => delivered.inc(undefined, n),
    onDrop: (n, reason) => {
      dropped.inc({ reason }, n);
      relayDropped += n;
      if (Date.now() - lastDropLine < 10_000) return;
      lastDropLine = Date.now();
      out(
        `portcullis: ${relayDropped} events could not reach worker 0's monitor (${reason === 'buffer-full' ? `more than ${RELAY_BUFFER_MAX_EVENTS} events or ${RELAY_BUFFER_MAX_BYTES} bytes waited for it` : 'it exited before taking them'}); counted in portcullis_events_relay_dropped_total`,
      );
    },
  });
  own.gauge(
    'portcullis_events_relay_buffered',
    'Relayed events the primary holds until worker 0 takes them (it restarts or is catching up).',
    [],
    () => feed.buffered().events,
  );
  /** Deaths in a row of each worker within STABLE_MS of its start. */
  const quickDeaths = new Map<number, number>();
  const fork = (index: number) => {
    const worker = cluster.fork({ PORTCULLIS_WORKER: String(index), PORTCULLIS_WORKERS: String(count) });
    const startedAt = Date.now();
    metrics.attach(index, worker);
    if (index === 0) feed.setFirst(worker);
    else feed.relayFrom(worker);
    worker.on('exit', (code, signal) => {
      metrics.detach(index);
      if (stopping) return;
      // A worker that had been running is replaced at once (worker 0's restart is the watch loop's gap);
      // one that keeps dying young waits 0.5 s, then 1 s, 2 s ... up to 30 s, so a crash loop cannot spin.
      const n = Date.now() - startedAt < STABLE_MS ? (quickDeaths.get(index) ?? 0) + 1 : 0;
      quickDeaths.set(index, n);
      const delay = n === 0 ? 0 : Math.min(30_000, 500 * 2 ** (n - 1));
      out(`portcullis: worker ${index} exited (${signal ?? code}); restarting it`);
      setTimeout(() => fork(index), delay).unref();
    });
  };
  for (let i = 0; i < count; i++) fork(i);
  out(`portcullis: ${count} workers started`);
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
    let left = Object.keys(cluster.workers ?? {}).length;
    if (left === 0) process.exit(0);
    cluster.on('exit', () => {
      left--;
      if (left === 0) process.exit(0);
    });
  };
  process.once('SIGINT', () => stop('SIGTERM'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
  });
  return true;
}
