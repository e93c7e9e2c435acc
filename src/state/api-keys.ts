/**
 * API keys: how a key is made and hashed, and the keys managed at runtime (admin API, CLI), kept in the
 * state store by hash so every gateway instance sharing the store sees them. The authenticate policy and
 * the admin API both use this module.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { StateStore } from './store.ts';

/** A consumer known by API key. */
export interface ApiKeyConsumer {
  readonly name: string;
  readonly roles: ReadonlySet<string>;
  readonly metadata: Readonly<Record<string, unknown>>;
}

const KEY_PREFIX = 'pck_';
/** Longest key read; a longer one is no key of ours. */
export const MAX_KEY_BYTES = 512;

/**
 * Creates a new random API key and the hash to put in config. The key is shown once and never stored.
 *
 * @example
 * const { key, hash } = createApiKey(); // key: pck_..., hash: sha256:<64 hex>
 */
export function createApiKey(): { key: string; hash: string } {
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, hash: hashApiKey(key) };
}

/** The config form of a key: `sha256:` and the hex SHA-256 of the key. */
export function hashApiKey(key: string): string {
  return 'sha256:' + createHash('sha256').update(key).digest('hex');
}

/** Longest life of a runtime key without an explicit TTL (the store needs one). */
const RUNTIME_KEY_MAX_SECONDS = 10 * 365 * 24 * 3600;

/** Store key of a runtime API key: per API, by the hex SHA-256 of the key (the key itself is never stored). */
export function runtimeKeyName(apiName: string, hashHex: string): string {
  return `apikey:${apiName}:${hashHex}`;
}

/**
 * API keys managed at runtime (admin API, CLI) in the state store, so every gateway instance sharing
 * the store sees them. Only hashes are stored; the key is shown once by `createApiKey`.
 *
 * @example
 * const keys = createRuntimeApiKeys(store, 'shop');
 * const { key, hash } = createApiKey();
 * await keys.register({ name: 'partner-a', roles: ['partner'] }, hash, 90 * 86400);
 */
export function createRuntimeApiKeys(store: StateStore, apiName: string) {
  const hexOf = (hash: string) => {
    const m = /^sha256:([0-9a-f]{64})$/.exec(hash);
    if (m === null) throw new Error('expected sha256:<64 hex digits>');
    return m[1];
  };
  return {
    async register(
      consumer: { name: string; roles?: string[]; metadata?: Record<string, unknown> },
      hash: string,
      ttlSeconds = RUNTIME_KEY_MAX_SECONDS,
    ): Promise<void> {
      const value = JSON.stringify({
        name: consumer.name,
        roles: consumer.roles ?? [],
        metadata: consumer.metadata ?? {},
      });
      await store.set(
        runtimeKeyName(apiName, hexOf(hash)),
        value,
        Math.min(ttlSeconds, RUNTIME_KEY_MAX_SECONDS) * 1000,
      );
    },
    async revoke(hash: string): Promise<void> {
      await store.delete(runtimeKeyName(apiName, hexOf(hash)));
    },
    /** Live runtime keys: consumer name, the first 8 hex digits of the hash, remaining life. */
    async list(limit = 1000): Promise<Array<{ consumer: string; hashPrefix: string; ttlMs: number }>> {
      const prefix = runtimeKeyName(apiName, '');
      const rows = await store.scan(prefix, limit);
      return rows.map((r) => ({
        consumer: String((parseConsumer(r.value) ?? { name: '?' }).name),
        hashPrefix: r.key.slice(prefix.length, prefix.length + 8),
        ttlMs: r.ttlMs,
      }));
    },
    /** Consumer of a presented key, from the store. */
    async lookup(key: string): Promise<ApiKeyConsumer | undefined> {
      if (key.length === 0 || key.length > MAX_KEY_BYTES) return undefined;
      const hex = createHash('sha256').update(key).digest('hex');
      const raw = await store.get(runtimeKeyName(apiName, hex));
      return raw === undefined ? undefined : parseConsumer(raw);
    },
  };
}

function parseConsumer(raw: string): ApiKeyConsumer | undefined {
  try {
    const v = JSON.parse(raw) as { name?: unknown; roles?: unknown; metadata?: unknown };
    if (typeof v.name !== 'string') return undefined;
    return {
      name: v.name,
      roles: new Set(Array.isArray(v.roles) ? v.roles.filter((r): r is string => typeof r === 'string') : []),
      metadata: Object.freeze(v.metadata !== null && typeof v.metadata === 'object' ? { ...v.metadata } : {}),
    };
  } catch {
    return undefined;
  }
}
