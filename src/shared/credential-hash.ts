import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { BoundedCache } from './bounded-cache.ts';

/**
 * Short, stable fingerprint of a credential (bearer token, API key) for events and token bans: the first
 * 128 bits of its SHA-256, hex. The credential itself is never logged or stored.
 */
export function credentialHash(credential: string): string {
  if (credential.length > MEMO_MAX_LENGTH) return hash(credential);
  let h = memo.get(credential);
  if (h === undefined) {
    h = hash(credential);
    memo.set(credential, h);
  }
  return h;
}

function hash(credential: string): string {
  return createHash('sha256').update(credential).digest('hex').slice(0, 32);
}

// The ban check fingerprints the credential of every request; a client presents the same token for many
// requests, so recent fingerprints are kept (bounded: oldest evicted first, long credentials not kept).
const MEMO_ENTRIES = 4096;
const MEMO_MAX_LENGTH = 4096;
const memo = new BoundedCache<string, string>(MEMO_ENTRIES);

/**
 * The credential a request presents: the `Authorization` value without its scheme (`Bearer`, `DPoP`...),
 * else the first of `apiKeyHeaders` that is present. Undefined when there is none. `Basic` credentials
 * are never fingerprinted: a fast unsalted hash of a user-id and password in the event store could be
 * reversed by guessing passwords offline.
 */
export function presentedCredential(
  headers: IncomingHttpHeaders,
  apiKeyHeaders: readonly string[] = [],
): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth !== '') {
    const sp = auth.indexOf(' ');
    const value = sp === -1 ? auth.trim() : authorizationCredential(auth);
    if (value !== '' && !(sp === 5 && auth.slice(0, 5).toLowerCase() === 'basic')) return value;
  }
  for (const h of apiKeyHeaders) {
    const v = headers[h];
    const s = Array.isArray(v) ? v[0] : v;
    if (typeof s === 'string' && s !== '') return s;
  }
  return undefined;
}

let lastAuthorization: string | undefined;
let lastCredential = '';

/**
 * What follows the scheme of an `Authorization` value, trimmed ('' when there is no space). The ban
 * check and the verifiers of one request get the very same string back, so the hash a map lookup
 * computes over an 800-byte token is computed once per request, not once per lookup.
 */
export function authorizationCredential(authorization: string): string {
  if (authorization === lastAuthorization) return lastCredential;
  const sp = authorization.indexOf(' ');
  lastCredential = sp === -1 ? '' : authorization.slice(sp + 1).trim();
  lastAuthorization = authorization;
  return lastCredential;
}
