import { hash, randomUUID } from 'node:crypto';
import type { ApiDocument, JsonObject, Operation } from '../../core/api-document.ts';
import type { Exchange } from '../../core/exchange.ts';
import {
  type CompileContext,
  PolicyConfigError,
  type PolicyDefinition,
  type PolicyHandler,
  type Stage,
} from '../../core/policy.ts';
import { withDefaults } from '../../core/policy-config.ts';
import { type Problem, problem, problems } from '../../core/problems.ts';
import { BoundedCache } from '../../shared/bounded-cache.ts';
import { flatString } from '../../state/flat-string.ts';
import {
  type ConsumeResult,
  type LeaseRef,
  type LimitAlgorithm,
  type LimitCheck,
  StoreCapacityError,
  StoreUnavailableError,
} from '../../state/limiter.ts';
import { createMemoryStore } from '../../state/memory-store.ts';
import type { StateStore } from '../../state/store.ts';
import { denialEvent } from '../denial-events.ts';
import { createLimitMetrics, LIMIT_METRICS_KEY, type LimitMetrics } from '../limit-metrics.ts';
import { appendListField, policyItem, sfBytes, sfString } from './headers.ts';
import { compileKey, keyPartKind, PRE_AUTH_KEY_PARTS } from './keys.ts';
import { type LimitConfig, limitSchema, type RateLimitConfig, rateLimitSchema } from './schema.ts';

const DAY_MS = 86_400_000;

/** A limit with its defaults applied and its key compiled. */
interface CompiledLimit {
  readonly name: string;
  readonly kind: LimitConfig['algorithm'];
  readonly algorithm: LimitAlgorithm;
  readonly code: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly burst: number;
  readonly subWindows: number;
  readonly cost: number;
  readonly countRejected: boolean;
  readonly period: 'day' | 'month';
  /** Index of this limit's key function in the policy's list of distinct keys. */
  readonly keyIndex: number;
  /** `RateLimit-Policy` item (undefined for monthly quotas, whose window length varies). */
  readonly policyItem: string | undefined;
  /** The name as a structured-field String, for the `RateLimit` item. */
  readonly quoted: string;
}

/** Health of the store as seen by the limit policies of one config snapshot. */
interface StoreHealth {
  degraded: boolean;
  /** Timeouts in a row. */
  timeouts: number;
  /** While degraded, the store is retried no sooner than this (ms), so an outage costs no time per request. */
  retryAt: number;
}

const RETRY_STORE_AFTER_MS = 1000;

/** A partition key's SHA-256 (hex, for events), its store form and the `pk` parameter derived from it. */
interface KeyHash {
  readonly hex: string;
  /**
   * The first 128 bits as base64url (22 characters) for store keys: a limiter key of the in-memory store costs
   * about 40 bytes less than with the 64 hex characters (issue 14 item 7), and 128 bits keep partitions apart.
   */
  readonly store: string;
  /** First 8 bytes of the hash as a structured-field Byte Sequence: names the partition, reveals nothing. */
  readonly pk: string;
}

/** Hashes kept per config snapshot (bounded: the keys come from client input). */
const HASH_CACHE_ENTRIES = 10_000;

function fail(path: string, message: string): never {
  throw new PolicyConfigError(path, message);
}

/** A `key` or `fallbackKey` as a list of parts; `ipRateLimit` may only use parts known before authentication. */
function asKeyList(v: string | readonly string[], path: string, preAuthOnly: boolean): string[] {
  const list = typeof v === 'string' ? [v] : [...v];
  list.forEach((s, i) => {
    if (preAuthOnly && !PRE_AUTH_KEY_PARTS.has(keyPartKind(s)))
      fail(
        typeof v === 'string' ? path : `${path}[${i}]`,
        `${s} is not known before authentication; use it in rateLimit, not ipRateLimit`,
      );
  });
  return list;
}

/**
 * One limit with its defaults applied. The gateway has validated the block against the schema (ranges, names,
 * algorithms, key parts); what the schema cannot say is checked here.
 */
