import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
import { PortcullisError } from '../../core/errors.ts';
import { BoundedCache } from '../../shared/bounded-cache.ts';
import { fetchJson, IdentityFetchError } from './fetch-json.ts';
import { weakKeyReason } from './key-strength.ts';

/** One public key from a JWKS, imported once. */
export interface VerificationKey {
  readonly kid: string | undefined;
  readonly kty: string;
  readonly alg: string | undefined;
  readonly key: KeyObject;
}

/** Raised when no key set could ever be loaded (fail closed). */
export class KeySourceUnavailableError extends PortcullisError {
  readonly code = 'ERR_KEY_SOURCE_UNAVAILABLE';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KeySourceUnavailableError';
  }
}

export interface RemoteKeySetOptions {
  /** Resolves the JWKS URL (fixed, or found by discovery on first use). */
  readonly jwksUri: () => Promise<string>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Keys are refetched after this long unless the response's `max-age` says sooner (bounded below by 60 s). */
  readonly cacheMaxAgeSeconds: number;
  /** Minimum time between two refetches caused by an unknown `kid`, and between retries while down. */
  readonly cooldownSeconds: number;
  readonly timeoutMs: number;
}

export interface RemoteKeySet {
  /** Key for a token header; undefined when the set has no such key (after at most one rate-limited refetch). */
  getKey(kid: string | undefined, alg: string): Promise<VerificationKey | undefined>;
  /**
   * The key from the keys already held, synchronously (starting a background refresh when they are due);
   * undefined when `getKey` must be asked (nothing loaded yet, or an unknown kid).
   */
  peekKey(kid: string | undefined, alg: string): VerificationKey | undefined;
  /** Number of keys currently held. */
  readonly size: number;
  /** Registers a listener for `kid`s that left the set after a refresh (to flush tokens they verified). */
  onKeysRemoved(listener: (kids: readonly string[]) => void): void;
}

/** A member of a JWKS that was not imported, and why. */
export interface RefusedKey {
  /** Position in the `keys` array. */
  readonly index: number;
  readonly kid: string | undefined;
  readonly reason: string;
  /**
   * True when the member claims to be a signature key but is unsafe or unusable (weak, private,
   * symmetric, malformed, sharing its `kid` with another key); false for members that are simply not
   * signature keys (`use: enc`, `key_ops` without `verify`).
   */
  readonly unsafe: boolean;
}

/** The keys of a JWKS that may verify signatures, and the members refused. */
export interface ImportedJwks {
  readonly keys: VerificationKey[];
  readonly refused: RefusedKey[];
}

/**
 * Parses a JWKS body into imported public keys. Private, symmetric, weak (key-strength.ts) and
 * malformed members are refused, and so is every key of a `kid` that names two different keys: a token
 * naming that `kid` could not say which one it means (RFC 7517 §4.5).
 */
export function importJwks(body: unknown): ImportedJwks {
  if (body === null || typeof body !== 'object' || !Array.isArray((body as { keys?: unknown }).keys)) {
    throw new IdentityFetchError('JWKS document has no "keys" array');
  }
  const imported: Array<VerificationKey & { index: number }> = [];
  const refused: RefusedKey[] = [];
  const members = (body as { keys: unknown[] }).keys;
  for (let index = 0; index < members.length; index++) {
    const jwk = members[index];
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) {
      refused.push({ index, kid: undefined, reason: 'not a JWK object', unsafe: true });
      continue;
    }
    const k = jwk as Record<string, unknown>;
    const kid = typeof k.kid === 'string' ? k.kid : undefined;
    const reason = refusal(k);
    if (reason !== undefined) {
      refused.push({ index, kid, reason: reason.text, unsafe: reason.unsafe });
      continue;
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: k as import('node:crypto').JsonWebKey, format: 'jwk' });
    } catch {
      refused.push({ index, kid, reason: `malformed ${String(k.kty)} key`, unsafe: true });
      continue;
    }
    const weak = weakKeyReason(key);
    if (weak !== undefined) {
      refused.push({ index, kid, reason: weak, unsafe: true });
      continue;
    }
    imported.push({
      index,
      kid,
      kty: k.kty as string,
      alg: typeof k.alg === 'string' ? k.alg : undefined,
      key,
    });
  }
  // Two different keys under one kid: neither is used. The same key listed twice is kept once.
  const byKid = new Map<string, Array<VerificationKey & { index: number }>>();
  for (const k of imported) {
    if (k.kid === undefined) continue;
    const list = byKid.get(k.kid);
    if (list === undefined) byKid.set(k.kid, [k]);
    else list.push(k);
  }
  const keys: VerificationKey[] = [];
  for (const k of imported) {
    const same = k.kid === undefined ? undefined : byKid.get(k.kid);
    if (same === undefined || same.length === 1) {
      keys.push(withoutIndex(k));
      continue;
    }
    if (same.some((o) => o.kty !== k.kty || o.alg !== k.alg || !o.key.equals(k.key))) {
      refused.push({ index: k.index, kid: k.kid, reason: 'another key has the same kid', unsafe: true });
    } else if (same[0] === k) keys.push(withoutIndex(k));
  }
  refused.sort((a, b) => a.index - b.index);
  return { keys, refused };
}

