/**
 * Cookie sessions: what a login's cookie says about the caller, and how it is set.
 *
 * - Session cookies: the cookies of an identity's jar that a read it passes (and an anonymous caller is refused)
 *   needs: without the cookie the read is refused, or the cookie alone passes it.
 * - Tampering (API2, `-invalid-token-accepted`): a cookie whose value is readable (plain text, URL-encoded,
 *   base64, base64 JSON, the middle of a JWT (signature kept, and unsigned: `alg: none`), one base64 segment of a
 *   dotted value) and holds A's user name, e-mail or id goes back with B's in its place; the read then answering
 *   what B's own session reads (and not A's view), while a garbage value of the cookie is refused, is the finding.
 *   The read is A's reference read, else one that names B's record by its only path parameter (which A's own
 *   cookies are refused). A role or admin flag in such a cookie
 *   (`role=user`, `"role":"member"`, `is_admin=false`) goes back as `admin`/`true` on a read the admin passes and
 *   A is refused (without an admin: a 403 for A); the finding needs the admin's view (or a 2xx) there while the
 *   same place holding a made-up role, and a garbage value, are refused.
 * - The same tampering on A's token when it is no JWT and reads as something (base64 JSON such as
 *   `{"member_id":41,"handle":"mira","tier":"member"}`, base64 text, `user:7`): in the header that carries it, B's
 *   name or id in A's place (judged against B's own read), the role raised (judged against the admin's read).
 * - Flags (API8, `-insecure-session-cookie`): a session cookie set without HttpOnly, with SameSite=None and no
 *   Secure, or without Secure on an https target; one finding per cookie name. On plain http, Secure is not
 *   judged (the evidence says so). Only reads are sent (GETs); the one login it may send is a given identity's
 *   own, with its right password.
 * - CSRF (API8, `-csrf`): a POST of the scan's own traffic that changed state with a session cookie as its only
 *   credential, no anti-forgery token, in a body a page on any site can post (a form, multipart, plain text or
 *   none), while the cookie was set without SameSite=Lax or Strict. Where every such POST was JSON, one creation a
 *   given identity made so is sent again as `text/plain` (what a cross-site form can send; the object it makes is
 *   deleted after, by the injection probes' sweep): made again, it is the same finding. One finding per cookie.
 */
import { randomBytes } from 'node:crypto';
import type { Operation } from '../../../core/api-document.ts';
import type { ScanResponse } from '../client.ts';
import {
  evidenceOf,
  type Identity,
  isSuccess,
  type Observation,
  redact,
  type ScanContext,
} from '../context.ts';
import { loginRequest } from '../login.ts';
import {
  isBusinessFlow,
  isCreationOperation,
  isExcluded,
  type PlannedRequest,
  planRequest,
  requiresAuth,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { similarity } from '../similarity.ts';
import { refusedIn200 } from './api5-function-authorization.ts';
import { PASSWORD } from './throwaway.ts';

const LOGOUT = /log_?out|sign_?out|revoke|delete|remove|destroy|reset|clear/i;
const MAX_COOKIES = 8;
const MAX_READS = 12;

/** The identity's cookies: its jar, and a `Cookie` header it was given. */
export function cookiesOf(who: Identity): Map<string, string> {
  const out = new Map(who.session.cookies);
  const header = who.session.headers.cookie;
  if (header)
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
  return out;
}

/** The identity with `jar` as its cookies (its other headers kept): a copy, whose jar the answers may change. */
function withJar(who: Identity, jar: ReadonlyMap<string, string>, label: string): Identity {
  const headers = { ...who.session.headers };
  delete headers.cookie;
  return { name: `${who.name} (${label})`, session: { name: who.name, headers, cookies: new Map(jar) } };
}

/**
 * Where A's credential travels, for tampering: its cookies by name, or the token of one request header (an opaque
 * bearer token that is readable: base64 JSON, `user:7`). Both are altered and judged alike.
 */
export interface Carrier {
  /** `cookie` or `token`, for messages and finding keys. */
  readonly what: 'cookie' | 'token';
  /** The values that may be altered, by name: a cookie's name, or the header that carries the token. */
  readonly values: ReadonlyMap<string, string>;
  /** The identity with `values` in place of its own (its other headers and cookies kept). */
  as(values: ReadonlyMap<string, string>, label: string): Identity;
}

function cookieCarrier(who: Identity): Carrier {
  return { what: 'cookie', values: cookiesOf(who), as: (v, label) => withJar(who, v, label) };
}

/**
 * The request header that carries `who`'s token (`authorization: Bearer <token>`, `x-session: <token>`), as a
 * carrier; undefined without a token, or when no header holds it.
 */
export function tokenCarrier(who: Identity): Carrier | undefined {
  const headers = who.session.headers;
  // A token given as a header (`authorization: Token <b64>`, `x-session: ...`) where no login named one.
  const given = Object.keys(headers).find((h) => h !== 'cookie' && CREDENTIAL_HEADER.test(h));
  const token = who.token ?? (given ? headers[given].replace(/^\w+ (?=\S)/, '') : undefined);
  if (token === undefined || token.length < 4) return undefined;
  const name = Object.keys(headers).find((h) => h !== 'cookie' && headers[h].endsWith(token));
  if (name === undefined) return undefined;
  const prefix = headers[name].slice(0, -token.length);
  if (prefix !== '' && !/^\w+ $/.test(prefix)) return undefined;
  return {
    what: 'token',
    values: new Map([[name, token]]),
    as: (v, label) => ({
      name: `${who.name} (${label})`,
      session: {
        name: who.name,
        headers: { ...headers, [name]: `${prefix}${v.get(name) ?? ''}` },
        cookies: new Map(who.session.cookies),
      },
    }),
  };
}

/** Request headers that carry a credential. */
const CREDENTIAL_HEADER = /auth|token|session|jwt|api[_-]?key|^x-user/i;

/** How a finding names the altered credential: `session cookie uid`, `token (its authorization header)`. */
function named(c: Carrier, name: string): string {
  return c.what === 'cookie' ? `session cookie ${name}` : `token (its ${name} header)`;
}

/** Members of an answer that only reports an error (`{"error": "not signed in"}`). */
const ERROR_ONLY = /^(error|errors|message|msg|detail|status|code|success|ok)$/i;

/** A refusal: not a 2xx, a refusal in a 2xx, or a 2xx whose body is an error report and nothing else. */
function refused(res: ScanResponse | undefined): boolean {
  if (!isSuccess(res) || refusedIn200(res)) return true;
  const body = res.json;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  const keys = Object.keys(body);
  return (
    keys.length > 0 &&
    keys.length <= 3 &&
    keys.every((k) => ERROR_ONLY.test(k)) &&
    keys.some((k) => /^errors?$/i.test(k))
  );
}

/** Members that name the account: its ids (`id`, `uid`, `member_id`, `customerId`...), names and e-mail. */
const ACCOUNT_MEMBER =
  /^(id|_id|uid|sub|((user|member|customer|account|client|patient|student|employee|person|profile|player|owner)[_-]?(id|no|num|number))|user_?name|username|login|name|email|e_?mail|handle)$/i;

/** What names the identity: its login's user name or e-mail, its ids, and what its own read says it is. */
function markersOf(who: Identity, own?: ScanResponse): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(who.login?.body ?? {}))
    if (typeof v === 'string' && v.length >= 3 && !PASSWORD.test(k) && !/grant|client|scope/i.test(k))
      out.set(`login:${k}`, v);
  const record = own?.json;
  const take = (r: unknown, prefix: string) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) return;
    for (const [k, v] of Object.entries(r as Record<string, unknown>)) {
      if (!ACCOUNT_MEMBER.test(k)) continue;
      if ((typeof v === 'string' && v.length >= 2) || (typeof v === 'number' && Number.isInteger(v)))
        out.set(`${prefix}${k}`, String(v));
    }
  };
  // What the login answered about the account (`{"user": {"id": 7}}`), and what its own read shows.
  for (const [prefix, value] of [
    ['answer:', who.login?.answer],
    ['read:', record],
  ] as const) {
    take(value, prefix);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const r = value as Record<string, unknown>;
      take(r.user, `${prefix}user.`);
      take(r.data, `${prefix}data.`);
      take(r.profile, `${prefix}profile.`);
    }
  }
  return out;
}

