import { createHmac, randomBytes } from 'node:crypto';
import type { Clock } from '../../core/clock.ts';
import { ConfigPathError } from '../../core/errors.ts';
import { withDefaults } from '../../core/policy-config.ts';
import {
  type BasicCredentials,
  CONTROL,
  eventUserName,
  parseBasicCredentials,
} from '../../shared/basic-credentials.ts';
import { BoundedCache } from '../../shared/bounded-cache.ts';
import { type CredentialResult, consumerOf, type Identity, invalid, MISSING } from './credential.ts';
import { type PasswordHash, parsePasswordHash, passwordBytes, verifyPassword } from './password-hash.ts';
import { type BasicConfig, basicSchema } from './schema.ts';

export { type BasicCredentials, basicUserId, parseBasicCredentials } from '../../shared/basic-credentials.ts';

interface BasicConsumer {
  readonly identity: Identity;
  readonly hashes: readonly PasswordHash[];
}

/** Checks Basic credentials of requests; see `createBasicAuthenticator`. */
export interface BasicAuthenticator {
  /**
   * `header` is the request's Authorization value, `secure` whether it came over HTTPS. Synchronous for
   * what needs no scrypt (no or malformed credentials, a cached success).
   */
  authenticate(header: string | undefined, secure: boolean): CredentialResult | Promise<CredentialResult>;
  /** Verifications running and waiting (for tests and metrics). */
  readonly pending: number;
}

/** The same answer for an unknown user and a wrong password: the wire never says which user-ids exist. */
const REFUSED = 'invalid user-id or password';

/** One Basic scheme, compiled: its consumers, the dummy hashes, the success cache and the scrypt slots. */
interface BasicState {
  readonly clock: Clock;
  readonly byName: ReadonlyMap<string, BasicConsumer>;
  /** scrypt derivations per check: the most hashes any consumer has. */
  readonly rounds: number;
  readonly dummies: readonly PasswordHash[];
  readonly cacheMs: number;
  readonly cache: BoundedCache<string, Identity>;
  readonly cacheKey: Buffer;
  readonly inflight: Map<string, Promise<CredentialResult>>;
  readonly slots: ReturnType<typeof createSlots>;
  readonly allowPlainHttp: boolean;
}

/**
 * HTTP Basic authentication against consumers with scrypt password hashes.
 *
 * - Every failed check runs the same number of scrypt derivations (the most hashes any consumer has; an
 *   unknown user-id is checked against dummy hashes of the most used cost), so timing does not tell
 *   whether a user-id exists.
 * - scrypt runs on the thread pool, at most `maxConcurrentHashes` at once with `maxQueuedHashes` waiting;
 *   beyond that the request is answered 503 (`basic_overloaded`), never a 401 that would look like a
 *   wrong password to the client and to the detectors.
 * - Successes are cached for `cacheSeconds`, keyed by an HMAC-SHA-256 (per-process key) of the whole
 *   credential, bounded by `cacheMaxEntries`. Failures are never cached; identical credentials in flight
 *   share one verification.
 *
 * @example
 * const basic = createBasicAuthenticator({ consumers: [{ name: 'ops', passwordHashes: [hash] }] }, { clock });
 * await basic.authenticate(req.headers.authorization, true); // { kind: 'ok', identity: { subject: 'ops', ... } }
 */
export function createBasicAuthenticator(config: BasicConfig, deps: { clock: Clock }): BasicAuthenticator {
  const cfg = withDefaults(basicSchema, config);
  const byName = compileConsumers(cfg.consumers);
  const rounds = Math.max(1, ...[...byName.values()].map((c) => c.hashes.length));
  const cacheMs = cfg.cacheSeconds * 1000;
  const s: BasicState = {
    clock: deps.clock,
    byName,
    rounds,
    dummies: dummyHashes(
      [...byName.values()].flatMap((c) => c.hashes),
      rounds,
    ),
    cacheMs,
    cache: new BoundedCache<string, Identity>(cacheMs > 0 ? cfg.cacheMaxEntries : 0),
    cacheKey: randomBytes(32),
    inflight: new Map(),
    slots: createSlots(cfg.maxConcurrentHashes, cfg.maxQueuedHashes),
    allowPlainHttp: cfg.allowPlainHttp,
  };
  return {
    get pending() {
      return s.slots.size;
    },
    authenticate: (header, secure) => authenticate(s, header, secure),
  };
}

/** The consumers by NFC user-id, their password hashes parsed; a bad entry fails the load at its path. */
function compileConsumers(consumers: BasicConfig['consumers']): Map<string, BasicConsumer> {
  const byName = new Map<string, BasicConsumer>();
  consumers.forEach((c, i) => {
    const name = c.name.normalize('NFC');
    if (name.includes(':') || CONTROL.test(name)) {
      throw new ConfigPathError(`consumers[${i}].name`, 'a user-id cannot contain ":" or control characters');
    }
    if (byName.has(name))
      throw new ConfigPathError(`consumers[${i}].name`, `consumer ${name} is listed twice`);
    const hashes = c.passwordHashes.map((h, j) => {
      try {
        return parsePasswordHash(h);
      } catch (err) {
        throw new ConfigPathError(`consumers[${i}].passwordHashes[${j}]`, (err as Error).message);
      }
    });
    const consumer = consumerOf(c);
    const identity: Identity = {
      subject: name,
      consumer: name,
      scopes: new Set(),
      roles: consumer.roles,
      claims: consumer.metadata,
      method: 'basic',
    };
    byName.set(name, { identity, hashes });
  });
  return byName;
}

