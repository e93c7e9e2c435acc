import type { IncomingMessage } from 'node:http';
import type { ApiRuntime } from './snapshot.ts';

/** How many times the query string names parameter `name` (raw comparison of the undecoded name). */
function countQueryParam(rawQuery: string, name: string): number {
  let n = 0;
  for (const pair of rawQuery.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    if (key === name || (key.includes('%') || key.includes('+') ? safeDecode(key) === name : false)) n++;
  }
  return n;
}

/** How many cookies of the Cookie field are named `name`. */
function countCookie(cookie: string | undefined, name: string): number {
  if (cookie === undefined) return 0;
  let n = 0;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) n++;
  }
  return n;
}

/**
 * Says why a request carries a credential more than once, or undefined: an apiKey query parameter or
 * cookie repeated, or a bearer token both in `Authorization` and in the `access_token` query parameter
 * (RFC 6750 §2: one method per request). The gateway would judge one copy and the upstream may read the other.
 */
export function repeatedCredential(
  api: ApiRuntime,
  req: IncomingMessage,
  rawQuery: string,
): string | undefined {
  if (rawQuery !== '') {
    for (const name of api.apiKeyQuery) {
      if (countQueryParam(rawQuery, name) > 1) return `the credential parameter ${name} may appear only once`;
    }
    // Read the query only when it could name access_token: literally, or percent-encoded.
    if (
      req.headers.authorization !== undefined &&
      (rawQuery.includes('access_token') || rawQuery.includes('%')) &&
      countQueryParam(rawQuery, 'access_token') > 0
    )
      return 'a bearer token may be sent in the Authorization header or the query, not both (RFC 6750 §2)';
  }
  for (const name of api.apiKeyCookies) {
    if (countCookie(req.headers.cookie, name) > 1)
      return `the credential cookie ${name} may appear only once`;
  }
  return undefined;
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

export function hostOf(header: string | undefined): string {
  if (header === undefined) return '';
  // Strip the port, keeping IPv6 literals intact.
  if (header.startsWith('[')) return header.slice(0, header.indexOf(']') + 1).toLowerCase();
  const colon = header.indexOf(':');
  return (colon === -1 ? header : header.slice(0, colon)).toLowerCase();
}

export const VALID_HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;
