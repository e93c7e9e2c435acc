/**
 * The state store as the policy contract names it: the interface, the limit requests it decides and the
 * errors it throws. The implementations (memory, Redis) and the limiter arithmetic live in state/.
 */
import { PortcullisError } from './errors.ts';

/** Which algorithm a limit uses. */
export type LimitAlgorithm = 'gcra' | 'sliding-window' | 'fixed-window' | 'concurrency';

/** One limit to check as part of a decision; built by the policy at compile time except for `key`. */
export interface LimitCheck {
  /** State key (without the store's own prefix); never raw client input. */
  readonly key: string;
  readonly algorithm: LimitAlgorithm;
  /** Units allowed per window (GCRA: per `windowMs` sustained; concurrency: requests in flight). */
  readonly limit: number;
  /**
   * GCRA: time to earn `limit` units; sliding window: the window; fixed window: window length (the window
   * itself is named in `key` and ends at `windowEndMs`); concurrency: lease time to live.
   */
  readonly windowMs: number;
  /** GCRA bucket capacity in units (defaults to `limit`). Ignored by the others. */
  readonly burst: number;
  /** Fixed window: absolute end of the current window (ms since epoch). */
  readonly windowEndMs: number;
  /** Sliding window: number of sub-windows (precision). */
  readonly subWindows: number;
  /** Units this request uses (concurrency always uses 1). */
  readonly cost: number;
  /** Consume even when the decision as a whole is rejected. */
  readonly countRejected: boolean;
}

/** What one limit says about one request. */
export interface LimitResult {
  /** This limit alone would admit the request. */
  readonly allowed: boolean;
  /** Units left after this decision (0 when exhausted). */
  readonly remaining: number;
  /**
   * Milliseconds until more quota becomes available, i.e. until `remaining` grows by at least one unit (the
   * `t` of draft-ietf-httpapi-ratelimit-headers-10): for GCRA the next emission interval, not the time until
   * the bucket is full; for a sliding window when the oldest counted unit leaves it; for a fixed window
   * its end. 0 when the quota is already whole.
   */
  readonly resetMs: number;
  /** When this limit rejects: milliseconds until a request of the same cost could pass; else 0. */
  readonly retryAfterMs: number;
}

/** Input of one decision: all limits must pass, or none consumes (unless `countRejected`). */
export interface ConsumeRequest {
  /** Gateway clock time of the decision (ms since epoch). */
  readonly nowMs: number;
  readonly limits: readonly LimitCheck[];
  /** Identifies the leases taken by concurrency limits; pass the same value to `release`. */
  readonly leaseId: string;
}

export interface ConsumeResult {
  readonly allowed: boolean;
  /** One result per limit, in request order. */
  readonly results: readonly LimitResult[];
}

/** A concurrency lease to give back when the request completes. */
export interface LeaseRef {
  readonly key: string;
  readonly leaseId: string;
}

/** The store could not be reached; the policy applies its `failMode`. */
export class StoreUnavailableError extends PortcullisError {
  readonly code = 'ERR_STORE_UNAVAILABLE';
  /**
   * `disconnected`: no connection (fails at once); `timeout`: no answer in time (the store may be slow rather
   * than gone, and may still apply the decision); `error`: anything else; `outage`: the store is in its
   * outage state and was not asked (fails at once, see `availability.ts`).
   */
  readonly reason: 'disconnected' | 'timeout' | 'error' | 'outage';
  constructor(
    message: string,
    reason: 'disconnected' | 'timeout' | 'error' | 'outage',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreUnavailableError';
    this.reason = reason;
  }
}

/**
 * The memory limiter is full of live state and will not evict any of it (that would silently reset
 * somebody's limit); the policy applies its `failMode`.
 */
export class StoreCapacityError extends PortcullisError {
  readonly code = 'ERR_STORE_CAPACITY';
  constructor(message: string) {
    super(message);
    this.name = 'StoreCapacityError';
  }
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Shared state for policies that must agree across requests and gateway instances: rate-limit counters,
 * bans, DPoP `jti` replay cache, introspection cache. Two implementations: memory (embedded default,
 * exact, bounded) and Redis (several instances).
 */
export interface StateStore {
  readonly kind: 'memory' | 'redis';
  /** Gets a value, or undefined when absent or expired. */
  get(key: string): Promise<string | undefined>;
  /** Sets a value with a time to live in milliseconds. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Sets a value only when the key is absent; true when it was set (replay caches). */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Lists live keys under a prefix (bounded by `limit`). */
  scan(prefix: string, limit: number): Promise<Array<{ key: string; value: string; ttlMs: number }>>;
  /**
   * Decides several limits at once, atomically: either all pass and all consume, or none consumes (except
   * limits with `countRejected`). Memory answers synchronously; Redis in one round trip. Throws
   * `StoreUnavailableError` or `StoreCapacityError` (see `limiter.ts`) when it cannot decide.
   */
  consume(request: ConsumeRequest): ConsumeResult | Promise<ConsumeResult>;
  /** Gives back concurrency leases taken by `consume`; never throws. */
  release(leases: readonly LeaseRef[]): void | Promise<void>;
  close(): Promise<void>;
}
