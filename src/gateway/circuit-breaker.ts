import type { Clock } from '../core/clock.ts';

/** Where a breaker stands. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * Options of a circuit breaker; every duration in ms. All are required: their defaults are written once,
 * in the config schema (`upstream.circuitBreaker`), and the upstream hands over the filled block.
 */
export interface CircuitBreakerOptions {
  readonly clock: Clock;
  /** Rolling window over which error and slow-call rates are measured. */
  readonly windowMs: number;
  /** Calls needed in the window before the rates can open the circuit. */
  readonly minCalls: number;
  /** Open when failures / calls reaches this (0..1). */
  readonly failureRateThreshold: number;
  /** A call that took at least this long counts as slow. */
  readonly slowCallMs: number;
  /** Open when slow calls / calls reaches this (0..1). */
  readonly slowCallRateThreshold: number;
  /** How long the circuit stays open before letting trial calls through. */
  readonly openMs: number;
  /** Trial calls let through at once when half-open; that many successes close the circuit. */
  readonly halfOpenCalls: number;
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

/** Buckets of the rolling window: its resolution is a tenth of the window. */
const WINDOW_BUCKETS = 10;

interface Bucket {
  index: number;
  calls: number;
  failures: number;
  slow: number;
}

/** Calls, failures and slow calls over a rolling window, in WINDOW_BUCKETS buckets reused in turn. */
class RollingCounts {
  readonly #bucketMs: number;
  readonly #buckets: Bucket[] = Array.from({ length: WINDOW_BUCKETS }, () => ({
    index: -1,
    calls: 0,
    failures: 0,
    slow: 0,
  }));

  constructor(windowMs: number) {
    this.#bucketMs = Math.ceil(windowMs / WINDOW_BUCKETS);
  }

  /** Counts one call that ended at `now`; returns the counts of the window that ends then. */
  add(now: number, failed: boolean, slow: boolean): { calls: number; failures: number; slow: number } {
    const index = Math.floor(now / this.#bucketMs);
    const b = this.#buckets[index % WINDOW_BUCKETS];
    if (b.index !== index) {
      b.index = index;
      b.calls = 0;
      b.failures = 0;
      b.slow = 0;
    }
    b.calls++;
    if (failed) b.failures++;
    if (slow) b.slow++;
    const oldest = index - WINDOW_BUCKETS + 1;
    const total = { calls: 0, failures: 0, slow: 0 };
    for (const c of this.#buckets) {
      if (c.index < oldest) continue;
      total.calls += c.calls;
      total.failures += c.failures;
      total.slow += c.slow;
    }
    return total;
  }

  /** Forgets every call. */
  clear(): void {
    for (const b of this.#buckets) b.index = -1;
  }
}

/**
 * Creates a per-upstream circuit breaker: closed → open when the failure rate or the slow-call rate over a
 * rolling window reaches its threshold (after `minCalls`); open → half-open after `openMs`; half-open lets
 * `halfOpenCalls` trial calls through and closes when all succeed, reopening on the first failure or slow
 * call. Pure: time comes only from the injected clock, so tests drive it exactly.
 *
 * @example
 * const cb = upstreamConfig.circuitBreaker; // the block as loading filled it
 * const breaker = createCircuitBreaker({ clock: systemClock, windowMs: cb.windowSeconds * 1000, ... });
 * const permit = breaker.acquire();
 * if (!permit) return problem(problems.circuitOpen, undefined, { headers: { 'retry-after': '30' } });
 * // ... call the upstream, then:
 * permit.done(status < 500, elapsedMs);
 */
export function createCircuitBreaker(opts: CircuitBreakerOptions): CircuitBreaker {
  const { clock, minCalls, openMs, halfOpenCalls } = opts;
  const counts = new RollingCounts(opts.windowMs);

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
    if (to === 'closed') counts.clear();
    opts.onStateChange?.(from, to, reason);
  }

  function permit(gen: number, trial: boolean): CircuitPermit {
    let used = false;
    return {
      done(ok, durationMs) {
        if (used) return;
        used = true;
        if (gen !== generation) return;
        const isSlow = durationMs >= opts.slowCallMs;
        if (trial) {
          trialsInFlight--;
          if (!ok || isSlow) return moveTo('open', ok ? 'slow_trial_call' : 'failed_trial_call');
          if (++trialSuccesses >= halfOpenCalls) moveTo('closed', 'trial_calls_succeeded');
          return;
        }
        const r = counts.add(clock.now(), !ok, isSlow);
        if (r.calls < minCalls) return;
        if (r.failures / r.calls >= opts.failureRateThreshold) moveTo('open', 'failure_rate');
        else if (r.slow / r.calls >= opts.slowCallRateThreshold) moveTo('open', 'slow_call_rate');
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