/** The answer shows `value` as a whole word (not inside a longer name or number). */
function shows(text: string, value: string): boolean {
  let from = 0;
  for (;;) {
    const i = text.indexOf(value, from);
    if (i < 0) return false;
    const before = text[i - 1] ?? '';
    const after = text[i + value.length] ?? '';
    if (!/[A-Za-z0-9]/.test(before) && !/[A-Za-z0-9]/.test(after)) return true;
    from = i + 1;
  }
}

/** Words that name A (its user name, e-mail, id) and that its own read shows; a one-character id names nothing. */
function shownMarkers(markers: ReadonlyMap<string, string>, res: ScanResponse): string[] {
  return [...new Set(markers.values())].filter((v) => v.length >= 2 && shows(res.text, v));
}

/** A read A passes whose answer an anonymous caller does not get: the reference for cookie probes. */
interface CookieRead {
  readonly req: PlannedRequest;
  readonly mine: ScanResponse;
}

function candidateReads(ctx: ScanContext): Operation[] {
  return ctx.spec.operations
    .filter(
      (op) =>
        op.method === 'GET' &&
        !isExcluded(op) &&
        !op.path.includes('{') &&
        !LOGOUT.test(`${op.path} ${op.id}`),
    )
    .sort((x, y) => rank(x) - rank(y) || asked(x) - asked(y));
}

/** How many query inputs a read requires (filled from the document's examples or the API's own values). */
function asked(op: Operation): number {
  return op.parameters.filter((p) => p.required && p.in === 'query').length;
}

/** Profile-like reads first, then reads that declare security. */
function rank(op: Operation): number {
  if (/\/(me|self|current|whoami|my)(\/|$)/i.test(op.path)) return 0;
  if (/profile|account|session|dashboard/i.test(op.path)) return 1;
  return requiresAuth(op) ? 2 : 3;
}

/** Does `res` read like A's own answer `mine` (not like a refusal or an anonymous page)? */
function likeMine(res: ScanResponse | undefined, mine: ScanResponse, markers: readonly string[]): boolean {
  if (refused(res) || res === undefined) return false;
  if (markers.length > 0) return markers.every((m) => shows(res.text, m));
  if (mine.json !== undefined && res.json !== undefined) return similarity(mine.json, res.json) >= 0.8;
  return res.text === mine.text;
}

const reads = new WeakMap<object, Map<string, Promise<CookieRead | undefined>>>();

/** The reference read for `who`, looked for once per scan. */
function cookieRead(ctx: ScanContext, who: Identity): Promise<CookieRead | undefined> {
  const byName = reads.get(ctx.objects) ?? new Map<string, Promise<CookieRead | undefined>>();
  reads.set(ctx.objects, byName);
  const found = byName.get(who.name) ?? findCookieRead(ctx, who);
  byName.set(who.name, found);
  return found;
}

async function findCookieRead(ctx: ScanContext, who: Identity): Promise<CookieRead | undefined> {
  const markers = markersOf(who);
  for (const op of candidateReads(ctx).slice(0, MAX_READS)) {
    const req = planRequest(ctx.spec, op, ctx.objects, { owner: who.name });
    const mine = await ctx.send(req, who);
    if (!mine || refused(mine)) continue;
    const anon = await ctx.send(req, null);
    const named = shownMarkers(markers, mine);
    // An anonymous caller is refused, or gets a page that does not name the identity, or (nothing names it) a
    // JSON answer far from the identity's, which answers the same twice (no per-request randomness).
    if (anon && !refused(anon)) {
      if (named.length > 0 && named.some((m) => shows(anon.text, m))) continue;
      if (named.length === 0) {
        if (mine.json === undefined || anon.json === undefined || similarity(mine.json, anon.json) >= 0.5)
          continue;
        const again = await ctx.send(req, who);
        if (again?.json === undefined || similarity(mine.json, again.json) < 0.9) continue;
      }
    }
    return { req, mine };
  }
  return undefined;
}

/**
 * The cookies that carry `who`'s login at its reference read: without one the read is refused, or (when no single
 * one is missed: two cookies that each sign in) that one alone passes it.
 */
export async function sessionCookies(
  ctx: ScanContext,
  who: Identity,
): Promise<{ names: string[]; read?: CookieRead }> {
  const jar = cookiesOf(who);
  if (jar.size === 0) return { names: [] };
  const read = await cookieRead(ctx, who);
  if (!read) return { names: [] };
  const markers = shownMarkers(markersOf(who), read.mine);
  const names: string[] = [];
  const all = [...jar.keys()].slice(0, MAX_COOKIES);
  for (const name of all) {
    const without = new Map(jar);
    without.delete(name);
    const res = await ctx.send(read.req, withJar(who, without, `without cookie ${name}`));
    if (!likeMine(res, read.mine, markers)) names.push(name);
  }
  if (names.length === 0 && all.length > 1)
    for (const name of all) {
      const res = await ctx.send(
        read.req,
        withJar(who, new Map([[name, jar.get(name)!]]), `cookie ${name} alone`),
      );
      if (likeMine(res, read.mine, markers)) names.push(name);
    }
  return { names, read };
}

// ---------------------------------------------------------------------------------------------------------
// Readable cookie values: decoded, changed, encoded the same way again.

interface Layer {
  /** How the value was read: `text`, `url-encoded`, `base64`, `base64 JSON`, `JWT payload`... */
  readonly kind: string;
  /** The readable text. */
  readonly text: string;
  /** The cookie value with `text` replaced. */
  encode(text: string): string;
}

