/**
 * `serve --workers N`: one watch loop for all workers. Workers 1..N-1 run no monitor of their own; their
 * events travel in batches over the cluster's IPC channels, through the primary, to worker 0, whose
 * monitor (event store, detectors, bans, alerts, discovery, dashboard) then sees every request, as with
 * one process. Without this, each worker's detectors would see 1/N of an attack.
 *
 * ```
 * worker k ──batch──▶ primary ──▶ worker 0: monitor.events.emit(each event)
 * ```
 * Every hop is bounded; what cannot be relayed is counted (`onDrop`), never queued without end.
 */
import type { Worker } from 'node:cluster';
import type { EventSink, SecurityEvent } from '../monitor/events.ts';

const KIND = 'portcullis:events';

interface EventBatch {
  readonly kind: typeof KIND;
  readonly events: SecurityEvent[];
}

function isEventBatch(m: unknown): m is EventBatch {
  return (
    typeof m === 'object' &&
    m !== null &&
    (m as EventBatch).kind === KIND &&
    Array.isArray((m as EventBatch).events)
  );
}

export interface EventRelayOptions {
  /** Events per message (default 256). */
  readonly batch?: number;
  /** Longest wait before a partial batch is sent (default 50 ms). */
  readonly flushMs?: number;
  /** Messages sent but not yet handed to the channel; past this, events are dropped (default 64). */
  readonly maxPending?: number;
  /** Told of every event that could not be relayed. */
  readonly onDrop: (events: number) => void;
}

/** In a worker other than 0: the event sink that forwards to worker 0's monitor. */
export function createEventRelay(opts: EventRelayOptions): EventSink & { close(): void } {
  const batchSize = opts.batch ?? 256;
  const flushMs = opts.flushMs ?? 50;
  const maxPending = opts.maxPending ?? 64;
  let buffer: SecurityEvent[] = [];
  let pending = 0;
  let timer: NodeJS.Timeout | undefined;

  function flush(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (buffer.length === 0) return;
    const events = buffer;
    buffer = [];
    if (pending >= maxPending) {
      opts.onDrop(events.length);
      return;
    }
    pending++;
    let settled = false;
    const done = (err: Error | null) => {
      if (settled) return;
      settled = true;
      pending--;
      if (err) opts.onDrop(events.length);
    };
    if (process.send === undefined || !process.connected) {
      done(new Error('IPC channel closed'));
      return;
    }
    try {
      // `done` reports the outcome, also when the message waits in the channel's backlog.
      process.send({ kind: KIND, events } satisfies EventBatch, undefined, {}, done);
    } catch (err) {
      done(err as Error);
    }
  }

  return {
    emit(event) {
      buffer.push(event);
      if (buffer.length >= batchSize) flush();
      else if (timer === undefined) {
        timer = setTimeout(flush, flushMs);
        timer.unref();
      }
    },
    close: flush,
  };
}

/** In the primary: hands every batch a worker sends to worker 0 (as it is now: it may have been restarted). */
export function relayToFirstWorker(
  from: Worker,
  first: () => Worker | undefined,
  onDrop: (events: number) => void,
): void {
  from.on('message', (m: unknown) => {
    if (!isEventBatch(m)) return;
    const target = first();
    if (target === undefined || target === from || !target.isConnected()) {
      onDrop(m.events.length);
      return;
    }
    target.send(m, undefined, (err: Error | null) => {
      if (err) onDrop(m.events.length);
    });
  });
}

/** In worker 0: emits every relayed event into this worker's monitor. */
export function receiveRelayedEvents(sink: EventSink): void {
  process.on('message', (m: unknown) => {
    if (isEventBatch(m)) for (const e of m.events) sink.emit(e);
  });
}