/** Why a JWK member is not even imported, before its key material is read. */
function refusal(k: Record<string, unknown>): { text: string; unsafe: boolean } | undefined {
  if (typeof k.kty !== 'string') return { text: 'no kty', unsafe: true };
  if (k.kid !== undefined && typeof k.kid !== 'string') return { text: 'kid is not a string', unsafe: true };
  if (k.use !== undefined && k.use !== 'sig') return { text: 'not a signature key (use)', unsafe: false };
  if (Array.isArray(k.key_ops) && !k.key_ops.includes('verify'))
    return { text: 'not a signature key (key_ops)', unsafe: false };
  // A JWKS endpoint must never publish private or symmetric keys; refusing them means a misconfigured
  // provider cannot turn its "public" set into HMAC secrets (RS256 → HS256 confusion).
  if (k.kty === 'oct') return { text: 'symmetric (oct) key', unsafe: true };
  if ('d' in k) return { text: 'private key', unsafe: true };
  if (k.kty !== 'RSA' && k.kty !== 'EC' && k.kty !== 'OKP') return { text: 'unsupported kty', unsafe: false };
  return undefined;
}

function withoutIndex(k: VerificationKey & { index: number }): VerificationKey {
  return { kid: k.kid, kty: k.kty, alg: k.alg, key: k.key };
}

/** Key types that can verify a JWS `alg` (RFC 7518 §3.1). */
export function keyTypeFor(alg: string): string | undefined {
  if (/^(RS|PS)(256|384|512)$/.test(alg)) return 'RSA';
  if (/^ES(256|384|512)$/.test(alg)) return 'EC';
  if (alg === 'EdDSA' || alg === 'Ed25519') return 'OKP';
  return undefined;
}

/** Picks the key for a token: by `kid`, else the only key of the right type. Never from the token itself. */
export function selectKey(
  keys: readonly VerificationKey[],
  kid: string | undefined,
  alg: string,
): VerificationKey | undefined {
  const kty = keyTypeFor(alg);
  const candidates = keys.filter(
    (k) => k.kty === kty && (k.alg === undefined || k.alg === alg) && (kid === undefined || k.kid === kid),
  );
  if (kid !== undefined) return candidates[0];
  return candidates.length === 1 ? candidates[0] : undefined;
}

/**
 * A remote JWKS kept fresh in the background: refreshed ahead of expiry, refetched at most once per
 * cooldown when a token names an unknown `kid` (with a negative cache for such kids), and the last good
 * keys kept while the endpoint is down.
 */
export function createRemoteKeySet(opts: RemoteKeySetOptions): RemoteKeySet {
  return new RemoteJwks(opts);
}

/** Kids known absent are remembered at most this many (they come from tokens). */
const MAX_UNKNOWN_KIDS = 1000;

class RemoteJwks implements RemoteKeySet {
  readonly opts: RemoteKeySetOptions;
  readonly cooldownMs: number;
  keys: VerificationKey[] = [];
  loaded = false;
  freshUntil = 0;
  lastFetchAttempt = Number.NEGATIVE_INFINITY;
  lastError: unknown;
  inflight: Promise<void> | undefined;
  /** Kids known absent, each until its cooldown ends. */
  readonly unknownKids = new BoundedCache<string, true>(MAX_UNKNOWN_KIDS);
  readonly removalListeners = new Set<(kids: readonly string[]) => void>();