const PRINTABLE = /^[\x20-\x7e\t\r\n]+$/;
const BASE64 = /^[A-Za-z0-9+/_-]{4,}={0,2}$/;

/** Base64 (standard or URL-safe) that decodes to printable text, with an encoder in the same alphabet. */
function base64Layer(value: string): { text: string; encode: (t: string) => string } | undefined {
  if (!BASE64.test(value) || value.length < 8) return undefined;
  const url = /[-_]/.test(value);
  const padded = value.endsWith('=');
  let text: string;
  try {
    text = Buffer.from(value, url ? 'base64url' : 'base64').toString('utf8');
  } catch {
    return undefined;
  }
  if (!PRINTABLE.test(text) || text.length < 3) return undefined;
  // A random token that happens to decode to printable bytes is rare past a few characters; JSON or words is text.
  if (!/[{":=|,;&\s]/.test(text) && !/^[\w.@-]+$/.test(text)) return undefined;
  const encode = (t: string) => {
    const b = Buffer.from(t, 'utf8').toString(url ? 'base64url' : 'base64');
    if (url) return padded ? b + '='.repeat((4 - (b.length % 4)) % 4) : b;
    return padded ? b : b.replace(/=+$/, '');
  };
  return { text, encode };
}

/** The readable forms of a cookie value, outermost first. */
export function layersOf(raw: string): Layer[] {
  const out: Layer[] = [];
  const quoted = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"');
  const inner = quoted ? raw.slice(1, -1) : raw;
  const requote = (v: string) => (quoted ? `"${v}"` : v);
  let decoded = inner;
  let url = false;
  if (/%[0-9A-Fa-f]{2}/.test(inner)) {
    try {
      decoded = decodeURIComponent(inner);
      url = true;
    } catch {
      decoded = inner;
    }
  }
  const reencode = (v: string) => requote(url ? encodeURIComponent(v) : v);
  out.push({ kind: url ? 'URL-encoded text' : 'text', text: decoded, encode: reencode });
  const whole = base64Layer(decoded);
  if (whole)
    out.push({
      kind: whole.text.trimStart().startsWith('{') ? 'base64 JSON' : 'base64 text',
      text: whole.text,
      encode: (t) => reencode(whole.encode(t)),
    });
  // A dotted value (a JWT, `payload.timestamp.signature`): each base64 segment that reads as text.
  const parts = decoded.split('.');
  if (parts.length >= 2 && parts.length <= 4 && !whole)
    parts.forEach((part, i) => {
      const layer = base64Layer(part);
      if (!layer) return;
      const header = parts.length === 3 && i === 1 ? jwtHeader(parts[0]) : undefined;
      out.push({
        kind: header ? 'JWT payload' : `base64 segment ${i + 1} of a dotted value`,
        text: layer.text,
        encode: (t) => reencode(parts.map((p, j) => (j === i ? layer.encode(t) : p)).join('.')),
      });
      // The same payload unsigned (`alg: none`, no signature), for a verifier that takes the token's own word.
      if (header)
        out.push({
          kind: 'JWT payload, unsigned (alg: none)',
          text: layer.text,
          encode: (t) =>
            reencode(
              `${Buffer.from(JSON.stringify({ ...header, alg: 'none' })).toString('base64url')}.${layer.encode(t)}.`,
            ),
        });
    });
  return out;
}

/** A JWT's header (a JSON object with an `alg`), or undefined. */
function jwtHeader(part: string): Record<string, unknown> | undefined {
  try {
    const h = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return h !== null && typeof h === 'object' && typeof h.alg === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `text` with every whole-word `from` replaced by `to` (undefined when `from` is not there). */
export function replaceWord(text: string, from: string, to: string): string | undefined {
  if (from === '' || from === to) return undefined;
  const re = new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(from)}(?![A-Za-z0-9])`, 'g');
  const out = text.replace(re, to);
  return out === text ? undefined : out;
}

/** PHP's serialize() text: an array or an object at the top (`a:2:{...}`, `O:8:"stdClass":2:{...}`). */
const PHP_SERIALIZED = /^(a|O):\d+:/;

/**
 * PHP serialized text with each string's declared length made right again after an edit (`s:5:"bob"` becomes
 * `s:3:"bob"`): unserialize() refuses a string whose length is wrong. The text is a cookie the API set (bounded).
 */
export function phpLengths(text: string): string {
  return text.replace(/s:\d+:"(.*?)";/g, (_all, body: string) => `s:${Buffer.byteLength(body)}:"${body}";`);
}

/** Members of serialized data that hold a secret the server compares: a password, its hash, a token, a key. */
const SECRET_MEMBER = /pass|pwd|hash|token|secret|key|sig|auth|remember|nonce/i;

/**
 * PHP serialized text with each string member named like a secret (`s:5:"token";s:32:"9f86..."`) set to the
 * boolean true (`s:5:"token";b:1;`): PHP's loose `==` takes `true` as equal to any non-empty string, so a check
 * that compares the member with the stored one passes. Undefined when no member is named so.
 */
export function phpSecretsTrue(text: string): string | undefined {
  let changed = false;
  const out = text.replace(/s:\d+:"([A-Za-z_][\w-]{0,30})";s:\d+:"[^"]{0,512}";/g, (all, key: string) => {
    if (!SECRET_MEMBER.test(key)) return all;
    changed = true;
    return `s:${key.length}:"${key}";b:1;`;
  });
  return changed ? out : undefined;
}

/** JSON text with each string member named like a secret set to `true` (see phpSecretsTrue); undefined if none. */
export function jsonSecretsTrue(text: string): string | undefined {
  if (!text.trimStart().startsWith('{')) return undefined;
  let changed = false;
  const out = text.replace(
    /"([A-Za-z_][\w-]{0,30})"(\s{0,3}):(\s{0,3})"[^"\\]{0,512}"/g,
    (all, key: string, a, b) => {
      if (!SECRET_MEMBER.test(key)) return all;
      changed = true;
      return `"${key}"${a}:${b}true`;
    },
  );
  return changed ? out : undefined;
}

/** A role member (`s:4:"role";s:4:"user";`) or an admin flag (`s:8:"is_admin";b:0;`) of PHP serialized text, raised. */
function raisePhpRole(text: string, made?: string): string | undefined {
  let changed = false;
  const out = text.replace(
    /s:\d+:"([A-Za-z_][\w-]{0,30})";(s:\d+:"([A-Za-z0-9_]{1,20})"|b:([01])|i:([01]));/g,
    (all, key: string, _v: string, str?: string, bool?: string, int?: string) => {
      if (str !== undefined && ROLE_KEY.test(key) && LOW_ROLE.test(str)) {
        changed = true;
        return `s:${key.length}:"${key}";s:0:"${made ?? 'admin'}";`;
      }
      const flag = bool ?? int;
      if (flag === '0' && ADMIN_FLAG.test(key)) {
        changed = true;
        const kind = bool !== undefined ? 'b' : 'i';
        return `s:${key.length}:"${key}";${made !== undefined ? `s:0:"${made}"` : `${kind}:1`};`;
      }
      return all;
    },
  );
  return changed ? phpLengths(out) : undefined;
}

/** A member that holds a role: `role`, `user_role`, `accountType`, `access_level`, `tier`, `rank`... */
const ROLE_KEY =
  /^([a-z]{1,12}[_-]?)?(role|roles|group|groups|type|level|access|privilege|privileges|perm|perms|permission|permissions|tier|rank)$|^(kind|status|usertype)$/i;
const LOW_ROLE =
  /^(user|users|member|members|customer|guest|basic|normal|standard|viewer|reader|client|regular|default|public|free|employee|student|patient)$/i;
const ADMIN_FLAG =
  /^(is_?admin|admin|isadmin|is_?superuser|superuser|is_?staff|staff|elevated|privileged|is_?root|root)$/i;
const FALSE_WORD: Readonly<Record<string, string>> = {
  false: 'true',
  False: 'True',
  FALSE: 'TRUE',
  '0': '1',
  no: 'yes',
  n: 'y',
  off: 'on',
};

/**
 * A role or admin flag in readable text, raised: `role=user` → `role=admin`, `"is_admin":false` →
 * `"is_admin":true`. With `made`, the role becomes that made-up word instead (the control). Keys are matched
 * as `key=value`, `key:value` or JSON members; the cookie's own name counts as the key of a bare value.
 */
export function raiseRole(text: string, cookieName: string, made?: string): string | undefined {
  const bare = text.trim();
  if (PHP_SERIALIZED.test(bare)) return raisePhpRole(text, made);
  if (ROLE_KEY.test(cookieName) && LOW_ROLE.test(bare)) return text.replace(bare, made ?? 'admin');
  if (ADMIN_FLAG.test(cookieName) && FALSE_WORD[bare] !== undefined)
    return text.replace(bare, made ?? FALSE_WORD[bare]);
  let changed = false;
  const out = text.replace(
    /(["']?)([A-Za-z_][\w-]{0,30})\1(\s{0,3}[:=]\s{0,3})(["']?)([A-Za-z0-9_]{1,20})\4/g,
    (all, q1: string, key: string, sep: string, q2: string, value: string) => {
      if (ROLE_KEY.test(key) && LOW_ROLE.test(value)) {
        changed = true;
        return `${q1}${key}${q1}${sep}${q2}${made ?? 'admin'}${q2}`;
      }
      if (ADMIN_FLAG.test(key) && FALSE_WORD[value] !== undefined) {
        changed = true;
        return `${q1}${key}${q1}${sep}${q2}${made ?? FALSE_WORD[value]}${q2}`;
      }
      return all;
    },
  );
  return changed ? out : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Tampering (API2).

interface Forgery {
  readonly cookie: string;
  readonly kind: string;
  readonly value: string;
  /** The readable text before and after, for the evidence. */
  readonly before: string;
  readonly after: string;
}

/**
 * How to send the forged cookie again: the curl line's `$COOKIE` is A's cookies with this one in its place. The
 * forged value itself is shown when it holds nothing of A's secret (a JWT or dotted value keeps A's signature).
 * A forged token: `$TOKEN` is the altered token, given as `forgedToken` on the same terms.
 */
function reproduce(a: Identity, c: Carrier, f: Forgery): Record<string, string> {
  const jar = c.values;
  const opaque = f.kind === 'JWT payload' || f.kind.startsWith('base64 segment');
  if (c.what === 'token')
    return {
      reproduce: `TOKEN is ${a.name}'s token with the altered value, encoded as ${f.kind}${opaque ? ` (${a.name}'s own signature kept, not shown)` : ''}`,
      ...(opaque ? {} : { forgedToken: f.value.slice(0, 600) }),
    };
  const others = [...jar.keys()].filter((k) => k !== f.cookie);
  return {
    reproduce: `COOKIE is ${a.name}'s cookies${others.length > 0 ? ` (${others.join(', ')})` : ''} with ${f.cookie} holding the altered value, encoded as ${f.kind}${opaque ? ` (${a.name}'s own signature kept)` : ''}`,
    ...(opaque ? {} : { forgedCookie: `${f.cookie}=${f.value}`.slice(0, 600) }),
  };
}

/** A's cookies with A's name, e-mail or id replaced by B's, in every readable form that holds them. */
function identityForgeries(
  jar: ReadonlyMap<string, string>,
  pairs: readonly (readonly [string, string])[],
): Forgery[] {
  const out: Forgery[] = [];
  const later: Forgery[] = [];
  for (const [cookie, raw] of [...jar].slice(0, MAX_COOKIES)) {
    for (const layer of layersOf(raw)) {
      let text = layer.text;
      for (const [from, to] of pairs) text = replaceWord(text, from, to) ?? text;
      if (text === layer.text) continue;
      const php = PHP_SERIALIZED.test(text.trim());
      if (php) text = phpLengths(text);
      out.push({ cookie, kind: layer.kind, value: layer.encode(text), before: layer.text, after: text });
      // PHP compares loosely (`==`): a secret member read back as `true` (unserialize, json_decode) equals any
      // non-empty string.
      const loose = php ? phpSecretsTrue(text) : jsonSecretsTrue(text);
      if (loose !== undefined)
        later.push({
          cookie,
          kind: `${layer.kind}, its secret members set to true (${php ? 'b:1' : 'true'})`,
          value: layer.encode(loose),
          before: layer.text,
          after: loose,
        });
    }
  }
  // The loose-comparison variants after every plain one (forge tries the first few).
  return [...out, ...later];
}

/** Pairs (A's value → B's value) of the same kind: the same login field, the same member of the same read. */
function identityPairs(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w !== undefined && w !== v && !out.some(([f]) => f === v)) out.push([v, w]);
  }
  // Longer values first: an e-mail before the user name inside it.
  return out.sort((x, y) => y[0].length - x[0].length);
}

/** A garbage value in the cookie's place: the same length, random letters and digits. */
function garbage(raw: string): string {
  const n = Math.max(8, Math.min(raw.length, 64));
  return randomBytes(n).toString('base64url').replace(/[-_]/g, 'x').slice(0, n);
}

/** Does `res` read like B's own answer and not like A's? */
function showsB(
  res: ScanResponse | undefined,
  mineA: ScanResponse,
  mineB: ScanResponse,
  aWords: readonly string[],
  bWords: readonly string[],
): boolean {
  if (refused(res) || res === undefined) return false;
  if (mineA.json !== undefined && mineB.json !== undefined && res.json !== undefined) {
    const toB = similarity(res.json, mineB.json);
    return toB >= 0.9 && toB > similarity(res.json, mineA.json);
  }
  // Text answers (HTML pages): B's words are there, A's are not.
  return (
    bWords.length > 0 && bWords.every((w) => shows(res.text, w)) && !aWords.some((w) => shows(res.text, w))
  );
}

/** Members named like an account's id or number (`uid`, `user_id`, `memberId`, `acct_no`). */
const ID_KEY = /^(u?id|_id|acct|account)$|[_-](id|no|num|number)$|[a-z](Id|No|Num)$/i;

/** Small numbers under id-like keys in readable text: JSON members, PHP serialized members, `key=value` pairs. */
export function idNumbersIn(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const key = '([A-Za-z_][\\w-]{0,30})';
  for (const re of [
    new RegExp(`"${key}"\\s{0,3}:\\s{0,3}"?(\\d{1,7})"?(?=[,}\\s])`, 'g'),
    new RegExp(`s:\\d+:"${key}";[is]:(?:\\d+:")?(\\d{1,7})"?;`, 'g'),
    new RegExp(`(?:^|[&;|,\\s])${key}=(\\d{1,7})(?=$|[&;|,\\s])`, 'g'),
  ])
    for (const m of text.slice(0, 4096).matchAll(re))
      if (ID_KEY.test(m[1]) && !out.has(m[1])) out.set(m[1], m[2]);
  return out;
}

/**
 * Account numbers both hold in a cookie (or token) of the same name: the whole value a small number (`acct=1041`),
 * or a small number under an id-like key of its readable form (`{"uid":12}`, `s:3:"uid";i:12;`, `uid=12&lang=de`).
 * B's number is no secret of B's (ids are small and guessable); B's other values (a nonce, a signature) are
 * never taken.
 */
function cookieNumbers(
  jar: ReadonlyMap<string, string>,
  jarB: ReadonlyMap<string, string>,
  ma: Map<string, string>,
  mb: Map<string, string>,
): void {
  for (const [name, v] of jar) {
    const w = jarB.get(name);
    if (w === undefined || w === v) continue;
    if (/^\d{1,7}$/.test(v) && /^\d{1,7}$/.test(w)) {
      ma.set(`cookie:${name}`, v);
      mb.set(`cookie:${name}`, w);
      continue;
    }
    const layersB = layersOf(w);
    for (const layer of layersOf(v)) {
      const other = layersB.find((l) => l.kind === layer.kind);
      if (!other) continue;
      const bNumbers = idNumbersIn(other.text);
      for (const [k, n] of idNumbersIn(layer.text)) {
        const m = bNumbers.get(k);
        if (m === undefined || m === n) continue;
        ma.set(`cookie:${name}:${k}`, n);
        mb.set(`cookie:${name}:${k}`, m);
      }
    }
  }
}

/** The swap on A's reference read (a parameterless one): true when it was reported. */
async function identitySwap(
  ctx: ScanContext,
  a: Identity,
  b: Identity,
  c: Carrier = cookieCarrier(a),
  bValues: ReadonlyMap<string, string> = cookiesOf(b),
): Promise<boolean> {
  // A token is the whole credential; of cookies, only those the read needs.
  const { names, read } =
    c.what === 'token'
      ? { names: [...c.values.keys()], read: await cookieRead(ctx, a) }
      : await sessionCookies(ctx, a);
  if (!read || names.length === 0) return false;
  const mineB = await ctx.send(read.req, b);
  if (!mineB || refused(mineB)) return false;
  const mineA = read.mine;
  // A and B must see different things there (their own profile, their own records).
  if (mineA.json !== undefined && mineB.json !== undefined) {
    if (similarity(mineA.json, mineB.json) >= 0.9) return false;
  } else if (mineA.text === mineB.text) return false;
  const ma = markersOf(a, mineA);
  const mb = markersOf(b, mineB);
  cookieNumbers(c.values, bValues, ma, mb);
  const pairs = identityPairs(ma, mb);
  if (pairs.length === 0) return false;
  return forge(ctx, { a, b, req: read.req, mineA, mineB, c, pairs, ma, mb });
}

interface SwapProbe {
  readonly a: Identity;
  readonly b: Identity;
  /** The read, naming B's record when it names one. */
  readonly req: PlannedRequest;
  /** A's own answer there (or at its own record), and B's. */
  readonly mineA: ScanResponse;
  readonly mineB: ScanResponse;
  /** A's credential, to alter. */
  readonly c: Carrier;
  readonly pairs: readonly (readonly [string, string])[];
  readonly ma: ReadonlyMap<string, string>;
  readonly mb: ReadonlyMap<string, string>;
  /** What A's real cookies got at `req` (refused), when it names B's record. */
  readonly asA?: ScanResponse;
}

/** A's cookies with B's name or id in place, at `req`: B's answer there, while garbage gets none, is reported. */
async function forge(ctx: ScanContext, p: SwapProbe): Promise<boolean> {
  const { a, b, req, mineA, mineB, c } = p;
  const jar = c.values;
  const aWords = shownMarkers(p.ma, mineA).filter((w) => !shows(mineB.text, w));
  const bWords = shownMarkers(p.mb, mineB).filter((w) => !shows(mineA.text, w));
  const op = req.operation;
  for (const f of identityForgeries(jar, p.pairs).slice(0, MAX_COOKIES)) {
    const forged = new Map(jar);
    forged.set(f.cookie, f.value);
    const res = await ctx.send(req, c.as(forged, `${c.what} ${f.cookie} altered`));
    if (!showsB(res, mineA, mineB, aWords, bWords)) continue;
    // The control: the same cookie holding garbage is refused (the API does read that cookie).
    const junk = new Map(jar);
    junk.set(f.cookie, garbage(jar.get(f.cookie) ?? ''));
    const control = await ctx.send(req, c.as(junk, `${c.what} ${f.cookie} garbage`));
    if (likeMine(control, mineA, aWords) || showsB(control, mineA, mineB, aWords, bWords)) continue;
    const own = p.asA
      ? ` (${a.name}'s own ${c.what === 'cookie' ? 'cookies are' : 'token is'} refused there: ${p.asA.status})`
      : '';
    ctx.report(SCAN_RULES.tokenAccepted, {
      operation: op,
      key: `${c.what}-identity:${f.cookie}`,
      message: `${op.method} ${op.path} answered ${b.name}'s own data to ${a.name}'s ${named(c, f.cookie)} with ${a.name}'s name or id replaced by ${b.name}'s in its ${f.kind}${own}: the ${c.what} says who the caller is and nothing checks it, so anyone can sign in as anyone whose name or id they know. The same ${c.what} holding a garbage value got no such answer (${control?.status ?? 'no answer'}).`,
      evidence: evidenceOf(res!, {
        [c.what === 'cookie' ? 'cookie' : 'header']: f.cookie,
        encoding: f.kind,
        readable: redact(f.before).slice(0, 200),
        altered: redact(f.after).slice(0, 200),
        controlStatus: control?.status,
        ...(p.asA ? { ownCookiesStatus: p.asA.status } : {}),
        ...reproduce(a, c, f),
      }),
    });
    return true;
  }
  return false;
}

const ID_NAME = /^(id|uid|userid|accountid|memberid|customerid|_id)$/;
const norm = (k: string) =>
  k
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '')
    .replace(/_/g, '');

