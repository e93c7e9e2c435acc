import type { Clock } from '../core/clock.ts';

/** Where a breaker stands. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** Options of a circuit breaker; every duration in ms. */
export interface CircuitBreakerOptions {
  readonly clock: Clock;
  /** Rolling window over which error and slow-call rates are measured. */
  readonly windowMs?: number;
  /** Buckets of the rolling window (its resolution). */
  readonly buckets?: number;
  /** Calls needed in the window before the rates can open the circuit. */
  readonly minCalls?: number;
  /** Open when failures / calls reaches this (0..1). */
  readonly failureRateThreshold?: number;
  /** A call that took at least this long counts as slow. */
  readonly slowCallMs?: number;
  /** Open when slow calls / calls reaches this (0..1). */
  readonly slowCallRateThreshold?: number;
  /** How long the circuit stays open before letting trial calls through. */
  readonly openMs?: number;
  /** Trial calls let through at once when half-open; that many successes close the circuit. */
  readonly halfOpenCalls?: number;
  /** Told about every state change (for events and metrics). */
  readonly onStateChange?: (from: CircuitState, to: CircuitState, reason: string) => void;
}

/** Permission to make one call; report how it went exactly once. */
export interface CircuitPermit {
  /** `ok`: the upstream answered acceptably (the caller decides: typically no 5xx, no connect error). */
  done(ok: boolean, durationMs: number): void;
}

export interface CircuitBreaker {
  readonly state: CircuitState;
  /** A permit for one call, or undefined while the circuit refuses calls (answer 503 with `retryAfterMs`). */
  acquire(): CircuitPermit | undefined;
  /** Milliseconds until the circuit will let a trial call through (0 when it lets calls through now). */
  retryAfterMs(): number;
}

interface Bucket {
  index: number;
  calls: number;
  failures: number;
  slow: number;
}

/**
 * Creates a per-upstream circuit breaker: closed → open when the failure rate or the slow-call rate over a
 * rolling window reaches its threshold (after `minCalls`); open → half-open after `openMs`; half-open lets
 * `halfOpenCalls` trial calls through and closes when all succeed, reopening on the first failure or slow
 * call. Pure: time comes only from the injected clock, so tests drive it exactly.
 *
 * @example
 * const breaker = createCircuitBreaker({ clock: systemClock, failureRateThreshold: 0.5 });
 * const permit = breaker.acquire();
 * if (!permit) return problem(problems.circuitOpen, undefined, { headers: { 'retry-after': '30' } });
 * // ... call the upstream, then:
 * permit.done(status < 500, elapsedMs);
 */
export function createCircuitBreaker(opts: CircuitBreakerOptions): CircuitBreaker {
  const clock = opts.clock;
  const windowMs = opts.windowMs ?? 10_000;
  const nBuckets = opts.buckets ?? 10;
  const bucketMs = Math.ceil(windowMs / nBuckets);
  const minCalls = opts.minCalls ?? 20;
  const failureRate = opts.failureRateThreshold ?? 0.5;
  const slowMs = opts.slowCallMs ?? Number.POSITIVE_INFINITY;
  const slowRate = opts.slowCallRateThreshold ?? 1;
  const openMs = opts.openMs ?? 30_000;
  const halfOpenCalls = opts.halfOpenCalls ?? 3;
  const buckets: Bucket[] = Array.from({ length: nBuckets }, () => ({
    index: -1,
    calls: 0,
    failures: 0,
    slow: 0,
  }));

  let state: CircuitState = 'closed';
  let openedAt = 0;
  /** Bumped on every transition, so that late results of calls admitted in an earlier state are ignored. */
  let generation = 0;
  let trialsInFlight = 0;
  let trialSuccesses = 0;

  function moveTo(to: CircuitState, reason: string): void {
    const from = state;
    state = to;
    generation++;
    trialsInFlight = 0;
    trialSuccesses = 0;
    if (to === 'open') openedAt = clock.now();
    if (to === 'closed') for (const b of buckets) b.index = -1;
    opts.onStateChange?.(from, to, reason);
  }

  function bucketAt(now: number): Bucket {
    const index = Math.floor(now / bucketMs);
    const b = buckets[index % nBuckets];
    if (b.index !== index) {
      b.index = index;
      b.calls = 0;
      b.failures = 0;
      b.slow = 0;
    }
    return b;
  }

  function rates(now: number): { calls: number; failures: number; slow: number } {
    const oldest = Math.floor(now / bucketMs) - nBuckets + 1;
    let calls = 0;
    let failures = 0;
    let slow = 0;
    for (const b of buckets) {
      if (b.index < oldest) continue;
      calls += b.calls;
      failures += b.failures;
      slow += b.slow;
    }
    return { calls, failures, slow };
  }

  function permit(gen: number, trial: boolean): CircuitPermit {
    let used = false;
    return {
      done(ok, durationMs) {
        if (used) return;
        used = true;
        if (gen !== generation) return;
        const isSlow = durationMs >= slowMs;
        if (trial) {
          trialsInFlight--;
          if (!ok || isSlow) return moveTo('open', ok ? 'slow_trial_call' : 'failed_trial_call');
          if (++trialSuccesses >= halfOpenCalls) moveTo('closed', 'trial_calls_succeeded');
          return;
        }
        const now = clock.now();
        const b = bucketAt(now);
        b.calls++;
        if (!ok) b.failures++;
        if (isSlow) b.slow++;
        const r = rates(now);
        if (r.calls < minCalls) return;
        if (r.failures / r.calls >= failureRate) moveTo('open', 'failure_rate');
        else if (r.slow / r.calls >= slowRate) moveTo('open', 'slow_call_rate');
      },
    };
  }

  return {
    get state() {
      if (state === 'open' && clock.now() - openedAt >= openMs) return 'half-open';
      return state;
    },
    acquire() {
      if (state === 'open') {
        if (clock.now() - openedAt < openMs) return undefined;
        moveTo('half-open', 'open_timeout');
      }
      if (state === 'half-open') {
        if (trialsInFlight + trialSuccesses >= halfOpenCalls) return undefined;
        trialsInFlight++;
        return permit(generation, true);
      }
      return permit(generation, false);
    },
    retryAfterMs() {
      if (state === 'open') return Math.max(0, openedAt + openMs - clock.now());
      if (state === 'half-open' && trialsInFlight + trialSuccesses >= halfOpenCalls) return 1000;
      return 0;
    },
  };
}
