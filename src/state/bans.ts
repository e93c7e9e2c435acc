import { isIP } from 'node:net';
import type { Clock } from '../core/clock.ts';
import { PortcullisError } from '../core/errors.ts';
import { flatString } from './flat-string.ts';
import { StoreUnavailableError } from './limiter.ts';
import type { StateStore } from './store.ts';

/** What a ban applies to: a client address, a consumer, a token subject, or one credential (`credentialHash`). */
export type BanKind = 'ip' | 'consumer' | 'subject' | 'token';
export const BAN_KINDS: readonly BanKind[] = ['ip', 'consumer', 'subject', 'token'];

export interface Ban {
  kind: BanKind;
  value: string;
  reason: string;
  source: 'auto' | 'manual';
  /** Escalation level: 1 for a first offence, n for the n-th within the offence memory. */
  level: number;
  /** Epoch ms. */
  createdAt: number;
  expiresAt: number;
  alertId?: string;
  detector?: string;
}

export interface BanPolicyConfig {
  /** Duration of a first automatic ban. */
  baseSeconds: number;
  /** Each repeat offence multiplies the previous duration by this. */
  multiplier: number;
  /** Longest automatic ban. */
  maxSeconds: number;
  /** How long an offence counts towards escalation. */
  offenceMemorySeconds: number;
}

export const banPolicyDefaults: BanPolicyConfig = {
  baseSeconds: 300,
  multiplier: 4,
  maxSeconds: 86_400,
  offenceMemorySeconds: 7 * 86_400,
};

/** Key prefixes in the state store; the Redis store adds its own prefix in front. */
export const BAN_PREFIX = 'ban:';
const OFFENCE_PREFIX = 'ban-offence:';
const MAX_VALUE_LENGTH = 512;

function banKey(kind: BanKind, value: string): string {
  return `${BAN_PREFIX}${kind}:${value}`;
}

/** A ban-list error with a stable code. */
export class BanError extends PortcullisError {
  readonly code: 'ERR_BAN_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'BanError';
    this.code = 'ERR_BAN_INVALID';
  }
}

/** Longest manual ban: one year. */
const MAX_TTL_SECONDS = 365 * 86_400;
const TOKEN_HASH = /^[0-9a-f]{32}$/;

function check(kind: string, value: string): asserts kind is BanKind {
  if (!BAN_KINDS.includes(kind as BanKind)) throw new BanError(`unknown ban kind ${JSON.stringify(kind)}`);
  if (typeof value !== 'string' || value === '' || value.length > MAX_VALUE_LENGTH)
    throw new BanError('ban value must be 1..512 characters');
  if (kind === 'ip' && isIP(value) === 0) throw new BanError('an ip ban needs an IPv4 or IPv6 address');
  // Tokens are banned by fingerprint only, so a ban list never holds a usable credential.
  if (kind === 'token' && !TOKEN_HASH.test(value))
    throw new BanError('a token ban needs a credentialHash (32 hex)');
}

function parse(raw: string | undefined): Ban | undefined {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as Ban;
  } catch {
    return undefined;
  }
}

/** Bans kept in the shared state store, so every gateway instance on the same Redis enforces them. */
export interface BanList {
  /** Bans for `ttlSeconds` (manual) or for the escalated duration (auto, when `ttlSeconds` is absent). */
  ban(
    kind: BanKind,
    value: string,
    opts: {
      reason: string;
      source: 'auto' | 'manual';
      ttlSeconds?: number;
      alertId?: string;
      detector?: string;
    },
  ): Promise<Ban>;
  /** Lifts a ban; true when there was one. Offence history is kept (a repeat offender still escalates). */
  unban(kind: BanKind, value: string): Promise<boolean>;
  get(kind: BanKind, value: string): Promise<Ban | undefined>;
  /** Live bans, at most `limit` (newest first). */
  list(limit?: number): Promise<Ban[]>;
}

/**
 * Creates the ban list over a state store (memory or Redis).
 *
 * @example
 * const bans = createBanList({ store, clock, policy: banPolicyDefaults });
 * await bans.ban('ip', '203.0.113.7', { reason: 'manual', source: 'manual', ttlSeconds: 600 });
 */
