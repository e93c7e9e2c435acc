/**
 * One `/metrics` for all workers of `serve --workers N`. Only worker 0 serves the admin listener, so its
 * scrape asks the primary, which collects every live worker's registry as plain data over the cluster
 * IPC channel, merges it and answers:
 *
 *   scrape -> worker 0 --gather--> primary --collect--> worker 0..N-1
 *             worker 0 <-gathered- primary <-snapshot-- worker 0..N-1   (waits at most timeoutMs)
 *
 * A worker that does not answer in time (busy, hung, restarting) never fails the scrape: it is reported
 * as `portcullis_worker_up{worker} 0`, and its last reported counters and histograms still count, so the
 * merged totals never go down. The primary keeps that state because it outlives every worker; its own
 * metrics (the events it holds for a restarting worker 0, cluster-events.ts) are merged in as well.
 */
import type { Worker } from 'node:cluster';
import type { MetricFamily, MetricsRegistry } from '../core/metrics.ts';
import { renderFamilies } from '../core/metrics.ts';
import { mergeFamilies, monotonicFamilies } from '../monitor/metrics-merge.ts';

/** How long the primary waits for the workers' snapshots. */
export const COLLECT_TIMEOUT_MS = 500;
/** How long worker 0 waits for the primary before it answers with its own values alone. */
const GATHER_TIMEOUT_MS = COLLECT_TIMEOUT_MS + 500;

const GATHER = 'portcullis:metrics:gather';
const GATHERED = 'portcullis:metrics:gathered';
const COLLECT = 'portcullis:metrics:collect';
const SNAPSHOT = 'portcullis:metrics:snapshot';

interface Message {
  readonly type: string;
  readonly id: number;
  readonly families?: unknown;
}

function isMessage(m: unknown): m is Message {
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof (m as Message).type === 'string' &&
    typeof (m as Message).id === 'number'
  );
}

const gauge = (
  name: string,
  help: string,
  series: { labels: string[]; value: number }[],
  labelNames: string[] = [],
): MetricFamily => ({ type: 'gauge', name, help, labelNames, merge: 'sum', series });

/** The families that say which workers are in a merged scrape; `up[i]` is whether worker i answered. */
export function workerFamilies(up: readonly boolean[]): MetricFamily[] {
  return [
    gauge('portcullis_workers', 'Worker processes configured (serve --workers).', [
      { labels: [], value: up.length },
    ]),
    gauge(
      'portcullis_workers_reporting',
      'Workers whose current values are in this scrape (answered within the timeout).',
      [{ labels: [], value: up.filter(Boolean).length }],
    ),
    gauge(
      'portcullis_worker_up',
      '1 when the worker answered this scrape in time; 0 when it did not (restarting, busy or hung): ' +
        'its gauges are then left out and its last reported counters and histograms stand in.',
      up.map((u, i) => ({ labels: [String(i)], value: u ? 1 : 0 })),
      ['worker'],
    ),
  ];
}

/** The primary's side: tracks the workers and answers worker 0's gather requests. */
export interface MetricsGatherer {
  /** A worker was forked under `index` (0..workers-1). */
  attach(index: number, worker: Worker): void;
  /** The worker under `index` exited: what it last reported of its counters and histograms is kept. */
  detach(index: number): void;
  /** Collects and merges the metrics of every worker (also what a gather request answers). */
  gather(): Promise<MetricFamily[]>;
}

