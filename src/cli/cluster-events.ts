/**
 * `serve --workers N`: one watch loop for all workers. Workers 1..N-1 run no monitor of their own; their
 * events travel in batches over the cluster's IPC channels, through the primary, to worker 0, whose
 * monitor (event store, detectors, bans, alerts, discovery, dashboard) then sees every request, as with
 * one process. Without this, each worker's detectors would see 1/N of an attack.
 *
 * ```
 * worker k ──batch──▶ primary: feed (bounded queue) ──batch (≤ 8 unacknowledged)──▶ worker 0: monitor
 *                            ◀──────────────────────────── ack ─────────────────────┘
 * ```
 * Worker 0 is restarted when it dies, and a new one takes seconds to start. The primary outlives it, so
 * the feed there holds the batches until the new worker 0 says it is ready (it then receives them in
 * order, at the pace of its acknowledgements), up to {@link RELAY_BUFFER_MAX_EVENTS} events and
 * {@link RELAY_BUFFER_MAX_BYTES} bytes; past either bound the oldest batches make room and are counted.
 * A batch sent to a worker 0 that exits before acknowledging it is counted too (issue 14: a third of the
 * events relayed during a restart used to vanish uncounted). Every relayed event thus ends up delivered,
 * dropped and counted, or still buffered.
 */
import type { Worker } from 'node:cluster';
import type { EventSink, SecurityEvent } from '../core/events.ts';

/** Events the primary holds for worker 0 (while it restarts or catches up) before it drops the oldest. */
export const RELAY_BUFFER_MAX_EVENTS = 50_000;
/** Bytes (of JSON) the primary holds for worker 0 before it drops the oldest batches. */
export const RELAY_BUFFER_MAX_BYTES = 32 * 1024 * 1024;
/** Batches sent to worker 0 and not yet acknowledged: a new worker 0 is fed at its own pace. */
const MAX_UNACKNOWLEDGED = 8;

const BATCH = 'portcullis:events';
const READY = 'portcullis:events:ready';
const ACK = 'portcullis:events:ack';

/**
 * A batch of events. They travel as one JSON string: the primary, which only passes batches on, reads
 * their size without parsing the events, and never builds their objects.
 */
interface EventBatch {
  readonly kind: typeof BATCH;
  readonly count: number;
  readonly json: string;
  /** Set by the primary for worker 0, which acknowledges it. */
  readonly id?: number;
}

function isEventBatch(m: unknown): m is EventBatch {
  return (
    typeof m === 'object' &&
    m !== null &&
    (m as EventBatch).kind === BATCH &&
    typeof (m as EventBatch).count === 'number' &&
    typeof (m as EventBatch).json === 'string'
  );
}

function isSignal(m: unknown, kind: typeof READY | typeof ACK): m is { kind: string; id?: number } {
  return typeof m === 'object' && m !== null && (m as { kind?: unknown }).kind === kind;
}

/** Why relayed events were dropped (the `reason` label of `portcullis_events_relay_dropped_total`). */
export type RelayDropReason =
  /** A worker's channel to the primary was closed or too far behind (worker side). */
  | 'channel'
  /** The primary's buffer for worker 0 was full: the oldest batches made room (primary side). */
  | 'buffer-full'
  /** Worker 0 exited after the batch was sent and before it acknowledged it (primary side). */
  | 'first-worker-exited';

