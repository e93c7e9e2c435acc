import cluster, { type Worker } from 'node:cluster';
import { watch } from 'node:fs';
import path from 'node:path';
import { ConfigError, formatIssue, loadConfig } from '../../config/load.ts';
import { GatewayBuildError } from '../../gateway/gateway.ts';
import { createMetrics } from '../../monitor/metrics.ts';
import { createEventRelay, receiveRelayedEvents, relayToFirstWorker } from '../cluster-events.ts';
import { answerMetricsCollection, createClusterScrape, createMetricsGatherer } from '../cluster-metrics.ts';
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

/** `portcullis serve --config FILE`: runs the gateway until SIGINT/SIGTERM, reloading on SIGHUP. */
export async function serve(opts: ServeOptions): Promise<Runtime> {
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
      const dropped = metrics!.counter(
        'portcullis_events_relay_dropped_total',
        'Events a worker could not hand to worker 0, whose monitor stores and inspects every event (serve --workers).',
      );
      relay = createEventRelay({ onDrop: (n) => dropped.inc(undefined, n) });
    }
    runtime = await startRuntime({
      config,
      metrics,
      renderMetrics,
      events: relay,
      loadConfig: () => loadConfig(opts.configFile, opts.env),
    });
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

/**
 * Multi-process mode (`--workers N`): the primary forks N workers that share the listening sockets
 * (node:cluster) and restarts any that dies. Each worker holds its own memory state: with more than one
 * worker, use `state.store: redis` so limits and bans are shared. The primary also gathers the workers'
 * metrics for worker 0's `/metrics` (cluster-metrics.ts) and passes the other workers' events to worker
 * 0's monitor (cluster-events.ts). Returns true in the primary, which then only
 * supervises; false in a worker, which goes on to serve.
 */
export async function superviseWorkers(count: number, out: (line: string) => void): Promise<boolean> {
  if (cluster.isWorker) return false;
  let stopping = false;
  const metrics = createMetricsGatherer({ workers: count });
  const current = new Map<number, Worker>();
  let relayDropped = 0;
  let lastDropLine = 0;
  const noteDrop = (n: number) => {
    relayDropped += n;
    if (Date.now() - lastDropLine < 10_000) return;
    lastDropLine = Date.now();
    out(`portcullis: ${relayDropped} events could not reach worker 0's monitor (it was restarting)`);
  };
  const fork = (index: number) => {
    const worker = cluster.fork({ PORTCULLIS_WORKER: String(index), PORTCULLIS_WORKERS: String(count) });
    current.set(index, worker);
    metrics.attach(index, worker);
    if (index > 0) relayToFirstWorker(worker, () => current.get(0), noteDrop);
    worker.on('exit', (code, signal) => {
      metrics.detach(index);
      if (stopping) return;
      out(`portcullis: worker ${index} exited (${signal ?? code}); restarting it`);
      setTimeout(() => fork(index), 500).unref();
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