/** Creates the primary's gatherer for `workers` workers. */
export function createMetricsGatherer(opts: {
  readonly workers: number;
  readonly timeoutMs?: number;
  /** The primary's own registry (the relay buffer it holds for worker 0), merged in at every gather. */
  readonly local?: MetricsRegistry;
}): MetricsGatherer {
  const timeoutMs = opts.timeoutMs ?? COLLECT_TIMEOUT_MS;
  const live = new Map<number, Worker>();
  /** Each worker's last reported counters and histograms, standing in when it does not answer. */
  const last = new Map<number, MetricFamily[]>();
  /** Counters and histograms of workers that exited, so merged totals do not drop when one restarts. */
  let retired: MetricFamily[] = [];
  let seq = 0;
  let round:
    | { id: number; waiting: Set<number>; answers: Map<number, MetricFamily[]>; finish(): void }
    | undefined;
  let inFlight: Promise<MetricFamily[]> | undefined;

  async function collect(): Promise<MetricFamily[]> {
    const id = ++seq;
    const waiting = new Set<number>();
    const answers = new Map<number, MetricFamily[]>();
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        if (round?.id === id) round = undefined;
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      round = { id, waiting, answers, finish };
      for (const [index, worker] of live) {
        if (!worker.isConnected()) continue;
        waiting.add(index);
        worker.send({ type: COLLECT, id }, undefined, {}, (err) => {
          if (err && waiting.delete(index) && waiting.size === 0) finish();
        });
      }
      if (waiting.size === 0) finish();
    });
    const up: boolean[] = [];
    const sources: MetricFamily[][] = [];
    for (let i = 0; i < opts.workers; i++) {
      const fresh = answers.get(i);
      up.push(fresh !== undefined);
      if (fresh !== undefined) {
        sources.push(fresh);
        last.set(i, monotonicFamilies(fresh));
      } else {
        const stale = last.get(i);
        if (stale !== undefined) sources.push(stale);
      }
    }
    sources.push(retired);
    if (opts.local) sources.push(opts.local.snapshot());
    return [...mergeFamilies(sources), ...workerFamilies(up)];
  }

  // Scrapes that arrive while a collection runs share it: a burst of scrapes costs one round.
  const gather = () => {
    inFlight ??= collect().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  return {
    gather,
    attach(index, worker) {
      live.set(index, worker);
      worker.on('message', (msg: unknown) => {
        if (!isMessage(msg)) return;
        if (msg.type === SNAPSHOT) {
          const r = round;
          if (r === undefined || msg.id !== r.id || !Array.isArray(msg.families)) return;
          if (!r.waiting.delete(index)) return;
          r.answers.set(index, msg.families as MetricFamily[]);
          if (r.waiting.size === 0) r.finish();
        } else if (msg.type === GATHER) {
          void gather().then((families) => {
            if (worker.isConnected())
              worker.send({ type: GATHERED, id: msg.id, families }, undefined, {}, () => {});
          });
        }
      });
    },
    detach(index) {
      live.delete(index);
      const prev = last.get(index);
      if (prev !== undefined) {
        retired = mergeFamilies([retired, prev]);
        last.delete(index);
      }
      if (round?.waiting.delete(index) && round.waiting.size === 0) round.finish();
    },
  };
}

/** A worker's side: answers the primary's collect requests with this process's registry. */
export function answerMetricsCollection(metrics: MetricsRegistry): void {
  process.on('message', (msg: unknown) => {
    if (!isMessage(msg) || msg.type !== COLLECT || !process.connected) return;
    process.send?.({ type: SNAPSHOT, id: msg.id, families: metrics.snapshot() }, undefined, {}, () => {});
  });
}

/**
 * Worker 0's `/metrics`: the merged metrics of every worker, asked of the primary. If the primary does
 * not answer within its timeout plus a margin, this worker's own values are served, marked as the only
 * worker reporting. Never rejects.
 */
export function createClusterScrape(
  local: MetricsRegistry,
  opts: { readonly index: number; readonly workers: number; readonly timeoutMs?: number },
): () => Promise<string> {
  const timeoutMs = opts.timeoutMs ?? GATHER_TIMEOUT_MS;
  const pending = new Map<number, (families: MetricFamily[] | undefined) => void>();
  process.on('message', (msg: unknown) => {
    if (!isMessage(msg) || msg.type !== GATHERED || !Array.isArray(msg.families)) return;
    pending.get(msg.id)?.(msg.families as MetricFamily[]);
  });
  let seq = 0;
  let inFlight: Promise<string> | undefined;
  const scrape = async (): Promise<string> => {
    const id = ++seq;
    const families = await new Promise<MetricFamily[] | undefined>((resolve) => {
      const done = (f: MetricFamily[] | undefined) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(f);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      pending.set(id, done);
      if (!process.connected || process.send === undefined) return done(undefined);
      process.send({ type: GATHER, id }, undefined, {}, (err) => {
        if (err) done(undefined);
      });
    });
    if (families !== undefined) return renderFamilies(families);
    const up = Array.from({ length: opts.workers }, (_, i) => i === opts.index);
    return renderFamilies([...local.snapshot(), ...workerFamilies(up)]);
  };
  return () => {
    inFlight ??= scrape().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}
