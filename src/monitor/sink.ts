import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../core/clock.ts';
import type { EventSink, SecurityEvent } from '../core/events.ts';
import type { EventStore, StoredEvent } from './stores/event-store.ts';

/** Receives every emitted event synchronously; must be cheap and must not keep the event beyond its needs. */
export type EventSubscriber = (event: SecurityEvent) => void;

export interface SinkOptions {
  /** Where batches go; `undefined` keeps nothing (subscribers still see every event). */
  store: EventStore | undefined;
  /** Events buffered while waiting for the store; past this the oldest are dropped and counted. */
  queueSize: number;
  /** Events that trigger a write; under a backlog one write takes up to 4 × batchSize. */
  batchSize: number;
  /** Longest time an event waits before a write is started. */
  flushIntervalMs: number;
  logger: Logger;
  /**
   * First retry delay after a failed write (default 100 ms); doubles up to `retryMaxMs` (default
   * {@link RETRY_MAX_MS}). The retry is the probe: while the store is down, the failed batch stays
   * buffered and is tried again at least every `retryMaxMs` (±25%), so writes resume within a second of
   * the store answering again (issue 14), and a failing write never runs beside another.
   */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Times the retries (default the system clock); a test may move it by hand. */
  clock?: Clock;
  /** How long `close()` keeps trying to write what is buffered before counting it as dropped. */
  closeTimeoutMs?: number;
  /** At most one "events dropped" log line per this interval (the count is never lost, only summed). */
  dropLogIntervalMs?: number;
  /** Told of every drop and every successful write (for metrics counters). */
  onDrop?: (events: number) => void;
  onWrite?: (events: number) => void;
}

/** Counters of the sink, for metrics and the admin API (with no store, only `emitted` moves). */
export interface SinkStats {
  emitted: number;
  written: number;
  dropped: number;
  /** Events in memory now: queued plus the batch being written or retried. */
  buffered: number;
  writeErrors: number;
  /** False while the last write failed and a retry is pending. */
  storeHealthy: boolean;
}

/** The monitor's event sink: `emit` is O(1), never blocks, never throws. */
export interface MonitorSink extends EventSink {
  /** Adds a subscriber; returns its removal function. */
  subscribe(fn: EventSubscriber): () => void;
  stats(): SinkStats;
  /** Writes what is buffered now; resolves when the queue is empty or a write failed. */
  flush(): Promise<void>;
  /** Stops accepting events, drains to the store (bounded by `closeTimeoutMs`), counts the rest as dropped. */
  close(): Promise<void>;
}

/**
 * Longest wait between two tries of a failed write. Low on purpose: a store that is down refuses a try
 * at once (one failed connection), and a slow one is never tried twice at a time, so trying often costs
 * little, whereas a long backoff kept dropping events for up to 10 s after PostgreSQL was back.
 */
export const RETRY_MAX_MS = 500;

/** The fields every event has (the stores keep them in NOT NULL columns). */
const REQUIRED_FIELDS = ['@timestamp', 'event.kind', 'event.category', 'event.type', 'event.action'] as const;

function wellFormed(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const r = e as Record<string, unknown>;
  for (const field of REQUIRED_FIELDS) if (typeof r[field] !== 'string') return false;
  return true;
}

/**
 * Creates the bounded, batched sink between the request path and the event store.
 *
 * ```
 *  emit ──▶ ring buffer (queueSize, oldest dropped+counted when full) ──▶ batch (batchSize) ──▶ store.write
 *    └──▶ subscribers (detectors, live feed)              failed batch kept and retried with backoff ◀──┘
 * ```
 * Every event ends up exactly once in `written` or `dropped` (or is still `buffered`), so
 * `emitted == written + dropped + buffered` holds at all times.
 *
 * @example
 * const sink = createEventSink({ store, queueSize: 10_000, batchSize: 500, flushIntervalMs: 1000, logger });
 * sink.emit({ '@timestamp': new Date().toISOString(), 'event.kind': 'event', ... });
 */