function compileLimit(
  raw: LimitConfig,
  i: number,
  policyCost: number,
  preAuthOnly: boolean,
): Omit<CompiledLimit, 'keyIndex'> & { key: string[]; fallback: string[] } {
  const p = `limits[${i}]`;
  const l = withDefaults(limitSchema, raw);
  const { limit, windowSeconds, subWindows, leaseSeconds, period } = l;
  const burst = l.burst ?? limit;
  const cost = l.algorithm === 'concurrency' ? 1 : (l.cost ?? policyCost);
  const capacity = l.algorithm === 'gcra' ? burst : limit;
  if (cost > capacity) fail(`${p}.cost`, `a cost of ${cost} could never pass a capacity of ${capacity}`);
  const algorithm: LimitAlgorithm = l.algorithm === 'quota' ? 'fixed-window' : l.algorithm;
  const windowMs =
    l.algorithm === 'concurrency'
      ? leaseSeconds * 1000
      : l.algorithm === 'quota'
        ? DAY_MS
        : windowSeconds * 1000;
  const code = { gcra: 'g', 'sliding-window': 's', 'fixed-window': 'f', quota: 'q', concurrency: 'c' }[
    l.algorithm
  ];
  let item: string | undefined;
  if (l.algorithm === 'concurrency')
    item = policyItem({ name: l.name, quota: limit, unit: 'concurrent-requests' });
  else if (l.algorithm === 'quota')
    item = period === 'day' ? policyItem({ name: l.name, quota: limit, windowSeconds: 86_400 }) : undefined;
  else
    item = policyItem({
      name: l.name,
      quota: limit,
      windowSeconds,
      burst: l.algorithm === 'gcra' && burst !== limit ? burst : undefined,
    });
  return {
    name: l.name,
    kind: l.algorithm,
    algorithm,
    code,
    limit,
    windowMs,
    burst,
    subWindows,
    cost,
    countRejected: l.countRejected,
    period,
    policyItem: item,
    quoted: sfString(l.name),
    key: asKeyList(l.key, `${p}.key`, preAuthOnly),
    fallback: asKeyList(l.fallbackKey, `${p}.fallbackKey`, preAuthOnly),
  };
}

/** Start and end (ms) of the UTC calendar period or epoch-aligned window containing `now`. */
function windowOf(l: CompiledLimit, now: number): [number, number] {
  if (l.kind === 'fixed-window') {
    const start = now - (now % l.windowMs);
    return [start, start + l.windowMs];
  }
  if (l.period === 'day') {
    const start = now - (now % DAY_MS);
    return [start, start + DAY_MS];
  }
  const d = new Date(now);
  return [
    Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
    Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
  ];
}

function extensionConfig(
  name: string,
  operation: Operation,
  spec: ApiDocument,
): Partial<RateLimitConfig> | undefined {
  const own = operation.extensions[name];
  const root = (spec.doc as JsonObject)[name];
  const pick = own ?? root;
  return typeof pick === 'object' && pick !== null && !Array.isArray(pick)
    ? (pick as Partial<RateLimitConfig>)
    : undefined;
}

type DecisionCounter = ReturnType<LimitMetrics['decisions']>;

