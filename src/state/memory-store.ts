import type { Clock } from '../core/clock.ts';
import { flatString } from './flat-string.ts';
import {
  type ConcurrencyState,
  type ConsumeRequest,
  type ConsumeResult,
  type CountState,
  type Evaluation,
  emptyState,
  evaluate,
  type GcraState,
  type LimitAlgorithm,
  type LimitResult,
  type LimitState,
  type SlidingState,
  StoreCapacityError,
} from './limiter.ts';
import type { StateStore } from './store.ts';

interface Entry {
  value: string;
  expiresAt: number;
}

// Algorithm of a limiter slot.
const GCRA = 1;
const FIXED = 2;
const SLIDING = 3;
const CONCURRENCY = 4;
const KIND: Readonly<Record<LimitAlgorithm, number>> = {
  gcra: GCRA,
  'fixed-window': FIXED,
  'sliding-window': SLIDING,
  concurrency: CONCURRENCY,
};

/**
 * Limiter state, packed (issue 14 item 7): one Map from key to a slot number, and per slot its algorithm, its
 * expiry and one number (GCRA's theoretical arrival time in µs, a fixed window's count) in typed arrays. A
 * sliding window keeps its sub-window counts as one flat array of numbers `[index, units, index, units...]`;
 * a concurrency limit keeps its lease map (live only while requests are in flight). The `evaluate` functions
 * of `limiter.ts` run on a state object made from the slot for the decision, written back after it. Keys are
 * stored as flat strings (see `flatString`). About 180 bytes a GCRA key instead of 320; see bench/state-memory.ts.
 */
class LimiterTable {
  readonly #slots = new Map<string, number>();
  #kind = new Uint8Array(64);
  #expiresAt = new Float64Array(64);
  #number = new Float64Array(64);
  readonly #other: Array<number[] | ConcurrencyState | undefined> = [];
  readonly #free: number[] = [];

  get size(): number {
    return this.#slots.size;
  }

