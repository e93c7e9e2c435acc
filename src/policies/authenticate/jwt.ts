import { createSecretKey, type KeyObject } from 'node:crypto';
import { errors, type JWTPayload, jwtVerify } from 'jose';
import type { Logger } from 'pino';
import type { Clock } from '../../state/clock.ts';
import type { SharedServices } from '../policy.ts';
import { createBoundedCache } from './bounded-cache.ts';
import { discoverJwksUri } from './discovery.ts';
import {
  createRemoteKeySet,
  importJwks,
  KeySourceUnavailableError,
  type RemoteKeySet,
  selectKey,
} from './jwks.ts';
import { HMAC_ALGORITHMS, type JwtConfig, type JwtIssuerConfig } from './schema.ts';

/** Outcome of verifying one JWT. */
export type JwtOutcome =
  | { readonly ok: true; readonly claims: JWTPayload; readonly rolesClaim: string }
  | { readonly ok: false; readonly reason: string; readonly detail: string; readonly unavailable?: boolean };

export interface JwtVerifier {
  verify(token: string): Promise<JwtOutcome>;
  /** The outcome for a token in the verified-token cache, synchronously; undefined on a miss. */
  peek(token: string): JwtOutcome | undefined;
  /** Verified tokens currently cached. */
  readonly cacheSize: number;
}

export interface JwtVerifierDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly shared: SharedServices;
}

interface IssuerRuntime {
  readonly index: number;
  readonly cfg: JwtIssuerConfig;
  readonly algorithms: readonly string[];
  readonly skewSeconds: number;
  readonly requiredClaims: string[];
  readonly rolesClaim: string;
  readonly keySet: RemoteKeySet | undefined;
  readonly staticKeys: ReturnType<typeof importJwks>;
  readonly secrets: ReadonlyArray<{ kid: string | undefined; key: KeyObject }>;
}

interface CachedToken {
  readonly claims: JWTPayload;
  readonly issuer: number;
  readonly kid: string | undefined;
}

class UnknownKeyError extends Error {
  readonly code = 'ERR_UNKNOWN_KID';
}

/** Header parameters that would let a token choose its own verification key (RFC 8725 §3.10). */
const KEY_CARRYING_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'];

/** Thrown by `createJwtVerifier` for configs that cannot be made safe. */
export class JwtConfigError extends Error {
  readonly code = 'ERR_JWT_CONFIG';
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.name = 'JwtConfigError';
    this.path = path;
  }
}

/**
 * Builds a JWT verifier for a set of trusted issuers. Keys are imported once; remote key sets are shared
 * per issuer through `deps.shared`; verified tokens are cached until `exp`, bounded in number, and
 * flushed when their key leaves the issuer JWKS.
 *
 * @example
 * const v = createJwtVerifier({ issuers: [{ issuer, jwksUri, audiences: ['api'] }] }, deps);
 * const out = await v.verify(token); // { ok: true, claims } or { ok: false, reason: 'expired', ... }
 */
