import type { LimitAlgorithm, LimitCheck, LimitResult } from '../core/store.ts';

/**
 * Limiter algorithms shared by every state store. The memory store runs these functions directly; the Redis
 * store runs the same arithmetic in one Lua script (`redis-limit-script.ts`), so both backends decide alike.
 *
 * Time is integer microseconds inside the algorithms (`now * 1000`), so GCRA is exact to 1 µs of emission
 * interval without floating-point drift, in JavaScript and in Lua (doubles hold integers up to 2^53 exactly).
 */

export {
  type ConsumeRequest,
  type ConsumeResult,
  type LeaseRef,
  type LimitAlgorithm,
  type LimitCheck,
  type LimitResult,
  StoreCapacityError,
  StoreUnavailableError,
} from '../core/store.ts';

// Per-algorithm state kept by the memory store. Each evaluate function is pure: it reads the state, returns
// the result and a commit function that applies the consumption. A state whose `expiresAtMs` has passed is
// equivalent to no state at all, so dropping it is lossless.

export interface GcraState {
  /** Theoretical arrival time, µs. */
  tatUs: number;
}
export interface CountState {
  count: number;
}
export interface SlidingState {
  /** Sub-window index → units used in it. */
  buckets: Map<number, number>;
}
export interface ConcurrencyState {
  /** Lease id → expiry (ms). */
  leases: Map<string, number>;
}
export type LimitState = GcraState | CountState | SlidingState | ConcurrencyState;

export interface Evaluation {
  readonly result: LimitResult;
  /** Applies the consumption and returns the state's new expiry (ms since epoch). */
  commit(state: LimitState, rejected: boolean): number;
}

/** Emission interval in µs: the time to earn one unit. */
export function emissionIntervalUs(limit: number, windowMs: number): number {
  return Math.max(1, Math.round((windowMs * 1000) / limit));
}

/** Sub-window width in ms (rounded up so that `subWindows` sub-windows always cover the window). */
export function subWindowMs(windowMs: number, subWindows: number): number {
  return Math.ceil(windowMs / subWindows);
}

/** Creates the empty state for an algorithm. */
export function emptyState(algorithm: LimitAlgorithm, nowMs: number): LimitState {
  switch (algorithm) {
    case 'gcra':
      return { tatUs: nowMs * 1000 };
    case 'fixed-window':
      return { count: 0 };
    case 'sliding-window':
      return { buckets: new Map() };
    case 'concurrency':
      return { leases: new Map() };
  }
}

/**
 * GCRA (generic cell rate algorithm): token-bucket semantics with one number of state. A request of cost c is
 * admitted when `max(tat, now) + c·T − τ ≤ now`, where T is the emission interval and τ = T·burst.
 */
export function evaluateGcra(check: LimitCheck, state: GcraState, nowMs: number): Evaluation {
  const now = nowMs * 1000;
  const T = emissionIntervalUs(check.limit, check.windowMs);
  const tau = T * check.burst;
  const tat = Math.max(state.tatUs, now);
  const newTat = tat + check.cost * T;
  const allowAt = newTat - tau;
  const allowed = allowAt <= now;
  const after = allowed ? newTat : tat;
  // Credit left in the bucket, µs: `remaining` is how many whole units it holds; one more unit is earned
  // when the credit reaches (remaining + 1)·T. A full bucket (remaining = burst) earns nothing more.
  const credit = now + tau - after;
  const remaining = Math.max(0, Math.floor(credit / T));
  const result: LimitResult = {
    allowed,
    remaining,
    resetMs: remaining >= check.burst ? 0 : Math.ceil(((remaining + 1) * T - credit) / 1000),
    retryAfterMs: allowed ? 0 : Math.ceil((allowAt - now) / 1000),
  };
  return new GcraEvaluation(result, newTat, now, tau);
}

/** GCRA's evaluation: one object per decision (not an object and a closure with its context). */
class GcraEvaluation implements Evaluation {
  readonly result: LimitResult;
  readonly #newTat: number;
  readonly #now: number;
  readonly #tau: number;

  constructor(result: LimitResult, newTat: number, now: number, tau: number) {
    this.result = result;
    this.#newTat = newTat;
    this.#now = now;
    this.#tau = tau;
  }