/** One limit policy of one route, compiled: what a decision reads, and the state it shares. */
interface LimitPolicyState {
  readonly policyName: string;
  readonly apiName: string;
  readonly limits: readonly CompiledLimit[];
  /** One function per distinct key of the limits (a limit's `keyIndex` points here). */
  readonly keyFns: ReadonlyArray<(ex: Exchange) => string>;
  /**
   * Redis Cluster: one decision's keys must share a hash slot. When all limits use the same key, the tag is
   * that key's hash (state spreads over the cluster); otherwise the API name (one slot per API and policy).
   */
  readonly oneKey: boolean;
  readonly hasConcurrency: boolean;
  readonly sendHeaders: boolean;
  readonly legacy: boolean;
  readonly reportOnly: boolean;
  readonly failMode: RateLimitConfig['failMode'];
  readonly store: StateStore;
  readonly fallbackStore: StateStore;
  readonly clock: CompileContext['clock'];
  readonly events: CompileContext['events'];
  readonly metrics: LimitMetrics;
  readonly health: StoreHealth;
  readonly count: Readonly<
    Record<'allowed' | 'rejected' | 'fallback' | 'failOpen' | 'failClosed', DecisionCounter>
  >;
  readonly leases: WeakMap<Exchange, { store: StateStore; refs: LeaseRef[] }>;
  readonly completed: WeakSet<Exchange>;
  readonly allNames: readonly string[];
  /** One cache for every route of the snapshot: partition strings do not depend on the route. */
  readonly hashCache: BoundedCache<string, KeyHash>;
  /** `RateLimit-Policy` when no limit's item varies (no monthly quota). */
  readonly staticPolicyHeader: string | undefined;
  /**
   * The `RateLimit-Policy` value another policy of the request set before this one (a one-part limit
   * before a per-user one, request after request), and that value with this policy's items appended:
   * the same list is not joined anew per request. One entry; it holds only names and numbers of the
   * configuration.
   */
  policyAfter: string | undefined;
  policyJoined: string;
  /**
   * The checks of this policy's limits that do not change per request (all but fixed windows), by the
   * partition's hash and the limit's index: the store key is built and flattened once per partition, not per
   * request. Bounded by `hashCache` (an evicted hash takes its entry along).
   */
  readonly checkCache: WeakMap<KeyHash, Array<LimitCheck | undefined>>;
  /** The `windows` of a decision when no limit is a fixed window (read only). */
  readonly zeroWindows: readonly number[] | undefined;
}

/** Builds a limit policy definition; `rateLimit` and `ipRateLimit` differ in stage and allowed keys. */
function defineLimitPolicy(opts: {
  name: string;
  stage: Stage;
  description: string;
  extension: string;
  preAuthOnly: boolean;
}): PolicyDefinition<RateLimitConfig> {
  const { name: policyName, preAuthOnly } = opts;
  return {
    name: policyName,
    stage: opts.stage,
    description: opts.description,
    schema: rateLimitSchema,
    fromSpec: (operation, spec) => extensionConfig(opts.extension, operation, spec),
    compile(block, ctx) {
      const s = compileLimitPolicy(block, ctx, policyName, preAuthOnly);
      return s === null ? null : limitHandler(s);
    },
  };
}

/** The limits of one block with their keys, deduplicated (limits sharing a key share its function). */
function compileLimits(
  rawLimits: readonly LimitConfig[],
  policyCost: number,
  preAuthOnly: boolean,
  v4: number,
  v6: number,
): { limits: CompiledLimit[]; keyFns: Array<(ex: Exchange) => string> } {
  const keyFns: Array<(ex: Exchange) => string> = [];
  const keyIds: string[] = [];
  const names = new Set<string>();
  const limits: CompiledLimit[] = rawLimits.map((raw, i) => {
    const c = compileLimit(raw, i, policyCost, preAuthOnly);
    if (names.has(c.name)) fail(`limits[${i}].name`, `limit ${c.name} is defined twice`);
    names.add(c.name);
    const id = JSON.stringify([c.key, c.fallback]);
    let keyIndex = keyIds.indexOf(id);
    if (keyIndex === -1) {
      keyIndex = keyIds.length;
      keyIds.push(id);
      keyFns.push(compileKey(c.key, c.fallback, v4, v6));
    }
    return { ...c, keyIndex };
  });
  return { limits, keyFns };
}

