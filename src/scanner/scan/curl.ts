/**
 * A curl command line that repeats a request the scan sent, for a finding's evidence. The identity's
 * credentials never appear: its token becomes `$TOKEN`, its cookies `$COOKIE`, other credential headers
 * `$CREDENTIAL`; secrets and JWTs elsewhere (body, query) are masked like every evidence excerpt.
 *
 * @example
 * curlFor(res.sent) // curl -X POST 'http://127.0.0.1:8080/login' -H 'Authorization: Bearer $TOKEN' ...
 */
import type { SentRequest } from './client.ts';

const JWT = /\beyJ[\w-]*\.[\w-]+\.[\w-]*/g;
const SECRET_MEMBER =
  /("[\w-]*(?:password|passwd|secret|token|api_?key|private_?key|credential)[\w-]*"\s*:\s*")[^"]*"/gi;
const SECRET_PARAM = /\b([\w-]*(?:password|passwd|secret|token|api_?key|client_secret)[\w-]*=)[^&\s]*/gi;
/** Headers that carry credentials even when they did not come from the identity. */
const CREDENTIAL_HEADER =
  /^(authorization|cookie|proxy-authorization|x-api-key|api-key|x-auth-token|x-access-token)$/i;
/** Headers curl sets by itself or that only add noise. */
const SKIP = new Set(['user-agent', 'content-length', 'host', 'connection']);
const MAX_BODY = 2000;

/** Quotes for a POSIX shell: single quotes, with embedded ones closed, escaped and reopened. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function mask(text: string): string {
  return text.replace(JWT, '$TOKEN').replace(SECRET_MEMBER, '$1***"').replace(SECRET_PARAM, '$1***');
}

function headerName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

function maskedHeader(name: string, value: string): string {
  const n = name.toLowerCase();
  if (n === 'cookie') return '$COOKIE';
  if (n === 'authorization' || n === 'proxy-authorization') {
    const scheme = /^(\w+)\s/.exec(value)?.[1];
    return scheme ? `${scheme} $TOKEN` : '$TOKEN';
  }
  return '$CREDENTIAL';
}

/** The curl line for a sent request; credentials masked, body cut at 2000 characters. */
export function curlFor(sent: SentRequest): string {
  const parts = ['curl'];
  if (sent.method !== 'GET' || sent.body !== undefined) parts.push('-X', sent.method);
  parts.push(shellQuote(mask(sent.url)));
  const credentials = new Set((sent.credentials ?? []).map((c) => c.toLowerCase()));
  for (const [name, value] of Object.entries(sent.headers ?? {})) {
    const n = name.toLowerCase();
    if (SKIP.has(n)) continue;
    const shown = credentials.has(n) || CREDENTIAL_HEADER.test(n) ? maskedHeader(n, value) : mask(value);
    parts.push('-H', shellQuote(`${headerName(n)}: ${shown}`));
  }
  if (sent.body !== undefined) {
    const body = mask(sent.body);
    parts.push('--data-raw', shellQuote(body.length > MAX_BODY ? `${body.slice(0, MAX_BODY)}…` : body));
  }
  return parts.join(' ');
}
