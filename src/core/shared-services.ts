import type { SharedServices } from './policy.ts';

/** The per-snapshot registry of shared services, with `close` for when the snapshot is retired. */
export interface ClosableSharedServices extends SharedServices {
  close(): Promise<void>;
}

/**
 * Creates the registry one config snapshot gives its policies: `get` creates a service once per key,
 * `close` runs every registered closer (all of them, even when one fails).
 */
export function createSharedServices(): ClosableSharedServices {
  const items = new Map<string, unknown>();
  const closers: Array<() => void | Promise<void>> = [];
  return {
    get<T>(key: string, create: () => T): T {
      if (!items.has(key)) items.set(key, create());
      return items.get(key) as T;
    },
    onClose(fn) {
      closers.push(fn);
    },
    async close() {
      await Promise.allSettled(closers.map((fn) => fn()));
    },
  };
}
