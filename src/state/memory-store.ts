import type { Clock } from './clock.ts';
import {
  type ConsumeRequest,
  type ConsumeResult,
  emptyState,
  evaluate,
  type LimitResult,
  type LimitState,
  StoreCapacityError,
} from './limiter.ts';
import type { StateStore } from './store.ts';

interface Entry {
  value: string;
  expiresAt: number;
}

interface LimiterEntry {
  state: LimitState;
  /** When the state becomes equivalent to an empty one (ms); dropping it after that loses nothing. */
  expiresAt: number;
}

/** Options of the memory store. */
export interface MemoryStoreOptions {
  clock: Clock;
  /** Bound of the key/value part (bans, replay caches); the oldest entries are evicted past it. */
  maxEntries?: number;
  /**
   * Bound of the limiter part. Limiter state is never evicted while live (that would silently reset a limit):
   * when full, expired state is swept (at most once per `sweepIntervalMs`) and, if still full, a decision that
   * needs a new key throws `StoreCapacityError`, which the policy turns into its fail mode.
   */
  maxLimiterKeys?: number;
  sweepIntervalMs?: number;
}

/**
 * In-process store for the embedded default. Bounded: when `maxEntries` is reached, expired entries are
 * swept and then the oldest inserted entries are evicted (Map keeps insertion order). Limiter decisions are
 * exact (single thread, no await between read and write) and bounded by `maxLimiterKeys`.
 */
export function createMemoryStore(opts: MemoryStoreOptions): StateStore & { limiterSize(): number } {
  const { clock } = opts;
  const maxEntries = opts.maxEntries ?? 100_000;
  const maxLimiterKeys = opts.maxLimiterKeys ?? 100_000;
  const sweepIntervalMs = opts.sweepIntervalMs ?? 1000;
  const map = new Map<string, Entry>();
  const limiter = new Map<string, LimiterEntry>();
  let lastSweep = -Infinity;

  function sweepLimiter(nowMs: number): void {
    if (nowMs - lastSweep < sweepIntervalMs) return;
    lastSweep = nowMs;
    for (const [k, e] of limiter) if (e.expiresAt <= nowMs) limiter.delete(k);
  }

  function consume(request: ConsumeRequest): ConsumeResult {
    const { nowMs, limits, leaseId } = request;
    const states: LimitState[] = [];
    let fresh = 0;
    for (const check of limits) {
      const e = limiter.get(check.key);
      if (e === undefined || e.expiresAt <= nowMs) {
        fresh += e === undefined ? 1 : 0;
        states.push(emptyState(check.algorithm, nowMs));
      } else states.push(e.state);
    }
    if (fresh > 0 && limiter.size + fresh > maxLimiterKeys) {
      sweepLimiter(nowMs);
      if (limiter.size + fresh > maxLimiterKeys)
        throw new StoreCapacityError(`memory limiter full (${maxLimiterKeys} live keys)`);
    }
    const evaluations = limits.map((check, i) => evaluate(check, states[i], nowMs, leaseId));
    const allowed = evaluations.every((ev) => ev.result.allowed);
    const results: LimitResult[] = [];
    for (let i = 0; i < limits.length; i++) {
      const ev = evaluations[i];
      results.push(ev.result);
      if (!allowed && !limits[i].countRejected) continue;
      const expiresAt = ev.commit(states[i], !allowed);
      if (expiresAt > nowMs) limiter.set(limits[i].key, { state: states[i], expiresAt });
      else limiter.delete(limits[i].key);
    }
    return { allowed, results };
  }

  function live(key: string): Entry | undefined {
    const e = map.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= clock.now()) {
      map.delete(key);
      return undefined;
    }
    return e;
  }

  function makeRoom(): void {
    if (map.size < maxEntries) return;
    const now = clock.now();
    for (const [k, e] of map) if (e.expiresAt <= now) map.delete(k);
    for (const k of map.keys()) {
      if (map.size < maxEntries) break;
      map.delete(k);
    }
  }

  function put(key: string, value: string, ttlMs: number): void {
    map.delete(key);
    makeRoom();
    map.set(key, { value, expiresAt: clock.now() + ttlMs });
  }

  return {
    kind: 'memory',
    async get(key) {
      return live(key)?.value;
    },
    async set(key, value, ttlMs) {
      put(key, value, ttlMs);
    },
    async setIfAbsent(key, value, ttlMs) {
      if (live(key) !== undefined) return false;
      put(key, value, ttlMs);
      return true;
    },
    async delete(key) {
      map.delete(key);
    },
    async scan(prefix, limit) {
      const now = clock.now();
      const out: Array<{ key: string; value: string; ttlMs: number }> = [];
      for (const [key, e] of map) {
        if (out.length >= limit) break;
        if (key.startsWith(prefix) && e.expiresAt > now)
          out.push({ key, value: e.value, ttlMs: e.expiresAt - now });
      }
      return out;
    },
    consume,
    release(leases) {
      for (const { key, leaseId } of leases) {
        const e = limiter.get(key);
        if (e === undefined) continue;
        const state = e.state as { leases?: Map<string, number> };
        state.leases?.delete(leaseId);
        if (state.leases?.size === 0) limiter.delete(key);
      }
    },
    limiterSize: () => limiter.size,
    async close() {
      map.clear();
      limiter.clear();
    },
  };
}