/** The value of `markers` for a path parameter: the same name, else an id for an id, an e-mail, a user name. */
function valueFor(param: string, markers: ReadonlyMap<string, string>): string | undefined {
  const want = norm(param);
  const last = (k: string) => norm(k.split(/[:.]/).pop() ?? '');
  for (const [k, v] of markers) if (last(k) === want) return v;
  if (/mail/.test(want)) return [...markers.values()].find((v) => v.includes('@'));
  if (/id$/.test(want)) for (const [k, v] of markers) if (ID_NAME.test(last(k))) return v;
  if (/name|login|handle/.test(want))
    for (const [k, v] of markers) if (k.startsWith('login:') && !v.includes('@')) return v;
  return undefined;
}

/**
 * The swap on a read that names one account by its only path parameter (`/patients/{uid}`, `/users/{username}`),
 * when no parameterless read told A and B apart: B's record as B reads it, which A's own cookies are refused (a
 * record A may read anyway is API1's), read with A's cookies holding B's name or id.
 */
async function recordSwap(
  ctx: ScanContext,
  a: Identity,
  b: Identity,
  c: Carrier = cookieCarrier(a),
  bValues: ReadonlyMap<string, string> = cookiesOf(b),
): Promise<void> {
  const jar = c.values;
  const ma = markersOf(a);
  const mb = markersOf(b);
  cookieNumbers(jar, bValues, ma, mb);
  const pairs = identityPairs(ma, mb);
  if (pairs.length === 0 || identityForgeries(jar, pairs).length === 0) return;
  const reads = ctx.spec.operations.filter((op) => {
    if (op.method !== 'GET' || isExcluded(op) || LOGOUT.test(`${op.path} ${op.id}`)) return false;
    if (op.parameters.some((p) => p.required && p.in === 'query')) return false;
    const path = op.parameters.filter((p) => p.in === 'path');
    return path.length === 1 && op.path.replace(/\/$/, '').endsWith(`{${path[0].name}}`);
  });
  let tried = 0;
  for (const op of reads) {
    if (tried >= 3) break;
    const param = op.parameters.find((p) => p.in === 'path')!.name;
    const bValue = valueFor(param, mb);
    const aValue = valueFor(param, ma);
    if (bValue === undefined || aValue === undefined || aValue === bValue) continue;
    tried++;
    const req = planRequest(ctx.spec, op, ctx.objects, { params: { [param]: bValue } });
    const mineB = await ctx.send(req, b);
    if (!mineB || refused(mineB)) continue;
    const asA = await ctx.send(req, a);
    if (!asA || !refused(asA)) continue;
    const mineA = await ctx.send(planRequest(ctx.spec, op, ctx.objects, { params: { [param]: aValue } }), a);
    if (!mineA || refused(mineA)) continue;
    if (await forge(ctx, { a, b, req, mineA, mineB, c, pairs, ma, mb, asA })) return;
  }
}

