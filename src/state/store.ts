import type { ConsumeRequest, ConsumeResult, LeaseRef } from './limiter.ts';

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
