import {
  createHash,
  createHmac,
  createPublicKey,
  type JsonWebKey,
  KeyObject,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import type { Clock } from '../../core/clock.ts';
import type { Exchange } from '../../core/exchange.ts';
import { withDefaults } from '../../core/policy-config.ts';
import { BoundedCache } from '../../shared/bounded-cache.ts';
import type { StateStore } from '../../state/store.ts';
import { decodeJsonSegment, isCanonicalBase64url } from './jws-segments.ts';
import { jwkThumbprint, verifyJwsSignature } from './jws-signature.ts';
import { weakKeyReason } from './key-strength.ts';
import { type DpopConfig, dpopSchema } from './schema.ts';

export type DpopOutcome =
  | { readonly ok: true; readonly jkt: string }
  | {
      readonly ok: false;
      readonly reason: string;
      readonly detail: string;
      readonly nonce?: string;
      /** The replay cache could not be reached: fail closed with 503, not 401. */
      readonly unavailable?: boolean;
    };

export interface DpopVerifier {
  /** Checks the request's DPoP proof for `token` (RFC 9449 §4.3, §7.1) and its binding `cnf.jkt`. */
  verify(ex: Exchange, token: string, boundJkt: unknown): Promise<DpopOutcome>;
  /** Value of the `DPoP` challenge, without an error code. */
  readonly challenge: string;
  readonly required: boolean;
}

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** Proof keys imported, by thumbprint (clients reuse one key for many proofs). */
const MAX_KEYS = 1000;

/** One scheme's DPoP settings, compiled, and its cache of proof keys. */
interface DpopState {
  readonly clock: Clock;
  readonly store: StateStore;
  readonly scope: string;
  readonly algorithms: readonly string[];
  readonly windowMs: number;
  readonly skewMs: number;
  readonly maxProofBytes: number;
  readonly requireNonce: boolean;
  readonly nonceKey: Buffer;
  readonly keys: BoundedCache<string, KeyObject>;
}

/**
 * Builds the DPoP proof checker of one scheme. The `jti` replay cache lives in the state store, so it
 * holds across gateway instances sharing Redis.
 */
export function createDpopVerifier(
  config: DpopConfig,
  deps: { clock: Clock; store: StateStore; scope: string },
): DpopVerifier {
  const cfg = withDefaults(dpopSchema, config);
  const s: DpopState = {
    clock: deps.clock,
    store: deps.store,
    scope: deps.scope,
    algorithms: cfg.algorithms,
    windowMs: cfg.iatWindowSeconds * 1000,
    skewMs: cfg.clockSkewSeconds * 1000,
    maxProofBytes: cfg.maxProofBytes,
    requireNonce: cfg.requireNonce,
    nonceKey: cfg.nonceSecret !== undefined ? Buffer.from(cfg.nonceSecret) : randomBytes(32),
    keys: new BoundedCache<string, KeyObject>(MAX_KEYS),
  };
  return {
    challenge: `DPoP algs="${s.algorithms.join(' ')}"`,
    required: cfg.required,
    verify: (ex, token, boundJkt) => verifyProof(s, ex, token, boundJkt),
  };
}

function nonceFor(s: DpopState, slot: number): string {
  const mac = createHmac('sha256', s.nonceKey)
    .update(String(slot))
    .digest()
    .subarray(0, 16)
    .toString('base64url');
  return `${slot.toString(36)}.${mac}`;
}

function currentNonce(s: DpopState): string {
  return nonceFor(s, Math.floor(s.clock.now() / s.windowMs));
}

function nonceValid(s: DpopState, nonce: unknown): boolean {
  if (typeof nonce !== 'string' || nonce.length > 64) return false;
  const slot = Number.parseInt(nonce.split('.')[0], 36);
  const cur = Math.floor(s.clock.now() / s.windowMs);
  if (slot !== cur && slot !== cur - 1) return false;
  const want = Buffer.from(nonceFor(s, slot));
  const got = Buffer.from(nonce);
  return want.length === got.length && timingSafeEqual(want, got);
}

function bad(reason: string, detail: string): DpopOutcome {
  return { ok: false, reason, detail };
}

/** RFC 9449 §4.3, in its order of steps, then the replay check of §11.1. */
async function verifyProof(
  s: DpopState,
  ex: Exchange,
  token: string,
  boundJkt: unknown,
): Promise<DpopOutcome> {
  // §4.3 (1): exactly one DPoP header.
  const values = ex.req.headersDistinct.dpop;
  if (values === undefined || values.length === 0) return bad('dpop_missing', 'DPoP proof required');
  if (values.length !== 1) return bad('dpop_invalid', 'more than one DPoP header');
  const proof = values[0];
  if (proof.length > s.maxProofBytes) return bad('dpop_invalid', 'DPoP proof too large');
  const parts = proof.split('.');
  if (parts.length !== 3) return bad('dpop_invalid', 'DPoP proof is not a signed JWT');
  // (2) a well-formed JWT: canonical base64url segments of UTF-8 JSON objects (RFC 7515 §2, §5.2).
  if (!parts.every(isCanonicalBase64url) || parts[2] === '')
    return bad('dpop_invalid', 'DPoP proof segments must be canonical base64url');
  const header = decodeJsonSegment(parts[0]);
  const claims = decodeJsonSegment(parts[1]);
  if (header === undefined || claims === undefined) return bad('dpop_invalid', 'undecodable DPoP proof');
  const headerFault = checkProofHeader(s, header);
  if (headerFault !== undefined) return headerFault;
  const jwk = header.jwk as Record<string, unknown>;
  const jkt = jwkThumbprint(jwk);
  if (jkt === undefined) return bad('dpop_invalid', 'DPoP jwk is not a usable public key');
  const key = proofKey(s, jkt, jwk);
  if (!(key instanceof KeyObject)) return key;
  // (7) the signature verifies with the embedded public key.
  const signature = Buffer.from(parts[2], 'base64url');
  if (!verifyJwsSignature(header.alg as string, key, `${parts[0]}.${parts[1]}`, signature)) {
    return bad('dpop_bad_signature', 'DPoP proof signature does not verify');
  }
  const claimsFault = checkProofClaims(s, ex, claims, token, boundJkt, jkt);
  if (claimsFault !== undefined) return claimsFault;
  // §11.1: a proof is used once. Keyed by key thumbprint and jti, kept for the iat window.
  const replayKey = `dpop:${s.scope}:${createHash('sha256').update(`${jkt}:${claims.jti}`).digest('base64url')}`;
  let fresh: boolean;
  try {
    fresh = await s.store.setIfAbsent(replayKey, '1', s.windowMs + s.skewMs);
  } catch {
    return {
      ok: false,
      reason: 'replay_cache_unavailable',
      detail: 'DPoP proofs cannot be checked',
      unavailable: true,
    };
  }
  if (!fresh) return bad('replay', 'DPoP proof replayed');
  return { ok: true, jkt };
}

/** §4.3 (4) typ, (5) an asymmetric allowed alg, (6) a public jwk; and no `crit`. */
function checkProofHeader(s: DpopState, header: Record<string, unknown>): DpopOutcome | undefined {
  if (header.typ !== 'dpop+jwt') return bad('dpop_invalid', 'DPoP proof typ must be dpop+jwt');
  if (typeof header.alg !== 'string' || !s.algorithms.includes(header.alg)) {
    return bad('dpop_invalid', 'DPoP proof alg not allowed');
  }
  const jwk = header.jwk as Record<string, unknown> | undefined;
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) {
    return bad('dpop_invalid', 'DPoP proof has no jwk');
  }
  if (PRIVATE_JWK_MEMBERS.some((m) => m in jwk)) return bad('dpop_invalid', 'DPoP jwk holds a private key');
  // RFC 7515 §4.1.11: no extension is understood here, so any `crit` is refused.
  if ('crit' in header) return bad('dpop_invalid', 'DPoP proof has critical extensions');
  return undefined;
}