function compileLimitPolicy(
  block: RateLimitConfig,
  ctx: CompileContext,
  policyName: string,
  preAuthOnly: boolean,
): LimitPolicyState | null {
  const config = withDefaults(rateLimitSchema, block);
  if (config.limits.length === 0) return null;
  const { cost: policyCost, failMode, ipv4PrefixLength: v4, ipv6PrefixLength: v6 } = config;
  const reportOnly = config.mode === 'report';
  const { limits, keyFns } = compileLimits(config.limits, policyCost, preAuthOnly, v4, v6);
  const { store, clock, events, shared, apiName } = ctx;
  const metrics = shared.get<LimitMetrics>(LIMIT_METRICS_KEY, () => createLimitMetrics(ctx.metrics));
  const decisions = (outcome: Parameters<LimitMetrics['decisions']>[2]) =>
    metrics.decisions(apiName, policyName, outcome);
  return {
    policyName,
    apiName,
    limits,
    keyFns,
    oneKey: keyFns.length === 1,
    hasConcurrency: limits.some((l) => l.kind === 'concurrency'),
    sendHeaders: config.headers,
    legacy: config.legacyHeaders,
    reportOnly,
    failMode,
    store,
    fallbackStore: shared.get<StateStore>('portcullis.rateLimit.fallbackStore', () =>
      createMemoryStore({ clock }),
    ),
    clock,
    events,
    metrics,
    health: shared.get<StoreHealth>('portcullis.rateLimit.storeHealth', () => ({
      degraded: false,
      timeouts: 0,
      retryAt: 0,
    })),
    count: {
      allowed: decisions('allowed'),
      rejected: decisions(reportOnly ? 'reported' : 'rejected'),
      fallback: decisions('fallback'),
      failOpen: decisions('fail_open'),
      failClosed: decisions('fail_closed'),
    },
    leases: new WeakMap(),
    completed: new WeakSet(),
    allNames: limits.map((l) => l.name),
    hashCache: shared.get(
      'portcullis.rateLimit.hashCache',
      () => new BoundedCache<string, KeyHash>(HASH_CACHE_ENTRIES),
    ),
    staticPolicyHeader: limits.every((l) => l.policyItem !== undefined)
      ? limits.map((l) => l.policyItem).join(', ')
      : undefined,
    policyAfter: undefined,
    policyJoined: '',
    checkCache: new WeakMap(),
    zeroWindows: limits.some((l) => l.algorithm === 'fixed-window') ? undefined : limits.map(() => 0),
  };
}

function limitHandler(s: LimitPolicyState): PolicyHandler {
  const handler: PolicyHandler = { onRequest: (ex) => decide(s, ex) };
  if (s.hasConcurrency) {
    handler.onComplete = (ex) => {
      s.completed.add(ex);
      const held = s.leases.get(ex);
      if (held === undefined) return;
      s.leases.delete(ex);
      void held.store.release(held.refs);
    };
  }
  return handler;
}

// ---- Per request ----

function decide(s: LimitPolicyState, ex: Exchange): Problem | undefined | Promise<Problem | undefined> {
  const now = s.clock.now();
  const hashes = keyHashes(s, ex);
  const { checks, windows } = checksFor(s, hashes, now);
  const leaseId = s.hasConcurrency ? randomUUID() : '';
  if (s.health.degraded && now < s.health.retryAt)
    return degrade(s, undefined, ex, checks, windows, hashes, now, leaseId);
  let pending: ReturnType<StateStore['consume']>;
  try {
    pending = s.store.consume({ nowMs: now, limits: checks, leaseId });
  } catch (err) {
    return onStoreError(s, err, ex, checks, windows, hashes, now, leaseId);
  }
  if (!(pending instanceof Promise))
    return finish(s, ex, pending, checks, windows, hashes, now, s.store, leaseId);
  return pending.then(
    (result) => {
      s.health.timeouts = 0;
      if (s.health.degraded) {
        s.health.degraded = false;
        emitStoreEvent(s, 'rate-limit-store-recovered', 'reconnected');
      }
      return finish(s, ex, result, checks, windows, hashes, now, s.store, leaseId);
    },
    (err) => onStoreError(s, err, ex, checks, windows, hashes, now, leaseId),
  );
}

function hashOf(s: LimitPolicyState, partition: string): KeyHash {
  let h = s.hashCache.get(partition);
  if (h === undefined) {
    const digest = hash('sha256', partition, 'buffer');
    h = {
      hex: digest.toString('hex'),
      store: digest.subarray(0, 16).toString('base64url'),
      pk: sfBytes(digest.subarray(0, 8)),
    };
    s.hashCache.set(partition, h);
  }
  return h;
}

