/** Why a slot was not given. */
export type RefusalReason = 'queue_full' | 'queue_timeout';

/**
 * A counting semaphore with a bounded FIFO wait queue and a bounded wait: self-protection for one process.
 * `acquire` answers synchronously when a slot is free or the queue is full, so the fast path allocates nothing.
 */
export interface Semaphore {
  readonly inFlight: number;
  readonly queued: number;
  /** `true` (slot taken), a refusal, or a promise of either after waiting in the queue. */
  acquire(): true | RefusalReason | Promise<true | RefusalReason>;
  release(): void;
}

interface Waiter {
  resolve(v: true | RefusalReason): void;
  timer: ReturnType<typeof setTimeout>;
  settled: boolean;
}

/** Creates a semaphore of `maxInFlight` slots, with up to `maxQueued` callers waiting at most `maxWaitMs`. */
export function createSemaphore(opts: {
  maxInFlight: number;
  maxQueued: number;
  maxWaitMs: number;
}): Semaphore {
  let inFlight = 0;
  // A plain array used as a queue: shift() is O(n) but n ≤ maxQueued, which config bounds.
  const queue: Waiter[] = [];
  return {
    get inFlight() {
      return inFlight;
    },
    get queued() {
      return queue.length;
    },
    acquire() {
      if (inFlight < opts.maxInFlight && queue.length === 0) {
        inFlight++;
        return true;
      }
      if (queue.length >= opts.maxQueued || opts.maxWaitMs === 0) return 'queue_full';
      return new Promise<true | RefusalReason>((resolve) => {
        const w: Waiter = {
          resolve,
          settled: false,
          timer: setTimeout(() => {
            w.settled = true;
            queue.splice(queue.indexOf(w), 1);
            resolve('queue_timeout');
          }, opts.maxWaitMs),
        };
        queue.push(w);
      });
    },
    release() {
      const next = queue.shift();
      if (next === undefined) {
        inFlight = Math.max(0, inFlight - 1);
        return;
      }
      // The slot passes straight to the next waiter: inFlight is unchanged.
      clearTimeout(next.timer);
      next.settled = true;
      next.resolve(true);
    },
  };
}