/** The proof's public key, imported once per thumbprint; a refusal when it is unusable or weak. */
function proofKey(s: DpopState, jkt: string, jwk: Record<string, unknown>): KeyObject | DpopOutcome {
  let key = s.keys.get(jkt);
  if (key === undefined) {
    try {
      key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch {
      return bad('dpop_invalid', 'DPoP jwk is not a usable public key');
    }
    // An RSA key with e = 1 or a short modulus signs nothing: anyone could make its proofs.
    if (weakKeyReason(key) !== undefined) return bad('dpop_invalid', 'DPoP jwk is too weak');
    s.keys.set(jkt, key);
  }
  return key;
}

/** §4.3 (3) required claims, (8) htm, (9) htu, (11) iat, (10) nonce, (12) ath, and the cnf.jkt binding. */
function checkProofClaims(
  s: DpopState,
  ex: Exchange,
  claims: Record<string, unknown>,
  token: string,
  boundJkt: unknown,
  jkt: string,
): DpopOutcome | undefined {
  const { jti, htm, htu, iat } = claims;
  if (typeof jti !== 'string' || jti === '' || jti.length > 256)
    return bad('dpop_invalid', 'DPoP jti missing');
  if (typeof htm !== 'string' || typeof htu !== 'string' || typeof iat !== 'number') {
    return bad('dpop_invalid', 'DPoP proof lacks htm, htu or iat');
  }
  // (8) htm matches the method, (9) htu matches the URI without query and fragment.
  if (htm !== ex.req.method) return bad('dpop_wrong_htm', 'DPoP htm does not match the request method');
  if (!sameTarget(htu, ex)) return bad('dpop_wrong_htu', 'DPoP htu does not match the request URI');
  // (11) iat within the acceptable window.
  const now = s.clock.now();
  if (iat * 1000 > now + s.skewMs || iat * 1000 < now - s.windowMs) {
    return bad('dpop_stale', 'DPoP proof iat outside the accepted window');
  }
  // (10) nonce, when the server requires one (§8).
  if (s.requireNonce && !nonceValid(s, claims.nonce)) {
    return { ok: false, reason: 'dpop_nonce', detail: 'use the provided DPoP nonce', nonce: currentNonce(s) };
  }
  // (12) ath = base64url(SHA-256(access token)), and cnf.jkt = thumbprint of the proof key (§6.1, §7.1).
  const ath = createHash('sha256').update(token).digest('base64url');
  if (claims.ath !== ath) return bad('dpop_wrong_ath', 'DPoP ath does not match the access token');
  if (typeof boundJkt !== 'string' || boundJkt !== jkt) {
    return bad('dpop_binding_mismatch', 'access token is not bound to the DPoP key');
  }
  return undefined;
}

/**
 * Compares `htu` with the request URI by origin and path (RFC 9449 §4.3 (9): no query, no fragment),
 * after the scheme-based normalisation of RFC 3986 §6.2.3 the WHATWG URL parser applies: scheme and host
 * case-folded, a default port (80 for http, 443 for https) the same as none. The authority is the `Host`
 * the client sent, port included (`ex.host` has the port stripped for routing), so a proof made for
 * another port of the same host is refused.
 */
function sameTarget(htu: string, ex: Exchange): boolean {
  const target = ex.req.url ?? '/';
  const authority = ex.req.headers.host;
  // Only origin-form targets reach a route; anything else cannot be compared, so it is refused.
  if (!target.startsWith('/') || authority === undefined) return false;
  let claimed: URL;
  let actual: URL;
  try {
    claimed = new URL(htu);
    actual = new URL(`${ex.scheme}://${authority}${target}`);
  } catch {
    return false;
  }
  if (claimed.protocol !== 'http:' && claimed.protocol !== 'https:') return false;
  if (claimed.username !== '' || claimed.password !== '') return false;
  return claimed.origin === actual.origin && claimed.pathname === actual.pathname;
}