function keyHashes(s: LimitPolicyState, ex: Exchange): KeyHash[] {
  // Arrays of their final length here and below: one grown by push reserves room for 17 entries.
  const { keyFns } = s;
  const out = new Array<KeyHash>(keyFns.length);
  for (let i = 0; i < keyFns.length; i++) out[i] = hashOf(s, keyFns[i](ex));
  return out;
}

function checksFor(
  s: LimitPolicyState,
  hashes: KeyHash[],
  now: number,
): { checks: LimitCheck[]; windows: readonly number[] } {
  const { limits } = s;
  const checks = new Array<LimitCheck>(limits.length);
  const windows = s.zeroWindows === undefined ? new Array<number>(limits.length) : undefined;
  for (let i = 0; i < limits.length; i++) {
    const l = limits[i];
    const h = hashes[l.keyIndex];
    if (l.algorithm === 'fixed-window') {
      const [start, end] = windowOf(l, now);
      checks[i] = limitCheck(l, `${storeKey(s, l, h)}:${start / 1000}`, end);
      if (windows !== undefined) windows[i] = Math.round((end - start) / 1000);
      continue;
    }
    if (windows !== undefined) windows[i] = 0;
    let cached = s.checkCache.get(h);
    if (cached === undefined) {
      cached = new Array<LimitCheck | undefined>(limits.length).fill(undefined);
      s.checkCache.set(h, cached);
    }
    let check = cached[i];
    if (check === undefined) {
      check = limitCheck(l, flatString(storeKey(s, l, h)), 0);
      cached[i] = check;
    }
    checks[i] = check;
  }
  return { checks, windows: windows ?? (s.zeroWindows as readonly number[]) };
}

/** A limit's store key for one partition (a fixed window adds its start). */
function storeKey(s: LimitPolicyState, l: CompiledLimit, h: KeyHash): string {
  return s.oneKey
    ? `rl:{${s.apiName}:${h.store}}:${s.policyName}:${l.name}:${l.code}`
    : `rl:{${s.apiName}}:${s.policyName}:${l.name}:${l.code}:${h.store}`;
}

function limitCheck(l: CompiledLimit, key: string, windowEndMs: number): LimitCheck {
  return {
    key,
    algorithm: l.algorithm,
    limit: l.limit,
    windowMs: l.windowMs,
    burst: l.burst,
    windowEndMs,
    subWindows: l.subWindows,
    cost: l.cost,
    countRejected: l.countRejected,
  };
}

function emitStoreEvent(
  s: LimitPolicyState,
  action: 'rate-limit-store-unavailable' | 'rate-limit-store-recovered',
  reason: string,
): void {
  s.events.emit({
    '@timestamp': new Date(s.clock.now()).toISOString(),
    'event.kind': 'event',
    'event.category': 'api',
    'event.type': action === 'rate-limit-store-recovered' ? 'info' : 'error',
    'event.action': action,
    'event.outcome': action === 'rate-limit-store-recovered' ? 'success' : 'failure',
    'event.reason': reason,
    'rule.name': s.policyName,
    'portcullis.api': s.apiName,
    'portcullis.ratelimit.fail_mode': s.failMode,
  });
}