/** A's cookies with a role or admin flag raised (or set to the made-up word `made`). */
function roleForgeries(jar: ReadonlyMap<string, string>, made?: string): Forgery[] {
  const out: Forgery[] = [];
  for (const [cookie, raw] of [...jar].slice(0, MAX_COOKIES)) {
    for (const layer of layersOf(raw)) {
      const text = raiseRole(layer.text, cookie, made);
      if (text === undefined) continue;
      out.push({ cookie, kind: layer.kind, value: layer.encode(text), before: layer.text, after: text });
    }
  }
  return out;
}

/** Reads the admin passes and A is refused (without an admin: a 403 for A), at most two. */
async function adminReads(
  ctx: ScanContext,
  a: Identity,
): Promise<{ req: PlannedRequest; admin?: ScanResponse }[]> {
  const out: { req: PlannedRequest; admin?: ScanResponse }[] = [];
  for (const op of candidateReads(ctx).slice(0, MAX_READS)) {
    if (out.length >= 2) break;
    const req = planRequest(ctx.spec, op, ctx.objects, {});
    const mine = await ctx.send(req, a);
    if (!mine || !refused(mine)) continue;
    if (ctx.admin) {
      const admin = await ctx.send(req, ctx.admin);
      if (admin && !refused(admin)) out.push({ req, admin });
    } else if (mine.status === 403) out.push({ req });
  }
  return out;
}