  /** The slot of a key whose state is live at `nowMs` and of this algorithm, or -1. */
  find(key: string, algorithm: LimitAlgorithm, nowMs: number): number {
    const slot = this.#slots.get(key);
    if (slot === undefined || this.#expiresAt[slot] <= nowMs || this.#kind[slot] !== KIND[algorithm])
      return -1;
    return slot;
  }

  has(key: string): boolean {
    return this.#slots.has(key);
  }

  /** A state object for `evaluate`, made from a live slot. */
  load(slot: number): LimitState {
    switch (this.#kind[slot]) {
      case GCRA:
        return { tatUs: this.#number[slot] };
      case FIXED:
        return { count: this.#number[slot] };
      case SLIDING: {
        const flat = this.#other[slot] as number[];
        const buckets = new Map<number, number>();
        for (let i = 0; i < flat.length; i += 2) buckets.set(flat[i], flat[i + 1]);
        return { buckets };
      }
      default:
        return this.#other[slot] as ConcurrencyState;
    }
  }

  /** Writes a key's state after a decision; a state that has expired by `nowMs` is dropped instead. */
  save(key: string, algorithm: LimitAlgorithm, state: LimitState, expiresAt: number, nowMs: number): void {
    let slot = this.#slots.get(key);
    if (expiresAt <= nowMs) {
      if (slot !== undefined) this.#drop(key, slot);
      return;
    }
    if (slot === undefined) {
      slot = this.#allocate();
      this.#slots.set(flatString(key), slot);
    }
    const kind = KIND[algorithm];
    this.#kind[slot] = kind;
    this.#expiresAt[slot] = expiresAt;
    if (kind === GCRA) this.#number[slot] = (state as GcraState).tatUs;
    else if (kind === FIXED) this.#number[slot] = (state as CountState).count;
    else if (kind === SLIDING) {
      const buckets = (state as SlidingState).buckets;
      // Exactly as long as needed: an array grown by push reserves room for 17 numbers.
      const flat = new Array<number>(buckets.size * 2);
      let i = 0;
      for (const [index, units] of buckets) {
        flat[i++] = index;
        flat[i++] = units;
      }
      this.#other[slot] = flat;
    } else this.#other[slot] = state as ConcurrencyState;
  }

  /** Gives back one lease of a concurrency key; the key goes when its last lease does. */
  release(key: string, leaseId: string): void {
    const slot = this.#slots.get(key);
    if (slot === undefined || this.#kind[slot] !== CONCURRENCY) return;
    const leases = (this.#other[slot] as ConcurrencyState).leases;
    leases.delete(leaseId);
    if (leases.size === 0) this.#drop(key, slot);
  }

  /** Drops every key whose state has expired by `nowMs` (equivalent to no state: nothing is lost). */
  sweep(nowMs: number): void {
    for (const [key, slot] of this.#slots) if (this.#expiresAt[slot] <= nowMs) this.#drop(key, slot);
  }

  clear(): void {
    this.#slots.clear();
    this.#other.length = 0;
    this.#free.length = 0;
    this.#kind = new Uint8Array(64);
    this.#expiresAt = new Float64Array(64);
    this.#number = new Float64Array(64);
  }

  #drop(key: string, slot: number): void {
    this.#slots.delete(key);
    this.#kind[slot] = 0;
    this.#other[slot] = undefined;
    this.#free.push(slot);
  }

  #allocate(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    const slot = this.#slots.size;
    if (slot === this.#kind.length) {
      // Grows by half (not double) so that a full table wastes at most a third of its arrays.
      const size = Math.ceil(slot * 1.5);
      const grow = <T extends Uint8Array | Float64Array>(old: T, make: (n: number) => T): T => {
        const next = make(size);
        next.set(old);
        return next;
      };
      this.#kind = grow(this.#kind, (n) => new Uint8Array(n));
      this.#expiresAt = grow(this.#expiresAt, (n) => new Float64Array(n));
      this.#number = grow(this.#number, (n) => new Float64Array(n));
    }
    return slot;
  }
}

/** Options of the memory store. */
export interface MemoryStoreOptions {
  clock: Clock;
  /**
   * Bound of the key/value part (bans, replay caches; the oldest entries are evicted past it), and of the
   * limiter part unless `maxLimiterKeys` is given. Default 100 000.
   */
  maxEntries?: number;
  /**
   * Bound of the limiter part. Limiter state is never evicted while live (that would silently reset a limit):
   * when full, expired state is swept (at most once per `sweepIntervalMs`) and, if still full, a decision that
   * needs a new key throws `StoreCapacityError`, which the policy turns into its fail mode. Default
   * `maxEntries`.
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
  // `state.maxEntries` bounds both parts unless the limiter has its own bound (docs/limits.md: memory).
  const maxLimiterKeys = opts.maxLimiterKeys ?? maxEntries;
  const sweepIntervalMs = opts.sweepIntervalMs ?? 1000;
  const map = new Map<string, Entry>();
  const limiter = new LimiterTable();
  let lastSweep = -Infinity;

  function sweepLimiter(nowMs: number): void {
    if (nowMs - lastSweep < sweepIntervalMs) return;
    lastSweep = nowMs;
    limiter.sweep(nowMs);
  }

  function consume(request: ConsumeRequest): ConsumeResult {
    const { nowMs, limits, leaseId } = request;
    const n = limits.length;
    // Arrays of their final length: one grown by push reserves room for 17 entries.
    const states = new Array<LimitState>(n);
    let fresh = 0;
    for (let i = 0; i < n; i++) {
      const check = limits[i];
      const slot = limiter.find(check.key, check.algorithm, nowMs);
      if (slot === -1) {
        if (!limiter.has(check.key)) fresh++;
        states[i] = emptyState(check.algorithm, nowMs);
      } else states[i] = limiter.load(slot);
    }
    if (fresh > 0 && limiter.size + fresh > maxLimiterKeys) {
      sweepLimiter(nowMs);
      if (limiter.size + fresh > maxLimiterKeys)
        throw new StoreCapacityError(`memory limiter full (${maxLimiterKeys} live keys)`);
    }
    const evaluations = new Array<Evaluation>(n);
    let allowed = true;
    for (let i = 0; i < n; i++) {
      const ev = evaluate(limits[i], states[i], nowMs, leaseId);
      evaluations[i] = ev;
      if (!ev.result.allowed) allowed = false;
    }
    const results = new Array<LimitResult>(n);
    for (let i = 0; i < n; i++) {
      const ev = evaluations[i];
      results[i] = ev.result;
      if (!allowed && !limits[i].countRejected) continue;
      const expiresAt = ev.commit(states[i], !allowed);
      limiter.save(limits[i].key, limits[i].algorithm, states[i], expiresAt, nowMs);
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
    // A flat key: bans and replay caches build theirs from parts (`ban:ip:…`), see `flatString`.
    map.set(flatString(key), { value, expiresAt: clock.now() + ttlMs });
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
      for (const { key, leaseId } of leases) limiter.release(key, leaseId);
    },
    limiterSize: () => limiter.size,
    async close() {
      map.clear();
      limiter.clear();
    },
  };
}