/** The store's answer: the RateLimit headers, then a lease held (allowed) or a 429 (refused). */
function finish(
  s: LimitPolicyState,
  ex: Exchange,
  result: ConsumeResult,
  checks: LimitCheck[],
  windows: readonly number[],
  hashes: KeyHash[],
  now: number,
  used: StateStore,
  leaseId: string,
): Problem | undefined {
  const { limits } = s;
  const violated: string[] = [];
  let retryAfter = 0;
  const items: string[] = s.sendHeaders ? new Array<string>(limits.length) : [];
  let tightest = -1;
  for (let i = 0; i < limits.length; i++) {
    const l = limits[i];
    const r = result.results[i];
    let t: number | undefined;
    // t: when more quota becomes available (draft-10), i.e. `r` grows by one: for GCRA the next unit
    // earned, not the whole bucket; 0 when the quota is whole. For a limit that rejects, when this request
    // could pass. On a 429, limits that did not reject leave t out, so that Retry-After is never earlier
    // than any t (draft-10 §5).
    if (l.kind !== 'concurrency' && (result.allowed || !r.allowed))
      t = Math.ceil((r.allowed ? r.resetMs : r.retryAfterMs) / 1000);
    if (!r.allowed) {
      violated.push(l.name);
      retryAfter = Math.max(retryAfter, Math.ceil(r.retryAfterMs / 1000), 1);
    }
    if (s.sendHeaders)
      items[i] =
        `${l.quoted};r=${r.remaining}${t === undefined ? '' : `;t=${t}`};pk=${hashes[l.keyIndex].pk}`;
    if (tightest === -1 || r.remaining < result.results[tightest].remaining) tightest = i;
  }
  setLimitHeaders(s, ex, result, windows, items, tightest);
  if (result.allowed) {
    s.count.allowed.inc();
    if (s.hasConcurrency) holdLeases(s, ex, checks, used, leaseId);
    return undefined;
  }
  return quotaExceeded(s, ex, violated, retryAfter, hashes, now);
}

function setLimitHeaders(
  s: LimitPolicyState,
  ex: Exchange,
  result: ConsumeResult,
  windows: readonly number[],
  items: string[],
  tightest: number,
): void {
  const { limits } = s;
  const headers = ex.responseHeaders;
  if (s.sendHeaders) {
    const policies =
      s.staticPolicyHeader ??
      limits
        .map(
          (l, i) => l.policyItem ?? policyItem({ name: l.name, quota: l.limit, windowSeconds: windows[i] }),
        )
        .join(', ');
    const before = headers['ratelimit-policy'];
    if (s.staticPolicyHeader !== undefined && typeof before === 'string') {
      if (before !== s.policyAfter) {
        s.policyAfter = before;
        s.policyJoined = `${before}, ${policies}`;
      }
      headers['ratelimit-policy'] = s.policyJoined;
    } else appendListField(headers, 'ratelimit-policy', policies);
    appendListField(headers, 'ratelimit', items.length === 1 ? items[0] : items.join(', '));
  }
  if (s.legacy) {
    const l = limits[tightest];
    const r = result.results[tightest];
    headers['x-ratelimit-limit'] = String(l.limit);
    headers['x-ratelimit-remaining'] = String(r.remaining);
    headers['x-ratelimit-reset'] = String(Math.ceil((r.allowed ? r.resetMs : r.retryAfterMs) / 1000));
  }
}

/** Concurrency leases are released when the exchange completes (at once when it already has). */
function holdLeases(
  s: LimitPolicyState,
  ex: Exchange,
  checks: LimitCheck[],
  used: StateStore,
  leaseId: string,
): void {
  const refs = checks.filter((c) => c.algorithm === 'concurrency').map((c) => ({ key: c.key, leaseId }));
  if (s.completed.has(ex)) void used.release(refs);
  else s.leases.set(ex, { store: used, refs });
}

function quotaExceeded(
  s: LimitPolicyState,
  ex: Exchange,
  violated: string[],
  retryAfter: number,
  hashes: KeyHash[],
  now: number,
): Problem {
  const { apiName, policyName, reportOnly, limits } = s;
  s.count.rejected.inc();
  for (const name of violated) s.metrics.violation(apiName, policyName, name);
  const event = denialEvent(s.clock, ex, {
    policy: policyName,
    action: 'rate-limit-exceeded',
    category: 'api',
    reason: 'quota_exceeded',
    mode: reportOnly ? 'report' : 'enforce',
    subject: ex.principal?.subject,
    at: now,
  });
  event['portcullis.ratelimit.limits'] = violated;
  // Partition keys are hashed (SHA-256 hex): the raw key may be an API consumer or a token claim.
  event['portcullis.ratelimit.key_hashes'] = violated.map(
    (n) => hashes[limits[s.allNames.indexOf(n)].keyIndex].hex,
  );
  s.events.emit(event);
  const headers = ex.responseHeaders;
  const extra: Record<string, string | string[]> = { 'retry-after': String(retryAfter) };
  for (const h of [
    'ratelimit-policy',
    'ratelimit',
    'x-ratelimit-limit',
    'x-ratelimit-remaining',
    'x-ratelimit-reset',
  ])
    if (headers[h] !== undefined) extra[h] = headers[h];
  return problem(problems.quotaExceeded, `Rate limit exceeded: ${violated.join(', ')}`, {
    headers: extra,
    extensions: { 'violated-policies': violated },
    reason: 'quota_exceeded',
  });
}

