/**
 * A curl command line that repeats a request the scan sent, for a finding's evidence: method, URL with its
 * query, every header the client added (the identity's, the shared ones), its cookie jar as one `Cookie`
 * header, and the body, as sent. The identity's credentials never appear: its token becomes the shell variable
 * `"$TOKEN"`, its cookies `"$COOKIE"`, other credential headers `"$CREDENTIAL"`, outside the single quotes so
 * that a user who sets them (`TOKEN=eyJ... COOKIE='sid=...'`) runs the request as the identity sent it; secrets and JWTs elsewhere (body, query) are masked like every evidence excerpt, whatever the
 * body's encoding: JSON members, form-encoded fields and multipart fields named like a secret (`password`,
 * `token`, `api_key`, `authorization`...) show `***`. A multipart body becomes curl's own `--form-string` and
 * `-F name=@file` arguments (curl makes the boundary), files named by their file name, never their bytes.
 *
 * @example
 * curlFor(res.sent) // curl -X POST 'http://127.0.0.1:8080/login' -H 'Authorization: Bearer '"$TOKEN" ...
 */
import type { SentRequest } from './client.ts';

const JWT = /\beyJ[\w-]*\.[\w-]+\.[\w-]*/g;
/** What a member, field or parameter holding a secret is called. */
const SECRET_WORDS =
  'password|passwd|passphrase|pwd|secret|token|api_?key|apikey|private_?key|access_?key|credential|authorization|session_?id';
const SECRET_NAME = new RegExp(SECRET_WORDS, 'i');
/** A JSON member named like a secret, with a string value (escaped quotes inside it included). */
const SECRET_MEMBER = new RegExp(`("[\\w-]*(?:${SECRET_WORDS})[\\w-]*"\\s*:\\s*")(?:[^"\\\\]|\\\\.)*"`, 'gi');
/** A form or query parameter named like a secret; the name may be percent-encoded (`user%5Bpassword%5D=`). */
const SECRET_PARAM = new RegExp(`(^|[?&\\s])([\\w.%-]*(?:${SECRET_WORDS})[\\w.%-]*=)[^&\\s]*`, 'gi');
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
  return text.replace(JWT, '$TOKEN').replace(SECRET_MEMBER, '$1***"').replace(SECRET_PARAM, '$1$2***');
}

function headerName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** What a credential header shows: its scheme kept (`Bearer `), its secret the shell variable named. */
function maskedHeader(name: string, value: string): { prefix: string; variable: string } {
  const n = name.toLowerCase();
  if (n === 'cookie') return { prefix: '', variable: 'COOKIE' };
  if (n === 'authorization' || n === 'proxy-authorization') {
    const scheme = /^(\w+)\s/.exec(value)?.[1];
    return { prefix: scheme ? `${scheme} ` : '', variable: 'TOKEN' };
  }
  return { prefix: '', variable: 'CREDENTIAL' };
}

/**
 * The fields of a multipart body as the client shows it (files as `<N bytes>`), in curl's form arguments:
 * `--form-string name=value` (curl reads `@` and `<` in it literally) with secrets as `***`, and
 * `-F name=@filename;type=...` for files. `undefined` when the text is not such a body.
 */
export function multipartArgs(body: string, contentType: string): string[] | undefined {
  const boundary = /;\s*boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (boundary === undefined) return undefined;
  const args: string[] = [];
  for (const part of body.split(`--${boundary}`).slice(1)) {
    if (part.startsWith('--')) break;
    const end = part.indexOf('\r\n\r\n');
    if (end < 0) continue; // cut short
    const head = part.slice(0, end);
    const name = /\bname="([^"]*)"/i.exec(head)?.[1];
    if (name === undefined) continue;
    const filename = /\bfilename="([^"]*)"/i.exec(head)?.[1];
    const type = /^content-type:\s*(.+)$/im.exec(head)?.[1]?.trim();
    const value = part.slice(end + 4).replace(/\r\n$/, '');
    if (filename !== undefined) {
      args.push('-F', shellQuote(`${name}=@${filename}${type ? `;type=${type}` : ''}`));
    } else {
      const shown = SECRET_NAME.test(name) ? '***' : mask(value);
      args.push(
        '--form-string',
        shellQuote(`${name}=${shown.length > MAX_BODY ? `${shown.slice(0, MAX_BODY)}…` : shown}`),
      );
    }
  }
  return args;
}

/** The URL as the client put it on the wire: WHATWG-normalized like undici does (`'` in a query as `%27`). */
function wireUrl(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
}

/** The curl line for a sent request; credentials masked, body cut at 2000 characters. */
export function curlFor(sent: SentRequest): string {
  const parts = ['curl'];
  if (sent.method !== 'GET' || sent.body !== undefined) parts.push('-X', sent.method);
  parts.push(shellQuote(mask(wireUrl(sent.url))));
  const credentials = new Set((sent.credentials ?? []).map((c) => c.toLowerCase()));
  const contentType =
    Object.entries(sent.headers ?? {}).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
  const form =
    sent.body !== undefined && /^multipart\/form-data/i.test(contentType)
      ? multipartArgs(sent.body, contentType)
      : undefined;
  for (const [name, value] of Object.entries(sent.headers ?? {})) {
    const n = name.toLowerCase();
    if (SKIP.has(n) || (form !== undefined && n === 'content-type')) continue; // curl -F makes its own boundary
    if (credentials.has(n) || CREDENTIAL_HEADER.test(n)) {
      // The placeholder outside the single quotes, in double ones: the shell puts the variable's value there.
      const { prefix, variable } = maskedHeader(n, value);
      parts.push('-H', `${shellQuote(`${headerName(name)}: ${prefix}`)}"$${variable}"`);
    } else {
      parts.push('-H', shellQuote(`${headerName(name)}: ${mask(value)}`));
    }
  }
  if (form !== undefined) {
    parts.push(...form);
  } else if (sent.body !== undefined) {
    const body = mask(sent.body);
    parts.push('--data-raw', shellQuote(body.length > MAX_BODY ? `${body.slice(0, MAX_BODY)}…` : body));
  }
  return parts.join(' ');
}