export function createJwtVerifier(cfg: JwtConfig, deps: JwtVerifierDeps): JwtVerifier {
  const { clock } = deps;
  const maxTokenBytes = cfg.maxTokenBytes ?? 8192;
  const cache = createBoundedCache<CachedToken>(cfg.tokenCacheMaxEntries ?? 10000);
  const byIssuer = new Map<string, IssuerRuntime>();

  cfg.issuers.forEach((ic, index) => {
    const path = `issuers[${index}]`;
    if (byIssuer.has(ic.issuer))
      throw new JwtConfigError(`${path}.issuer`, `issuer ${ic.issuer} is listed twice`);
    const algorithms = ic.algorithms ?? ['RS256'];
    const hmac = algorithms.filter((a) => HMAC_ALGORITHMS.includes(a));
    if (algorithms.some((a) => a.toLowerCase() === 'none')) {
      throw new JwtConfigError(`${path}.algorithms`, 'alg "none" can never be accepted');
    }
    if (hmac.length > 0 && (ic.secrets === undefined || ic.secrets.length === 0)) {
      throw new JwtConfigError(`${path}.algorithms`, `${hmac.join(', ')} needs configured secrets`);
    }
    const asymmetric = algorithms.length > hmac.length;
    const sources = [ic.discovery === true, ic.jwksUri !== undefined, ic.keys !== undefined].filter(
      Boolean,
    ).length;
    if (asymmetric && sources !== 1) {
      throw new JwtConfigError(path, 'give exactly one key source: discovery, jwksUri or keys');
    }
    const secrets = (ic.secrets ?? []).map((s) => ({
      kid: s.kid,
      key: createSecretKey(Buffer.from(s.secret)),
    }));
    let keySet: RemoteKeySet | undefined;
    if (asymmetric && ic.keys === undefined) {
      const uri = ic.jwksUri;
      const timeoutMs = ic.timeoutMs ?? 5000;
      keySet = deps.shared.get(`authenticate:jwks:${ic.issuer}|${uri ?? 'discovery'}`, () =>
        createRemoteKeySet({
          jwksUri: uri !== undefined ? async () => uri : lazyDiscovery(ic.issuer, timeoutMs),
          clock,
          logger: deps.logger,
          cacheMaxAgeSeconds: ic.jwksCacheSeconds ?? 600,
          cooldownSeconds: ic.jwksCooldownSeconds ?? 30,
          timeoutMs,
        }),
      );
      keySet.onKeysRemoved((kids) => {
        const gone = new Set(kids);
        cache.deleteWhere((t) => t.issuer === index && t.kid !== undefined && gone.has(t.kid));
      });
    }
    byIssuer.set(ic.issuer, {
      index,
      cfg: ic,
      algorithms,
      skewSeconds: ic.clockSkewSeconds ?? 30,
      requiredClaims: [...new Set(['exp', ...(ic.requiredClaims ?? [])])],
      rolesClaim: ic.rolesClaim ?? 'roles',
      keySet,
      staticKeys: ic.keys === undefined ? [] : importJwks({ keys: ic.keys }),
      secrets,
    });
  });
  const rolesClaimByIndex = [...byIssuer.values()].map((r) => r.rolesClaim);

  async function resolveKey(rt: IssuerRuntime, kid: string | undefined, alg: string) {
    if (HMAC_ALGORITHMS.includes(alg)) {
      const candidates = rt.secrets.filter((s) => s.kid === undefined || kid === undefined || s.kid === kid);
      if (candidates.length === 0) throw new UnknownKeyError('no secret for this kid');
      return candidates[0].key;
    }
    const key =
      rt.keySet === undefined ? selectKey(rt.staticKeys, kid, alg) : await rt.keySet.getKey(kid, alg);
    if (key === undefined) throw new UnknownKeyError('no key for this kid');
    return key.key;
  }

  return {
    get cacheSize() {
      return cache.size;
    },
    peek(token) {
      const hit = cache.get(token, clock.now());
      return hit === undefined
        ? undefined
        : { ok: true, claims: hit.claims, rolesClaim: rolesClaimByIndex[hit.issuer] };
    },
    async verify(token) {
      const now = clock.now();
      const hit = cache.get(token, now);
      if (hit !== undefined)
        return { ok: true, claims: hit.claims, rolesClaim: rolesClaimByIndex[hit.issuer] };

      if (token.length > maxTokenBytes) return fail('oversized', `token longer than ${maxTokenBytes} bytes`);
      const parts = token.split('.');
      if (parts.length !== 3) return fail('malformed', 'not a signed JWT (three segments expected)');
      const header = decodeSegment(parts[0]);
      const payload = decodeSegment(parts[1]);
      if (header === undefined || payload === undefined) return fail('malformed', 'undecodable JWT');
      const alg = header.alg;
      if (typeof alg !== 'string') return fail('malformed', 'JWT header has no alg');
      // RFC 8725 §3.1: "none" in any spelling is refused before anything else.
      if (alg.toLowerCase() === 'none') return fail('alg_none', 'unsecured JWTs are not accepted');
      for (const h of KEY_CARRYING_HEADERS) {
        if (h in header)
          return fail('embedded_key', `JWT header "${h}" is not accepted; keys come from config`);
      }
      const kid = header.kid;
      if (kid !== undefined && (typeof kid !== 'string' || kid.length > 256))
        return fail('malformed', 'bad kid');
      const iss = payload.iss;
      const rt = typeof iss === 'string' ? byIssuer.get(iss) : undefined;
      if (rt === undefined) return fail('wrong_issuer', 'token issuer is not trusted');
      if (!rt.algorithms.includes(alg))
        return fail('alg_not_allowed', `alg ${alg.slice(0, 16)} is not allowed`);

      let claims: JWTPayload;
      try {
        const result = await jwtVerify(token, (h) => resolveKey(rt, h.kid, h.alg), {
          issuer: rt.cfg.issuer,
          audience: rt.cfg.audiences,
          algorithms: rt.algorithms as string[],
          clockTolerance: rt.skewSeconds,
          typ: rt.cfg.typ,
          requiredClaims: rt.requiredClaims,
          maxTokenAge: rt.cfg.maxTokenAgeSeconds,
          currentDate: new Date(now),
        });
        claims = result.payload;
      } catch (err) {
        return mapError(err, header);
      }
      if (typeof claims.iat === 'number' && claims.iat * 1000 > now + rt.skewSeconds * 1000) {
        return fail('bad_iat', 'token issued in the future');
      }
      let expiresAt = (claims.exp as number) * 1000 + rt.skewSeconds * 1000;
      if (rt.cfg.maxTokenAgeSeconds !== undefined && typeof claims.iat === 'number') {
        expiresAt = Math.min(expiresAt, (claims.iat + rt.cfg.maxTokenAgeSeconds) * 1000);
      }
      cache.set(token, { claims, issuer: rt.index, kid: kid as string | undefined }, expiresAt, now);
      return { ok: true, claims, rolesClaim: rt.rolesClaim };
    },
  };
}

