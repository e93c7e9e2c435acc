/**
 * The one bounded cache of the code base: a Map capped in entries, for anything keyed by client input
 * (verified tokens, introspection answers, address matches, credential fingerprints, DNS answers, detector
 * state). Each entry may carry an expiry; reads never return an expired entry.
 *
 * When full, the oldest entry goes first: oldest inserted, or, with `refreshOnRead`, least recently used to
 * within half the capacity (an entry moves to the young end on a read only once it has aged past half the
 * map, so a hot key costs one lookup). Expired entries are swept when the cache is full, at most once per
 * half-capacity of insertions, so a flood of new keys costs O(1) per insertion, amortised.
 *
 * Why our own and not lru-cache: the callers need insertion-order eviction with per-entry expiry on an
 * injected clock, a lazy LRU whose hit path is one Map lookup, and a stored form of the key (a flat string,
 * see `flatString`); that is a few dozen lines on a Map.
 */
export interface BoundedCacheOptions<K> {
  /** Least recently used first out, instead of oldest inserted. */
  readonly refreshOnRead?: boolean;
  /** The form a key is stored in (e.g. a flat copy of a string built from parts). */
  readonly storedKey?: (key: K) => K;
}

interface Slot<V> {
  value: V;
  /** Expiry in ms, or 0 for never: a small integer, so an entry that never expires boxes no number. */
  expiresAt: number;
  /** Insertion (or refresh) number, for the lazy recency of `refreshOnRead`. */
  stamp: number;
}

export class BoundedCache<K, V> {
  readonly #map = new Map<K, Slot<V>>();
  readonly #max: number;
  readonly #refresh: boolean;
  readonly #storedKey: ((key: K) => K) | undefined;
  #ops = 0;
  #sweptAt = Number.NEGATIVE_INFINITY;
  /** Entries evicted to respect the cap, since creation (expired ones swept are not counted). */
  evicted = 0;

  /** A cap of 0 or less keeps nothing. */
  constructor(maxEntries: number, opts: BoundedCacheOptions<K> = {}) {
    this.#max = Math.max(0, Math.floor(maxEntries));
    this.#refresh = opts.refreshOnRead === true;
    this.#storedKey = opts.storedKey;
  }

  get size(): number {
    return this.#map.size;
  }

  get maxEntries(): number {
    return this.#max;
  }

  /** The value, unless absent or expired at `nowMs` (an expired entry is removed). */
  get(key: K, nowMs = 0): V | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    if (slot.expiresAt !== 0 && slot.expiresAt <= nowMs) {
      this.#map.delete(key);
      return undefined;
    }
    if (this.#refresh) this.#touch(key, slot);
    return slot.value;
  }

  has(key: K, nowMs = 0): boolean {
    return this.get(key, nowMs) !== undefined;
  }

  /** Stores a value until `expiresAtMs` (never, by default); one already expired at `nowMs` is not kept. */
  set(key: K, value: V, expiresAtMs = Number.POSITIVE_INFINITY, nowMs = 0): void {
    if (this.#max === 0 || expiresAtMs <= nowMs) return;
    const expiresAt = expiresAtMs === Number.POSITIVE_INFINITY ? 0 : expiresAtMs;
    const old = this.#map.get(key);
    if (old !== undefined) {
      old.value = value;
      old.expiresAt = expiresAt;
      if (this.#refresh) this.#touch(key, old);
      return;
    }
    this.#makeRoom(nowMs);
    this.#map.set(this.#stored(key), { value, expiresAt, stamp: ++this.#ops });
  }

  /** The value of a live entry, or `make()`'s, stored without expiry. */
  getOrSet(key: K, make: () => V): V {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    const value = make();
    this.set(key, value);
    return value;
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  /** Removes every entry whose value matches; returns how many went. */
  deleteWhere(match: (value: V) => boolean): number {
    let n = 0;
    for (const [k, slot] of this.#map) {
      if (match(slot.value)) {
        this.#map.delete(k);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.#map.clear();
  }

  /** Values, oldest first (expired ones included until they are read or swept). */
  *values(): IterableIterator<V> {
    for (const slot of this.#map.values()) yield slot.value;
  }

  #stored(key: K): K {
    return this.#storedKey === undefined ? key : this.#storedKey(key);
  }

  #touch(key: K, slot: Slot<V>): void {
    const ops = ++this.#ops;
    if (ops - slot.stamp <= this.#max >> 1) return;
    this.#map.delete(key);
    this.#map.set(this.#stored(key), slot);
    slot.stamp = ops;
  }

  #makeRoom(nowMs: number): void {
    if (this.#map.size < this.#max) return;
    if (this.#ops - this.#sweptAt >= this.#max >> 1) {
      this.#sweptAt = this.#ops;
      for (const [k, slot] of this.#map)
        if (slot.expiresAt !== 0 && slot.expiresAt <= nowMs) this.#map.delete(k);
    }
    for (const k of this.#map.keys()) {
      if (this.#map.size < this.#max) break;
      this.#map.delete(k);
      this.evicted++;
    }
  }
}
