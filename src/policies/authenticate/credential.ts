import type { Principal } from '../../core/exchange.ts';
import { withDefaults } from '../../core/policy-config.ts';
import type { ApiKeyConsumer } from '../../state/api-keys.ts';
import { type ConsumerConfig, consumerSchema } from './schema.ts';

/** What one verifier learned about the caller: the principal but for the schemes (the policy adds those). */
export type Identity = Omit<Principal, 'schemes'>;

/**
 * Outcome of checking one security scheme: no credential for it, a credential that failed (with a
 * machine-readable reason for the security event), or an identity. `unavailable` means a key source or
 * introspection endpoint could not be reached: the request fails closed with 503.
 */
export type CredentialResult =
  | { readonly kind: 'missing' }
  | {
      readonly kind: 'invalid';
      readonly reason: string;
      readonly detail: string;
      /** The failure concerns the DPoP proof (challenge `DPoP error="invalid_dpop_proof"`). */
      readonly dpop?: boolean;
      /** RFC 9449 §8: the client must retry with this server-provided nonce. */
      readonly dpopNonce?: string;
      /** The login name the caller tried (Basic user-id), for `user.name` in the event; never the secret. */
      readonly userName?: string;
    }
  | { readonly kind: 'unavailable'; readonly reason: string; readonly detail: string }
  | { readonly kind: 'ok'; readonly identity: Identity };

/**
 * A configured consumer (API key, Basic, mTLS) as its verifier keeps it: roles as a set, metadata frozen. The
 * same shape as a key registered at runtime in the state store.
 */
export type Consumer = ApiKeyConsumer;

/** The consumer a config entry describes, with the schema's defaults (no roles, no metadata). */
export function consumerOf(c: ConsumerConfig): Consumer {
  const { name, roles, metadata } = withDefaults(consumerSchema, c);
  return { name, roles: new Set(roles), metadata: Object.freeze({ ...metadata }) };
}

export const MISSING: CredentialResult = Object.freeze({ kind: 'missing' });

export function invalid(reason: string, detail: string): CredentialResult {
  return { kind: 'invalid', reason, detail };
}

/** Splits an OAuth `scope` claim (space-delimited string, or a `scp` array). */
export function scopesOf(claims: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  const scope = claims.scope;
  if (typeof scope === 'string') for (const s of scope.split(' ')) if (s !== '') out.add(s);
  const scp = claims.scp;
  if (Array.isArray(scp)) {
    for (const s of scp) if (typeof s === 'string') out.add(s);
  } else if (typeof scp === 'string') {
    for (const s of scp.split(' ')) if (s !== '') out.add(s);
  }
  return out;
}

/** Reads a roles claim: an array of strings or one space-delimited string; dotted paths reach nested claims. */
export function rolesOf(claims: Record<string, unknown>, path: string): Set<string> {
  let v: unknown = claims;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return new Set();
    v = (v as Record<string, unknown>)[part];
  }
  const out = new Set<string>();
  if (Array.isArray(v)) for (const r of v) if (typeof r === 'string') out.add(r);
  if (typeof v === 'string') for (const r of v.split(' ')) if (r !== '') out.add(r);
  return out;
}