function onStoreError(
  s: LimitPolicyState,
  err: unknown,
  ex: Exchange,
  checks: LimitCheck[],
  windows: readonly number[],
  hashes: KeyHash[],
  now: number,
  leaseId: string,
): Problem | undefined {
  if (!(err instanceof StoreUnavailableError) && !(err instanceof StoreCapacityError)) throw err;
  s.metrics.storeError(s.policyName, err.code);
  // A lost connection degrades at once; a slow answer only after a few in a row (a loaded Redis is not a
  // dead one, and switching every decision to the local limiters over-admits). Either way this request
  // is decided by the fail mode.
  const { health } = s;
  if (err instanceof StoreUnavailableError && (err.reason !== 'timeout' || ++health.timeouts >= 3)) {
    health.retryAt = now + RETRY_STORE_AFTER_MS;
    if (!health.degraded) {
      health.degraded = true;
      emitStoreEvent(s, 'rate-limit-store-unavailable', err.reason);
    }
  }
  return degrade(s, err, ex, checks, windows, hashes, now, leaseId);
}

function degrade(
  s: LimitPolicyState,
  err: StoreUnavailableError | StoreCapacityError | undefined,
  ex: Exchange,
  checks: LimitCheck[],
  windows: readonly number[],
  hashes: KeyHash[],
  now: number,
  leaseId: string,
): Problem | undefined {
  if (s.failMode === 'closed') {
    s.count.failClosed.inc();
    return problem(problems.temporaryReducedCapacity, 'Rate limiting is temporarily unavailable', {
      headers: { 'retry-after': '1' },
      extensions: { 'violated-policies': s.allNames },
      reason: err?.code === 'ERR_STORE_CAPACITY' ? 'limiter_full' : 'store_unavailable',
    });
  }
  const { fallbackStore } = s;
  if (fallbackStore !== s.store && !(err instanceof StoreCapacityError)) {
    try {
      const local = fallbackStore.consume({ nowMs: now, limits: checks, leaseId }) as ConsumeResult;
      s.count.fallback.inc();
      return finish(s, ex, local, checks, windows, hashes, now, fallbackStore, leaseId);
    } catch (e) {
      if (!(e instanceof StoreCapacityError)) throw e;
    }
  }
  s.count.failOpen.inc();
  return undefined;
}

/**
 * `rateLimit` (stage `limit`, after authentication): named limits keyed by IP, consumer, subject, API key,
 * claim, header, operation or a composite, all of which must pass.
 *
 * @example
 * // apis[0].policies.rateLimit
 * { limits: [{ name: 'per-consumer', algorithm: 'gcra', limit: 100, windowSeconds: 60, key: 'consumer' }] }
 */
export const rateLimitPolicy = defineLimitPolicy({
  name: 'rateLimit',
  stage: 'limit',
  description:
    'Rate limits, quotas and concurrency limits per API and operation (after authentication); all named limits must pass.',
  extension: 'x-portcullis-rate-limit',
  preAuthOnly: false,
});

/**
 * `ipRateLimit` (stage `ban`, before authentication): the same limits restricted to keys known before
 * authentication (ip, header, operation, global), so floods of unauthenticated or failing requests
 * (credential stuffing) are throttled before they cost a token verification.
 */
export const ipRateLimitPolicy = defineLimitPolicy({
  name: 'ipRateLimit',
  stage: 'ban',
  description:
    'Rate limits that run before authentication, keyed by client IP (or header, operation, global), against floods and credential stuffing.',
  extension: 'x-portcullis-ip-rate-limit',
  preAuthOnly: true,
});
