/**
 * A map bounded in entries and by per-entry expiry, for caches keyed by client input (verified tokens,
 * introspection answers). When full, expired entries are swept, then the oldest inserted ones evicted.
 */
export interface BoundedCache<V> {
  get(key: string, nowMs: number): V | undefined;
  set(key: string, value: V, expiresAtMs: number, nowMs: number): void;
  delete(key: string): void;
  /** Removes every entry whose value matches. */
  deleteWhere(match: (value: V) => boolean): number;
  clear(): void;
  readonly size: number;
}

export function createBoundedCache<V>(maxEntries: number): BoundedCache<V> {
  const map = new Map<string, { value: V; expiresAt: number }>();
  return {
    get(key, nowMs) {
      const e = map.get(key);
      if (e === undefined) return undefined;
      if (e.expiresAt <= nowMs) {
        map.delete(key);
        return undefined;
      }
      return e.value;
    },
    set(key, value, expiresAtMs, nowMs) {
      if (maxEntries <= 0 || expiresAtMs <= nowMs) return;
      map.delete(key);
      if (map.size >= maxEntries) {
        for (const [k, e] of map) if (e.expiresAt <= nowMs) map.delete(k);
        for (const k of map.keys()) {
          if (map.size < maxEntries) break;
          map.delete(k);
        }
      }
      map.set(key, { value, expiresAt: expiresAtMs });
    },
    delete(key) {
      map.delete(key);
    },
    deleteWhere(match) {
      let n = 0;
      for (const [k, e] of map) {
        if (match(e.value)) {
          map.delete(k);
          n++;
        }
      }
      return n;
    },
    clear() {
      map.clear();
    },
    get size() {
      return map.size;
    },
  };
}