async function roleRaise(ctx: ScanContext, a: Identity, c: Carrier = cookieCarrier(a)): Promise<void> {
  const jar = c.values;
  const raised = roleForgeries(jar);
  if (raised.length === 0) return;
  const targets = await adminReads(ctx, a);
  for (const { req, admin } of targets) {
    const op = req.operation;
    for (const f of raised.slice(0, MAX_COOKIES)) {
      const forged = new Map(jar);
      forged.set(f.cookie, f.value);
      const res = await ctx.send(req, c.as(forged, `${c.what} ${f.cookie} raised`));
      if (!res || refused(res)) continue;
      if (admin) {
        const like =
          admin.json !== undefined && res.json !== undefined
            ? similarity(admin.json, res.json) >= 0.8
            : admin.text === res.text;
        if (!like) continue;
      }
      // Controls: the same place holding a made-up role, and the cookie holding garbage, are refused.
      const made = `pcx${randomBytes(3).toString('hex')}`;
      const madeUp = roleForgeries(new Map([[f.cookie, jar.get(f.cookie)!]]), made).find(
        (m) => m.kind === f.kind,
      );
      if (!madeUp) continue;
      const other = new Map(jar);
      other.set(f.cookie, madeUp.value);
      const control = await ctx.send(req, c.as(other, `${c.what} ${f.cookie} made-up role`));
      if (!refused(control)) continue;
      const junk = new Map(jar);
      junk.set(f.cookie, garbage(jar.get(f.cookie) ?? ''));
      const control2 = await ctx.send(req, c.as(junk, `${c.what} ${f.cookie} garbage`));
      if (!refused(control2)) continue;
      ctx.report(SCAN_RULES.tokenAccepted, {
        operation: op,
        key: `${c.what}-role:${f.cookie}`,
        message: `${op.method} ${op.path}, refused to ${a.name}, answered ${admin ? 'what the admin reads there' : res.status} once ${a.name}'s ${c.what === 'cookie' ? `cookie ${f.cookie}` : named(c, f.cookie)} had its role raised in its ${f.kind} (${redact(f.before).slice(0, 80)} → ${redact(f.after).slice(0, 80)}): the ${c.what} grants privileges and nothing checks it. A made-up role there (${control?.status ?? 'no answer'}) and a garbage value (${control2?.status ?? 'no answer'}) were refused.`,
        evidence: evidenceOf(res, {
          [c.what === 'cookie' ? 'cookie' : 'header']: f.cookie,
          encoding: f.kind,
          readable: redact(f.before).slice(0, 200),
          altered: redact(f.after).slice(0, 200),
          refusedStatus: 'A was refused there',
          ...reproduce(a, c, f),
        }),
      });
      return;
    }
  }
}