// ---- Per request ----

function authenticate(
  s: BasicState,
  header: string | undefined,
  secure: boolean,
): CredentialResult | Promise<CredentialResult> {
  if (header === undefined) return MISSING;
  const c = parseBasicCredentials(header);
  if (c === undefined) return MISSING;
  if (c === 'malformed') return invalid('malformed_credentials', 'malformed Basic credentials');
  if (!secure && !s.allowPlainHttp) {
    // The password has crossed the network in the clear: refuse it without spending scrypt on it.
    return {
      kind: 'invalid',
      reason: 'insecure_transport',
      detail: 'Basic credentials are accepted only over HTTPS',
      userName: eventUserName(c.userId),
    };
  }
  // The user-id cannot contain ':', so `user-id:password` identifies the credential unambiguously.
  const key = createHmac('sha256', s.cacheKey).update(`${c.userId}:${c.password}`).digest('base64url');
  const known = s.cache.get(key, s.clock.now());
  if (known !== undefined) return { kind: 'ok', identity: known };
  return s.inflight.get(key) ?? verify(s, key, c);
}

/** Runs `check` in a scrypt slot (503 when none is free), caching a success; shared while in flight. */
function verify(
  s: BasicState,
  key: string,
  c: BasicCredentials,
): CredentialResult | Promise<CredentialResult> {
  const { slots } = s;
  const slot = slots.acquire();
  if (slot === false) {
    return {
      kind: 'unavailable',
      reason: 'basic_overloaded',
      detail: 'too many password verifications in progress',
    };
  }
  const run = async (): Promise<CredentialResult> => {
    if (slot !== true) await slot;
    try {
      return await check(s, c);
    } finally {
      slots.release();
    }
  };
  const pending = run().then(
    (result) => {
      if (result.kind === 'ok') {
        const now = s.clock.now();
        s.cache.set(key, result.identity, now + s.cacheMs, now);
      }
      return result;
    },
    (): CredentialResult => ({
      kind: 'unavailable',
      reason: 'basic_unavailable',
      detail: 'password verification failed',
    }),
  );
  s.inflight.set(key, pending);
  void pending.finally(() => s.inflight.delete(key));
  return pending;
}

async function check(s: BasicState, c: BasicCredentials): Promise<CredentialResult> {
  const consumer = s.byName.get(c.userId);
  const password = passwordBytes(c.password);
  const hashes = consumer?.hashes ?? [];
  let matched = false;
  for (let i = 0; i < s.rounds && !matched; i++) {
    // Past a consumer's own hashes (or for an unknown user-id), dummies keep the cost of a failure fixed.
    const real = i < hashes.length;
    const ok = await verifyPassword(password, real ? hashes[i] : s.dummies[i]);
    matched = ok && real;
  }
  if (matched && consumer !== undefined) return { kind: 'ok', identity: consumer.identity };
  return {
    kind: 'invalid',
    reason: consumer === undefined ? 'unknown_user' : 'bad_credentials',
    detail: REFUSED,
    userName: eventUserName(c.userId),
  };
}

/**
 * Hashes nobody's password matches (random salt and key), one per round, with the cost most configured
 * hashes use: an unknown user-id then costs what a known one does.
 */
function dummyHashes(hashes: readonly PasswordHash[], rounds: number): PasswordHash[] {
  const counts = new Map<string, { n: number; h: PasswordHash }>();
  for (const h of hashes) {
    const k = `${h.N}/${h.r}/${h.p}/${h.key.length}`;
    const e = counts.get(k);
    if (e === undefined) counts.set(k, { n: 1, h });
    else e.n++;
  }
  let model: PasswordHash | undefined;
  let best = 0;
  for (const { n, h } of counts.values()) {
    if (n > best) {
      best = n;
      model = h;
    }
  }
  const params = model ?? { N: 2 ** 15, r: 8, p: 3, key: Buffer.alloc(32) };
  return Array.from({ length: rounds }, () => ({
    N: params.N,
    r: params.r,
    p: params.p,
    salt: randomBytes(16),
    key: randomBytes(params.key.length),
  }));
}

/**
 * A counting semaphore with a bounded wait list. `acquire` answers true (a slot is taken), a promise (a
 * slot will be handed over), or false (saturated: nothing was taken).
 */
function createSlots(max: number, maxWaiting: number) {
  let running = 0;
  const waiting: Array<() => void> = [];
  return {
    get size() {
      return running + waiting.length;
    },
    acquire(): true | false | Promise<void> {
      if (running < max) {
        running++;
        return true;
      }
      if (waiting.length >= maxWaiting) return false;
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    release(): void {
      const next = waiting.shift();
      // The slot passes straight to the next waiter; `running` only drops when nobody waits.
      if (next !== undefined) next();
      else running--;
    },
  };
}