  commit(s: LimitState, rejected: boolean): number {
    const g = s as GcraState;
    // A rejected request that still counts keeps draining, capped at one extra bucket so the key expires.
    g.tatUs = rejected ? Math.min(this.#newTat, this.#now + 2 * this.#tau) : this.#newTat;
    return Math.ceil(g.tatUs / 1000);
  }
}

/** Fixed window: one counter per window, named in the key; exact per window. */
export function evaluateFixed(check: LimitCheck, state: CountState, nowMs: number): Evaluation {
  const allowed = state.count + check.cost <= check.limit;
  const used = allowed ? state.count + check.cost : state.count;
  const untilEnd = Math.max(0, check.windowEndMs - nowMs);
  const result: LimitResult = {
    allowed,
    remaining: Math.max(0, check.limit - used),
    resetMs: used === 0 ? 0 : untilEnd,
    retryAfterMs: allowed ? 0 : untilEnd,
  };
  return {
    result,
    commit(s) {
      (s as CountState).count += check.cost;
      return check.windowEndMs;
    },
  };
}

/**
 * Sliding window over `subWindows` sub-windows of width b: it counts the current sub-window and the `subWindows`
 * before it, a span of at least the window and at most window + b. So it never admits more than `limit` in any
 * window-long interval, and a unit comes back between `windowMs` and `windowMs + b` after it was used.
 */
export function evaluateSliding(check: LimitCheck, state: SlidingState, nowMs: number): Evaluation {
  const k = check.subWindows;
  const b = subWindowMs(check.windowMs, k);
  const idx = Math.floor(nowMs / b);
  const oldest = idx - k;
  let count = 0;
  for (const [j, c] of state.buckets) if (j >= oldest) count += c;
  const allowed = count + check.cost <= check.limit;
  const used = allowed ? count + check.cost : count;
  let retryAfterMs = 0;
  if (!allowed) {
    let need = count + check.cost - check.limit;
    for (let j = oldest; j <= idx && need > 0; j++) {
      need -= state.buckets.get(j) ?? 0;
      if (need <= 0) retryAfterMs = (j + k + 1) * b - nowMs;
    }
    if (need > 0) retryAfterMs = (idx + k + 1) * b - nowMs;
  }
  // More quota comes when enough of the oldest counted units leave the window for `remaining` to grow by
  // one: one unit while under the limit; past it (countRejected), everything above the limit and one more.
  const remaining = Math.max(0, check.limit - used);
  let resetMs = 0;
  if (remaining < check.limit) {
    let need = used - (check.limit - remaining - 1);
    for (let j = oldest; j <= idx && need > 0; j++) {
      need -= (state.buckets.get(j) ?? 0) + (allowed && j === idx ? check.cost : 0);
      if (need <= 0) resetMs = (j + k + 1) * b - nowMs;
    }
    if (need > 0) resetMs = (idx + k + 1) * b - nowMs;
  }
  const result: LimitResult = { allowed, remaining, resetMs, retryAfterMs };
  return {
    result,
    commit(s) {
      const buckets = (s as SlidingState).buckets;
      for (const j of buckets.keys()) if (j < oldest) buckets.delete(j);
      buckets.set(idx, (buckets.get(idx) ?? 0) + check.cost);
      return (idx + k + 1) * b;
    },
  };
}

/** Concurrency: live leases per key; each lease expires after `windowMs` in case its release is lost. */
export function evaluateConcurrency(
  check: LimitCheck,
  state: ConcurrencyState,
  nowMs: number,
  leaseId: string,
): Evaluation {
  let live = 0;
  for (const exp of state.leases.values()) if (exp > nowMs) live++;
  const allowed = live + 1 <= check.limit;
  const result: LimitResult = {
    allowed,
    remaining: Math.max(0, check.limit - live - (allowed ? 1 : 0)),
    resetMs: 0,
    retryAfterMs: allowed ? 0 : 1000,
  };
  return {
    result,
    commit(s, rejected) {
      const leases = (s as ConcurrencyState).leases;
      for (const [id, exp] of leases) if (exp <= nowMs) leases.delete(id);
      // A rejected request never runs, so it never holds a slot.
      if (!rejected) leases.set(leaseId, nowMs + check.windowMs);
      let max = nowMs;
      for (const exp of leases.values()) if (exp > max) max = exp;
      return max;
    },
  };
}

/** Evaluates one limit against its state. */
export function evaluate(check: LimitCheck, state: LimitState, nowMs: number, leaseId: string): Evaluation {
  switch (check.algorithm) {
    case 'gcra':
      return evaluateGcra(check, state as GcraState, nowMs);
    case 'fixed-window':
      return evaluateFixed(check, state as CountState, nowMs);
    case 'sliding-window':
      return evaluateSliding(check, state as SlidingState, nowMs);
    case 'concurrency':
      return evaluateConcurrency(check, state as ConcurrencyState, nowMs, leaseId);
  }
}
