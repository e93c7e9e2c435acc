import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type ApiKeyConsumer, MAX_KEY_BYTES } from '../../state/api-keys.ts';
import { consumerOf } from './credential.ts';
import type { ApiKeyConfig } from './schema.ts';

/** Where the spec's `apiKey` scheme says the key travels. */
export interface ApiKeyLocation {
  readonly in: 'header' | 'query' | 'cookie';
  readonly name: string;
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
    const consumer: ApiKeyConsumer = consumerOf(c);
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

export {
  type ApiKeyConsumer,
  createApiKey,
  createRuntimeApiKeys,
  hashApiKey,
  runtimeKeyName,
} from '../../state/api-keys.ts';