export interface EventRelayOptions {
  /** Events per message (default 256). */
  readonly batch?: number;
  /** Longest wait before a partial batch is sent (default 50 ms). */
  readonly flushMs?: number;
  /** Messages sent but not yet handed to the channel; past this, events are dropped (default 64). */
  readonly maxPending?: number;
  /** Told of every event that could not be handed to the primary. */
  readonly onDrop: (events: number) => void;
  /** Told of every event handed to the primary. */
  readonly onSent?: (events: number) => void;
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
      else opts.onSent?.(events.length);
    };
    if (process.send === undefined || !process.connected) {
      done(new Error('IPC channel closed'));
      return;
    }
    try {
      const batch: EventBatch = { kind: BATCH, count: events.length, json: JSON.stringify(events) };
      // `done` reports the outcome, also when the message waits in the channel's backlog.
      process.send(batch, undefined, {}, done);
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

export interface FirstWorkerFeedOptions {
  /** Default {@link RELAY_BUFFER_MAX_EVENTS}. */
  readonly maxEvents?: number;
  /** Default {@link RELAY_BUFFER_MAX_BYTES}. */
  readonly maxBytes?: number;
  /** Told of every event dropped here, with the reason. */
  readonly onDrop: (events: number, reason: Exclude<RelayDropReason, 'channel'>) => void;
  /** Told of every event worker 0 acknowledged (handed to its monitor). */
  readonly onDeliver?: (events: number) => void;
}

/** The primary's side: holds the other workers' batches for worker 0 and hands them over in order. */
export interface FirstWorkerFeed {
  /** A (new) worker 0 was forked; it is fed once it reports ready, and forgotten when it exits. */
  setFirst(worker: Worker): void;
  /** Worker `from` (not 0) relays its events through this feed. */
  relayFrom(from: Worker): void;
  /** Events waiting in the primary, and their bytes. */
  buffered(): { events: number; bytes: number };
}

interface Queued {
  readonly batch: EventBatch;
  readonly bytes: number;
}

/** Creates the primary's feed for worker 0; bounded by events and bytes, every drop counted. */
export function createFirstWorkerFeed(opts: FirstWorkerFeedOptions): FirstWorkerFeed {
  const maxEvents = opts.maxEvents ?? RELAY_BUFFER_MAX_EVENTS;
  const maxBytes = opts.maxBytes ?? RELAY_BUFFER_MAX_BYTES;
  // A FIFO read from `head`; compacted when half of it has been read.
  let queue: Queued[] = [];
  let head = 0;
  let events = 0;
  let bytes = 0;
  let first: Worker | undefined;
  let ready = false;
  const unacknowledged = new Map<number, number>();
  let seq = 0;

  function shift(): Queued {
    const q = queue[head]!;
    queue[head++] = undefined as unknown as Queued;
    if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    events -= q.batch.count;
    bytes -= q.bytes;
    return q;
  }

  function settle(id: number, delivered: boolean): void {
    const count = unacknowledged.get(id);
    if (count === undefined) return;
    unacknowledged.delete(id);
    if (delivered) opts.onDeliver?.(count);
    else opts.onDrop(count, 'first-worker-exited');
  }

  function pump(): void {
    const target = first;
    while (ready && target !== undefined && head < queue.length && unacknowledged.size < MAX_UNACKNOWLEDGED) {
      if (!target.isConnected()) return;
      const { batch } = shift();
      const id = ++seq;
      unacknowledged.set(id, batch.count);
      target.send(
        { kind: BATCH, count: batch.count, json: batch.json, id } satisfies EventBatch,
        undefined,
        {},
        (err) => {
          if (err) settle(id, false);
        },
      );
    }
  }

  function enqueue(batch: EventBatch): void {
    const size = Buffer.byteLength(batch.json);
    if (batch.count > maxEvents || size > maxBytes) {
      opts.onDrop(batch.count, 'buffer-full');
      return;
    }
    while (events + batch.count > maxEvents || bytes + size > maxBytes) {
      opts.onDrop(shift().batch.count, 'buffer-full');
    }
    queue.push({ batch, bytes: size });
    events += batch.count;
    bytes += size;
    pump();
  }

  return {
    setFirst(worker) {
      first = worker;
      ready = false;
      worker.on('message', (m: unknown) => {
        if (first !== worker) return;
        if (isSignal(m, ACK) && typeof m.id === 'number') {
          settle(m.id, true);
          pump();
        } else if (isSignal(m, READY)) {
          ready = true;
          pump();
        }
      });
      worker.once('exit', () => {
        if (first !== worker) return;
        first = undefined;
        ready = false;
        // What it had not acknowledged may have been read or not: it is gone with the process.
        for (const id of [...unacknowledged.keys()]) settle(id, false);
      });
    },
    relayFrom(from) {
      from.on('message', (m: unknown) => {
        if (isEventBatch(m) && from !== first) enqueue({ kind: BATCH, count: m.count, json: m.json });
      });
    },
    buffered: () => ({ events, bytes }),
  };
}

/**
 * In worker 0, once it serves: emits every relayed event into this worker's monitor, acknowledges each
 * batch, and tells the primary it is ready for the batches held while it started.
 */
export function receiveRelayedEvents(sink: EventSink): void {
  process.on('message', (m: unknown) => {
    if (!isEventBatch(m)) return;
    let events: SecurityEvent[] = [];
    try {
      events = JSON.parse(m.json) as SecurityEvent[];
    } catch {
      // Written by JSON.stringify in a worker of the same build: cannot happen.
    }
    for (const e of events) sink.emit(e);
    if (m.id !== undefined && process.connected)
      process.send?.({ kind: ACK, id: m.id }, undefined, {}, () => {});
  });
  if (process.connected) process.send?.({ kind: READY }, undefined, {}, () => {});
}