function fail(reason: string, detail: string): JwtOutcome {
  return { ok: false, reason, detail };
}

function decodeSegment(segment: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const CLAIM_REASONS: Record<string, string> = {
  iss: 'wrong_issuer',
  aud: 'wrong_audience',
  nbf: 'not_yet_valid',
  iat: 'bad_iat',
  typ: 'wrong_typ',
};

/** Maps jose errors (by their stable `code`) to event reasons; details never echo the token. */
function mapError(err: unknown, header: Record<string, unknown>): JwtOutcome {
  if (err instanceof UnknownKeyError) return fail('unknown_kid', 'no trusted key matches the token kid');
  if (err instanceof KeySourceUnavailableError) {
    return {
      ok: false,
      reason: 'key_source_unavailable',
      detail: 'issuer keys unavailable',
      unavailable: true,
    };
  }
  if (err instanceof errors.JWTExpired) {
    return err.claim === 'iat'
      ? fail('too_old', 'token is older than allowed')
      : fail('expired', 'token expired');
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return fail('missing_claim', `required claim "${err.claim}" is missing`);
    return fail(CLAIM_REASONS[err.claim] ?? 'invalid_claim', `claim "${err.claim}" check failed`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return fail('bad_signature', 'signature does not verify');
  if (err instanceof errors.JOSEAlgNotAllowed) return fail('alg_not_allowed', 'alg not allowed');
  if (err instanceof errors.JOSENotSupported) {
    return 'crit' in header
      ? fail('unsupported_crit', 'unsupported critical header parameter')
      : fail('unsupported', 'unsupported token');
  }
  if (err instanceof errors.JOSEError) return fail('malformed', 'malformed token');
  // A key of the wrong type for the alg, an invalid signature encoding, ...: still a bad token, never a 500.
  return fail('bad_signature', 'token cannot be verified');
}

/** Discovers `jwks_uri` once (retried on the next fetch if it failed). */
function lazyDiscovery(issuer: string, timeoutMs: number): () => Promise<string> {
  let found: string | undefined;
  return async () => {
    found ??= await discoverJwksUri(issuer, timeoutMs);
    return found;
  };
}