export function createBanList(opts: {
  store: StateStore;
  clock: Clock;
  policy?: Partial<BanPolicyConfig>;
}): BanList {
  const { store, clock } = opts;
  const policy = { ...banPolicyDefaults, ...opts.policy };

  return {
    async ban(kind, value, o) {
      check(kind, value);
      const now = clock.now();
      if (o.ttlSeconds === undefined) {
        // A ban in force is kept as it is: alerts raised during it (several instances seeing one burst, or
        // the tail of the burst itself) are one offence, not repeat offences to escalate.
        const current = parse(await store.get(banKey(kind, value)));
        if (current && current.expiresAt > now) return current;
      }
      const offenceKey = `${OFFENCE_PREFIX}${kind}:${value}`;
      const previous = Number((await store.get(offenceKey)) ?? '0') || 0;
      const level = previous + 1;
      const ttlSeconds =
        o.ttlSeconds ?? Math.min(policy.maxSeconds, policy.baseSeconds * policy.multiplier ** (level - 1));
      if (!(ttlSeconds > 0 && ttlSeconds <= MAX_TTL_SECONDS))
        throw new BanError('ttlSeconds must be 1..31536000');
      const ban: Ban = {
        kind,
        value,
        reason: o.reason,
        source: o.source,
        level,
        createdAt: now,
        expiresAt: now + ttlSeconds * 1000,
        ...(o.alertId ? { alertId: o.alertId } : {}),
        ...(o.detector ? { detector: o.detector } : {}),
      };
      await store.set(banKey(kind, value), JSON.stringify(ban), ttlSeconds * 1000);
      await store.set(offenceKey, String(level), policy.offenceMemorySeconds * 1000);
      return ban;
    },
    async unban(kind, value) {
      check(kind, value);
      const had = (await store.get(banKey(kind, value))) !== undefined;
      await store.delete(banKey(kind, value));
      return had;
    },
    async get(kind, value) {
      const ban = parse(await store.get(banKey(kind, value)));
      return ban && ban.expiresAt > clock.now() ? ban : undefined;
    },
    async list(limit = 1000) {
      const rows = await store.scan(BAN_PREFIX, limit);
      const now = clock.now();
      return rows
        .map((r) => parse(r.value))
        .filter((b): b is Ban => b !== undefined && b.expiresAt > now)
        .sort((a, b) => b.createdAt - a.createdAt);
    },
  };
}

/**
 * The request-path view of the ban list: `find` answers from a small local cache (bounded, entries live
 * `cacheMs`) so most requests never wait for Redis; a ban or unban made on another instance takes effect
 * here within `cacheMs`. A store error is treated as "not banned" (a ban is a reaction, not the gate); an
 * unavailable store is reported by the store, once per outage, and `onError` hears only other failures.
 */
export interface BanChecker {
  find(kind: BanKind, value: string): Ban | undefined | Promise<Ban | undefined>;
}

export function createBanChecker(opts: {
  store: StateStore;
  clock: Clock;
  cacheMs?: number;
  maxEntries?: number;
  onError?: (err: unknown) => void;
}): BanChecker {
  const { store, clock } = opts;
  const cacheMs = opts.cacheMs ?? 1000;
  const maxEntries = opts.maxEntries ?? 10_000;
  // One map per kind, keyed by the value itself: a lookup builds no `ban:kind:value` key (the store key is
  // only made on a miss). Together they hold at most `maxEntries` answers.
  const caches: Readonly<Record<BanKind, Map<string, { ban: Ban | undefined; until: number }>>> = {
    ip: new Map(),
    consumer: new Map(),
    subject: new Map(),
    token: new Map(),
  };
  const cachedCount = () => caches.ip.size + caches.consumer.size + caches.subject.size + caches.token.size;

  async function load(kind: BanKind, value: string, now: number): Promise<Ban | undefined> {
    let ban: Ban | undefined;
    try {
      ban = parse(await store.get(banKey(kind, value)));
    } catch (err) {
      // A store that does not answer reports it once per outage itself (see `availability.ts`); a line per
      // request here was a flood, named after whichever route compiled the shared checker first.
      if (!(err instanceof StoreUnavailableError)) opts.onError?.(err);
      return undefined;
    }
    if (cacheMs > 0) {
      const cache = caches[kind];
      if (!cache.has(value) && cachedCount() >= maxEntries) {
        // The oldest answer of this kind goes first, else the oldest of another kind.
        const from =
          cache.size > 0 ? cache : (BAN_KINDS.map((k) => caches[k]).find((m) => m.size > 0) ?? cache);
        from.delete(from.keys().next().value as string);
      }
      cache.set(flatString(value), { ban, until: now + cacheMs });
    }
    return ban && ban.expiresAt > now ? ban : undefined;
  }

  return {
    find(kind, value) {
      const cache = caches[kind];
      const now = clock.now();
      const hit = cache.get(value);
      if (hit !== undefined) {
        if (hit.until > now) return hit.ban && hit.ban.expiresAt > now ? hit.ban : undefined;
        cache.delete(value);
      }
      return load(kind, value, now);
    },
  };
}