/**
 * Cookie tampering as A: its name or id swapped for B's (judged against B's own read), its role raised (judged
 * against the admin's read). Only when A's session is a cookie (at least one cookie its reference read needs).
 */
export async function cookieTampering(ctx: ScanContext): Promise<void> {
  const [a, b] = ctx.identities;
  if (!a) return;
  if (cookiesOf(a).size > 0) {
    if (b && cookiesOf(b).size > 0 && !(await identitySwap(ctx, a, b))) await recordSwap(ctx, a, b);
    await roleRaise(ctx, a);
  }
  await tokenTampering(ctx, a, b);
}

/**
 * The same tampering on A's bearer token (or the token of another header) when it is no JWT (tokens() alters
 * JWTs) and reads as something: base64 JSON (`{"id":2,"username":"bob","role":"user"}`), base64 text, a readable
 * segment of a dotted value, plain `user:7`. Its name or id swapped for B's, judged against B's own read; its
 * role raised, judged against the admin's.
 */
async function tokenTampering(ctx: ScanContext, a: Identity, b: Identity | undefined): Promise<void> {
  const c = tokenCarrier(a);
  if (!c) return;
  const token = [...c.values.values()][0];
  if (jwtHeader(token.split('.')[0]) !== undefined) return;
  // Only a token some layer reads: an opaque random string has nothing to alter.
  if (layersOf(token).length < 2 && !/[:|=,;]/.test(token)) return;
  const bValues = (b && tokenCarrier(b)?.values) ?? new Map<string, string>();
  if (b && !(await identitySwap(ctx, a, b, c, bValues))) await recordSwap(ctx, a, b, c, bValues);
  await roleRaise(ctx, a, c);
}

// ---------------------------------------------------------------------------------------------------------
// Flags (API8).

interface CookieLine {
  readonly name: string;
  readonly httpOnly: boolean;
  readonly secure: boolean;
  readonly sameSite?: string;
  readonly line: string;
}

/** The Set-Cookie lines of an answer, with their flags (the client joins repeated headers with ", "). */
export function cookieLines(res: ScanResponse): CookieLine[] {
  const raw = res.headers['set-cookie'];
  if (!raw) return [];
  const out: CookieLine[] = [];
  for (const line of raw.split(/,\s*(?=[^;,=\s]+=)/)) {
    const [pair, ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const value = pair.slice(eq + 1).trim();
    const names = attrs.map((a) => a.trim().toLowerCase());
    // A deletion (empty value, a past expiry, Max-Age=0) says nothing about the session's cookie.
    if (value === '' || value === '""' || names.some((a) => /^max-age=\s*0$/.test(a))) continue;
    const sameSite = names
      .find((a) => a.startsWith('samesite='))
      ?.slice(9)
      .trim();
    out.push({
      name: pair.slice(0, eq).trim(),
      httpOnly: names.includes('httponly'),
      secure: names.includes('secure'),
      ...(sameSite !== undefined ? { sameSite } : {}),
      line: line.replace(/=[^;]*/, '=…').slice(0, 200),
    });
  }
  return out;
}

/** The latest answer the scan saw that set cookie `name` (a login's, a renewal's). */
function seenSetting(ctx: ScanContext, name: string): { res: ScanResponse; line: CookieLine } | undefined {
  for (let i = ctx.observations.length - 1; i >= 0; i--) {
    const res = ctx.observations[i].response;
    const line = cookieLines(res).find((l) => l.name === name);
    if (line) return { res, line };
  }
  return undefined;
}

/** The documented operation of a login flow, when there is one. */
function loginOperation(ctx: ScanContext, who: Identity): Operation | undefined {
  const flow = who.login?.flow;
  if (!flow) return undefined;
  const path = flow.path.split('?')[0];
  const method = flow.method ?? 'POST';
  return ctx.spec.operations.find((op) => op.method === method && op.path === path);
}

export async function cookieFlags(ctx: ScanContext): Promise<CrossSite | undefined> {
  const https = new URL(ctx.target).protocol === 'https:';
  const holders = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])].filter((i) => cookiesOf(i).size > 0);
  if (holders.length === 0) {
    ctx.note?.({ rule: SCAN_RULES.insecureSessionCookie, reason: 'no identity holds a cookie' });
    return undefined;
  }
  const judged = new Map<string, SetCookie>();
  let sessions = 0;
  for (const who of holders.slice(0, 2)) {
    const { names, read } = await sessionCookies(ctx, who);
    sessions += names.length;
    for (const name of names) {
      if (judged.has(name)) continue;
      let seen = seenSetting(ctx, name);
      if (!seen && who.login?.flow) seen = await freshLogin(ctx, who, name, read);
      if (!seen) continue;
      judged.set(name, seen);
      const { res, line } = seen;
      const problems: string[] = [];
      if (!line.httpOnly) problems.push('no HttpOnly: a script on the page (any XSS) reads the session');
      if (line.sameSite === 'none' && !line.secure)
        problems.push(
          'SameSite=None without Secure: sent along with cross-site requests, over plain http too',
        );
      if (https && !line.secure)
        problems.push('no Secure on an https API: the browser sends it over plain http too');
      if (problems.length === 0) continue;
      const op = loginOperation(ctx, who);
      ctx.report(SCAN_RULES.insecureSessionCookie, {
        ...(op ? { operation: op } : {}),
        key: name,
        message: `The session cookie ${name} (the one ${who.name}'s requests need: without it ${read?.req.operation.method} ${read?.req.operation.path} is refused) is set with ${problems.join('; ')}.`,
        evidence: evidenceOf(res, {
          cookie: name,
          setCookie: line.line,
          httpOnly: line.httpOnly,
          secure: https ? line.secure : 'not judged: the target is plain http, where Secure cannot be used',
          sameSite: line.sameSite ?? 'not set',
        }),
      });
    }
  }
  const crossSite = crossSiteChanges(ctx, judged);
  if (sessions === 0)
    ctx.note?.({
      rule: SCAN_RULES.insecureSessionCookie,
      reason: 'no cookie carries a session: no read an identity passes needs one of its cookies',
    });
  else if (judged.size === 0)
    ctx.note?.({
      rule: SCAN_RULES.insecureSessionCookie,
      reason:
        'no answer the scan saw set the session cookie (given as a header, and no login through the API)',
    });
  return crossSite;
}

/** Header names and members that carry an anti-forgery token (`X-CSRF-Token`, `_csrf`, `authenticity_token`). */
const ANTI_FORGERY = /csrf|xsrf|forgery|authenticity|request_?verification|^x-requested-with$/i;
/** Bodies a page on another site posts without asking first (a form, multipart, plain text: no CORS preflight). */
const SIMPLE_BODY = /^(application\/x-www-form-urlencoded|multipart\/form-data|text\/plain)$/i;
/** Paths of a sign-in, sign-up or sign-out: forging one is no change of the victim's data. */
const SIGN_PATH = /log_?in|sign_?(in|up|out)|log_?out|register|session|auth|token|password|reset|forgot/i;
/** A POST that only reads (`/search`, `/reports/preview`, `/price/calculate`): no change to forge. */
const READ_VERB =
  /^(search|query|find|lookup|filter|list|preview|validate|check|verify|calculate|estimate|quote|graphql|render|convert|export)$/i;

