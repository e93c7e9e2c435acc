import type { Clock } from './clock.ts';
import type { StateStore } from './store.ts';

interface Entry {
  value: string;
  expiresAt: number;
}

/**
 * In-process store for the embedded default. Bounded: when `maxEntries` is reached, expired entries are
 * swept and then the oldest inserted entries are evicted (Map keeps insertion order).
 */
export function createMemoryStore(opts: { clock: Clock; maxEntries?: number }): StateStore {
  const { clock } = opts;
  const maxEntries = opts.maxEntries ?? 100_000;
  const map = new Map<string, Entry>();

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
    async close() {
      map.clear();
    },
  };
}