export function createEventSink(opts: SinkOptions): MonitorSink {
  const { store, logger } = opts;
  const capacity = Math.max(1, Math.trunc(opts.queueSize));
  const batchSize = Math.max(1, Math.trunc(opts.batchSize));
  const retryInitialMs = opts.retryInitialMs ?? 100;
  const retryMaxMs = opts.retryMaxMs ?? RETRY_MAX_MS;
  const clock = opts.clock ?? systemClock;
  const closeTimeoutMs = opts.closeTimeoutMs ?? 5000;
  const dropLogIntervalMs = opts.dropLogIntervalMs ?? 10_000;
  const idPrefix = randomBytes(6).toString('base64url') + '-';

  // Ring buffer: `count` events starting at `head`, wrapping at `capacity`.
  const ring: Array<StoredEvent | undefined> = new Array(capacity);
  let head = 0;
  let count = 0;
  let pending: StoredEvent[] | undefined; // the batch being written or waiting for a retry
  let seq = 0;
  let subscribers: EventSubscriber[] = [];

  let emitted = 0;
  let written = 0;
  let dropped = 0;
  let writeErrors = 0;
  let healthy = true;
  let retryDelay = retryInitialMs;
  let droppedSinceLog = 0;
  let subscriberErrors = 0;
  let lastSubscriberLog = Number.NEGATIVE_INFINITY;
  let malformed = 0;
  let lastMalformedLog = Number.NEGATIVE_INFINITY;
  let lastDropLog = Number.NEGATIVE_INFINITY;
  let writing: Promise<void> | undefined;
  let wakeTimer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let closed = false;

  const interval = store ? setInterval(kick, Math.max(1, opts.flushIntervalMs)) : undefined;
  interval?.unref();

  function noteDrop(n: number): void {
    dropped += n;
    opts.onDrop?.(n);
    droppedSinceLog += n;
    const now = Date.now();
    if (now - lastDropLog >= dropLogIntervalMs) logDrops(now);
  }

  function logDrops(now: number): void {
    if (droppedSinceLog === 0) return;
    logger.warn(
      { droppedEvents: droppedSinceLog, droppedTotal: dropped, buffered: count + (pending?.length ?? 0) },
      'event sink dropped events: store too slow or unavailable',
    );
    droppedSinceLog = 0;
    lastDropLog = now;
  }

  function take(): StoredEvent[] {
    // Under a backlog a write takes up to 4 batches at once: one round trip per batch would cap the
    // rate at one batch per event-loop turn when the store answers asynchronously (worker, PostgreSQL).
    const n = Math.min(count >= 2 * batchSize ? 4 * batchSize : batchSize, count);
    const batch = new Array<StoredEvent>(n);
    for (let i = 0; i < n; i++) {
      batch[i] = ring[head]!;
      ring[head] = undefined;
      head = (head + 1) % capacity;
    }
    count -= n;
    return batch;
  }

  /** Starts a write unless one is running or a retry is scheduled. */
  function kick(): void {
    if (!store || writing !== undefined || wakeTimer !== undefined) return;
    if (pending === undefined) {
      if (count === 0) return;
      pending = take();
    }
    writing = writeOnce(pending);
  }

  /**
   * Tries the pending batch again once `delay` ms have passed on the clock, looking at it at least every
   * 100 ms (a clock moved by hand is noticed, and the timers stay few).
   */
  function retryAfter(delay: number): void {
    const failedAt = clock.now();
    const due = failedAt + delay;
    const wake = () => {
      wakeTimer = setTimeout(
        () => {
          const now = clock.now();
          // A clock that went back (a wall-clock step) does not hold the retry up either.
          if (now < due && now >= failedAt) return wake();
          wakeTimer = undefined;
          kick();
        },
        Math.min(Math.max(1, due - clock.now()), 100),
      );
      wakeTimer.unref();
    };
    wake();
  }

  async function writeOnce(batch: StoredEvent[]): Promise<void> {
    try {
      await store!.write(batch);
      written += batch.length;
      pending = undefined;
      opts.onWrite?.(batch.length);
      if (!healthy) logger.info({ writeErrors }, 'event store reachable again');
      healthy = true;
      retryDelay = retryInitialMs;
    } catch (err) {
      writeErrors++;
      if (healthy)
        logger.error({ err, batch: batch.length }, 'event store write failed; buffering and retrying');
      healthy = false;
      const delay = retryDelay * (0.75 + Math.random() * 0.5);
      retryDelay = Math.min(retryMaxMs, retryDelay * 2);
      if (!closed) retryAfter(delay);
    } finally {
      writing = undefined;
    }
    if (healthy && count >= batchSize && !closed) kick();
  }

  return {
    emit(event: SecurityEvent): void {
      emitted++;
      if (!wellFormed(event)) {
        // A caller's bug, counted rather than thrown, and never queued: a store would refuse the event
        // (NOT NULL columns) and retry its batch forever.
        malformed++;
        const now = Date.now();
        if (now - lastMalformedLog >= dropLogIntervalMs) {
          logger.error({ malformed }, `event dropped: it lacks one of ${REQUIRED_FIELDS.join(', ')}`);
          lastMalformedLog = now;
        }
        noteDrop(1);
        return;
      }
      const e = event as StoredEvent;
      if (e['event.id'] === undefined) e['event.id'] = idPrefix + (seq++).toString(36);
      for (let i = 0; i < subscribers.length; i++) {
        try {
          subscribers[i](e);
        } catch (err) {
          subscriberErrors++;
          // One line per interval at most: a subscriber failing on every event must not flood the log.
          const now = Date.now();
          if (now - lastSubscriberLog >= dropLogIntervalMs) {
            logger.error({ err, subscriberErrors }, 'event subscriber failed');
            lastSubscriberLog = now;
          }
        }
      }
      if (!store) return;
      if (closed) {
        noteDrop(1);
        return;
      }
      if (count === capacity) {
        // Full: the oldest event makes room for the newest.
        ring[head] = e;
        head = (head + 1) % capacity;
        noteDrop(1);
      } else {
        ring[(head + count) % capacity] = e;
        count++;
      }
      if (count >= batchSize && healthy && writing === undefined && immediate === undefined) {
        immediate = setImmediate(() => {
          immediate = undefined;
          kick();
        });
      }
    },
    subscribe(fn) {
      subscribers = [...subscribers, fn];
      return () => {
        subscribers = subscribers.filter((s) => s !== fn);
      };
    },
    stats() {
      return {
        emitted,
        written,
        dropped,
        buffered: count + (pending?.length ?? 0),
        writeErrors,
        storeHealthy: healthy,
      };
    },
    async flush() {
      if (!store) return;
      if (writing) await writing;
      for (;;) {
        if (wakeTimer !== undefined) {
          clearTimeout(wakeTimer);
          wakeTimer = undefined;
        }
        if (pending === undefined && count === 0) return;
        kick();
        await writing;
        if (!healthy) return;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      if (interval) clearInterval(interval);
      if (immediate) clearImmediate(immediate);
      const deadline = Date.now() + closeTimeoutMs;
      if (store) {
        if (writing) await writing;
        while ((pending !== undefined || count > 0) && Date.now() < deadline) {
          if (wakeTimer !== undefined) {
            clearTimeout(wakeTimer);
            wakeTimer = undefined;
          }
          kick();
          await writing;
          if (!healthy) {
            const wait = Math.min(retryDelay, Math.max(0, deadline - Date.now()));
            await new Promise((r) => setTimeout(r, wait));
          }
        }
        if (wakeTimer !== undefined) clearTimeout(wakeTimer);
        const lost = count + (pending?.length ?? 0);
        if (lost > 0) {
          pending = undefined;
          ring.fill(undefined);
          count = 0;
          noteDrop(lost);
        }
      }
      logDrops(Date.now());
      logger.info({ emitted, written, dropped }, 'event sink closed');
      await store?.close();
    },
  };
}
