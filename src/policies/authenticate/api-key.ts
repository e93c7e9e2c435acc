import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { StateStore } from '../../state/store.ts';
import type { ApiKeyConfig } from './schema.ts';

/** A consumer known by API key. */
export interface ApiKeyConsumer {
  readonly name: string;
  readonly roles: ReadonlySet<string>;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** Where the spec's `apiKey` scheme says the key travels. */
export interface ApiKeyLocation {
  readonly in: 'header' | 'query' | 'cookie';
  readonly name: string;
}

const KEY_PREFIX = 'pck_';
const MAX_KEY_BYTES = 512;

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

export interface ApiKeyRegistry {
  /** Consumer holding this key, or undefined. */
  lookup(key: string): ApiKeyConsumer | undefined;
}

/**
 * Indexes consumers by key hash. Lookup hashes the presented key and finds the stored hash; the final
 * equality is checked with `timingSafeEqual`, and a secret is never compared byte by byte.
 */
export function createApiKeyRegistry(cfg: ApiKeyConfig): ApiKeyRegistry {
  const byHash = new Map<string, { digest: Buffer; consumer: ApiKeyConsumer }>();
  const names = new Set<string>();
  cfg.consumers.forEach((c, i) => {
    if (names.has(c.name)) throw new Error(`consumers[${i}].name: consumer ${c.name} is listed twice`);
    names.add(c.name);
    const consumer: ApiKeyConsumer = {
      name: c.name,
      roles: new Set(c.roles ?? []),
      metadata: Object.freeze({ ...(c.metadata ?? {}) }),
    };
    c.keys.forEach((h, j) => {
      const m = /^sha256:([0-9a-f]{64})$/.exec(h);
      if (m === null) throw new Error(`consumers[${i}].keys[${j}]: expected sha256:<64 hex digits>`);
      if (byHash.has(m[1]))
        throw new Error(`consumers[${i}].keys[${j}]: this key is already given to a consumer`);
      byHash.set(m[1], { digest: Buffer.from(m[1], 'hex'), consumer });
    });
  });
  return {
    lookup(key) {
      if (key.length === 0 || key.length > MAX_KEY_BYTES) return undefined;
      const digest = createHash('sha256').update(key).digest();
      const entry = byHash.get(digest.toString('hex'));
      if (entry === undefined || !timingSafeEqual(entry.digest, digest)) return undefined;
      return entry.consumer;
    },
  };
}

/** Reads the key from where the scheme says; undefined when absent. */
export function readApiKey(req: IncomingMessage, rawQuery: string, loc: ApiKeyLocation): string | undefined {
  if (loc.in === 'header') {
    const v = req.headers[loc.name.toLowerCase()];
    return typeof v === 'string' ? v : Array.isArray(v) ? v[0] : undefined;
  }
  if (loc.in === 'query') {
    if (rawQuery === '') return undefined;
    return new URLSearchParams(rawQuery).get(loc.name) ?? undefined;
  }
  const cookie = req.headers.cookie;
  if (cookie === undefined) return undefined;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === loc.name) {
      const v = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(v);
      } catch {
        return v;
      }
    }
  }
  return undefined;
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