/** Whether a POST at `path` only reads, by its last literal word (`/items/search`, `/price-quote`; not `/plots`). */
export function postReadsOnly(path: string): boolean {
  const seg =
    path
      .split('/')
      .filter((s) => s !== '' && !s.includes('{'))
      .at(-1) ?? '';
  return READ_VERB.test(
    seg
      .split(/[^A-Za-z]+/)
      .filter(Boolean)
      .at(-1) ?? '',
  );
}

/** A session cookie as an answer set it. */
export interface SetCookie {
  readonly res: ScanResponse;
  readonly line: CookieLine;
}

/** What the CSRF reading of the traffic left to prove: JSON creations of given identities made with a cookie alone. */
export interface CrossSite {
  /** The session cookies judged, as last set. */
  readonly judged: ReadonlyMap<string, SetCookie>;
  /** By cookie name: one creation a given identity made with it alone and a JSON body (sent again as text/plain). */
  readonly json: ReadonlyMap<string, Observation>;
  /** Cookie names already reported or noted. */
  readonly done: Set<string>;
}

/**
 * CSRF shown by the scan's own traffic: a POST that changed state (a 2xx that refuses nothing, at a documented
 * operation that is no sign-in, sign-up or sign-out, nor a read such as `/search` or `/preview`, nor open to anyone
 * by its document's security) whose only credential was a session cookie in `judged`, with no
 * anti-forgery header or member, and a body a cross-site form can send; reported when that cookie was set without
 * SameSite=Lax or Strict (a cross-site POST carries it), else noted.
 */
function crossSiteChanges(
  ctx: ScanContext,
  judged: ReadonlyMap<string, { res: ScanResponse; line: CookieLine }>,
): CrossSite {
  const done = new Set<string>();
  /** JSON creations of given identities with the cookie alone, by cookie: one may be sent again as plain text. */
  const json = new Map<string, Observation>();
  for (const obs of judged.size === 0 ? [] : ctx.observations) {
    const { operation: op, request, response, identity } = obs;
    if (done.size === judged.size) break;
    if (!op || request.method !== 'POST' || SIGN_PATH.test(op.path) || refused(response)) continue;
    if (postReadsOnly(op.path)) continue;
    // An operation the document opens to anyone (`security: []`, or `{}` among its alternatives: a sign-up) acts
    // for no session: a forged request does nothing the forger could not do without the victim's cookie.
    if (op.security !== undefined && !requiresAuth(op)) continue;
    const headers = Object.fromEntries(
      Object.entries(response.sent.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    );
    const sent = new Set(
      (headers.cookie ?? '').split(';').map((part) => part.slice(0, part.indexOf('=')).trim()),
    );
    const name = [...judged.keys()].find((n) => sent.has(n) && !done.has(n));
    if (name === undefined) continue;
    // Another credential beside the cookie (a bearer token, an API key) is no cookie session.
    if (Object.keys(headers).some((h) => h !== 'cookie' && CREDENTIAL_HEADER.test(h))) continue;
    if (Object.keys(headers).some((h) => ANTI_FORGERY.test(h))) continue;
    if (
      ANTI_FORGERY.test(response.sent.body ?? '') ||
      ANTI_FORGERY.test(response.sent.url.split('?')[1] ?? '')
    )
      continue;
    const type = (headers['content-type'] ?? '').split(';')[0].trim();
    if (type !== '' && !SIMPLE_BODY.test(type)) {
      if (
        /json/i.test(type) &&
        !json.has(name) &&
        isCreationOperation(ctx.spec, op) &&
        !isBusinessFlow(ctx.spec, op) &&
        ctx.identities.some((i) => i.name === identity)
      )
        json.set(name, obs);
      continue;
    }
    done.add(name);
    reportCrossSite(ctx, name, judged.get(name)!, obs, type === '' ? 'no body' : `a body of type ${type}`);
  }
  return { judged, json, done };
}

/** The CSRF finding (or, with SameSite=Lax or Strict, a note) for a change made with cookie `name` alone. */
export function reportCrossSite(
  ctx: ScanContext,
  name: string,
  { res: setting, line }: SetCookie,
  { operation, response, identity }: Observation,
  body: string,
): void {
  const op = operation!;
  const sameSite = line.sameSite?.toLowerCase();
  if (sameSite === 'lax' || sameSite === 'strict') {
    ctx.note?.({
      operation: op,
      rule: SCAN_RULES.csrf,
      reason: `${op.method} ${op.path} changed state with the session cookie ${name} alone and no anti-forgery token, but the cookie is set SameSite=${line.sameSite}: a cross-site POST does not carry it (not reported)`,
    });
    return;
  }
  const why =
    sameSite === 'none'
      ? 'set with SameSite=None: the browser sends it along with a cross-site POST'
      : 'set without SameSite: browsers that do not default to Lax send it along with a cross-site POST';
  ctx.report(SCAN_RULES.csrf, {
    operation: op,
    key: `csrf:${name}`,
    message: `${op.method} ${op.path} changed state (${response.status}) for ${identity ?? 'a session'} with the session cookie ${name} as its only credential: no anti-forgery token in a header or the body, ${body} (what any web page can post), and the cookie is ${why}.`,
    evidence: evidenceOf(response, {
      cookie: name,
      setCookie: line.line,
      sameSite: line.sameSite ?? 'not set',
      sent: body,
      cookieSetBy: `${setting.sent.method} ${setting.sent.url}`,
    }),
  });
}

/**
 * The identity logs in once more with its own flow (its right password) to see how the cookie is set; when that
 * ends its older session (one session per account), its jar takes the new cookies.
 */
async function freshLogin(
  ctx: ScanContext,
  who: Identity,
  name: string,
  read: CookieRead | undefined,
): Promise<{ res: ScanResponse; line: CookieLine } | undefined> {
  const flow = who.login?.flow;
  if (!flow) return undefined;
  const temp: Identity = withJar(
    { ...who, session: { ...who.session, headers: {} } },
    new Map(),
    'fresh login',
  );
  const res = await ctx.send(loginRequest(flow), temp);
  if (!res || res.status >= 400) return undefined;
  if (read) {
    const still = await ctx.send(read.req, who);
    if (refused(still) && temp.session.cookies.size > 0) {
      who.session.cookies.clear();
      for (const [k, v] of temp.session.cookies) who.session.cookies.set(k, v);
    }
  }
  const line = cookieLines(res).find((l) => l.name === name);
  return line ? { res, line } : undefined;
}