  constructor(opts: RemoteKeySetOptions) {
    this.opts = opts;
    this.cooldownMs = opts.cooldownSeconds * 1000;
  }

  get size(): number {
    return this.keys.length;
  }

  onKeysRemoved(listener: (kids: readonly string[]) => void): void {
    this.removalListeners.add(listener);
  }

  peekKey(kid: string | undefined, alg: string): VerificationKey | undefined {
    if (!this.loaded) return undefined;
    this.refreshIfDue(this.opts.clock.now());
    return selectKey(this.keys, kid, alg);
  }

  async getKey(kid: string | undefined, alg: string): Promise<VerificationKey | undefined> {
    const { clock } = this.opts;
    const now = clock.now();
    if (!this.loaded) {
      if (now - this.lastFetchAttempt >= this.cooldownMs || this.inflight !== undefined) await this.refresh();
      if (!this.loaded) {
        throw new KeySourceUnavailableError('no JWKS could be loaded', { cause: this.lastError });
      }
    } else this.refreshIfDue(now);
    const hit = selectKey(this.keys, kid, alg);
    if (hit !== undefined || kid === undefined) return hit;
    if (this.unknownKids.has(kid.slice(0, 256), now)) return undefined;
    if (now - this.lastFetchAttempt >= this.cooldownMs) {
      // One refetch per cooldown for an unknown kid: a new signing key may just have been published.
      await this.refresh();
      const again = selectKey(this.keys, kid, alg);
      if (again !== undefined) return again;
    } else if (this.inflight !== undefined) {
      await this.inflight;
      const again = selectKey(this.keys, kid, alg);
      if (again !== undefined) return again;
    }
    const later = clock.now();
    this.unknownKids.set(kid.slice(0, 256), true, later + this.cooldownMs, later);
    return undefined;
  }

  refreshIfDue(now: number): void {
    const aheadMs = Math.min(60_000, (this.opts.cacheMaxAgeSeconds * 1000) / 10);
    if (now >= this.freshUntil - aheadMs && now - this.lastFetchAttempt >= this.cooldownMs) {
      // Refresh ahead of expiry in the background; requests keep using the current keys meanwhile.
      void this.refresh();
    }
  }

  refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  async load(): Promise<void> {
    const { opts } = this;
    this.lastFetchAttempt = opts.clock.now();
    try {
      const uri = await opts.jwksUri();
      const res = await fetchJson(uri, { timeoutMs: opts.timeoutMs, maxBytes: 512 * 1024 });
      if (res.status !== 200) throw new IdentityFetchError(`JWKS endpoint answered ${res.status}`);
      const { keys: next, refused } = importJwks(res.body);
      for (const r of refused) {
        // A key that fails the checks is never used; the operator hears of it on every fetch that serves it.
        if (r.unsafe)
          opts.logger.warn(
            { jwksUri: uri, kid: r.kid, index: r.index, reason: r.reason },
            'JWKS key refused; tokens it signed are not accepted',
          );
      }
      const maxAge = Math.max(
        60,
        Math.min(res.maxAgeSeconds ?? opts.cacheMaxAgeSeconds, opts.cacheMaxAgeSeconds),
      );
      this.replaceKeys(next, maxAge);
    } catch (err) {
      this.lastError = err;
      // Keep the last good keys; retry after the cooldown rather than on every request.
      opts.logger.warn({ err: (err as Error).message }, 'JWKS refresh failed; keeping the last good keys');
    }
  }

  /** Takes a fetched key set, fresh for `maxAge` seconds; listeners hear of the kids that left. */
  replaceKeys(next: VerificationKey[], maxAge: number): void {
    const removed: string[] = [];
    const nextKids = new Set(next.map((k) => k.kid));
    for (const k of this.keys) if (k.kid !== undefined && !nextKids.has(k.kid)) removed.push(k.kid);
    this.keys = next;
    this.loaded = true;
    this.unknownKids.clear();
    this.freshUntil = this.opts.clock.now() + maxAge * 1000;
    this.lastError = undefined;
    if (removed.length > 0) for (const fn of this.removalListeners) fn(removed);
  }
}
