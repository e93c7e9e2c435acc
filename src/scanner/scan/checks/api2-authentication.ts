/**
 * API2 Broken Authentication.
 * - Every secured GET without credentials.
 * - GETs that declare no security: an anonymous answer holding A's account record or A's private object, which a
 *   read A passes and an anonymous caller is refused shows only with credentials (undeclaredNoCredentials).
 * - Identity A's token altered on requests that A passes and an anonymous caller does not (up to six
 *   operations, each variant until one accepts it; accepted is a 2xx that refuses nothing and, in JSON, shows what
 *   A's own token shows): malformed,
 *   `alg: none` (three spellings), signature stripped or replaced, re-signed with an empty key, `kid` pointing at
 *   an empty file or a SQL expression, `jku`/`x5u` pointing at the scanner's canary. Every HMAC token the scan
 *   saw (the identities' and any in responses) is cracked offline against thousands of common secrets and the
 *   API's own words; with the secret, an expired token is sent too.
 * - The login (the identities' own login flow, else the document's: JSON, form or query-string inputs): an
 *   unknown user and a wrong password must answer alike (there and at each other documented login, with an
 *   account of the scan's own), and so must the password reset for a known and an unknown account; where one of
 *   them told, the sign-up sent again for the scan's own account must answer like one for a new name. A given identity (A) gets two wrong passwords at most: the enumeration's, and one judged for
 *   wrong-password-accepted; an account of the scan's own (V) gets one at each documented login (at most eight),
 *   judged the same way with its control.
 *   Twelve failed logins for V (else for a user name nobody has), at each login where no wrong password signed
 *   in, must meet a lockout, a 429 or a delay: each answer judged by its credential, not its status (APIs answer
 *   a failed login `200 {"success": false}`), and V's right password must still sign in afterwards. PIN/OTP
 *   inputs: twelve wrong codes for an account of the scan's own (else a name nobody has) must meet a limit. A
 *   refusal (>= 400, or refused in a 200) is a failed login whatever cookie it sets; a wrong password that signs
 *   in, with a credential that reads what the account's own session reads while an unknown user's does not, is
 *   the critical wrong-password-accepted instead; a user name nobody has that gets a working credential (a real
 *   login there works too) is any-credentials-accepted, checked first and reported alone.
 * - What the tokens carry (token-contents.ts): a key every token shares, a password hash, secret claims.
 * - Weak passwords at a sign-up whose inputs are body fields (JSON, form) or query parameters.
 * - GET logins with a password in the query string: reported when A's password there answers otherwise than a
 *   wrong one, or returns a credential that works as A (and a wrong one too: wrong-password-accepted).
 * - Passive: an answer giving a password the scan knows back in plain text (api3-sensitive-data-exposure).
 */
import { createHmac, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Operation } from '../../../core/api-document.ts';
import type { Check } from '../check.ts';
import { joinUrl, type ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isRefused, isSuccess, redact, type ScanContext } from '../context.ts';
import { curlFor, shellQuote } from '../curl.ts';
import { listedVariants, setsPasswordByUrl } from '../discover.ts';
import {
  type BasicLoginFlow,
  isBasicLogin,
  loginFields,
  loginOutcome,
  loginRequest,
  reportsSignIn,
  sessionIdentity,
  setCookies,
  signedIn,
} from '../login.ts';
import type { LoginFlow } from '../options.ts';
import {
  bodySchema,
  isExcluded,
  isLoginOperation,
  jsonBodySchema,
  listedValue,
  type PlannedRequest,
  planRequest,
  requiresAuth,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, recordFields, recordProperties, sampleValue } from '../schema.ts';
import { accountParam, selfIds } from '../self.ts';
import { similarity } from '../similarity.ts';
import { sessionChecks } from './api2-sessions.ts';
import { looksPrivileged, meantForRole, refusedIn200 } from './api5-function-authorization.ts';
import {
  accountValues,
  checkIds,
  freshPassword,
  loginValues,
  MAIL_FIELD,
  namesOnly,
  noteLeftAccount,
  passwordInputs,
  passwordRequest,
  refundGivenFailure,
  registerThrowaway,
  rememberAccount,
  retireThrowaway,
  reuseThrowaway,
  signup,
  signupRequest,
  spendGivenFailure,
  type Throwaway,
} from './throwaway.ts';
import { tokenSecrets } from './token-contents.ts';
import { commonSecrets, secretPhrases, secretsFromWords, weakHmacSecrets } from './weak-secrets.ts';

const ATTEMPTS = 12;
/** Reads (A passes, an anonymous caller is refused) each altered token goes to. */
const TOKEN_READS = 6;
/** Time the offline guessing of HMAC secrets may take in one scan, every token together. */
const CRACK_BUDGET_MS = 1500;
const HMAC: Readonly<Record<string, string>> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };
const PASSWORD_FIELD = /pass(word)?|passwd|pwd|secret/i;
const USER_FIELD = /user|email|e_?mail|login|name|handle|nick|account|phone|mobile/i;
const LOGIN_PATH = /(^|[/_-])(log[_-]?in|sign[_-]?in|auth(enticate)?|token|session)s?($|[/_.-])/i;
/** A login word closing a camelCase segment (`/api/userLogin`, `/doSignIn`, `/customerAuthenticate`). */
const CAMEL_LOGIN_PATH = /[a-z0-9](Log[Ii]n|Sign[Ii]n|Authenticate)($|[/.])/;
const loginPath = (path: string) => LOGIN_PATH.test(path) || CAMEL_LOGIN_PATH.test(path);
/** An operation id that says login (`userLogin`, `sign_in`; one made of the path, `POST /userlogin`, too). */
const loginId = (op: Operation) => /log_?in|sign_?in|token/i.test(op.id);
const RESET_PATH = /forgot|reset|recover|password[/_-]?(reset|forgot)/i;
const OTP_FIELD =
  /^((reset|login|auth|email|sms|phone|mfa|2fa|security|verify|confirm(ation)?)_?)?(otp|pin|totp|mfa|2fa|mfa_?code|otp_?code|pin_?code|verification_?code|one_?time_?(code|password)|sms_?code|code)$/i;
const OTP_PATH = /otp|pin|mfa|2fa|totp|verify|verification|confirm|reset|code/i;
/** A `token` input is the one-time code only on a path that names one (`/users/{id}/validate-otp?token=`). */
const OTP_TOKEN_FIELD = /^((otp|mfa|2fa|totp)_?)?token$/i;
const STRICT_OTP_PATH = /otp|mfa|2fa|totp|one[_-]?time/i;
/** Query parameters that carry a password or another long-lived secret in the URL. */
const SECRET_QUERY =
  /^(pass(word)?|passwd|pwd|user_?password|new_?password|secret|client_?secret|api_?key|apikey)$/i;

interface Jwt {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
  readonly parts: readonly string[];
}

export function decodeJwt(token: string): Jwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
    if (typeof header !== 'object' || typeof payload !== 'object' || header === null || payload === null)
      return undefined;
    return { header, payload, parts };
  } catch {
    return undefined;
  }
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function signHmac(alg: string, secret: string, header: unknown, payload: unknown): string {
  const input = `${encode(header)}.${encode(payload)}`;
  return `${input}.${createHmac(HMAC[alg] ?? 'sha256', secret)
    .update(input)
    .digest('base64url')}`;
}

/**
 * Tries the built-in secrets (and `extra` ones, e.g. words of the API) against the token's signature, offline.
 * @example crackHmac(token, ['notes-api']) // 'secret' when the token was signed with "secret"
 */
export function crackHmac(token: string, extra: readonly string[] = []): string | undefined {
  return crackHmacWithin(token, [extra, weakHmacSecrets()], Number.POSITIVE_INFINITY).secret;
}

/** What an offline crack found, how many candidates it tried, and whether it tried them all in its time. */
export interface CrackResult {
  readonly secret?: string;
  readonly tried: number;
  readonly complete: boolean;
}

/**
 * Tries the candidate lists in order (each candidate once, where it first appears) until one makes the token's signature or `budgetMs` has passed: a bounded cost per scan on a loaded machine
 * (about 110 000 candidates take 1 s on a quiet 2-core machine, three times that under load).
 */
export function crackHmacWithin(
  token: string,
  lists: readonly (readonly string[])[],
  budgetMs: number,
): CrackResult {
  const jwt = decodeJwt(token);
  const alg = typeof jwt?.header.alg === 'string' ? jwt.header.alg : '';
  if (!jwt || !HMAC[alg]) return { tried: 0, complete: true };
  const input = Buffer.from(`${jwt.parts[0]}.${jwt.parts[1]}`);
  const signature = Buffer.from(jwt.parts[2], 'base64url');
  const seen = new Set<string>();
  const deadline = performance.now() + budgetMs;
  let tried = 0;
  for (const list of lists) {
    for (const secret of list) {
      if (seen.has(secret)) continue;
      seen.add(secret);
      if ((++tried & 1023) === 0 && performance.now() > deadline) return { tried, complete: false };
      const candidate = createHmac(HMAC[alg], secret).update(input).digest();
      if (candidate.length === signature.length && timingSafeEqual(candidate, signature))
        return { secret, tried, complete: true };
    }
  }
  return { tried, complete: true };
}

/** Words of the API under test, for secrets like `notes-secret`: title, host labels, path segments. */
function apiWords(ctx: ScanContext): string[] {
  const words = new Set<string>();
  const add = (w: string) => {
    if (/^[a-z][\w .-]{1,30}$/i.test(w)) words.add(w);
  };
  add(ctx.spec.title);
  for (const part of ctx.spec.title.split(/[\s_-]+/)) add(part);
  for (const label of new URL(ctx.target).hostname.split('.')) add(label);
  for (const op of ctx.spec.operations) {
    for (const seg of op.path.split('/')) if (!seg.startsWith('{') && !/^v\d+$/.test(seg)) add(seg);
  }
  return [...words].slice(0, 60);
}

/** The identity with the header (or cookie) carrying `token` in place of its own credentials. */
function forged(a: Identity, token: string): Identity {
  const flow = a.login?.flow;
  const headers: Record<string, string> = {};
  const cookies = new Map<string, string>();
  if (flow?.tokenCookie !== undefined) cookies.set(flow.tokenCookie, token);
  else {
    const header = (flow?.header ?? 'authorization').toLowerCase();
    const scheme = flow?.scheme ?? (header === 'authorization' ? 'Bearer' : '');
    headers[header] = scheme ? `${scheme} ${token}` : token;
  }
  return { name: `${a.name} (altered token)`, session: { name: a.name, headers, cookies } };
}

/** Claim names that hold a secret: a token carrying one is not printed whole (its claims are A's). */
const SECRET_CLAIM = /pass|pwd|secret|hash|private|api_?key|credential|ssn/i;

/**
 * The evidence of an accepted altered token: its curl line carries the token itself in place of `"$TOKEN"` (or
 * `"$COOKIE"`), as the API got it, so that it runs as printed. The altered token proves the flaw and works only
 * where the API fails to verify; it holds no secret: no signature of A's (removed, random, made with an empty or
 * a made-up key), or one the scan made with a secret it guessed, which is never printed. A token whose claims
 * hold a member named like a secret keeps the placeholder and says so.
 */
export function forgedEvidence(
  res: ScanResponse,
  token: string,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  const base = evidenceOf(res, extra);
  const claims = decodeJwt(token)?.payload ?? {};
  if (Object.keys(claims).some((k) => SECRET_CLAIM.test(k)))
    return {
      ...base,
      reproduce: 'TOKEN is the altered token, not shown: its claims hold a member named like a secret',
    };
  const headers = res.sent.headers ?? {};
  // The header that carried the altered token, and nothing else: a scheme before it, or a cookie's name.
  const carrier = Object.keys(headers).find((name) => {
    const value = headers[name];
    if (value === token) return true;
    if (!value.endsWith(token)) return false;
    const head = value.slice(0, -token.length);
    return /^\w+ $/.test(head) || (name.toLowerCase() === 'cookie' && /^[\w.-]+=$/.test(head));
  });
  if (carrier === undefined) return { ...base, forgedToken: token };
  const rest = { ...headers };
  delete rest[carrier];
  const curl = `${curlFor({ ...res.sent, headers: rest })} -H ${shellQuote(`${carrier}: ${headers[carrier]}`)}`;
  return { ...base, curl, forgedToken: token };
}

/** A request that A passes and an anonymous caller does not: the reference for the token variants. */
async function referenceRequest(ctx: ScanContext, a: Identity) {
  return (await referenceRequests(ctx, a, 1))[0];
}

/**
 * Up to `max` such requests, on distinct operations (declared secured GETs first, 25 GETs looked at): the token
 * variants go to each, as an API may verify the token on some routes and only decode it on others.
 */
async function referenceRequests(ctx: ScanContext, a: Identity, max: number): Promise<PlannedRequest[]> {
  const out: PlannedRequest[] = [];
  const candidates = ctx.spec.operations.filter((op) => op.method === 'GET' && !isExcluded(op));
  candidates.sort((x, y) => Number(requiresAuth(y)) - Number(requiresAuth(x)));
  for (const op of candidates.slice(0, 25)) {
    if (out.length >= max) break;
    const req = planRequest(ctx.spec, op, ctx.objects, { owner: a.name });
    if (op.path.includes('{') && !req.ownedPath) continue;
    // Answers the scan already got for the same line serve (the undeclared-security comparison sent many).
    const res = await answerTo(ctx, req, a);
    if (!isSuccess(res) || errorIn200(res)) continue;
    const anon = await answerTo(ctx, req, null);
    if (anon && (isRefused(anon) || errorIn200(anon))) out.push(req);
  }
  return out;
}

const references = new WeakMap<ScanContext, Map<string, ReturnType<typeof referenceRequest>>>();

/** referenceRequest, looked for once per identity and scan. */
function reference(ctx: ScanContext, a: Identity): ReturnType<typeof referenceRequest> {
  const byName = references.get(ctx) ?? new Map<string, ReturnType<typeof referenceRequest>>();
  references.set(ctx, byName);
  const found = byName.get(a.name) ?? referenceRequest(ctx, a);
  byName.set(a.name, found);
  return found;
}

/**
 * Did a login answer hand out a credential that WORKS as `a`? Not refused (>= 400, or refused in a 200), a
 * token or session cookie came back, and with it the reference request (one `a` passes and an anonymous
 * caller does not) answers like it does for `a`. A fresh anonymous cookie on every answer fails the last test.
 */
async function worksAs(
  ctx: ScanContext,
  a: Identity,
  flow: LoginFlow,
  res: ScanResponse | undefined,
  label: string,
): Promise<ScanResponse | undefined> {
  if (!res || res.status >= 400 || refusedIn200(res) || errorIn200(res) || !signedIn(flow, res))
    return undefined;
  const req = await reference(ctx, a);
  if (!req) return undefined;
  const mine = await ctx.send(req, a);
  if (!isSuccess(mine) || errorIn200(mine)) return undefined;
  const got = await ctx.send(req, sessionIdentity(flow, res, `${a.name} (${label})`));
  if (!isSuccess(got) || errorIn200(got) || refusedIn200(got)) return undefined;
  return similarity(mine.json ?? mine.text, got.json ?? got.text) >= 0.8 ? got : undefined;
}

/** Query parameters that carry a token in URLs (RFC 6750 §2.3 names `access_token`). */
const TOKEN_QUERY = ['access_token', 'token', 'jwt', 'auth_token'];

/**
 * A's token as a query parameter, without any header or cookie, on a request only A passes: a 2xx that shows
 * what A sees means the API takes tokens from URLs.
 */
async function tokenInQuery(ctx: ScanContext, a: Identity): Promise<void> {
  if (a.token === undefined) return;
  const req = await reference(ctx, a);
  if (!req) return;
  const mine = await ctx.send(req, a);
  if (!isSuccess(mine)) return;
  for (const name of TOKEN_QUERY) {
    const sep = req.path.includes('?') ? '&' : '?';
    const res = await ctx.send(
      { ...req, path: `${req.path}${sep}${name}=${encodeURIComponent(a.token)}` },
      null,
    );
    if (!isSuccess(res) || similarity(mine.json ?? mine.text, res.json ?? res.text) < 0.8) continue;
    ctx.report(SCAN_RULES.tokenInQuery, {
      operation: req.operation,
      message: `${req.method} ${req.operation.path} accepted ${a.name}'s token in the query parameter ${name}, without any header.`,
      evidence: evidenceOf(res, { parameter: name }),
    });
    return;
  }
}

/** Members of an answer that only reports an error (`{"error": "missing token"}`, `{"message": ..., "code": 401}`). */
const ERROR_ONLY = new Set([
  'error',
  'errors',
  'message',
  'msg',
  'detail',
  'status',
  'code',
  'success',
  'ok',
]);

/** A 2xx whose body is only an error report or a refusal: the API refused, with the wrong status. */
export function errorIn200(res: ScanResponse): boolean {
  if (refusedIn200(res)) return true;
  const body = res.json;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  const keys = Object.keys(body);
  return (
    keys.length > 0 &&
    keys.length <= 3 &&
    keys.every((k) => ERROR_ONLY.has(k.toLowerCase())) &&
    keys.some((k) => /^errors?$/i.test(k))
  );
}

async function noCredentials(ctx: ScanContext, a: Identity): Promise<void> {
  for (const op of ctx.spec.operations) {
    if (op.method !== 'GET' || !requiresAuth(op) || isExcluded(op)) continue;
    const req = planRequest(ctx.spec, op, ctx.objects, { owner: a.name });
    const res = await ctx.send(req, null);
    if (!isSuccess(res) || errorIn200(res) || emptyAnswer(res.json)) continue;
    // Where A gets JSON, an anonymous page in another form (a single-page app's index.html for every unknown
    // route, a login form) is not the operation's answer.
    const mine = await answerTo(ctx, req, a);
    if (isSuccess(mine) && mine.json !== undefined && res.json === undefined) continue;
    ctx.report(SCAN_RULES.noCredentials, {
      operation: op,
      message: `${op.method} ${op.path} declares security but answered ${res.status} without credentials.`,
      evidence: evidenceOf(res),
    });
  }
}

/** `[]`, `{}`, or an envelope holding only empty values (`{"items": [], "total": 0}`): nothing was shown. */
function emptyAnswer(json: unknown): boolean {
  if (Array.isArray(json)) return json.length === 0;
  if (json === null || typeof json !== 'object') return false;
  return Object.values(json).every(
    (v) =>
      v === null ||
      v === 0 ||
      v === '' ||
      (Array.isArray(v) && v.length === 0) ||
      (typeof v === 'object' && v !== null && Object.keys(v).length === 0),
  );
}

/** GETs looked at for the undeclared-security comparison (each sent at most once as A and once anonymously). */
const MAX_UNDECLARED_READS = 40;
/**
 * Members a public page shows too (names, pictures, dates, counters, ids, kinds): a value shared under such a
 * name proves nothing private. An e-mail value counts whatever its member is called.
 */
const PUBLIC_MEMBER =
  /name|user|login|handle|nick|avatar|image|photo|picture|icon|url|link|website|bio|about|description|title|created|updated|joined|since|date|time|^id$|_id$|[a-z]Id$|^uuid$|^uid$|role|status|type|kind|active|verified|follow|count|karma|score|points|reputation|likes|stars|rank|level|badge|locale|lang|timezone/i;
const EMAIL_VALUE = /^[^\s@]+@[^\s@]+\.[a-z]{2,}$/i;
const TIME_VALUE = /^\d{4}-\d\d-\d\d([T ][\d:.]+(Z|[+-]\d\d:?\d\d)?)?$/;
const ID_MEMBER = /^(id|_id|uuid|uid|ref|key|code|slug)$|[_-](id|uuid|ref)$|[a-z](Id|Uuid|Ref)$/;

/** JSON objects in a value, the value itself first (depth 4, 200 at most). */
function recordsIn(value: unknown): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth > 4 || v === null || typeof v !== 'object' || out.length >= 200) return;
    if (Array.isArray(v)) {
      for (const item of v.slice(0, 100)) walk(item, depth + 1);
      return;
    }
    out.push(v as Record<string, unknown>);
    for (const x of Object.values(v as Record<string, unknown>)) walk(x, depth + 1);
  };
  walk(value, 0);
  return out;
}

/** A scalar worth comparing: a string of 3 characters or more (no date, no yes/no word) or a number. */
function telling(v: unknown): v is string | number {
  if (typeof v === 'number') return Number.isFinite(v);
  return (
    typeof v === 'string' &&
    v.trim().length >= 3 &&
    !TIME_VALUE.test(v) &&
    !/^(true|false|null|none|yes|no|n\/a)$/i.test(v.trim())
  );
}

/** What an anonymous answer must not show: a record of A's that the API gave A only with credentials. */
interface Guarded {
  /** Where A got it with credentials only: `GET /me shows only with credentials (...)`. */
  readonly by: string;
  /** A's own account record: these values name A (its login name, its e-mail). */
  readonly names?: ReadonlySet<string>;
  /** An object of A's: its id member and value. */
  readonly id?: { readonly key: string; readonly value: string };
  /** The record's other members worth comparing, by member name. */
  readonly values: ReadonlyMap<string, string | number>;
}

/**
 * The answer to `req` as `as` (an identity, or anonymous for null): the latest the scan already got for the same
 * GET line, else sent now.
 */
async function answerTo(
  ctx: ScanContext,
  req: PlannedRequest,
  as: Identity | null,
): Promise<ScanResponse | undefined> {
  const name = as?.name;
  for (let i = ctx.observations.length - 1; i >= 0; i--) {
    const o = ctx.observations[i];
    if (o.identity !== name || o.request.method !== 'GET' || o.request.path !== req.path) continue;
    if (o.response.status < 500) return o.response;
  }
  return ctx.send(req, as);
}

/** A's values that name its account: its login's user name and e-mail (no secret), lower-case. */
function accountNames(a: Identity): Set<string> {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(a.login?.body ?? {})) {
    if (PASSWORD_FIELD.test(k) || /grant|client|scope|otp|code/i.test(k) || typeof v !== 'string') continue;
    if (v.trim().length >= 3) out.add(v.trim().toLowerCase());
  }
  // An identity given as a token (no login body): the names its JWT's claims hold.
  const claims = a.token ? decodeJwt(a.token)?.payload : undefined;
  for (const [k, v] of Object.entries(claims ?? {})) {
    if (!ACCOUNT_NAME_MEMBER.test(k) || typeof v !== 'string' || v.trim().length < 3) continue;
    out.add(v.trim().toLowerCase());
  }
  return out;
}

/** Members that name an account: its login name, e-mail or handle. */
const ACCOUNT_NAME_MEMBER = /^(user_?name|username|login|email|e_?mail|handle|preferred_username)$/i;
const OWN_READ = /(^|\/)(me|self|profile|my_?profile|current_?user|whoami|account)\/?$/i;

/**
 * Names of A's account an own-profile read shows (`GET /me` answered A, refused to anonymous callers): its login
 * name, e-mail or handle members, for an identity whose login body gave none (given as a header or a token).
 */
function ownReadNames(path: string, json: unknown): string[] {
  if (!OWN_READ.test(path.split('?')[0])) return [];
  const [top] = recordsIn(json).filter((r) =>
    Object.entries(r).some(([k, v]) => ACCOUNT_NAME_MEMBER.test(k) && typeof v === 'string'),
  );
  if (!top) return [];
  return Object.entries(top)
    .filter(([k, v]) => ACCOUNT_NAME_MEMBER.test(k) && typeof v === 'string' && v.trim().length >= 3)
    .map(([, v]) => String(v).trim().toLowerCase());
}

/**
 * A's records in an answer the API gave A only with credentials: A's account record (a record holding one of
 * A's login names), and, for a read of an object A created, that object (its id member).
 */
function guardedRecords(
  json: unknown,
  names: ReadonlySet<string>,
  by: string,
  id: string | undefined,
): Guarded[] {
  const out: Guarded[] = [];
  for (const r of recordsIn(json)) {
    const strings = Object.values(r).filter((v): v is string => typeof v === 'string');
    const mine = strings.some((v) => names.has(v.trim().toLowerCase()));
    const idKey =
      id === undefined
        ? undefined
        : Object.keys(r).find(
            (k) =>
              ID_MEMBER.test(k) &&
              (typeof r[k] === 'string' || typeof r[k] === 'number') &&
              String(r[k]) === id,
          );
    if (!mine && idKey === undefined) continue;
    const values = new Map<string, string | number>();
    for (const [k, v] of Object.entries(r)) {
      if (k === idKey || !telling(v)) continue;
      // A's login name proves whose record it is, and shows nothing more; an e-mail it logs in with is private.
      if (typeof v === 'string' && names.has(v.trim().toLowerCase()) && !EMAIL_VALUE.test(v.trim())) continue;
      // An account's public members (its name, picture, dates) are no secret; an e-mail is, wherever it sits.
      if (
        mine &&
        idKey === undefined &&
        PUBLIC_MEMBER.test(k) &&
        !(typeof v === 'string' && EMAIL_VALUE.test(v))
      )
        continue;
      values.set(k, v);
    }
    if (values.size === 0) continue;
    out.push({
      by,
      ...(mine ? { names } : {}),
      ...(idKey !== undefined && id !== undefined ? { id: { key: idKey, value: id } } : {}),
      values,
    });
    if (out.length >= 20) break;
  }
  return out;
}

/**
 * Where an anonymous answer shows a guarded record: the members it shares with it (names), or nothing. An account
 * record: A's login name and its e-mail, or another private member (a phone, a plan; numbers only two) with A's value. An
 * object: its id under the same member, and two other members with its values, or one string of 8 characters
 * or more. Values the anonymous request itself carried prove nothing.
 */
function shownIn(json: unknown, g: Guarded, sent: string): string[] {
  const fresh = (v: string | number) => !sent.includes(String(v));
  for (const r of recordsIn(json)) {
    if (g.id !== undefined) {
      if (String(r[g.id.key] ?? '') !== g.id.value) continue;
    } else {
      const strings = Object.values(r).filter((v): v is string => typeof v === 'string');
      if (!strings.some((v) => g.names?.has(v.trim().toLowerCase()))) continue;
    }
    const shared = [...g.values].filter(([k, v]) => r[k] === v && fresh(v)).map(([k]) => k);
    if (g.id === undefined) {
      // A lone number (points, a count under another name) may be public: a string or two members.
      if (shared.length >= 2 || shared.some((k) => typeof g.values.get(k) === 'string')) return shared;
      continue;
    }
    const long = shared.some((k) => String(g.values.get(k)).length >= 8);
    if (shared.length >= 2 || long) return [g.id.key, ...shared];
  }
  return [];
}

/**
 * Operations that declare no security at all (many APIs document none and check a token by hand): judged by
 * difference. The API must refuse an anonymous caller somewhere: a GET that A passes and an anonymous caller
 * is refused (any 4xx, or a refusal in a 200) guards A's records there: A's own account record (holding A's
 * login name), and an object A created whose read B is refused too (a record private to A). An undeclared GET
 * that answers an anonymous caller 2xx with such a record (an account record's e-mail or another private member
 * with A's value; an object's id with its other values) answers without the credentials the API asks elsewhere
 * for the same data. Public members (names, pictures, dates) shared prove nothing, and neither do values the
 * request carried itself.
 */
async function undeclaredNoCredentials(ctx: ScanContext, a: Identity): Promise<string | undefined> {
  const b = ctx.identities[1];
  const names = accountNames(a);
  const givenNames = names.size > 0;
  const reads = ctx.spec.operations
    .filter((op) => op.method === 'GET' && !isExcluded(op))
    .slice(0, MAX_UNDECLARED_READS);
  if (!reads.some((op) => op.security === undefined))
    return 'the document declares security on no GET operation';
  const guarded: Guarded[] = [];
  const protectedReads: { req: PlannedRequest; json: unknown; by: string; objectPrivate: boolean }[] = [];
  const open: { op: Operation; req: PlannedRequest; res: ScanResponse }[] = [];
  for (const op of reads) {
    if (ctx.signal.aborted) break;
    const req = planRequest(ctx.spec, op, ctx.objects, { owner: a.name });
    // Sent afresh: an anonymous read discovery made before the identities created their objects shows none.
    const anon = await ctx.send(req, null);
    // A rate limit or a server error refuses nothing in particular.
    if (!anon || anon.status >= 500 || anon.status === 429 || anon.status === 408) continue;
    if (isSuccess(anon) && !errorIn200(anon)) {
      if (op.security === undefined) open.push({ op, req, res: anon });
      continue;
    }
    if (anon.status < 400 && !errorIn200(anon)) continue;
    const mine = await answerTo(ctx, req, a);
    if (!isSuccess(mine) || errorIn200(mine) || mine.json === undefined) continue;
    // An object of A's is private to A when B is refused it too (else it is shown to members, or a BOLA).
    let objectPrivate = false;
    if (req.ownedPath && req.object?.owner === a.name && b) {
      const theirs = await answerTo(ctx, req, b);
      objectPrivate = theirs !== undefined && (theirs.status >= 400 || errorIn200(theirs));
    }
    if (!givenNames) for (const n of ownReadNames(req.path, mine.json)) names.add(n);
    protectedReads.push({
      req,
      json: mine.json,
      by: `${op.method} ${op.path} shows only with credentials (an anonymous caller is refused there)`,
      objectPrivate,
    });
  }
  // Judged once every read is in: an own-profile read later in the document may name A for the others.
  for (const r of protectedReads)
    guarded.push(...guardedRecords(r.json, names, r.by, r.objectPrivate ? r.req.object?.id : undefined));
  // A's login answer is given only for A's password: its account record there is guarded too, once the API is
  // seen refusing an anonymous caller (a read above, or any 401/403 to one).
  const login = a.login;
  const refuses =
    protectedReads.length > 0 ||
    ctx.observations.some(
      (o) => o.identity === undefined && (o.response.status === 401 || o.response.status === 403),
    );
  if (login?.answer !== undefined && refuses)
    guarded.push(
      ...guardedRecords(
        login.answer,
        names,
        `the login (${login.flow.method ?? 'POST'} ${login.path.split('?')[0]}) gives only for ${a.name}'s password`,
        undefined,
      ),
    );
  if (guarded.length === 0)
    return `operations without declared security not judged: neither a GET that refused an anonymous caller nor ${a.name}'s login answer showed ${a.name}'s records`;
  for (const { op, req, res } of open) {
    if (res.json === undefined) continue;
    const sent = `${req.path} ${safeDecode(req.path)}`;
    for (const g of guarded) {
      const shared = shownIn(res.json, g, sent);
      if (shared.length === 0) continue;
      const what = g.id !== undefined ? `an object of ${a.name}'s` : `${a.name}'s account record`;
      ctx.report(SCAN_RULES.noCredentials, {
        operation: op,
        key: 'undeclared',
        message: `${op.method} ${op.path} declares no security and answered ${res.status} to a caller without credentials with ${what} (${shared.join(', ')}), which ${g.by}.`,
        evidence: evidenceOf(res, { guardedBy: g.by, members: shared }),
      });
      break;
    }
  }
  return undefined;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** JWTs the scan holds or saw in responses (first few, distinct). */
function capturedTokens(ctx: ScanContext): string[] {
  const out = new Set<string>();
  for (const i of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])]) if (i.token) out.add(i.token);
  for (const o of ctx.observations) {
    if (out.size >= 8) break;
    for (const m of o.response.text.matchAll(/\beyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]{10,}/g)) out.add(m[0]);
  }
  return [...out].filter((t) => decodeJwt(t) !== undefined).slice(0, 8);
}

/**
 * The flaw an altered token shows: any token taken (malformed), the signature not checked (a random one taken),
 * an unsigned token (`alg: none`, any spelling), the signature stripped, a token re-signed with an empty key, a
 * `kid` chosen by the caller, a key set named by `jku`/`x5u`, an expired token taken.
 */
export type Forgery =
  | 'malformed'
  | 'signature'
  | 'unsigned'
  | 'stripped'
  | 're-signed'
  | 'kid'
  | 'jku'
  | 'expired';

interface Accepted {
  readonly kind: string;
  readonly token: string;
  readonly flaw: Forgery;
  readonly res: ScanResponse;
}

/**
 * The findings for the altered tokens one read accepted: one per flaw, naming the variants that showed it. A
 * malformed token taken, or one with a random signature, explains every other forgery (the route reads any token,
 * or never checks a signature): one finding then, the others listed as following from it.
 */
export function flawsOf<T extends { readonly kind: string; readonly flaw: Forgery }>(
  accepted: readonly T[],
): { key: string; text: string; kinds: string[]; shown: T }[] {
  const root = accepted.find((h) => h.flaw === 'malformed') ?? accepted.find((h) => h.flaw === 'signature');
  if (root !== undefined) {
    const others = accepted.filter((h) => h !== root).map((h) => h.kind);
    const why = root.flaw === 'malformed' ? 'it takes any token' : 'it does not check signatures';
    return [
      {
        key: root.flaw,
        text: `${root.kind}: ${why}${others.length > 0 ? ` (it took ${others.join(', ')} too)` : ''}`,
        kinds: accepted.map((h) => h.kind),
        shown: root,
      },
    ];
  }
  const out: { key: string; text: string; kinds: string[]; shown: T }[] = [];
  for (const h of accepted) {
    const group = out.find((g) => g.key === h.flaw);
    if (group) group.kinds.push(h.kind);
    else out.push({ key: h.flaw, text: '', kinds: [h.kind], shown: h });
  }
  for (const g of out) {
    // alg none, None, NONE: one unsigned token spelled three ways.
    const algs = g.kinds.map((k) => /^an unsigned token \(alg: (\w+)\)$/.exec(k)?.[1]);
    g.text = algs.every((x) => x !== undefined)
      ? `an unsigned token (alg: ${algs.join(', ')})`
      : g.kinds.join(', ');
  }
  return out;
}

async function tokens(ctx: ScanContext, a: Identity, loginOp: Operation | undefined): Promise<void> {
  // Offline first: it needs no reference request. The common undecorated secrets, the API's words, phrases
  // opened by the title's words, then the whole built-in list, within CRACK_BUDGET_MS for the whole scan.
  const title = ctx.spec.title.split(/[\s_-]+/).filter((w) => w.length >= 3);
  const lists = [
    commonSecrets(),
    secretsFromWords(apiWords(ctx)),
    secretPhrases([ctx.spec.title, ...title]),
    weakHmacSecrets(),
  ];
  // At most a tenth of the check's time left (its deadline), and CRACK_BUDGET_MS: the login checks come after.
  const left = ctx.deadline === undefined ? Number.POSITIVE_INFINITY : ctx.deadline - performance.now();
  const budget = Math.max(0, Math.min(CRACK_BUDGET_MS, left / 10));
  const deadline = performance.now() + budget;
  let partial: CrackResult | undefined;
  let secret: string | undefined;
  let cracked: string | undefined;
  // One token per signing header (alg, kid): tokens of one key fail alike, and a full miss costs about 1 s.
  const seen = new Set<string>();
  for (const t of capturedTokens(ctx)) {
    const h = decodeJwt(t)?.header ?? {};
    const key = `${String(h.alg)} ${String(h.kid ?? '')}`;
    if (seen.has(key) || HMAC[String(h.alg)] === undefined) continue;
    seen.add(key);
    const result = crackHmacWithin(t, lists, Math.max(0, deadline - performance.now()));
    if (!result.complete) partial = result;
    secret = result.secret;
    if (secret !== undefined) {
      cracked = t;
      break;
    }
  }
  if (secret === undefined && partial !== undefined)
    ctx.note?.({
      rule: SCAN_RULES.weakHmacSecret,
      reason: `partly tested: the offline guessing of the HMAC secret stopped at its time (${Math.round(budget)} ms) after ${partial.tried} candidates`,
    });
  const refs = await referenceRequests(ctx, a, TOKEN_READS);
  const reference = refs[0];
  const op = reference?.operation;
  if (secret !== undefined && cracked !== undefined) {
    const jwt = decodeJwt(cracked)!;
    const at = loginOp ?? op;
    // The proof: a token the scan signs with the secret (A's own claims where A holds one of that key, a fresh
    // `iat`, a new `jti` where there is one), taken at the reference read as A's own token is.
    const own = a.token ? decodeJwt(a.token) : undefined;
    const claims = own && own.header.alg === jwt.header.alg ? own.payload : jwt.payload;
    const now = Math.floor(Date.now() / 1000);
    const minted = signHmac(String(jwt.header.alg), secret, jwt.header, {
      ...claims,
      ...(typeof claims.iat === 'number' ? { iat: now } : {}),
      ...(claims.jti !== undefined ? { jti: randomUUID() } : {}),
    });
    let shown: ScanResponse | undefined;
    if (reference) {
      const mine = await ctx.send(reference, a);
      const got = await ctx.send(reference, forged(a, minted));
      if (
        isSuccess(mine) &&
        isSuccess(got) &&
        !errorIn200(got) &&
        similarity(mine.json ?? mine.text, got.json ?? got.text) >= 0.5
      )
        shown = got;
    }
    const base = { alg: jwt.header.alg, secretLength: secret.length };
    ctx.report(SCAN_RULES.weakHmacSecret, {
      ...(at ? { operation: at } : {}),
      key: 'hmac',
      message: `The API's ${String(jwt.header.alg)} tokens are signed with a guessable secret (${secret.length} characters, starts with "${secret.slice(0, 1)}"): anyone can mint tokens.${shown ? ` A token the scan signed with it (${a.name}'s claims, a fresh iat) was taken at ${shown.sent.method} ${redact(shown.sent.url.replace(/^https?:\/\/[^/]+/, ''))} (${shown.status}), as ${a.name}'s own token is.` : ''}`,
      // The minted token is a live credential for A: never printed; the curl line names it `$TOKEN`.
      evidence: shown
        ? evidenceOf(shown, {
            ...base,
            reproduce: `TOKEN is a token signed with the guessed secret for ${a.name}'s claims (not shown: it works as ${a.name} until it expires)`,
          })
        : base,
    });
  }
  // A pass means an HMAC token was there to crack; without one the rule tested nothing.
  if (!capturedTokens(ctx).some((t) => HMAC[String(decodeJwt(t)?.header.alg)] !== undefined))
    ctx.note?.({
      rule: SCAN_RULES.weakHmacSecret,
      reason: 'no HMAC-signed JWT (HS256/384/512) was captured',
    });
  if (!reference || !op) {
    ctx.note?.({
      rule: SCAN_RULES.tokenAccepted,
      reason: 'no GET that identity A passes and an anonymous caller does not, to try altered tokens on',
    });
    return;
  }
  // [kind, token, flaw]: one finding per flaw and route, naming the kinds that worked.
  const variants: [string, string, Forgery][] = [['a malformed token', 'portcullis.malformed', 'malformed']];
  const jwt = a.token ? decodeJwt(a.token) : undefined;
  const jkuHits: { kind: string; token: string }[] = [];
  if (jwt && a.token) {
    for (const alg of ['none', 'None', 'NONE']) {
      variants.push([
        `an unsigned token (alg: ${alg})`,
        `${encode({ ...jwt.header, alg })}.${jwt.parts[1]}.`,
        'unsigned',
      ]);
    }
    variants.push(['a token with its signature stripped', `${jwt.parts[0]}.${jwt.parts[1]}.`, 'stripped']);
    const otherSig = randomBytes(Buffer.from(jwt.parts[2], 'base64url').length || 32).toString('base64url');
    variants.push([
      'a token with a wrong signature',
      `${jwt.parts[0]}.${jwt.parts[1]}.${otherSig}`,
      'signature',
    ]);
    const hs = { ...jwt.header, alg: 'HS256' };
    variants.push([
      'a token re-signed with an empty HMAC key',
      signHmac('HS256', '', hs, jwt.payload),
      're-signed',
    ]);
    variants.push([
      'a token whose kid points at an empty file (/dev/null), signed with an empty key',
      signHmac('HS256', '', { ...hs, kid: '../../../../../../../../dev/null' }, jwt.payload),
      'kid',
    ]);
    variants.push([
      'a token whose kid is a SQL expression selecting the signing key',
      signHmac('HS256', 'pc-key', { ...hs, kid: "pc' UNION SELECT 'pc-key' -- " }, jwt.payload),
      'kid',
    ]);
    for (const member of ['jku', 'x5u']) {
      const { url, token } = ctx.canary.url();
      jkuHits.push({ kind: member, token });
      variants.push([
        `a token whose ${member} points at a key set the scanner controls`,
        `${encode({ ...jwt.header, alg: 'RS256', [member]: `${url}/jwks.json` })}.${jwt.parts[1]}.${otherSig}`,
        'jku',
      ]);
    }
    if (secret !== undefined) {
      const now = Math.floor(Date.now() / 1000);
      const expired = { ...jwt.payload, iat: now - 7200, nbf: now - 7200, exp: now - 3600 };
      const alg = HMAC[String(jwt.header.alg)] ? String(jwt.header.alg) : 'HS256';
      variants.push([
        'an expired token (signed with the guessed secret)',
        signHmac(alg, secret, { ...jwt.header, alg }, expired),
        'expired',
      ]);
    }
  }
  // A variant the first read accepts is not sent again (one middleware, one flaw); a later read that accepts one
  // the first refused verifies otherwise than the first: one finding there, naming the variants.
  const acceptedFirst = new Set<string>();
  for (const [index, ref] of refs.entries()) {
    const mine = await ctx.send(ref, a);
    const at = ref.operation;
    const here: Accepted[] = [];
    for (const [kind, token, flaw] of variants) {
      if (index > 0 && acceptedFirst.has(kind)) continue;
      const res = await ctx.send({ ...ref }, forged(a, token));
      // Accepted: a 2xx that refuses nothing and, in JSON, shows what A's own token shows there.
      if (!isSuccess(res) || errorIn200(res)) continue;
      if (
        isSuccess(mine) &&
        mine.json !== undefined &&
        res.json !== undefined &&
        similarity(mine.json, res.json) < 0.5
      )
        continue;
      here.push({ kind, token, flaw, res });
      if (index === 0) acceptedFirst.add(kind);
    }
    if (here.length === 0) continue;
    if (index === 0) {
      for (const group of flawsOf(here))
        ctx.report(SCAN_RULES.tokenAccepted, {
          operation: at,
          key: group.key,
          message: `${at.method} ${at.path} accepted ${group.text}.`,
          evidence: forgedEvidence(group.shown.res, group.shown.token, {
            variant: group.shown.kind,
            variants: group.kinds,
          }),
        });
      continue;
    }
    ctx.report(SCAN_RULES.tokenAccepted, {
      operation: at,
      key: 'route',
      message: `${at.method} ${at.path} accepted ${here.map((h) => h.kind).join(', ')}, which ${refs[0].operation.method} ${refs[0].operation.path} refused: this route does not verify tokens like the others.`,
      evidence: forgedEvidence(here[0].res, here[0].token, {
        variant: here[0].kind,
        variants: here.map((h) => h.kind),
      }),
    });
  }
  for (const hit of jkuHits) {
    if (!(await ctx.canary.waitFor(`/c/${hit.token}/jwks.json`, 300))) continue;
    ctx.report(SCAN_RULES.tokenAccepted, {
      operation: op,
      key: `${hit.kind}-fetched`,
      message: `${op.method} ${op.path} fetched the key set named by the token's ${hit.kind} header: whoever writes the token chooses the key.`,
      evidence: { header: hit.kind },
    });
  }
}

/**
 * Normalises an answer (its redirect target and its text): the names tried become placeholders, volatile ids,
 * times and numbers are dropped.
 */
function shape(res: ScanResponse, names: readonly string[]): string {
  // A redirect's target is part of the answer (`Location: login.php?error=no+such+user`).
  const location = res.headers.location;
  let text = location === undefined ? res.text : `${location} ${res.text}`;
  for (const n of names) if (n) text = text.split(encodeURIComponent(n)).join('{user}');
  for (const n of names) if (n) text = text.split(n).join('{user}');
  text = text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '{uuid}')
    .replace(/\b[0-9a-f]{24,}\b/gi, '{hex}')
    .replace(/\d{4}-\d\d-\d\d[T ][\d:.]+(Z|[+-]\d\d:?\d\d)?/g, '{time}')
    .replace(/\b\d{9,}\b/g, '{n}');
  return `${res.status} ${text}`;
}

/** An answer in a message: its status, its redirect target when it has one, and the start of its text. */
function excerpt(res: ScanResponse, length: number): string {
  const location = res.headers.location;
  return `${res.status}${location !== undefined ? ` to ${redact(location.slice(0, length))}` : ''} ${redact(res.text.slice(0, length))}`.trim();
}

/** Where the scan logs in: the identities' own flow, else a login operation of the document. */
interface LoginTarget {
  readonly flow: LoginFlow;
  readonly op?: Operation;
  readonly userField: string;
  readonly passwordField: string;
  /** A's user name and password, when A logged in through this flow. */
  readonly known?: { readonly user: unknown; readonly password: unknown };
}

function templateMatches(template: string, path: string): boolean {
  const re = new RegExp(
    `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`,
  );
  return re.test(path.split('?')[0]);
}

function formBodySchema(op: Operation) {
  if (!op.requestBody) return undefined;
  for (const [type, media] of Object.entries(op.requestBody.content)) {
    if (/x-www-form-urlencoded|multipart\/form-data/i.test(type)) return media.schema ?? {};
  }
  return undefined;
}

function fieldsOf(body: Readonly<Record<string, unknown>>) {
  const passwordField = Object.keys(body).find((k) => PASSWORD_FIELD.test(k) && !/grant|client/i.test(k));
  const userField = Object.keys(body).find(
    (k) => k !== passwordField && USER_FIELD.test(k) && !/client|grant|scope/i.test(k),
  );
  return passwordField && userField ? { passwordField, userField } : undefined;
}

export function findLoginTarget(ctx: ScanContext): LoginTarget | undefined {
  for (const i of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])]) {
    const flow = i.login?.flow;
    if (!flow) continue;
    const sent = loginFields(flow);
    const fields = fieldsOf(sent);
    if (!fields) continue;
    const op = ctx.spec.operations.find(
      (o) => o.method === (flow.method ?? 'POST') && templateMatches(o.path, flow.path),
    );
    // Only A's (the first login identity's) account is hammered: the others keep working.
    return {
      flow,
      ...(op ? { op } : {}),
      ...fields,
      known: { user: sent[fields.userField], password: sent[fields.passwordField] },
    };
  }
  return documentedLogins(ctx)[0];
}

/** Logins judged at most: each gets the enumeration, wrong-password, default-credential and guessing runs. */
const MAX_LOGINS = 8;

/** Does the operation take HTTP Basic credentials (a security alternative naming an `http` `basic` scheme)? */
function takesBasic(ctx: ScanContext, op: Operation): boolean {
  return (op.security ?? []).some((req) =>
    Object.keys(req).some((name) => {
      const scheme = ctx.spec.securitySchemes[name];
      return scheme?.type === 'http' && String(scheme.raw.scheme ?? '').toLowerCase() === 'basic';
    }),
  );
}

/** A given identity's user and password, when it is given as HTTP Basic credentials (`Authorization: Basic`). */
function basicKnown(ctx: ScanContext): { user: string; password: string } | undefined {
  for (const i of ctx.identities) {
    const auth = Object.entries(i.session.headers).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
    const m = auth === undefined ? null : /^basic\s+([A-Za-z0-9+/=]+)$/i.exec(auth.trim());
    if (!m) continue;
    const text = Buffer.from(m[1], 'base64').toString();
    const colon = text.indexOf(':');
    if (colon > 0) return { user: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  return undefined;
}

/**
 * A login that takes HTTP Basic credentials and no body: an operation on a login path (or with a login id), GET
 * or POST, without path parameters or any body (an OAuth token endpoint takes client credentials in Basic beside
 * its form body: not a login of users), whose security names an `http` `basic` scheme
 * (`GET /v1/login`, `POST /auth` with `Authorization: Basic`). Its user and password go in the header; a given
 * identity given as Basic credentials is its known user.
 */
function basicLogin(ctx: ScanContext, op: Operation): LoginTarget | undefined {
  if (op.method !== 'GET' && op.method !== 'POST') return undefined;
  if (op.path.includes('{') || op.requestBody !== undefined || !takesBasic(ctx, op)) return undefined;
  const known = basicKnown(ctx);
  const flow: BasicLoginFlow = {
    path: op.path,
    method: op.method,
    body: { username: '', password: '' },
    basic: true,
  };
  return { flow, op, userField: 'username', passwordField: 'password', ...(known ? { known } : {}) };
}

/**
 * A GET login with its user and password in the query string (`GET /login.php?user=&pass=`): no path parameter,
 * and never one that sets a password (`GET /reset?username=&new_password=`: the reset check's alone).
 */
function queryGetLogin(ctx: ScanContext, op: Operation): LoginTarget | undefined {
  if (op.path.includes('{') || setsPasswordByUrl(ctx.spec, op)) return undefined;
  const body: Record<string, unknown> = {};
  for (const p of op.parameters) if (p.in === 'query') body[p.name] = sampleValue(ctx.spec, p.schema, p.name);
  const fields = fieldsOf(body);
  if (!fields) return undefined;
  // The query encoding sends no body: a GET goes out as declared.
  return { flow: { path: op.path, method: 'GET', body, encoding: 'query' }, op, ...fields };
}

/**
 * The document's login operations (at most eight): a POST on a login path (or with a login id) whose JSON or
 * form body, or else whose query parameters (`POST /auth/login?username=&password=`), hold a user and a
 * password field; a GET there with both in its query string (queryGetLogin); or a GET or POST there that takes
 * HTTP Basic credentials (basicLogin).
 */
export function documentedLogins(ctx: ScanContext): LoginTarget[] {
  const out: LoginTarget[] = [];
  for (const op of ctx.spec.operations) {
    if (out.length >= MAX_LOGINS) break;
    const named = loginPath(op.path) || loginId(op);
    if (named && !isExcluded(op) && !isSignup(ctx, op)) {
      const basic = basicLogin(ctx, op);
      if (basic) {
        out.push(basic);
        continue;
      }
    }
    if (named && op.method === 'GET' && !isExcluded(op) && !isSignup(ctx, op)) {
      const get = queryGetLogin(ctx, op);
      if (get) out.push(get);
      continue;
    }
    if (op.method !== 'POST' || isExcluded(op) || (!loginPath(op.path) && !loginId(op)) || isSignup(ctx, op))
      continue;
    const json = jsonBodySchema(op);
    const form = json === undefined ? formBodySchema(op) : undefined;
    const schema = json ?? form;
    if (schema === undefined) {
      if (op.requestBody || op.path.includes('{')) continue;
      // Every input in the query string: the flow sends its fields there.
      const body: Record<string, unknown> = {};
      for (const p of op.parameters)
        if (p.in === 'query') body[p.name] = sampleValue(ctx.spec, p.schema, p.name);
      const fields = fieldsOf(body);
      if (fields) out.push({ flow: { path: op.path, body, encoding: 'query' }, op, ...fields });
      continue;
    }
    const sample = sampleValue(ctx.spec, schema);
    if (sample === null || typeof sample !== 'object' || Array.isArray(sample)) continue;
    // The user and password fields at the body's record envelope (`data.attributes` of JSON:API, `user`).
    const fields = fieldsOf(recordFields(sample));
    if (!fields) continue;
    out.push({
      flow: {
        path: op.path,
        body: sample as Record<string, unknown>,
        ...(form ? { encoding: 'form' as const } : {}),
      },
      op,
      ...fields,
    });
  }
  return out;
}

const wrong = () => `pc-wrong-${randomUUID().slice(0, 8)}`;

/** Words of a path or operation id that name a sign-up, a reset or a change: beside the login, not the login. */
const SIGNUP_WORDS =
  /(^|[/_.-])(regist(er|ers|ration)?|sign_?ups?|join|enrol+(ment)?|invite|forgot|reset|recover|change|verify|refresh|logout)([/_.-]|$)/i;
const SIGNUP_ID = /regist|sign_?up|create_?(user|account)|join|enrol/i;
/** Members of a login answer that carry a credential. */
const CREDENTIAL_MEMBER = /token|jwt|session|bearer|access|auth|key|cookie|sid/i;

/**
 * A POST on an `/auth/...` path that makes an account, not one that signs an existing one in: its path or id
 * names a sign-up (`/auth/register`, `signupUser`) or a reset, change or logout beside the login, its body repeats
 * the password (`confirm_password`), or, where the path names no login (`/auth`): it asks a user name, an e-mail
 * and a password together, it is documented to answer only 201, or its documented answer is the created account
 * (an id) with no credential in it.
 */
export function isSignup(ctx: ScanContext, op: Operation): boolean {
  if (SIGNUP_WORDS.test(op.path) || (op.hasDeclaredId && SIGNUP_ID.test(op.id))) return true;
  const explicit = /(^|[/_-])(log_?in|sign_?in|authenticate|token|session)s?($|[/_.-])/i.test(op.path);
  const schema = jsonBodySchema(op) ?? formBodySchema(op);
  const fields = schema === undefined ? [] : Object.keys(recordProperties(ctx.spec, schema));
  const passwords = fields.filter((k) => PASSWORD_FIELD.test(k));
  if (passwords.some((k) => REPEAT_FIELD.test(k))) return true;
  const mail = fields.some((k) => MAIL_FIELD.test(k));
  const name = fields.some((k) =>
    /^(user_?name|login|handle|name|nick_?name|full_?name|first_?name)$/i.test(k),
  );
  if (!explicit && mail && name && passwords.length > 0) return true;
  const codes = Object.keys(op.responses ?? {});
  // Only 201 (Created) where the path names no login: NestJS documents its `POST /auth/login` as 201.
  if (!explicit && codes.includes('201') && !codes.some((c) => c === '200' || c === '204' || c === '302'))
    return true;
  const ok = op.responses?.['200'] ?? op.responses?.['201'];
  const answer = ok?.content ? Object.values(ok.content)[0]?.schema : undefined;
  // The answer's own members and its record's (`data.attributes` of JSON:API, `user`).
  const members =
    answer === undefined
      ? []
      : [...Object.keys(propertiesOf(ctx.spec, answer)), ...Object.keys(recordProperties(ctx.spec, answer))];
  return (
    !explicit &&
    members.length > 0 &&
    members.some((k) => /^(id|_id|uuid|user_?id)$/i.test(k)) &&
    !members.some((k) => CREDENTIAL_MEMBER.test(k)) &&
    ok?.headers?.['set-cookie'] === undefined &&
    ok?.headers?.['Set-Cookie'] === undefined
  );
}

/** Is `value` well-formed for a user input of this schema (e-mail format, pattern, length)? */
function fitsField(schema: Record<string, unknown> | undefined, value: string, email: boolean): boolean {
  if (email && !/^[^\s@]+@[^\s@]+\.[a-z]{2,}$/i.test(value)) return false;
  if (!schema) return true;
  if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) return false;
  if (typeof schema.minLength === 'number' && value.length < schema.minLength) return false;
  if (typeof schema.pattern === 'string') {
    try {
      // The document's own pattern (not client input) on a value of the scan's own, once per login.
      if (!new RegExp(schema.pattern, 'u').test(value)) return false;
    } catch {
      return true;
    }
  }
  return true;
}

/** `known` with each letter and digit replaced by a random one of its kind: the same shape, another name. */
function sameShape(known: string): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return known.replace(/[a-z0-9]/gi, (c) => {
    if (/\d/.test(c)) return String(randomInt(0, 10));
    const l = letters[randomInt(0, 26)];
    return c === c.toUpperCase() ? l.toUpperCase() : l;
  });
}

/**
 * A user name nobody has, well-formed for the login's user input, so that only its existence differs from a
 * known account's: an e-mail for an e-mail input (its name, its documented format, or a known value with an
 * `@`), within the input's length and pattern. `pc-nobody-<random>` where that fits, else the known value's
 * shape with other letters and digits.
 */
export function unknownUser(ctx: ScanContext, t: LoginTarget, known?: unknown): string {
  const body = t.op ? (jsonBodySchema(t.op) ?? formBodySchema(t.op)) : undefined;
  const prop =
    (body !== undefined ? recordProperties(ctx.spec, body)[t.userField] : undefined) ??
    t.op?.parameters.find((p) => p.name === t.userField)?.schema;
  const schema = prop as Record<string, unknown> | undefined;
  const sample = typeof known === 'string' ? known : undefined;
  const email =
    schema?.format === 'email' ||
    MAIL_FIELD.test(t.userField) ||
    (sample !== undefined && /^[^\s@]+@[^\s@]+$/.test(sample));
  const tag = randomUUID().slice(0, 8);
  const plain = email ? `pc-nobody-${tag}@example.com` : `pc-nobody-${tag}`;
  if (fitsField(schema, plain, email)) return plain;
  if (sample !== undefined) {
    for (let i = 0; i < 5; i++) {
      const other = sameShape(sample);
      if (other !== sample && fitsField(schema, other, email)) return other;
    }
  }
  return plain;
}

/** Logins of a user name nobody has that signed in: the API made that account (the clean-up names it). */
function madeByLogin(ctx: ScanContext, t: LoginTarget, user: unknown, res: ScanResponse | undefined): void {
  if (typeof user === 'string' && user.startsWith('pc-nobody-') && signsIn(ctx, t, res))
    noteLeftAccount(ctx, user, `${t.flow.method ?? 'POST'} ${t.flow.path.split('?')[0]} signed it in`);
}

/**
 * The password of another given identity that logs in through `t` (B's, the admin's), not the one of `user`:
 * a valid password, but not this account's. Undefined when none is known.
 */
function otherPassword(
  ctx: ScanContext,
  t: LoginTarget,
  user: unknown,
): { readonly label: string; readonly password: string } | undefined {
  const own = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])].find(
    (i) =>
      i.login?.flow.path.split('?')[0] === t.flow.path.split('?')[0] && i.login?.body[t.userField] === user,
  );
  for (const i of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])]) {
    if (i === own || i.login?.flow.path.split('?')[0] !== t.flow.path.split('?')[0]) continue;
    const password = i.login.body[t.passwordField];
    const mine = own?.login?.body[t.passwordField];
    if (
      typeof password === 'string' &&
      password !== '' &&
      password !== mine &&
      i.login.body[t.userField] !== user
    )
      return { label: i.name, password };
  }
  return undefined;
}

/** A's wrong-password logins already sent (one a scan and user: shared by every check that needs one). */
const givenWrongs = new WeakMap<object, Map<string, Promise<ScanResponse | undefined>>>();

/**
 * The given identity's (A's) one failed login of the scan at `t`: its user with a wrong password, sent once and
 * shared (the user enumeration compares it, wrong-password-accepted judges it). Undefined when `t` has no known
 * user, or A already had its one failed login elsewhere (spendGivenFailure).
 */
function givenWrongPassword(ctx: ScanContext, t: LoginTarget): Promise<ScanResponse | undefined> | undefined {
  if (!t.known) return undefined;
  const sent = givenWrongs.get(ctx.objects) ?? new Map<string, Promise<ScanResponse | undefined>>();
  givenWrongs.set(ctx.objects, sent);
  const key = `${t.flow.method ?? 'POST'} ${t.flow.path.split('?')[0]} ${JSON.stringify(t.known.user)}`;
  const before = sent.get(key);
  if (before) return before;
  if (!spendGivenFailure(ctx, t.known.user)) return undefined;
  const user = t.known.user;
  // Another identity's valid password where one signs in here: a login that takes any account's password (or a
  // list of common ones) refuses a made-up password but not this one; a sound login refuses both alike.
  const password = otherPassword(ctx, t, user)?.password ?? wrong();
  const res = sendLogin(ctx, t, user, password).then((answer) => {
    // A wrong password that signed in is no failed login: the next check may still send one.
    if (signsIn(ctx, t, answer)) refundGivenFailure(ctx, user);
    return answer;
  });
  sent.set(key, res);
  return res;
}

/**
 * An unknown user and a known one, each with a wrong password, must answer alike. The known one is an account of
 * the scan's own (V) wherever one signs in at `t`; else A, whose one failed login of the scan this is (shared
 * with wrong-password-accepted). The unknown users are well-formed for the user input (unknownUser).
 *
 * At another documented login (`via`: the scan's main login), V is any account of the scan's own, registered
 * through `via` when there is none (never through a login it may not sign in at: that would leave an account),
 * named there by what its sign-up took for that login's user input; A is never used there.
 */
async function enumeration(ctx: ScanContext, t: LoginTarget, via?: LoginTarget): Promise<boolean> {
  let v: Throwaway | undefined;
  let known: unknown;
  if (via) {
    v = (await reuseThrowaway(ctx)) ?? (await registerThrowaway(ctx, via, 'pce'));
    const s = signup(ctx);
    known = v && s ? loginValues(s, t.userField, v.name, v.email)[0] : undefined;
  } else {
    v = (await reuseThrowaway(ctx, t)) ?? (await registerThrowaway(ctx, t, 'pce'));
    known = v ? v.loginName : t.known?.user;
  }
  if (known === undefined) return false;
  const send = (user: unknown) => sendLogin(ctx, t, user, wrong());
  const unknown = unknownUser(ctx, t, known);
  const a = await send(unknown);
  madeByLogin(ctx, t, unknown, a);
  // An unknown user let in: nothing to compare (and A's one failed login is kept for later).
  if (!a || credentialAt(ctx, t, a)) return false;
  const b = await (v ? send(known) : givenWrongPassword(ctx, t));
  if (!b) {
    if (!v)
      ctx.note?.({
        rule: SCAN_RULES.userEnumeration,
        ...(t.op ? { operation: t.op } : {}),
        reason: `not sent: no account of the scan's own signs in there, and ${String(known)} (a given identity) already had its one failed login of the scan`,
      });
    return false;
  }
  if (credentialAt(ctx, t, b)) return false;
  const names = [unknown, String(known)];
  if (shape(a, names) === shape(b, names)) return false;
  // Confirm with a second unknown user: an answer that varies by itself proves nothing.
  const other = unknownUser(ctx, t, known);
  const c = await send(other);
  madeByLogin(ctx, t, other, c);
  if (!c || shape(c, [other, String(known)]) !== shape(a, names)) return false;
  ctx.report(SCAN_RULES.userEnumeration, {
    ...(t.op ? { operation: t.op } : {}),
    key: 'login',
    message: `${t.flow.method ?? 'POST'} ${t.flow.path} answers an unknown user (${excerpt(a, 60)}) differently from a wrong password for ${v ? `an account the scan registered (${v.name})` : 'a known user'} (${excerpt(b, 60)}).`,
    evidence: {
      ...evidenceOf(b),
      unknownUser: excerpt(a, 120),
      wrongPassword: excerpt(b, 120),
    },
  });
  return true;
}

/**
 * A documented login no identity signs in through, with A's own value for its user input as its known user
 * (no password): read from A's own-profile answers (`GET /me` -> `{"email": ...}`, an e-mail for an e-mail
 * input), so that the enumeration can compare an unknown user with A's one failed login of the scan where no
 * account of the scan's own signs in. Unchanged when A's value is not known.
 */
function withOwnUser(ctx: ScanContext, a: Identity, t: LoginTarget): LoginTarget {
  if (t.known !== undefined) return t;
  const mail = MAIL_FIELD.test(t.userField);
  for (const o of ctx.observations) {
    if (o.identity !== a.name || !isSuccess(o.response)) continue;
    for (const name of ownReadNames(o.request.path, o.response.json))
      if (EMAIL_VALUE.test(name) === mail) return { ...t, known: { user: name, password: undefined } };
  }
  return t;
}

/** A value of `field` that belongs to A, from A's login body or A's own responses (its e-mail, say). */
function knownValue(
  ctx: ScanContext,
  a: Identity,
  field: string,
  t: LoginTarget | undefined,
): string | undefined {
  const fromLogin = a.login?.body[field] ?? (t?.known && field === t.userField ? t.known.user : undefined);
  if (typeof fromLogin === 'string') return fromLogin;
  for (const o of ctx.observations) {
    if (o.identity !== a.name || !isSuccess(o.response) || typeof o.response.json !== 'object') continue;
    const v = (o.response.json as Record<string, unknown> | null)?.[field];
    if (typeof v === 'string' && v.length > 2) return v;
  }
  if (/mail/i.test(field)) {
    const user = t?.known?.user;
    if (typeof user === 'string' && user.includes('@')) return user;
  }
  return undefined;
}

/**
 * The value of a reset's `field` that names an account of the scan's own (`v`): its e-mail for an e-mail field,
 * its name for another, and only one the sign-up took (an e-mail the sign-up never asked names no account).
 */
function ownAccountValue(ctx: ScanContext, v: Throwaway, field: string): string | undefined {
  const s = signup(ctx);
  if (!s) return undefined;
  const taken = new Set(Object.values(accountValues(s, v.name, v.email, '')));
  if (MAIL_FIELD.test(field)) return taken.has(v.email) ? v.email : undefined;
  return [v.name, v.email].find((x) => taken.has(x));
}

/**
 * Password reset: a known and an unknown account must get the same answer. The known account is one of the
 * scan's own (reused, else `pcf<random>` through the sign-up), named by what its sign-up took: a reset request
 * for a given identity would send that person a real reset mail. Without one, nothing is sent (a note says so).
 */
async function resetEnumeration(ctx: ScanContext, t: LoginTarget | undefined): Promise<boolean> {
  let v: Throwaway | undefined | null = null;
  let told = false;
  for (const op of ctx.spec.operations) {
    // A path that names an account (`/users/{id}/reset`) would name someone else's; a value the document
    // lists (`/api/v{version}/users/reset`, version 1 or 2) names nobody.
    const unlisted = op.parameters.some(
      (p) => p.in === 'path' && listedValue(ctx.spec, p.schema) === undefined,
    );
    if (op.method !== 'POST' || isExcluded(op) || !RESET_PATH.test(op.path) || unlisted) continue;
    const schema = bodySchema(op);
    // Its inputs: body fields, else query parameters (`POST /password/forgot?email=`).
    const inQuery = schema === undefined;
    const props = inQuery
      ? op.parameters.filter((p) => p.in === 'query').map((p) => p.name)
      : Object.keys(propertiesOf(ctx.spec, schema));
    const field = props.find((p) => /mail/i.test(p)) ?? props.find((p) => USER_FIELD.test(p));
    if (!field || props.some((p) => PASSWORD_FIELD.test(p) && p !== field)) continue;
    // Another required query input naming an account would get a value the API gave out: someone else's.
    if (
      inQuery &&
      op.parameters.some((p) => p.in === 'query' && p.required && p.name !== field && USER_FIELD.test(p.name))
    )
      continue;
    // One account for every reset operation, looked for at the first one.
    if (v === null) v = (await reuseThrowaway(ctx)) ?? (await registerThrowaway(ctx, t, 'pcf'));
    const value = v ? ownAccountValue(ctx, v, field) : undefined;
    if (!v || !value) {
      ctx.note?.({
        rule: SCAN_RULES.userEnumeration,
        operation: op,
        reason: v
          ? `not sent: the account the scan registered has no ${field} its sign-up took, and a given identity's would get a real reset message`
          : `not sent: no account of the scan's own could be registered to name there, and a given identity's ${field} would get a real reset message`,
      });
      continue;
    }
    // The sample's other naming members (a documented example may be a real user) are left out.
    const sample = inQuery ? {} : sampleValue(ctx.spec, schema);
    const base = {
      ...(sample !== null && typeof sample === 'object' ? (sample as Record<string, unknown>) : {}),
    };
    for (const p of props) if (p !== field && USER_FIELD.test(p)) delete base[p];
    const unknown = /mail/i.test(field)
      ? `pc-nobody-${randomUUID().slice(0, 8)}@example.com`
      : `pc-nobody-${randomUUID().slice(0, 8)}`;
    // Every listed version of the path: an older one may still tell the two apart (or answer the code itself,
    // which the passive checks read in the known account's answer).
    let x: ScanResponse | undefined;
    let y: ScanResponse | undefined;
    for (const params of [{}, ...listedVariants(ctx.spec, op)]) {
      const send = (v: string) =>
        ctx.send(
          planRequest(
            ctx.spec,
            op,
            ctx.objects,
            inQuery ? { params: { ...params, [field]: v } } : { params, body: { ...base, [field]: v } },
          ),
          null,
        );
      const unknownAnswer = await send(unknown);
      const knownAnswer = await send(value);
      if (!unknownAnswer || !knownAnswer) continue;
      if (x !== undefined && y !== undefined) continue;
      if (shape(unknownAnswer, [unknown, value]) === shape(knownAnswer, [unknown, value])) continue;
      x = unknownAnswer;
      y = knownAnswer;
    }
    if (!x || !y) continue;
    // A password or reset code the answer handed back (resetAnswers' finding) shows in neither.
    const current = v.password;
    const hide = (text: string) =>
      handedBack(y, [value, unknown], current).reduce(
        (out, h) => out.split(h.value).join('[redacted]'),
        redact(text),
      );
    ctx.report(SCAN_RULES.userEnumeration, {
      operation: op,
      key: `reset:${field}`,
      message: `${op.method} ${op.path} answers an unknown ${field} (${x.status} ${hide(x.text.slice(0, 60))}) differently from that of an account the scan registered, ${v.name} (${y.status} ${hide(y.text.slice(0, 60))}).`,
      evidence: {
        ...evidenceOf(y),
        responseExcerpt: hide(y.text.slice(0, 300)),
        unknown: `${x.status} ${hide(x.text.slice(0, 120))}`,
        known: `${y.status} ${hide(y.text.slice(0, 120))}`,
      },
    });
    told = true;
  }
  return told;
}

/** A number no one has (the 555-01xx range is reserved for fiction): where a code would be texted. */
const FICTIONAL_PHONE = '+15555550142';
/** Paths that send a one-time code (`/auth/otp/send`, `/2fa/request`, `/verification-code`, `/send-code`). */
const SENT_CODE_PATH =
  /otp|2fa|mfa|totp|one[_-]?time|verification[_-]?code|verify[_-]?(email|phone|code)|send[_-]?code/i;
/** Members of a reset answer that hand back a password (`newPassword`, `temp_password`), in snake case. */
const HANDED_PASSWORD =
  /^(?:(?:new|temp|temporary|generated|reset|one_time|default|initial|plain)_?)?(?:password|passwd|pwd|pass)$/;
/** Members that hand back the reset's proof (`reset_token`, `resetCode`, `otp`, `verification_code`). */
const HANDED_TOKEN =
  /^(?:(?:password_|pw_)?(?:reset|recovery|verification|verify|confirmation|confirm|otp|one_time|email)_)?(?:token|code|otp|pin)$|^(?:reset|recovery)_(?:key|link|url)$/;
/** A placeholder where a value would go, or a word that says it was sent: no value handed back. */
const NO_VALUE = /^(?:\*+|x+|\.{3}|hidden|redacted|sent|none|null|undefined|true|false|ok|\[[^\]]*\])$/i;
/** The same in a text answer: `Your new password is Xy7...`, `reset token: 9f3a...` (linear, bounded). */
const HANDED_TEXT =
  /\b(?:new|temporary|temp)\s{1,3}password(?:\s{1,3}is)?\s{0,3}[:=]?\s{0,3}["']?([^\s"'<>,]{4,64})|\breset\s{1,3}(?:token|code)(?:\s{1,3}is)?\s{0,3}[:=]\s{0,3}["']?([\w.~-]{6,128})/i;

interface Handed {
  readonly kind: 'password' | 'token' | 'current';
  /** Where it sits: a JSON pointer, or `text`. */
  readonly member: string;
  readonly value: string;
}

/** A member name in snake case (`resetToken` → `reset_token`). */
const snake = (k: string) =>
  k
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();

/**
 * What a reset answer hands back: a new password, a reset token or code (a link that carries one), or the
 * account's current password (`current`). Values the request sent (the account's name, e-mail) are no such thing.
 */
export function handedBack(res: ScanResponse, sent: readonly string[], current?: string): Handed[] {
  const out: Handed[] = [];
  const own = new Set(sent.filter((s) => s !== ''));
  const walk = (v: unknown, pointer: string, depth: number): void => {
    if (depth > 4 || v === null || typeof v !== 'object' || out.length >= 4) return;
    for (const [k, child] of Object.entries(v as Record<string, unknown>).slice(0, 200)) {
      const at = `${pointer}/${k}`;
      if (child !== null && typeof child === 'object') {
        walk(child, at, depth + 1);
        continue;
      }
      const value = typeof child === 'number' && Number.isInteger(child) ? String(child) : child;
      if (typeof value !== 'string' || own.has(value) || NO_VALUE.test(value.trim())) continue;
      if (current !== undefined && value === current) {
        out.push({ kind: 'current', member: at, value });
        continue;
      }
      const name = snake(k);
      if (HANDED_PASSWORD.test(name) && /^\S{4,128}$/.test(value))
        out.push({ kind: 'password', member: at, value });
      else if (HANDED_TOKEN.test(name)) {
        const link = /_(?:link|url)$/.test(name);
        const token = link
          ? (/[?&#](?:token|code|key|t)=([\w.~-]{6,256})/.exec(value)?.[1] ??
            /\/([\w-]{20,256})\/?$/.exec(value)?.[1])
          : value;
        // A code is a number of four digits or more, or a string with a digit or 16 characters; never a
        // status (`code: 200`) or a word (`code: "RESET_SENT"`).
        if (
          token !== undefined &&
          /^[\w.~+/=-]{4,512}$/.test(token) &&
          (typeof child === 'number' ? token.length >= 4 : /\d/.test(token) || token.length >= 16) &&
          !/^[A-Z_]+$/.test(token)
        )
          out.push({ kind: 'token', member: at, value: token });
      }
    }
  };
  if (res.json !== undefined) walk(res.json, '', 0);
  else if (res.text.length <= 4000) {
    if (current !== undefined && current.length >= 6 && res.text.includes(current))
      out.push({ kind: 'current', member: 'text', value: current });
    const m = HANDED_TEXT.exec(res.text);
    const value = m?.[1] ?? m?.[2];
    if (m && value !== undefined && !own.has(value) && !NO_VALUE.test(value))
      out.push({ kind: m[1] !== undefined ? 'password' : 'token', member: 'text', value });
  }
  return out;
}

/** Inputs of an operation that sets a password that take the reset's proof (`token`, `reset_code`, `otp`). */
const PROOF_FIELD = /token|code|otp|pin|nonce|key/i;

/**
 * The reset's proof handed back is tried where it is taken: an operation that sets a password and takes a
 * token or code input gets the handed token there, with a fresh password for V (V named alone, no session); V
 * then signing in with that password is the proof. The operation proven, else undefined.
 */
async function useHandedToken(ctx: ScanContext, v: Throwaway, token: string): Promise<Operation | undefined> {
  const signupOp = signup(ctx)?.op;
  const ops = ctx.spec.operations.filter((op) => {
    if (!['POST', 'PUT', 'PATCH'].includes(op.method) || isExcluded(op) || op === signupOp) return false;
    if (op.parameters.some((p) => p.in === 'path')) return false;
    const inputs = passwordInputs(ctx, op);
    if (inputs.body.length + inputs.query.length === 0 || inputs.old.length > 0) return false;
    const names = [
      ...Object.keys(propertiesOf(ctx.spec, bodySchema(op))),
      ...op.parameters.filter((p) => p.in === 'query').map((p) => p.name),
    ];
    return names.some((k) => PROOF_FIELD.test(k.replace(/pass(word)?/i, '')));
  });
  for (const op of ops.slice(0, 2)) {
    const password = freshPassword();
    const planned = passwordRequest(ctx, op, v, password);
    const props = Object.keys(propertiesOf(ctx.spec, bodySchema(op)));
    const proof = (k: string) => PROOF_FIELD.test(k.replace(/pass(word)?/i, ''));
    let body = planned.body;
    if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
      body = { ...(body as Record<string, unknown>) };
      for (const k of props) if (proof(k)) (body as Record<string, unknown>)[k] = token;
    }
    let path = planned.path;
    const q = path.indexOf('?');
    if (q >= 0 || op.parameters.some((p) => p.in === 'query' && proof(p.name))) {
      const params = new URLSearchParams(q >= 0 ? path.slice(q + 1) : '');
      for (const p of op.parameters) if (p.in === 'query' && proof(p.name)) params.set(p.name, token);
      path = `${q >= 0 ? path.slice(0, q) : path}?${params}`;
    }
    const req: PlannedRequest = { ...planned, path, ...(planned.body !== undefined ? { body } : {}) };
    if (!namesOnly(op, req, v, undefined)) continue;
    const res = await ctx.send(req, null);
    if (!isSuccess(res) || refusedIn200(res)) continue;
    const after = await v.login(ctx, password);
    if (!after.identity) continue;
    v.password = password;
    v.identity = after.identity;
    return op;
  }
  return undefined;
}

/**
 * A password reset that hands its secret back to the caller: each forgot/reset/recover operation that does not
 * itself set a password (at most four) is sent without any session for a made-up account (the control), then
 * for an account of the scan's own (reused, else `pcf<random>`; two made-up accounts without a sign-up), by its
 * e-mail and name, with the documented body or, where none is documented, `{email, username}`. An answer that
 * holds a new password, a reset token or code (one the control did not get alike), or the account's current
 * password, is `-password-reset-without-proof` (key `reset-answer`): whoever names an account gets into it without
 * its mailbox. A password handed back is tried at the login, a token at the operation that takes one; the
 * message says whether it signed in. Never a given identity's name or e-mail.
 */
async function resetAnswers(ctx: ScanContext, t: LoginTarget | undefined): Promise<void> {
  const signupOp = signup(ctx)?.op;
  const ops = ctx.spec.operations.filter((op) => {
    if (!['POST', 'GET'].includes(op.method) || isExcluded(op) || op === signupOp) return false;
    const names = [
      ...Object.keys(propertiesOf(ctx.spec, bodySchema(op))),
      ...op.parameters.filter((p) => p.in === 'query').map((p) => p.name),
    ];
    // A forgot or reset request; a password route that takes only an account (Devise's `POST /users/password
    // {email}`); a one-time code's sending step (`POST /auth/otp/send {email}`: no code input).
    const kind =
      RESET_PATH.test(op.path) ||
      (/password/i.test(op.path) && names.length > 0 && names.every((k) => USER_FIELD.test(k))) ||
      (SENT_CODE_PATH.test(op.path) && !names.some((k) => OTP_FIELD.test(k) || OTP_TOKEN_FIELD.test(k)));
    if (!kind || isLoginOperation(ctx.spec, op)) return false;
    if (op.parameters.some((p) => p.in === 'path' && listedValue(ctx.spec, p.schema) === undefined))
      return false;
    if (op.method === 'GET' && setsPasswordByUrl(ctx.spec, op)) return false;
    const inputs = passwordInputs(ctx, op);
    return inputs.body.length + inputs.query.length + inputs.old.length === 0;
  });
  if (ops.length === 0) return;
  const v = (await reuseThrowaway(ctx)) ?? (await registerThrowaway(ctx, t, 'pcf'));
  const madeUp = () => {
    const tag = randomUUID().slice(0, 8);
    return { name: `pc-nobody-${tag}`, email: `pc-nobody-${tag}@example.com` };
  };
  for (const op of ops.slice(0, 4)) {
    const schema = bodySchema(op);
    const props = Object.keys(propertiesOf(ctx.spec, schema));
    const query = op.parameters.filter((p) => p.in === 'query');
    const request = (who: { name: string; email: string }): PlannedRequest | undefined => {
      const params: Record<string, string> = {};
      for (const p of query) {
        if (PHONE_FIELD.test(p.name)) params[p.name] = FICTIONAL_PHONE;
        else if (MAIL_FIELD.test(p.name)) params[p.name] = who.email;
        else if (USER_FIELD.test(p.name)) params[p.name] = who.name;
        // Another input that names something (an id) would get a value the API gave out: someone else's.
        else if (p.required && /id$/i.test(p.name)) return undefined;
      }
      if (props.length === 0 && query.length > 0) return planRequest(ctx.spec, op, ctx.objects, { params });
      const sample = props.length > 0 ? sampleValue(ctx.spec, schema) : {};
      const body: Record<string, unknown> =
        sample !== null && typeof sample === 'object' && !Array.isArray(sample)
          ? { ...(sample as Record<string, unknown>) }
          : {};
      for (const k of props) {
        if (PHONE_FIELD.test(k)) body[k] = FICTIONAL_PHONE;
        else if (MAIL_FIELD.test(k)) body[k] = who.email;
        else if (USER_FIELD.test(k)) body[k] = who.name;
        else if (/id$/i.test(k)) delete body[k];
      }
      // No body documented: the account by its e-mail and its name, as the usual forgot-password takes it.
      if (props.length === 0) Object.assign(body, { email: who.email, username: who.name });
      return planRequest(ctx.spec, op, ctx.objects, { params, body });
    };
    const control = madeUp();
    const own = v ? { name: ownAccountValue(ctx, v, 'username') ?? v.name, email: v.email } : madeUp();
    const first = request(control);
    const second = request(own);
    if (!first || !second) {
      ctx.note?.({
        rule: SCAN_RULES.passwordResetWithoutProof,
        operation: op,
        reason:
          "not sent: an input names a record by id, which only a value the API gave out (someone else's) would fill",
      });
      continue;
    }
    const x = await ctx.send(first, null);
    const y = await ctx.send(second, null);
    if (!y || y.status >= 400 || refusedIn200(y) || errorIn200(y)) continue;
    const atControl = x && x.status < 400 ? handedBack(x, [control.name, control.email]) : [];
    const handed = handedBack(y, [own.name, own.email], v?.password).filter(
      (h) => h.kind === 'current' || !atControl.some((c) => c.member === h.member && c.value === h.value),
    );
    const found =
      handed.find((h) => h.kind === 'current') ?? handed.find((h) => h.kind === 'password') ?? handed[0];
    if (!found) continue;
    const whose = v ? `an account the scan registered (${v.name})` : `a made-up account (${own.email})`;
    let proof = '';
    if (v && found.kind === 'password') {
      const after = await v.login(ctx, found.value);
      if (after.identity) {
        v.password = found.value;
        v.identity = after.identity;
        proof = ', and that password then signed the account in';
      }
    } else if (v && found.kind === 'token') {
      const used = await useHandedToken(ctx, v, found.value);
      if (used)
        proof = `, and ${used.method} ${used.path} took it to set a new password that then signed the account in`;
    }
    const what =
      found.kind === 'current'
        ? "the account's current password"
        : found.kind === 'password'
          ? 'a new password'
          : 'the reset token or one-time code';
    ctx.report(SCAN_RULES.passwordResetWithoutProof, {
      operation: op,
      key: `reset-answer:${found.kind}`,
      message: `${op.method} ${op.path}, sent without any session for ${whose}, answered ${what} itself (${found.member === 'text' ? 'in its text' : `at ${found.member}`}, ${found.value.length} characters)${proof}: anyone who knows a user name or e-mail takes the account over without its mailbox.`,
      evidence: masked(
        evidenceOf(y, {
          member: found.member,
          handed: found.kind,
          length: found.value.length,
          proven: proof !== '',
        }),
        found.value,
      ),
    });
  }
}

/** Evidence with a secret value masked wherever it shows (the excerpt, the request line). */
function masked(evidence: Record<string, unknown>, value: string): Record<string, unknown> {
  if (value.length < 4) return evidence;
  return Object.fromEntries(
    Object.entries(evidence).map(([k, v]) => [
      k,
      typeof v === 'string' ? v.split(value).join('[redacted]') : v,
    ]),
  );
}

/** Plain answers (no probe header) per scan, by caller and request line: what the header probes compare with. */
const plainAnswers = new WeakMap<object, Map<string, ScanResponse | undefined>>();

/**
 * The answer to a GET as `as` without any probe header: the first one this scan's header and key probes asked
 * for (answerTo's), kept, as a probe's own answer to the same line (`X-Role: admin`) is no plain answer.
 */
async function plainAnswer(
  ctx: ScanContext,
  req: PlannedRequest,
  as: Identity | null,
): Promise<ScanResponse | undefined> {
  const memo = plainAnswers.get(ctx.objects) ?? new Map<string, ScanResponse | undefined>();
  plainAnswers.set(ctx.objects, memo);
  const key = `${as?.name ?? ''}\0${req.path}`;
  if (!memo.has(key)) memo.set(key, await answerTo(ctx, req, as));
  return memo.get(key);
}

/** Key-like inputs a document may declare on a read (`?api_key=`, `X-Admin-Key`, `access_key`). */
const KEY_INPUT =
  /^(?:x-)?(?:api[_-]?key|apikey|admin[_-]?(?:key|token|secret)|access[_-]?key|master[_-]?key|auth[_-]?key|secret[_-]?key|secret|key|app[_-]?key|client[_-]?key)$/i;
/** Key places tried where the document declares none: two headers, two query parameters. */
const UNDECLARED_KEYS: readonly KeyPlace[] = [
  { in: 'header', name: 'x-api-key' },
  { in: 'header', name: 'x-admin-key' },
  { in: 'query', name: 'api_key' },
  { in: 'query', name: 'key' },
];
/** Static keys that installs, tutorials and labs ship with; the API's own words are added. */
const STATIC_KEYS = [
  'admin',
  'secret',
  '12345',
  '123456',
  'changeme',
  'password',
  'apikey',
  'api_key',
  'admin123',
  'supersecret',
  'test',
  'default',
  'letmein',
  'key',
  'dev',
  'master',
];
/** Guesses at a place the document does not declare (the first of the list: the most common). */
const UNDECLARED_GUESSES = 6;
/** Requests the static-key guessing may send in a scan, controls included. */
const MAX_KEY_GUESSES = 120;

interface KeyPlace {
  readonly in: 'header' | 'query' | 'cookie';
  readonly name: string;
}

/** A request with `value` at `place` (a header, a query parameter, a cookie), whatever the plan put there. */
function withKey(req: PlannedRequest, place: KeyPlace, value: string): PlannedRequest {
  if (place.in === 'header') {
    const headers = Object.fromEntries(
      Object.entries(req.headers ?? {}).filter(([k]) => k.toLowerCase() !== place.name.toLowerCase()),
    );
    return { ...req, headers: { ...headers, [place.name.toLowerCase()]: value } };
  }
  if (place.in === 'cookie')
    return { ...req, headers: { ...(req.headers ?? {}), cookie: `${place.name}=${value}` } };
  const q = req.path.indexOf('?');
  const params = new URLSearchParams(q >= 0 ? req.path.slice(q + 1) : '');
  params.set(place.name, value);
  return { ...req, path: `${q >= 0 ? req.path.slice(0, q) : req.path}?${params}` };
}

/** A request without anything at `place`. */
function withoutKey(req: PlannedRequest, place: KeyPlace): PlannedRequest {
  if (place.in === 'header')
    return {
      ...req,
      headers: Object.fromEntries(
        Object.entries(req.headers ?? {}).filter(([k]) => k.toLowerCase() !== place.name.toLowerCase()),
      ),
    };
  if (place.in === 'cookie') return req;
  const q = req.path.indexOf('?');
  if (q < 0) return req;
  const params = new URLSearchParams(req.path.slice(q + 1));
  params.delete(place.name);
  const rest = params.toString();
  return { ...req, path: `${req.path.slice(0, q)}${rest ? `?${rest}` : ''}` };
}

/** An answer that lets the caller in: a 2xx that refuses nothing and shows something. */
function letIn(res: ScanResponse | undefined): boolean {
  return isSuccess(res) && !errorIn200(res) && !emptyAnswer(res.json);
}

/**
 * A made-up key's answer that is a refusal for want of the right key: 401 or 403, a refusal in a 200, or a 400
 * that speaks of a key, a token or access (`?key=` that looks a record up answers 404: no key at all).
 */
function keyRefused(res: ScanResponse): boolean {
  if (res.status === 401 || res.status === 403) return true;
  if (res.status === 400)
    return /key|token|auth|forbidden|denied|permission|credential/i.test(res.text.slice(0, 500));
  return res.status < 300 && refusedIn200(res);
}

/** The guesses for a static key: the common ones, then the API's own name in a few forms. */
function staticKeys(ctx: ScanContext, given: ReadonlySet<string>): string[] {
  const out = new Set(STATIC_KEYS);
  const title = ctx.spec.title.trim().toLowerCase();
  const words = title.split(/[^a-z0-9]+/).filter((w) => w.length >= 3);
  for (const w of [words.join(''), words.join('-'), ...words.slice(0, 2)])
    if (w.length >= 3) for (const form of [w, `${w}-key`, `${w}_key`, `${w}123`, `${w}-admin`]) out.add(form);
  return [...out].filter((k) => !given.has(k)).slice(0, 30);
}

/** Every header, cookie and query value the given identities carry: never offered as a guess. */
function givenValues(ctx: ScanContext): Set<string> {
  const out = new Set<string>();
  for (const i of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])]) {
    for (const v of Object.values(i.session.headers)) out.add(v.replace(/^\w+ /, '')).add(v);
    for (const v of i.session.cookies.values()) out.add(v);
  }
  return out;
}

/**
 * Guessable static keys (`-default-credentials`, key `static-key:<place>`): a read that the caller is refused
 * (anonymous, or B where only the admin passes) and a made-up key is refused too, is sent with each common key
 * (`admin`, `secret`, `12345`, `changeme`..., the API's title as `garden-key`) at the key's place: a declared
 * `apiKey` scheme or a key-like parameter (`?api_key=`, `X-Admin-Key`) of the read, else, on at most two reads,
 * `X-API-Key`, `X-Admin-Key`, `?api_key=` and `?key=`. A guess answered with a 2xx that refuses nothing and shows
 * something is the finding; the first one per place ends the guessing there. GETs only; never a given identity's
 * own key.
 */
async function staticKeyGuessing(ctx: ScanContext): Promise<void> {
  const given = givenValues(ctx);
  const guesses = staticKeys(ctx, given);
  let budget = MAX_KEY_GUESSES;
  const b = ctx.identities[1] ?? ctx.identities[0];
  /** Reads to try: [op, caller] where the caller is refused; declared key places first. */
  const targets: { op: Operation; as: Identity | null; places: KeyPlace[]; declared: boolean }[] = [];
  for (const op of ctx.spec.operations) {
    if (op.method !== 'GET' || isExcluded(op) || op.parameters.some((p) => p.in === 'path')) continue;
    const places: KeyPlace[] = [];
    for (const alt of op.security ?? [])
      for (const name of Object.keys(alt)) {
        const raw = ctx.spec.securitySchemes[name];
        if (raw?.type !== 'apiKey') continue;
        const where = raw.raw.in;
        const key = raw.raw.name;
        if ((where === 'header' || where === 'query' || where === 'cookie') && typeof key === 'string')
          places.push({ in: where, name: key });
      }
    for (const p of op.parameters)
      if ((p.in === 'header' || p.in === 'query') && KEY_INPUT.test(p.name))
        places.push({ in: p.in, name: p.name });
    const unique = places.filter(
      (p, i) => places.findIndex((x) => x.in === p.in && x.name.toLowerCase() === p.name.toLowerCase()) === i,
    );
    // One read per key: a place an earlier read declares is the same key.
    const fresh = unique.filter(
      (p) =>
        !targets.some((t) =>
          t.places.some((x) => x.in === p.in && x.name.toLowerCase() === p.name.toLowerCase()),
        ),
    );
    if (fresh.length > 0 && targets.length < 3) targets.push({ op, as: null, places: fresh, declared: true });
  }
  // Undeclared places too (a shorter list): reads only the admin passes (B refused), then reads an anonymous
  // caller is refused.
  {
    const undeclared: { op: Operation; as: Identity | null }[] = [];
    for (const op of ctx.spec.operations) {
      if (op.method !== 'GET' || isExcluded(op) || op.parameters.some((p) => p.in === 'path')) continue;
      if (undeclared.length >= 2) break;
      if (targets.some((t) => t.op === op)) continue;
      const req = planRequest(ctx.spec, op, ctx.objects);
      if (ctx.admin && b) {
        const byAdmin = await plainAnswer(ctx, req, ctx.admin);
        const byB = await plainAnswer(ctx, req, b);
        if (letIn(byAdmin) && byB && !letIn(byB) && byB.status < 500) {
          undeclared.push({ op, as: b });
        }
      }
    }
    for (const op of ctx.spec.operations) {
      if (undeclared.length >= 2) break;
      if (op.method !== 'GET' || isExcluded(op) || op.parameters.some((p) => p.in === 'path')) continue;
      if (undeclared.some((u) => u.op === op)) continue;
      const req = planRequest(ctx.spec, op, ctx.objects);
      if (targets.some((t) => t.op === op)) continue;
      const anon = await plainAnswer(ctx, req, null);
      const byA = ctx.identities[0] ? await plainAnswer(ctx, req, ctx.identities[0]) : undefined;
      if (anon && !letIn(anon) && anon.status < 500 && letIn(byA)) undeclared.push({ op, as: null });
    }
    for (const u of undeclared) targets.push({ ...u, places: [...UNDECLARED_KEYS], declared: false });
  }
  /** Declared places already guessed at (one key, whatever the read): each is guessed once. */
  const guessed = new Set<string>();
  for (const { op, as, places, declared } of targets.slice(0, 5)) {
    for (const place of places) {
      const where = `${place.in}:${place.name.toLowerCase()}`;
      if (declared && guessed.has(where)) continue;
      if (budget <= 0) {
        ctx.note?.({
          rule: SCAN_RULES.defaultCredentials,
          operation: op,
          reason: `static key guessing stopped: its ${MAX_KEY_GUESSES} requests were spent`,
        });
        return;
      }
      const base = withoutKey(planRequest(ctx.spec, op, ctx.objects), place);
      // The control: a made-up key must be refused, like no key at all.
      const control = await ctx.send(withKey(base, place, `pc-nokey-${randomUUID().slice(0, 8)}`), as);
      budget--;
      if (!control || !keyRefused(control)) continue;
      if (declared) guessed.add(where);
      for (const guess of declared ? guesses : guesses.slice(0, UNDECLARED_GUESSES)) {
        if (budget-- <= 0) break;
        const res = await ctx.send(withKey(base, place, guess), as);
        if (!res || !letIn(res) || shape(res, [guess]) === shape(control, [])) continue;
        ctx.report(SCAN_RULES.defaultCredentials, {
          operation: op,
          key: `static-key:${place.in}:${place.name.toLowerCase()}`,
          message: `${op.method} ${op.path} let ${as ? as.name : 'a caller without credentials'} in (${res.status}) with the guessable ${place.in === 'query' ? 'query parameter' : place.in} ${place.name}=${guess.slice(0, 2)}…(${guess.length} characters, a common value), while a made-up key got ${control.status}${declared ? '' : ' (the document declares no such key)'}: a static key anyone can guess.`,
          evidence: maskedAt(
            evidenceOf(res, { place: `${place.in} ${place.name}`, guessLength: guess.length }),
            place.name,
            guess,
          ),
        });
        break;
      }
    }
  }
}

/** Evidence with the value given to `name` (`name=value`, `name: value`) masked wherever it shows. */
function maskedAt(evidence: Record<string, unknown>, name: string, value: string): Record<string, unknown> {
  const escapeRe = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const at = new RegExp(
    `(${escapeRe(name)}['"]?\\s{0,3}[:=]\\s{0,3}['"]?)${escapeRe(value)}(?![\\w-])`,
    'gi',
  );
  return Object.fromEntries(
    Object.entries(evidence).map(([k, v]) => [k, typeof v === 'string' ? v.replace(at, '$1***') : v]),
  );
}

/** A path word of one's own (`/api/user`, `/me/orders`, `/my/bookings`, `/users/current`, `/account/info`). */
const OWN_WORD = /(^|\/)(user|me|my|mine|self|profile|account|current|current[_-]?user|whoami)(\/|$)/i;
/** Headers a proxy sets for the signed-in user, by what they carry. */
const ID_HEADERS = ['x-user-id', 'x-userid'];
const NAME_HEADERS = [
  'x-user',
  'x-username',
  'x-forwarded-user',
  'x-remote-user',
  'x-auth-user',
  'remote-user',
];
const MAIL_HEADERS = ['x-user-email', 'x-forwarded-email', 'x-email'];
const ROLE_HEADERS: Readonly<Record<string, string>> = {
  'x-role': 'admin',
  'x-user-role': 'admin',
  'x-forwarded-role': 'admin',
  'x-admin': 'true',
  'x-is-admin': 'true',
};

/** The lower-case strings of an answer (values at any depth, at most 500). */
function answerStrings(json: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, depth: number) => {
    if (out.size >= 500 || depth > 6) return;
    if (typeof v === 'string' || typeof v === 'number') out.add(String(v).trim().toLowerCase());
    else if (v !== null && typeof v === 'object') for (const c of Object.values(v)) walk(c, depth + 1);
  };
  walk(json, 0);
  return out;
}

/**
 * Identity headers the API trusts (`-no-credentials`, key `identity-header:<header>`): undeclared headers a
 * proxy would set (`X-User-Id`, `X-User`, `X-Forwarded-User`, `X-Remote-User`, `X-User-Email`...) naming A, sent
 * by B and by a caller without credentials to a read of one's own account (`/me`, `/profile`; no path parameter)
 * that shows A's names to A and B's to B: B's answer then showing A's names and not B's (or an anonymous caller,
 * refused without them, getting A's) is the finding; the header is named by one request per header after all
 * of them together (role inputs: roleInputs). GETs only; a header the document declares on the operation, or an
 * identity carries, is left alone.
 */
async function identityHeaders(ctx: ScanContext): Promise<void> {
  const [a, b] = ctx.identities;
  if (!a || !b) return;
  const declared = (op: Operation) =>
    new Set([
      ...op.parameters.filter((p) => p.in === 'header').map((p) => p.name.toLowerCase()),
      ...Object.keys(a.session.headers),
      ...Object.keys(b.session.headers),
    ]);
  const candidates = ctx.spec.operations.filter(
    (op) => op.method === 'GET' && !isExcluded(op) && !op.parameters.some((p) => p.in === 'path'),
  );
  // Own-account reads first (`/me`, `/profile`), then reads under a word of one's own (`/api/user`, `/me/orders`,
  // `/my/bookings`): a read counts only where A's answer shows A's names and B's shows B's, not A's.
  const reads = [
    ...candidates.filter((op) => OWN_READ.test(op.path)),
    ...candidates.filter((op) => !OWN_READ.test(op.path) && OWN_WORD.test(op.path)),
  ];
  for (const op of reads.slice(0, 3)) {
    const req = planRequest(ctx.spec, op, ctx.objects);
    const byA = await plainAnswer(ctx, req, a);
    const byB = await plainAnswer(ctx, req, b);
    if (!byA || !byB || !letIn(byA) || !letIn(byB)) continue;
    const aNames = new Set([...accountNames(a), ...ownReadNames(op.path, byA.json)]);
    const bNames = new Set([...accountNames(b), ...ownReadNames(op.path, byB.json)]);
    const shows = (res: ScanResponse, names: ReadonlySet<string>) => {
      const strings = answerStrings(res.json);
      return [...names].some((n) => strings.has(n));
    };
    if (!shows(byA, aNames) || !shows(byB, bNames) || shows(byB, aNames)) continue;
    const ids = [...selfIds(a)].filter((x) => !selfIds(b).has(x));
    const mail = [...aNames].find((n) => EMAIL_VALUE.test(n));
    const name = [...aNames].find((n) => !EMAIL_VALUE.test(n)) ?? mail;
    const skip = declared(op);
    const headers: Record<string, string> = {};
    for (const h of ID_HEADERS) if (ids[0] !== undefined) headers[h] = ids[0];
    for (const h of NAME_HEADERS) if (name !== undefined) headers[h] = name;
    for (const h of MAIL_HEADERS) if (mail !== undefined) headers[h] = mail;
    for (const h of Object.keys(headers)) if (skip.has(h)) delete headers[h];
    if (Object.keys(headers).length === 0) continue;
    const anon = await plainAnswer(ctx, req, null);
    const callers: (Identity | null)[] = [b, ...(anon && !letIn(anon) && anon.status < 500 ? [null] : [])];
    for (const as of callers) {
      const becomes = (res: ScanResponse | undefined): res is ScanResponse =>
        res !== undefined && letIn(res) && shows(res, aNames) && !shows(res, bNames);
      const all = await ctx.send({ ...req, headers: { ...(req.headers ?? {}), ...headers } }, as);
      if (!becomes(all)) continue;
      // Which header: one at a time (the first that does it is named).
      let culprit: [string, string] | undefined;
      let proof: ScanResponse = all;
      for (const [h, v] of Object.entries(headers)) {
        const one = await ctx.send({ ...req, headers: { ...(req.headers ?? {}), [h]: v } }, as);
        if (becomes(one)) {
          culprit = [h, v];
          proof = one;
          break;
        }
      }
      const sent = culprit ? `${culprit[0]}: ${culprit[1]}` : Object.keys(headers).join(', ');
      ctx.report(SCAN_RULES.noCredentials, {
        operation: op,
        key: `identity-header:${culprit?.[0] ?? 'several'}`,
        message: `${op.method} ${op.path} took the caller's identity from a header the client sets and the document does not declare: ${as ? as.name : 'a caller without credentials'} sent ${sent} (naming ${a.name}) and got ${a.name}'s account (${proof.status}), where ${as ? `${as.name}'s own request shows its own` : 'a request without it is refused'}. Anyone becomes any user by naming them.`,
        evidence: evidenceOf(proof, {
          header: culprit?.[0] ?? Object.keys(headers),
          caller: as ? as.name : 'anonymous',
        }),
      });
      break;
    }
  }
}

/** Query inputs that choose a role where a careless API reads it from the request (`?role=admin`, `?user=admin`). */
const ROLE_QUERIES: Readonly<Record<string, string>> = {
  role: 'admin',
  user: 'admin',
  admin: 'true',
  is_admin: 'true',
};
/** The ordinary value of each role input: the control, which must still be refused. */
const ORDINARY_ROLE: Readonly<Record<string, string>> = { admin: 'user', true: 'false' };
/** At most this many refused reads get the role probes. */
const MAX_ROLE_READS = 3;

/**
 * Role inputs the client sets (`-no-credentials`, key `role-header:<header>` or `role-query:<name>`): undeclared
 * role headers (`X-Role: admin`, `X-Admin: true`...), then query inputs (`?role=admin`, `?user=admin`,
 * `?admin=true`), sent by the last ordinary identity, and by a caller without credentials when it is refused too,
 * to at most three reads without path parameters that refuse it (401, 403, a refusal) and that either the admin
 * passes or the document reserves to a role (an admin path, tag, scope or prose, or a 403 it declares there and
 * the identity got). Proof: with an admin, an answer
 * like the admin's (similarity 0.5); without one, an answer that lets the caller in while the same inputs with
 * ordinary values (`X-Role: user`, `?admin=false`) are still refused: the privileged value alone opens the read,
 * not the input's presence. GETs only; an input the document declares on the operation, or an identity carries,
 * is left alone.
 */
async function roleInputs(ctx: ScanContext): Promise<void> {
  const b = ctx.identities[ctx.identities.length - 1];
  if (!b) return;
  const admin = ctx.admin;
  const carried = new Set(
    ctx.identities.flatMap((p) => Object.keys(p.session.headers).map((h) => h.toLowerCase())),
  );
  let tried = 0;
  for (const op of ctx.spec.operations) {
    if (tried >= MAX_ROLE_READS) return;
    if (op.method !== 'GET' || isExcluded(op) || op.parameters.some((p) => p.in === 'path')) continue;
    const req = planRequest(ctx.spec, op, ctx.objects);
    const byB = await plainAnswer(ctx, req, b);
    // B refused for want of rights (401, 403, a refusal): not a limit or a missing route.
    if (!byB || !keyRefused(byB)) continue;
    const byAdmin = admin ? await plainAnswer(ctx, req, admin) : undefined;
    const adminIn = byAdmin !== undefined && letIn(byAdmin);
    // No admin to compare with (or none given): only a read the document reserves to a role, by its words or by
    // a 403 it declares there and B got.
    const reserved =
      looksPrivileged(op, ctx.spec) ||
      meantForRole({ spec: ctx.spec, observations: [] }, op) ||
      (byB.status === 403 && '403' in op.responses);
    if (!adminIn && !reserved) continue;
    tried++;
    const declared = new Set(op.parameters.map((p) => p.name.toLowerCase()));
    const anon = await plainAnswer(ctx, req, null);
    const callers: (Identity | null)[] = [b, ...(anon && keyRefused(anon) ? [null] : [])];
    const headerPlaces = Object.entries(ROLE_HEADERS)
      .filter(([h]) => !declared.has(h) && !carried.has(h))
      .map(([name, value]) => [{ in: 'header', name }, value] as const);
    const queryPlaces = Object.entries(ROLE_QUERIES)
      .filter(([q]) => !declared.has(q) && !new URLSearchParams(req.path.split('?')[1] ?? '').has(q))
      .map(([name, value]) => [{ in: 'query', name }, value] as const);
    const withAll = (places: readonly (readonly [KeyPlace, string])[], ordinary: boolean) =>
      places.reduce<PlannedRequest>(
        (r, [place, value]) => withKey(r, place, ordinary ? (ORDINARY_ROLE[value] ?? 'user') : value),
        req,
      );
    callersLoop: for (const as of callers) {
      for (const places of [headerPlaces, queryPlaces]) {
        if (places.length === 0) continue;
        const like = async (
          res: ScanResponse | undefined,
          set: readonly (readonly [KeyPlace, string])[],
        ): Promise<boolean> => {
          if (res === undefined || !letIn(res)) return false;
          if (adminIn)
            return res.json === undefined
              ? res.text === byAdmin.text
              : similarity(res.json, byAdmin.json) >= 0.5;
          // No admin: the same inputs with ordinary values must still be refused.
          const control = await ctx.send(withAll(set, true), as);
          return control !== undefined && keyRefused(control);
        };
        const all = await ctx.send(withAll(places, false), as);
        if (!(await like(all, places))) continue;
        let culprit: readonly [KeyPlace, string] | undefined;
        let proof = all as ScanResponse;
        for (const one of places) {
          const res = await ctx.send(withAll([one], false), as);
          if (await like(res, [one])) {
            culprit = one;
            proof = res as ScanResponse;
            break;
          }
        }
        const where = places[0][0].in === 'header' ? 'header' : 'query';
        const sent = (culprit ? [culprit] : places)
          .map(([p, v]) => (p.in === 'header' ? `${p.name}: ${v}` : `?${p.name}=${v}`))
          .join(', ');
        const who = as ? as.name : 'a caller without credentials';
        ctx.report(SCAN_RULES.noCredentials, {
          operation: op,
          key: `role-${where}:${culprit?.[0].name ?? 'several'}`,
          message: `${op.method} ${op.path}, which refuses ${who} (${(as ? byB : anon)?.status}) and ${
            adminIn ? 'answers the admin' : 'the document reserves to a role'
          }, answered ${who} ${adminIn ? 'like the admin' : 'with its data'} (${proof.status}) once it sent ${sent}, ${
            where === 'header' ? 'a header' : 'a query input'
          } the client sets and the document does not declare${
            adminIn ? '' : ' (the same input with an ordinary value is still refused)'
          }: anyone raises their own role.`,
          evidence: evidenceOf(proof, {
            [where]: culprit?.[0].name ?? places.map(([p]) => p.name),
            caller: as ? as.name : 'anonymous',
          }),
        });
        break callersLoop;
      }
    }
  }
}

/** Inputs that name the caller by id (`userId`, `user_id`, `uid`, `X-User-Id`, `account_id`). */
const CALLER_ID_INPUT = /^(?:x-)?(?:user|account|member|customer|client)[_-]?id$|^uid$/i;

/**
 * A login that signs in without handing out any session (`-no-credentials`, key `login-no-session`, on the login):
 * a given identity's login answered that it signed in (a user nobody has was refused there, see login.ts) and
 * gave no token, no cookie and no credential member, so the API cannot tell one caller from another afterwards:
 * whoever sends a user id is that user. The login is sent once more as that identity (its right password) to show
 * the answer; a read the scan made as the identity with the login's own id in a caller-id input (`?userId=1`) that
 * answered 2xx is named as the example. Once per scan.
 */
async function bareLogins(ctx: ScanContext): Promise<void> {
  const who = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])].find(
    (i) =>
      i.login !== undefined &&
      i.token === undefined &&
      Object.keys(i.session.headers).length === 0 &&
      i.session.cookies.size === 0 &&
      !isBasicLogin(i.login.flow),
  );
  const flow = who?.login?.flow;
  if (!who || !flow) return;
  const path = flow.path.split('?')[0];
  const op = ctx.spec.operations.find(
    (o) => o.method === (flow.method ?? 'POST') && templateMatches(o.path, path),
  );
  const res = await ctx.send({ ...loginRequest(flow), ...(op ? { operation: op } : {}) }, null);
  if (!res || res.status >= 400 || !reportsSignIn(res)) return;
  const outcome = loginOutcome(flow, res);
  if (outcome.token !== undefined || outcome.sessionCookies.length > 0 || setCookies(res).size > 0) return;
  // Where the API then takes the caller's id from the request: a read the scan made as this identity.
  const ids = [...selfIds(who)];
  const example = ctx.observations.find((o) => {
    if (o.identity !== who.name || o.request.method !== 'GET' || !isSuccess(o.response)) return false;
    const q = o.request.path.indexOf('?');
    if (q < 0) return false;
    return [...new URLSearchParams(o.request.path.slice(q + 1))].some(
      ([k, v]) => CALLER_ID_INPUT.test(k) && ids.includes(v),
    );
  });
  ctx.report(SCAN_RULES.noCredentials, {
    ...(op ? { operation: op } : {}),
    key: 'login-no-session',
    message: `${flow.method ?? 'POST'} ${path} signed ${who.name} in (${res.status}) without handing out any session: no token, no cookie, no credential in the answer${ids.length > 0 ? ` (only its id, ${ids[0]})` : ''}. Later requests carry nothing the API could check, so whoever sends a user id is that user${example ? `: ${example.request.method} ${redact(example.request.path)} answered ${example.response.status} with no credential at all` : ''}.`,
    evidence: evidenceOf(res, {
      identity: who.name,
      ...(example ? { example: redact(example.request.path) } : {}),
    }),
  });
}

/** Words of an answer that says an account already exists. */
const EXISTS_WORDS =
  /already|exists?\b|taken|in use|registered|duplicate|unavailable|not available|conflict|unique/i;

/** An answer normalised for comparing sign-ups: the names tried as placeholders, every number dropped. */
function signupShape(res: ScanResponse, names: readonly string[]): string {
  return shape(res, names).replace(/\d+/g, '{n}');
}

/**
 * Sign-up enumeration: the sign-up sent again for an account of the scan's own (V: its name and e-mail, its own
 * current password, so that an API that overwrites on a second sign-up changes nothing) must answer like a
 * sign-up of a name nobody has (`pcr<random>`, which creates that account: named in the clean-up notes). A
 * duplicate refused (another status, or words that say the account exists) while the new name is created tells
 * who has an account. A given identity is never signed up again. Judged only where a login or a reset already
 * told (`elsewhere`): an API whose logins and resets answer alike has chosen not to tell, and a sign-up must
 * still refuse a taken name (its one residual tell, to be rate-limited); one that tells at its login tells at
 * its sign-up too.
 */
async function signupEnumeration(
  ctx: ScanContext,
  t: LoginTarget | undefined,
  elsewhere: boolean,
): Promise<void> {
  const s = signup(ctx);
  if (!s || !elsewhere) return;
  const v = (await reuseThrowaway(ctx)) ?? (await registerThrowaway(ctx, t, 'pcr'));
  if (!v) {
    ctx.note?.({
      rule: SCAN_RULES.userEnumeration,
      operation: s.op,
      reason: "sign-up not compared: no account of the scan's own could be registered and signed in",
    });
    return;
  }
  const dup = await v.register(ctx, v.password);
  const tag = randomUUID().slice(0, 8);
  const fresh = `pcr${tag}`;
  const created = await ctx.send(
    signupRequest(ctx, s, accountValues(s, fresh, `${fresh}@example.com`, freshPassword())),
    null,
  );
  if (!dup || !created || !isSuccess(created) || refusedIn200(created) || errorIn200(created)) return;
  noteLeftAccount(ctx, fresh, `${s.op.method} ${s.op.path} created it (the sign-up enumeration's new name)`);
  const names = [v.name, v.email, fresh, `${fresh}@example.com`];
  if (signupShape(dup, names) === signupShape(created, names)) return;
  const tells =
    dup.status !== created.status || (EXISTS_WORDS.test(dup.text) && !EXISTS_WORDS.test(created.text));
  if (!tells) return;
  ctx.report(SCAN_RULES.userEnumeration, {
    operation: s.op,
    key: 'signup',
    message: `${s.op.method} ${s.op.path} answers a sign-up for an existing account (${dup.status} ${redact(dup.text.slice(0, 60))}) differently from one for a new name (${created.status} ${redact(created.text.slice(0, 60))}): anyone can learn who has an account. The existing account was one the scan registered, ${v.name}.`,
    evidence: {
      ...evidenceOf(dup),
      existing: `${dup.status} ${redact(dup.text.slice(0, 120))}`,
      created: `${created.status} ${redact(created.text.slice(0, 120))}`,
    },
  });
}

/** What stops a guessing run: a limit status, Retry-After, or the answer changing (a lock message). */
function throttled(
  res: ScanResponse | undefined,
  first: string | undefined,
  names: readonly string[],
): string {
  if (!res) return 'connection refused or timed out';
  if (res.status === 429 || res.status === 423 || res.status === 503) return `status ${res.status}`;
  if (res.headers['retry-after'] !== undefined) return 'Retry-After';
  if (/too many|locked|lockout|try again later|rate.?limit|temporarily|captcha|blocked/i.test(res.text))
    return 'a lockout message';
  if (first !== undefined && shape(res, names) !== first) return 'a change in the answer';
  return '';
}

/** Logins that answered with a limit (429, or a Retry-After), by method and path: the first such answer. */
const limitedLogins = new WeakMap<object, Map<string, ScanResponse>>();
const loginKey = (t: LoginTarget) => `${t.flow.method ?? 'POST'} ${t.flow.path.split('?')[0]}`;

/** Words of an answer that limits the caller (not one that locks an account: that is the account's). */
const LIMIT_WORDS = /too many (requests|attempts|login)|rate.?limit|slow down|try again (later|in \d)/i;

/**
 * An answer that says the caller is being limited: 429, a Retry-After on a refusal, or a refusal (an error
 * status, or a refusal in a 200) whose short text says so.
 */
function limitAnswer(res: ScanResponse): boolean {
  if (res.status === 429 || (res.status >= 400 && res.headers['retry-after'] !== undefined)) return true;
  const refused = res.status >= 400 || refusedIn200(res) || errorIn200(res);
  return refused && res.text.length < 500 && LIMIT_WORDS.test(res.text);
}

/** The answer with which the login at `t` first met a limit in this scan, if it did. */
function limitedAt(ctx: ScanContext, t: LoginTarget): ScanResponse | undefined {
  return limitedLogins.get(ctx.objects)?.get(loginKey(t));
}

/**
 * One login at `t` with these user and password values, anonymously. Once the login has answered with a limit
 * (429, Retry-After) that is not one account's lock (accountOnly), nothing more is sent there (undefined):
 * every further try would only prolong the limit for everyone behind the scan's address, the given identities
 * included; the run notes it at the end.
 */
async function sendLogin(ctx: ScanContext, t: LoginTarget, user: unknown, password: unknown) {
  if (limitedAt(ctx, t)) return undefined;
  const res = await ctx.send(
    {
      ...loginRequest(t.flow, { [t.userField]: user, [t.passwordField]: password }),
      ...(t.op ? { operation: t.op } : {}),
    },
    null,
  );
  if (res && limitAnswer(res)) {
    if (!(await accountOnly(ctx, t, user))) {
      const byLogin = limitedLogins.get(ctx.objects) ?? new Map<string, ScanResponse>();
      limitedLogins.set(ctx.objects, byLogin);
      if (!byLogin.has(loginKey(t))) byLogin.set(loginKey(t), res);
    } else {
      // A lock of that one account: the login locks accounts (the default pairs take fewer passwords a name).
      const locks = accountLocks.get(ctx.objects) ?? new Set<string>();
      accountLocks.set(ctx.objects, locks);
      locks.add(loginKey(t));
    }
  }
  return res;
}

/** Logins where a limit answer held for one account only (a lock), per scan. */
const accountLocks = new WeakMap<object, Set<string>>();

/**
 * After a limit answer for `user`: does it hold for that account only (a lock of one user name)? One failed
 * login for a user name nobody has, answered without a limit, says so; then the login stays open to the other
 * checks. Limited too: the limit is the caller's (its address), and nothing more is sent there.
 */
async function accountOnly(ctx: ScanContext, t: LoginTarget, user: unknown): Promise<boolean> {
  const other = unknownUser(ctx, t, user);
  if (other === user) return false;
  const res = await ctx.send(
    {
      ...loginRequest(t.flow, { [t.userField]: other, [t.passwordField]: wrong() }),
      ...(t.op ? { operation: t.op } : {}),
    },
    null,
  );
  return res !== undefined && res.status < 500 && !limitAnswer(res);
}

const noRoute = (status: number) => status === 404 || status === 405 || status === 501;

/** Did the login's route answer anything but 404, 405 or 501 in this scan (a known user's wrong password)? */
function routeAnswered(ctx: ScanContext, t: LoginTarget): boolean {
  const method = t.flow.method ?? 'POST';
  const path = t.flow.path.split('?')[0];
  return ctx.observations.some(
    (o) =>
      o.request.method === method && o.request.path.split('?')[0] === path && !noRoute(o.response.status),
  );
}

/** An announced limit of at most this many requests per window is a guard against guessing. */
const ANNOUNCED_LIMIT = 30;

/**
 * The request limit an answer announces: `X-RateLimit-Limit` (and Kong's `X-RateLimit-Limit-Minute`...),
 * `RateLimit-Limit`, draft-7 `RateLimit: limit=10, ...`, or a `RateLimit-Policy` quota (`10;w=60`, `"x";q=10`).
 * The smallest one, or undefined.
 */
export function announcedLimit(res: ScanResponse): number | undefined {
  const limits: number[] = [];
  for (const [name, value] of Object.entries(res.headers)) {
    const n = name.toLowerCase();
    let m: RegExpExecArray | null = null;
    if (/^(x-)?ratelimit-limit/.test(n)) m = /^\s*(\d{1,9})/.exec(value);
    else if (n === 'ratelimit') m = /\blimit=(\d{1,9})/.exec(value);
    else if (n === 'ratelimit-policy') m = /\bq=(\d{1,9})/.exec(value) ?? /^\s*(\d{1,9})/.exec(value);
    if (m) limits.push(Number(m[1]));
  }
  return limits.length > 0 ? Math.min(...limits) : undefined;
}

/** Request headers a proxy sets to name the client: a limit keyed by one of them is keyed by the caller. */
const CLIENT_ADDRESS_HEADERS = [
  'x-forwarded-for',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'x-originating-ip',
  'x-remote-ip',
  'x-remote-addr',
  'forwarded',
];

/** A made-up client address (RFC 5737 documentation ranges) as `header` spells one. */
function madeUpAddress(header: string, i: number): string {
  const ip = `${i % 2 === 0 ? '198.51.100' : '203.0.113'}.${randomInt(1, 255)}`;
  return header === 'forwarded' ? `for=${ip}` : ip;
}

/**
 * Once the login at `t` limits the scan (`limited`), is the limit keyed by a header the client sets? One failed
 * login with every client-address header set to a made-up address must stay limited; if not, for each
 * client-address header, two more failed logins for `account` (the scan's own, or a user name nobody has), each
 * with another made-up address (documentation ranges, RFC 5737), must stay limited. Both answered as ordinary
 * failed logins while the same login without the header is still limited (the control, sent last) is the
 * finding: rotating that header lifts the limit. Sent past the limit on purpose: one request where nothing lifts
 * it, at most twenty where something does.
 */
async function limitBypass(
  ctx: ScanContext,
  t: LoginTarget,
  account: string,
  limited: ScanResponse,
): Promise<boolean> {
  const base = loginRequest(t.flow, { [t.userField]: account, [t.passwordField]: wrong() });
  const send = (headers: Record<string, string>) =>
    ctx.send(
      {
        ...base,
        headers: { ...(base.headers ?? {}), ...headers },
        ...(t.op ? { operation: t.op } : {}),
      },
      null,
    );
  const where = loginKey(t);
  const lifted = (res: ScanResponse | undefined): res is ScanResponse =>
    res !== undefined && !limitAnswer(res) && !throttled(res, undefined, [account]) && !signsIn(ctx, t, res);
  // Every header at once first: a limit none of them lifts costs one request more, not two a header.
  const all = (i: number) => Object.fromEntries(CLIENT_ADDRESS_HEADERS.map((h) => [h, madeUpAddress(h, i)]));
  if (!lifted(await send(all(0)))) return false;
  for (const header of CLIENT_ADDRESS_HEADERS) {
    const passed: ScanResponse[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await send({ [header]: madeUpAddress(header, i) });
      if (!lifted(res)) break;
      passed.push(res);
    }
    if (passed.length < 2) continue;
    const control = await send({});
    if (!control || !limitAnswer(control)) return false;
    ctx.report(SCAN_RULES.bruteForce, {
      ...(t.op ? { operation: t.op } : {}),
      key: `limit-bypass:${header}`,
      message: `${where} limits failed logins (${limited.status}${limited.headers['retry-after'] !== undefined ? `, Retry-After ${limited.headers['retry-after']}` : ''}), but keys the limit by ${header}, which the client sets: two more failed logins, each with another made-up ${header}, were answered ${passed.map((r) => r.status).join(' and ')} as ordinary failures while the same login without it was still limited (${control.status}). Rotating that header lifts the limit.`,
      evidence: evidenceOf(passed[1], {
        header,
        limitedStatus: limited.status,
        controlStatus: control.status,
      }),
    });
    return true;
  }
  return false;
}

/** A login answer that is no refusal (a status under 400, no refusal in a 200) and carries a credential. */
function signsIn(ctx: ScanContext, t: LoginTarget, res: ScanResponse | undefined): boolean {
  return (
    res !== undefined &&
    res.status < 400 &&
    !refusedIn200(res) &&
    !errorIn200(res) &&
    credentialAt(ctx, t, res)
  );
}

/**
 * Logins whose failed login for a user name nobody has sets a session cookie too (PHP's `PHPSESSID` for every
 * visitor, a framework's anonymous session): per scan, by method and path, that failure's answer.
 */
const cookieFailures = new WeakMap<object, Map<string, ScanResponse>>();

/** The path a redirect goes to, without its query (`/login.php?error=1` -> `/login.php`). */
const redirectPath = (res: ScanResponse) => (res.headers.location ?? '').split(/[?#]/)[0];

/**
 * Did a login answer hand out a credential? As signedIn, except at a login whose failures set the same kind of
 * session cookie (learnCookieFailure): there a cookie proves nothing, and a sign-in is a token, an answer that
 * says so, or a redirect to another page than the failure's (`/account.php` where failures go to `/login.php`).
 */
function credentialAt(ctx: ScanContext, t: LoginTarget, res: ScanResponse | undefined): boolean {
  if (!res) return false;
  const failure = cookieFailures.get(ctx.objects)?.get(loginKey(t));
  if (!failure) return signedIn(t.flow, res);
  if (loginOutcome(t.flow, res).token !== undefined || reportsSignIn(res)) return true;
  return res.status >= 300 && res.status < 400 && redirectPath(res) !== redirectPath(failure);
}

/**
 * One failed login for a user name nobody has at `t`, before the login checks: when it is no refusal and yet
 * sets a session cookie (and carries no token, and does not say it signed in), cookies are taken as a sign-in
 * no more at that login (credentialAt). Sent once per login and scan.
 */
async function learnCookieFailure(ctx: ScanContext, t: LoginTarget): Promise<void> {
  const byLogin = cookieFailures.get(ctx.objects) ?? new Map<string, ScanResponse>();
  cookieFailures.set(ctx.objects, byLogin);
  if (byLogin.has(loginKey(t)) || limitedAt(ctx, t)) return;
  const nobody = unknownUser(ctx, t, t.known?.user);
  const res = await sendLogin(ctx, t, nobody, wrong());
  madeByLogin(ctx, t, nobody, res);
  if (!res || res.status >= 400 || refusedIn200(res) || errorIn200(res)) return;
  const o = loginOutcome(t.flow, res);
  if (o.token === undefined && o.sessionCookies.length > 0 && !reportsSignIn(res))
    byLogin.set(loginKey(t), res);
}

/**
 * `who`'s login with a wrong password (`res`) answered with a credential that works as `who` (see worksAs), while
 * an unknown user with a wrong password gets no credential that does (one control login): the password is not
 * checked. `label` names the account in the message.
 */
async function wrongPasswordAccepted(
  ctx: ScanContext,
  t: LoginTarget,
  who: Identity,
  res: ScanResponse,
  label: string,
  how = 'a wrong password',
): Promise<boolean> {
  const got = await worksAs(ctx, who, t.flow, res, 'wrong password');
  if (!got) return false;
  // Control: an unknown user with a wrong password must not get in as `who` (else the answer says nothing of its).
  const nobody = unknownUser(ctx, t, t.known?.user);
  const control = await sendLogin(ctx, t, nobody, wrong());
  madeByLogin(ctx, t, nobody, control);
  if (await worksAs(ctx, who, t.flow, control, 'unknown user')) return false;
  ctx.report(SCAN_RULES.wrongPasswordAccepted, {
    ...(t.op ? { operation: t.op } : {}),
    key: 'login',
    message: `${t.flow.method ?? 'POST'} ${t.flow.path} signed ${label} in with ${how} (${res.status}), and the credential it returned reads what that account's own session reads; an unknown user with a wrong password got ${control ? control.status : 'no answer'} and no such credential.`,
    evidence: evidenceOf(res, { controlStatus: control?.status }),
  });
  return true;
}

const sameLogin = (x: LoginTarget, y: LoginTarget) =>
  x.flow.path.split('?')[0] === y.flow.path.split('?')[0] &&
  (x.flow.method ?? 'POST') === (y.flow.method ?? 'POST');

/**
 * Older versions of the main login that the document no longer lists (`/api/v1/auth/login` beside a documented
 * `/api/v2/auth/login`: the two versions before a `v<n>` segment, never `v0`): each is a login of its own for the
 * login checks when a real login signs in there, V's (the scan's own account), else A's own right password (sent
 * once, where a user nobody has got no 404, 405 or 501 there; counted as A's one failed login of the scan until it
 * signs in). The findings name the older path and sit
 * on the documented login.
 */
async function olderLogins(
  ctx: ScanContext,
  t: LoginTarget,
  v: Throwaway | undefined,
): Promise<LoginTarget[]> {
  const [path, query] = t.flow.path.split('?');
  const segs = path.split('/');
  const i = segs.findIndex((x) => /^v\d{1,2}$/i.test(x));
  if (i < 0) return [];
  const n = Number(segs[i].slice(1));
  const out: LoginTarget[] = [];
  for (let k = n - 1; k >= Math.max(1, n - 2); k--) {
    const older = [...segs.slice(0, i), `${segs[i][0]}${k}`, ...segs.slice(i + 1)].join('/');
    if (ctx.spec.operations.some((op) => templateMatches(op.path, older))) continue;
    const d: LoginTarget = {
      ...t,
      flow: { ...t.flow, path: query !== undefined ? `${older}?${query}` : older },
    };
    await learnCookieFailure(ctx, d);
    let res: ScanResponse | undefined;
    // No such route (404, 405, 501 to a user nobody has): A's login is not spent on it.
    const probe = v ? undefined : await sendLogin(ctx, d, unknownUser(ctx, d, t.known?.user), wrong());
    if (v) res = await sendLogin(ctx, d, v.loginName, v.password);
    else if (
      probe &&
      !noRoute(probe.status) &&
      t.known !== undefined &&
      spendGivenFailure(ctx, t.known.user)
    ) {
      res = await sendLogin(ctx, d, t.known.user, t.known.password);
      if (signsIn(ctx, d, res)) refundGivenFailure(ctx, t.known.user);
    }
    if (signsIn(ctx, d, res)) out.push(d);
  }
  return out;
}

/**
 * The login checks that send wrong passwords. An account of the scan's own (V, reused or registered
 * `pcb<random>`) gets one wrong password at `t` and at each documented login (at most eight), each judged for
 * wrong-password-accepted with its control; then each of those logins where no wrong password signed in gets the
 * guessing run (see bruteForce), for V, or without V for a user name nobody has. Only where no V signs in does A
 * (when A signs in through `t`) get a wrong password: its one failed login of the scan (givenWrongPassword).
 */
async function loginChecks(ctx: ScanContext, t: LoginTarget): Promise<void> {
  /** The logins where a wrong password (or an unknown user) signed in: guessing there is no question. */
  const accepted = new Set<LoginTarget>();
  const a =
    ctx.identities.find((i) => i.login?.flow === t.flow) ??
    (ctx.admin?.login?.flow === t.flow ? ctx.admin : undefined);
  const targets = [t, ...documentedLogins(ctx).filter((d) => !sameLogin(d, t))];
  const v = (await reuseThrowaway(ctx, t)) ?? (await registerThrowaway(ctx, t, 'pcb'));
  // Older versions of the main login beside it, undocumented (`/api/v1/auth/login` beside `/api/v2/auth/login`).
  for (const older of await olderLogins(ctx, t, v))
    if (!targets.some((d) => sameLogin(d, older))) targets.push(older);
  /** V's user value at a login: the one it registered with at `t`, else its e-mail for an e-mail field. */
  const userAt = (d: LoginTarget) =>
    v === undefined ? undefined : d === t ? v.loginName : MAIL_FIELD.test(d.userField) ? v.email : v.name;
  // An unknown user let in first: where it is, a wrong password signing in is the same flaw, not reported again.
  for (const d of targets) {
    const real =
      d === t && a && t.known
        ? { user: t.known.user, password: t.known.password, label: a.name }
        : v
          ? { user: userAt(d), password: v.password, label: `${v.name} (an account the scan registered)` }
          : undefined;
    if (await anyCredentialsAccepted(ctx, d, real)) accepted.add(d);
  }
  // A's wrong password only where no account of the scan's own signs in: its one failed login of the scan,
  // the same request the user enumeration compared (sent once).
  if (!v && a && t.known && !accepted.has(t)) {
    const res = await givenWrongPassword(ctx, t);
    const other = otherPassword(ctx, t, t.known.user);
    const how = other ? `${other.label}'s password (another account's, valid there)` : undefined;
    if (res && signsIn(ctx, t, res) && (await wrongPasswordAccepted(ctx, t, a, res, a.name, how)))
      accepted.add(t);
    else if (!res)
      ctx.note?.({
        rule: SCAN_RULES.wrongPasswordAccepted,
        ...(t.op ? { operation: t.op } : {}),
        reason: `not sent: no account of the scan's own signs in there, and ${a.name} (a given identity) already had its one failed login of the scan`,
      });
  }
  if (v) {
    for (const d of targets) {
      if (accepted.has(d)) continue;
      const label = `${v.name} (an account the scan registered)`;
      const res = await sendLogin(ctx, d, userAt(d), wrong());
      if (res && signsIn(ctx, d, res)) {
        if (await wrongPasswordAccepted(ctx, d, v.identity, res, label)) accepted.add(d);
        continue;
      }
      // A login that takes another account's valid password, or a common one, for V: one try each.
      const other = otherPassword(ctx, d, userAt(d));
      for (const [password, how] of [
        ...(other ? [[other.password, `${other.label}'s password (another account's, valid there)`]] : []),
        ['password', 'the common password "password"'],
      ] as const) {
        const again = await sendLogin(ctx, d, userAt(d), password);
        if (!again || !signsIn(ctx, d, again)) continue;
        if (await wrongPasswordAccepted(ctx, d, v.identity, again, label, how)) accepted.add(d);
        break;
      }
    }
  } else if (!t.known) {
    ctx.note?.({
      rule: SCAN_RULES.wrongPasswordAccepted,
      reason: "no identity logs in through the API and no account of the scan's own could be registered",
    });
  }
  for (const d of targets) if (!accepted.has(d)) await defaultCredentials(ctx, d);
  for (const d of targets) if (!accepted.has(d)) await bruteForce(ctx, d, v, userAt(d));
  // V is locked now, maybe: no later check reuses it (the clean-up at the end still tries to delete it).
  if (v) retireThrowaway(ctx, v);
}

/**
 * User names and passwords that installs, seeds and tutorials ship with. Short on purpose: each pair that does
 * not sign in is a failed login for whoever holds that name on the target.
 */
const DEFAULT_CREDENTIALS: readonly (readonly [string, string])[] = [
  ['admin', 'admin'],
  ['admin', 'password'],
  ['admin', 'admin123'],
  ['admin', '123456'],
  ['administrator', 'administrator'],
  ['root', 'root'],
  ['test', 'test'],
  ['user', 'user'],
  ['user', 'password'],
  ['guest', 'guest'],
  ['demo', 'demo'],
];
/** Admin names and the passwords they ship with, crossed at the main login (most common password first). */
const ADMIN_NAMES = ['admin', 'administrator', 'root', 'superuser'];
const ADMIN_PASSWORDS = ['admin', 'password', '', 'secret', '123456', 'admin123', 'changeme'];
/**
 * Passwords tried a user name: under the common lock of five failures, three where the login was seen to lock an
 * account (a real admin holding that name must not be locked out by the scan).
 */
const PASSWORDS_A_NAME = 4;
const PASSWORDS_A_NAME_LOCKING = 3;

/**
 * The default pairs at a login. At the main login, every admin name (`admin`, `administrator`, `root`,
 * `superuser`, and the API's own name: the first word of its title, letters only) with the admin passwords
 * (`admin`, `password`, the name itself, `secret`, `123456`, `admin123`, `changeme`), before the other pairs; at
 * most `perName` passwords a user name, the first ones.
 */
function defaultPairs(ctx: ScanContext, main: boolean, perName: number): [string, string][] {
  const pairs: [string, string][] = [];
  const add = (u: string, p: string) => {
    if (pairs.some(([x, y]) => x === u && y === p)) return;
    if (pairs.filter(([x]) => x === u).length >= perName) return;
    pairs.push([u, p]);
  };
  if (main) {
    const word = ctx.spec.title
      .trim()
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .find((w) => /^[a-z]{3,20}$/.test(w));
    const names = [...ADMIN_NAMES, ...(word !== undefined ? [word] : [])];
    for (const p of ADMIN_PASSWORDS) for (const u of names) add(u, p === '' ? u : p);
  }
  for (const [u, p] of DEFAULT_CREDENTIALS) add(u, p);
  return pairs;
}

/** The given identities' own login values (user names, e-mails), lower-case: never tried with another password. */
function givenLoginValues(ctx: ScanContext): Set<string> {
  const out = new Set<string>();
  for (const i of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])])
    for (const [k, v] of Object.entries(i.login?.body ?? {}))
      if (typeof v === 'string' && !PASSWORD_FIELD.test(k)) out.add(v.trim().toLowerCase());
  return out;
}

/**
 * E-mail domains the API's users have, for `admin@<domain>`: the given identities' login e-mails, else the
 * domain most e-mails in the answers so far have (none of the scan's own `example.com`), else `example.com`.
 */
function userDomains(ctx: ScanContext): string[] {
  const out = new Set<string>();
  for (const i of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])])
    for (const v of Object.values(i.login?.body ?? {}))
      if (typeof v === 'string' && EMAIL_VALUE.test(v.trim())) out.add(v.trim().split('@')[1].toLowerCase());
  if (out.size === 0) {
    const counts = new Map<string, number>();
    for (const o of ctx.observations.slice(0, 500)) {
      for (const m of o.response.text
        .slice(0, 20_000)
        .matchAll(/[\w.+-]{1,64}@([\w-]{1,63}(?:\.[\w-]{1,63}){1,4})/g)) {
        const domain = m[1].toLowerCase();
        if (domain !== 'example.com') counts.set(domain, (counts.get(domain) ?? 0) + 1);
      }
    }
    const top = [...counts].sort((x, y) => y[1] - x[1])[0];
    if (top) out.add(top[0]);
  }
  if (out.size === 0) out.add('example.com');
  return [...out].slice(0, 2);
}

/**
 * Default credentials at one login: each well-known pair (e-mail shaped at an e-mail input, at the users'
 * own domains) whose user is no given identity's. A pair that signs in (a credential, or an answer that says
 * so where the login hands none) is the finding when the failure baseline tells it apart: a user name nobody
 * has with a made-up password is refused first, and the same user with a wrong password is refused after (else
 * the login takes any password: wrong-password-accepted's matter). A limit met (429, Retry-After, a lock
 * message) stops the run, and the coverage says so. Each given identity whose own login pair is a default
 * one is reported without a request.
 */
async function defaultCredentials(ctx: ScanContext, d: LoginTarget): Promise<boolean> {
  const where = `${d.flow.method ?? 'POST'} ${d.flow.path.split('?')[0]}`;
  const report = (user: string, res: ScanResponse, proof: string) =>
    ctx.report(SCAN_RULES.defaultCredentials, {
      ...(d.op ? { operation: d.op } : {}),
      key: 'default',
      message: `${where} signed in the default account ${user} with a default password (${res.status}); ${proof}.`,
      evidence: evidenceOf(res, { user }),
    });
  if (d.known !== undefined) {
    const user = String(d.known.user).trim().toLowerCase();
    const pair = DEFAULT_CREDENTIALS.find(
      ([u, p]) => (user === u || user.startsWith(`${u}@`)) && p === d.known?.password,
    );
    if (pair) {
      const a = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])].find((i) => i.login?.flow === d.flow);
      if (a?.login?.answer !== undefined) {
        ctx.report(SCAN_RULES.defaultCredentials, {
          ...(d.op ? { operation: d.op } : {}),
          key: 'default',
          message: `${where}: the given identity ${a.name} signs in as ${user} with the default password of that name (no request sent for it).`,
          evidence: { user, identity: a.name },
        });
        return true;
      }
    }
  }
  const given = givenLoginValues(ctx);
  const email =
    MAIL_FIELD.test(d.userField) || (typeof d.known?.user === 'string' && d.known.user.includes('@'));
  const tries: [string, string][] = [];
  const first = findLoginTarget(ctx);
  const main = first !== undefined && sameLogin(d, first);
  // At an e-mail input the users' own domains, the first alone for the longer list of the main login.
  const domains = userDomains(ctx).slice(0, main ? 1 : 2);
  const perName = accountLocks.get(ctx.objects)?.has(loginKey(d))
    ? PASSWORDS_A_NAME_LOCKING
    : PASSWORDS_A_NAME;
  for (const [u, p] of defaultPairs(ctx, main, perName))
    for (const user of email ? domains.map((dom) => `${u}@${dom}`) : [u])
      if (!given.has(user)) tries.push([user, p]);
  if (tries.length === 0) return false;
  const nobody = unknownUser(ctx, d, d.known?.user);
  const baseline = await sendLogin(ctx, d, nobody, wrong());
  madeByLogin(ctx, d, nobody, baseline);
  if (!baseline || signsIn(ctx, d, baseline) || throttled(baseline, undefined, [])) return false;
  for (const [index, [user, password]] of tries.entries()) {
    const res = await sendLogin(ctx, d, user, password);
    const limit = throttled(res, undefined, []);
    if (limit) {
      ctx.note?.({
        rule: SCAN_RULES.defaultCredentials,
        ...(d.op ? { operation: d.op } : {}),
        reason: `stopped: the login met a limit (${limit}) at default pair ${index + 1} of ${tries.length}`,
      });
      return false;
    }
    if (!res || !signsIn(ctx, d, res)) continue;
    // The control: the same user with a wrong password must be refused (else any password signs it in).
    const control = await sendLogin(ctx, d, user, wrong());
    if (!control || signsIn(ctx, d, control)) continue;
    report(
      user,
      res,
      `a user name nobody has with a made-up password got ${baseline.status} and ${user} with a wrong one ${control.status}, neither signed in`,
    );
    return true;
  }
  return false;
}

/**
 * A login that lets anyone in: a user name nobody has with a made-up password gets a credential, and that
 * credential passes the reference request (one identity A passes and an anonymous caller is refused), while a
 * malformed token is refused there (else the API takes any token, which the token checks report). The control: a
 * real login through the same operation (A's own, else the scan's account `real`) signs in too. Without any
 * (identities given as headers, no sign-up), the reference request is the control: A's own credentials pass it,
 * an anonymous caller is refused, and the made-up user's credential passes it too. Either way, a login that
 * creates the account on first use is told apart: the same made-up name with another wrong password must be let
 * in too, or the credential must read A's data. One login each; where nothing can be judged, a note says why.
 */
async function anyCredentialsAccepted(
  ctx: ScanContext,
  d: LoginTarget,
  real: { readonly user: unknown; readonly password: unknown; readonly label: string } | undefined,
): Promise<boolean> {
  const a = ctx.identities[0];
  if (!a) return false;
  const nobody = unknownUser(ctx, d, real?.user);
  const res = await sendLogin(ctx, d, nobody, wrong());
  madeByLogin(ctx, d, nobody, res);
  if (!res || !signsIn(ctx, d, res)) return false;
  const where = `${d.flow.method ?? 'POST'} ${d.flow.path}`;
  const hasReal = real !== undefined && real.user !== undefined;
  // The rule itself could not be judged (a note about the rule, not the operation: the report lists it).
  const unjudged = (why: string) =>
    ctx.note?.({
      rule: SCAN_RULES.anyCredentialsAccepted,
      reason: `${where} let a user name nobody has in, but ${why}`,
    });
  const req = await reference(ctx, a);
  if (!req) {
    unjudged(
      `no request that ${a.name} passes and an anonymous caller is refused was found to try its credential on`,
    );
    return false;
  }
  const lets = async (who: Identity) => {
    const got = await ctx.send(req, who);
    return got !== undefined && isSuccess(got) && !errorIn200(got) && !refusedIn200(got) ? got : undefined;
  };
  const got = await lets(sessionIdentity(d.flow, res, 'unknown user'));
  if (!got) {
    // With a real login's credential to compare, this is a pass; without, the credential may work elsewhere.
    if (!hasReal)
      unjudged(
        `its credential did not pass ${req.method} ${req.operation.path} (which ${a.name}'s own credentials pass), and no real account signs in there to show what a real credential opens`,
      );
    return false;
  }
  // A target that takes any token at all says nothing of its login.
  if (await lets(forged(a, 'portcullis.malformed'))) return false;
  let control: ScanResponse | undefined;
  if (hasReal) {
    control = await sendLogin(ctx, d, real.user, real.password);
    if (!control || !signsIn(ctx, d, control) || !(await lets(sessionIdentity(d.flow, control, real.label))))
      return false;
  }
  // A login that creates the account on first use signed a new, empty account in: the same made-up name with
  // another wrong password must be let in too (a creating login refuses it), or the credential must read an
  // existing account's data (A's own values in the answer).
  const again = await sendLogin(ctx, d, nobody, wrong());
  const secondWorks = signsIn(ctx, d, again) && (await lets(sessionIdentity(d.flow, again!, 'unknown user')));
  const readsA = ownValues(ctx, a).some((value) => got.text.includes(value));
  if (!secondWorks && !readsA) {
    ctx.note?.({
      rule: SCAN_RULES.anyCredentialsAccepted,
      ...(d.op ? { operation: d.op } : {}),
      reason: `${where} signed a user name nobody has in once, but refused another password for it, and its credential read no existing account's data: a login that creates the account on first use`,
    });
    return false;
  }
  const proof = secondWorks
    ? 'a second login for that name with another wrong password was let in too'
    : `the credential read ${a.name}'s data`;
  const compared =
    hasReal && real
      ? `a real login there (${real.label}) signs in too`
      : `no real account signs in there, so the control is that request: ${a.name}'s own credentials pass it and an anonymous caller is refused`;
  ctx.report(SCAN_RULES.anyCredentialsAccepted, {
    ...(d.op ? { operation: d.op } : {}),
    key: 'login',
    message: `${where} handed a credential to a user name nobody has (${nobody}) with a made-up password (${res.status}), and that credential passed ${req.method} ${req.operation.path}, which an anonymous caller is refused; ${proof}; ${compared}.`,
    evidence: evidenceOf(res, {
      account: nobody,
      referenceStatus: got.status,
      ...(control ? { controlStatus: control.status } : { control: 'reference request' }),
      secondPasswordStatus: again?.status,
    }),
  });
  return true;
}

/** Values that are `a`'s own and no one else's: its login user value, its e-mail, its user name (3+ characters). */
function ownValues(ctx: ScanContext, a: Identity): string[] {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(a.login?.body ?? {}))
    if (typeof v === 'string' && v.length >= 3 && !PASSWORD_FIELD.test(k) && USER_FIELD.test(k)) out.add(v);
  for (const field of ['email', 'username']) {
    const v = knownValue(ctx, a, field, undefined);
    if (v !== undefined && v.length >= 3) out.add(v);
  }
  return [...out];
}

/**
 * Twelve wrong passwords in a row for one account — V, an account of the scan's own, else a user name nobody has;
 * never a given identity — must meet a limit: a 429/423/503, Retry-After, a lock message, a change in the
 * answer, or a slow-down. Each answer is judged by whether it carries a credential, not by its status (APIs
 * answer a failed login `200 {"success": false}`). With V, its right password must still sign in afterwards
 * (a silent lock passes).
 */
async function bruteForce(
  ctx: ScanContext,
  t: LoginTarget,
  v: Throwaway | undefined,
  user: string | undefined,
): Promise<void> {
  const account = v && user !== undefined ? user : unknownUser(ctx, t);
  const names = [account];
  const durations: number[] = [];
  let first: string | undefined;
  const statuses = new Set<number>();
  const before = limitedAt(ctx, t);
  if (before) {
    // The login already limits the scan: the protection exists; is it keyed by a header the client sets?
    await limitBypass(ctx, t, account, before);
    return;
  }
  let last: ScanResponse | undefined;
  for (let i = 0; i < ATTEMPTS; i++) {
    const res = await sendLogin(ctx, t, account, wrong());
    madeByLogin(ctx, t, account, res);
    last = res;
    if (throttled(res, first, names) || !res) {
      const limited = limitedAt(ctx, t);
      if (limited) await limitBypass(ctx, t, account, limited);
      return;
    }
    // A wrong password that signs in was judged before the run (wrongPasswordAccepted); an unknown user that
    // signs in is no failed login either.
    if (signsIn(ctx, t, res)) return;
    first ??= shape(res, names);
    statuses.add(res.status);
    durations.push(res.durationMs);
  }
  if (durations.length > 4 && durations[durations.length - 1] > 4 * Math.max(50, durations[0])) return;
  // A login that is not there (every answer 404, 405 or 501, and no other answer there in the whole scan: a
  // 404 for an unknown user is the login's own) guards nothing and is guessed at nowhere.
  if ([...statuses].every(noRoute) && !routeAnswered(ctx, t)) {
    ctx.note?.({
      rule: SCAN_RULES.bruteForce,
      ...(t.op ? { operation: t.op } : {}),
      reason: `not judged: every failed login there answered ${[...statuses].join(', ')} (no such route)`,
    });
    return;
  }
  // A limit the answers announce (RateLimit, X-RateLimit-Limit) of a few tries, not yet reached by the run.
  const announced = last ? announcedLimit(last) : undefined;
  if (announced !== undefined && announced <= ANNOUNCED_LIMIT) {
    ctx.note?.({
      rule: SCAN_RULES.bruteForce,
      ...(t.op ? { operation: t.op } : {}),
      reason: `passed: the answers announce a limit of ${announced} requests, which the ${ATTEMPTS} failed logins did not reach`,
    });
    return;
  }
  let proof = `all answered ${[...statuses].join(', ')} without a credential, and without lockout, 429 or delay`;
  if (v && account === user) {
    // The judgement: does the right password still sign in after the run? A silent lock does not.
    if (!signsIn(ctx, t, await sendLogin(ctx, t, account, v.password))) return;
    proof += `, and the right password still signed in afterwards`;
  }
  const whose =
    v && account === user ? `an account the scan registered (${v.name})` : 'a user name nobody has';
  ctx.report(SCAN_RULES.bruteForce, {
    ...(t.op ? { operation: t.op } : {}),
    key: 'login',
    message: `${ATTEMPTS} failed logins in a row for one account, ${whose}, at ${t.flow.path}: ${proof}.`,
    evidence: {
      attempts: ATTEMPTS,
      statuses: [...statuses],
      account: v && account === user ? v.name : 'unknown user',
    },
  });
}

/** Passwords no policy should accept: one character, and the most common password of all. */
const WEAK_PASSWORDS = ['1', 'password'];
/** A second password field that must repeat the first (`confirm_password`, `password2`, `passwordConfirmation`). */
const REPEAT_FIELD = /confirm|repeat|again|verif|^re_?pass|2$/i;
const loose = (k: string) => k.toLowerCase().replace(/[_-]/g, '');

/**
 * Weak password policy, judged on an account the scan registers itself (never on the given identities): the
 * registration accepts a trivially weak password, and the login then signs in with it. At most two
 * registrations (one per weak password, the second only when the first was refused) and one login each. The
 * sign-up may take its inputs in its body (JSON or form fields) or as query parameters (`signup`).
 */
async function weakPasswordPolicy(ctx: ScanContext, t: LoginTarget): Promise<void> {
  const s = signup(ctx);
  if (!s || s.op === t.op) return;
  const op = s.op;
  const passwordField = s.fields.find((k) => PASSWORD_FIELD.test(k) && !REPEAT_FIELD.test(k));
  // The registration's field that the login's user field names: the same name, else an e-mail for an
  // e-mail login, else the user name.
  const userField =
    s.fields.find((k) => loose(k) === loose(t.userField)) ??
    (/mail/i.test(t.userField) ? s.fields.find((k) => /mail/i.test(k)) : undefined) ??
    s.fields.find((k) => /^(user_?name|login|handle|user)$/i.test(k));
  if (!passwordField || !userField) return;
  for (const weak of WEAK_PASSWORDS) {
    // A name of the scan's own, never a documented example (often a seeded user, maybe a given identity: an
    // upserting sign-up would set its password to the weak one).
    const fresh = `pcw${randomBytes(5).toString('hex')}`;
    const values = accountValues(s, fresh, `${fresh}@example.com`, weak);
    for (const k of s.fields) {
      if (PASSWORD_FIELD.test(k)) values[k] = weak;
      else if (k === userField && values[k] === undefined) values[k] = fresh;
    }
    const user = values[userField];
    if (typeof user !== 'string' || user === '') return;
    const reg = await ctx.send(signupRequest(ctx, s, values), null);
    if (!reg) return;
    // A redirect may be either (`login.php?registered=1`, `register.php?error=weak`): the login tells.
    const redirected = reg.status >= 300 && reg.status < 400;
    if (!(isSuccess(reg) || redirected) || errorIn200(reg) || refusedIn200(reg)) continue; // refused: try the next one
    const login = await sendLogin(ctx, t, user, weak);
    // Registered but not signed in (activation, say): not proven. A refusal is no sign-in, whatever cookie it
    // sets (an API may give every answer a fresh session cookie, a failed login 200 {status: 'fail'} too).
    if (!login || !signsIn(ctx, t, login)) {
      if (redirected) continue;
      return;
    }
    const identity = sessionIdentity(t.flow, login, fresh);
    // The account is the scan's: deleted at the end of the scan where the API lets it be.
    const account: Throwaway = {
      identity,
      via: t,
      loginName: user,
      name: fresh,
      email: `${fresh}@example.com`,
      ids: [],
      checked: new Set<string>(),
      password: weak,
      login: async (via, password = weak) => {
        const res = await sendLogin(via, t, user, password);
        return {
          ...(res && signsIn(ctx, t, res) ? { identity: sessionIdentity(t.flow, res, fresh) } : {}),
          ...(res ? { res } : {}),
        };
      },
      register: (via, password) =>
        via.send(signupRequest(ctx, s, { ...values, [passwordField]: password }), null),
      signup: op,
    };
    rememberAccount(ctx, account);
    ctx.report(SCAN_RULES.weakPasswordPolicy, {
      operation: op,
      key: 'registration',
      message: `${op.method} ${op.path} registered a new account with the password "${weak}" (${reg.status}), and ${t.flow.method ?? 'POST'} ${t.flow.path} then signed it in (${login.status}).`,
      evidence: { ...evidenceOf(reg), password: weak, loginStatus: login.status },
    });
    return;
  }
}

/** The account a PIN/OTP guessing run names: an account of the scan's own, else a name nobody has. */
interface OtpSubject {
  /** The session the run is sent with, when the operation needs one (never a given identity's). */
  readonly identity?: Identity;
  readonly name: string;
  readonly email: string;
  /** Ids that are the subject's own (V's checked ids; for an operation that sets no password, its first id too). */
  readonly ids: readonly string[];
  /** Its current password, for a current-password input. */
  readonly password: string;
  readonly label: string;
}

const PHONE_FIELD = /phone|mobile|msisdn|tel$/i;
/** Answers that say the account named does not exist: a guessing run against it proves nothing. */
const NO_SUCH_ACCOUNT =
  /not found|no such (user|account)|unknown (user|account|e-?mail)|does not exist|doesn't exist|not registered/i;

/** PIN/OTP inputs of an operation: the body or query input that takes the code. */
function otpField(ctx: ScanContext, op: Operation): { field: string; inBody: boolean } | undefined {
  const schema = bodySchema(op);
  const bodyField =
    schema === undefined
      ? undefined
      : Object.keys(propertiesOf(ctx.spec, schema)).find((k) => OTP_FIELD.test(k));
  const otpQuery = (name: string) =>
    OTP_FIELD.test(name) || (OTP_TOKEN_FIELD.test(name) && STRICT_OTP_PATH.test(op.path));
  const queryField = op.parameters.find((p) => p.in === 'query' && otpQuery(p.name))?.name;
  const field = bodyField ?? queryField;
  if (!field || (/^code$/i.test(field) && !OTP_PATH.test(op.path))) return undefined;
  if (/coupon|voucher|promo|gift|redeem|referral|invite|discount/i.test(op.path)) return undefined;
  return { field, inBody: bodyField !== undefined };
}

/**
 * One guess: the code in its input, and every other input that names an account holding the subject's value
 * (its name, e-mail, id; a fictional phone number), every new password a fresh one of the scan's own, so that a
 * right guess changes nothing but the subject's account. Undefined when the request would still name anyone else
 * (another path parameter, an identifier input holding a sampled value): such a run is not sent.
 */
export function otpRequest(
  ctx: ScanContext,
  op: Operation,
  otp: { readonly field: string; readonly inBody: boolean },
  subject: OtpSubject,
  code: string,
  password: string,
): PlannedRequest | undefined {
  const inputs = passwordInputs(ctx, op);
  const param = accountParam(op.path);
  const id = subject.ids[0];
  const valueFor = (k: string, integer: boolean): unknown => {
    if (k === otp.field) return code;
    if (inputs.old.includes(k)) return subject.password;
    if ([...inputs.body, ...inputs.query, ...inputs.repeat].includes(k)) return password;
    if (MAIL_FIELD.test(k)) return subject.email;
    if (PHONE_FIELD.test(k)) return `+1555${String(randomInt(0, 10_000_000)).padStart(7, '0')}`;
    if (/(^|_)id$|Id$|^uid$/.test(k) && /user|account|member|customer|^uid$|^id$/i.test(k))
      return id === undefined ? undefined : integer && /^\d+$/.test(id) ? Number(id) : id;
    if (/user|login|handle|name|account/i.test(k)) return subject.name;
    return undefined;
  };
  const schema = bodySchema(op);
  const props = propertiesOf(ctx.spec, schema);
  let body: Record<string, unknown> | undefined;
  if (schema !== undefined) {
    const sample = sampleValue(ctx.spec, schema);
    body = sample !== null && typeof sample === 'object' && !Array.isArray(sample) ? { ...sample } : {};
    for (const k of Object.keys(props)) {
      const v = valueFor(k, props[k].type === 'integer');
      if (v !== undefined) body[k] = v;
      // An input that names an account the subject has no value for keeps no sampled value: it is left out.
      else if (IDENTIFIER_INPUT.test(k) && k !== otp.field) delete body[k];
    }
  }
  const params: Record<string, string> = {};
  for (const p of op.parameters) {
    if (p.in === 'path') {
      if (p.name !== param) return undefined;
      const v = MAIL_FIELD.test(p.name) ? subject.email : /name/i.test(p.name) ? subject.name : id;
      if (v === undefined) return undefined;
      params[p.name] = v;
      continue;
    }
    const v = valueFor(p.name, false);
    if (v !== undefined) params[p.name] = String(v);
    else if (p.in !== 'query' && IDENTIFIER_INPUT.test(p.name)) return undefined;
  }
  const req = planRequest(ctx.spec, op, ctx.objects, {
    params,
    ...(body !== undefined ? { body } : {}),
  });
  const own = { name: subject.name, email: subject.email, checked: new Set(subject.ids) };
  return namesOnly(op, req, own, param) ? req : undefined;
}

/** Inputs that name a person or an account (checked by namesOnly too): never sent with a sampled value. */
const IDENTIFIER_INPUT = /^(user|account|member|customer|target|login|.*_?(id|name|email|mail))$/i;

/**
 * PIN/OTP inputs: twelve wrong codes must meet a limit. Never as a given identity (twelve wrong codes could lock
 * its account, and a reset with a code would set its password): the run names an account of the scan's own
 * (reused or registered, `pco<random>`), with its session where the operation needs one, else — for an
 * operation open to anyone — a user name and e-mail nobody has. A new password in the request is a fresh one of
 * the scan's own; an input naming anyone else (a sampled e-mail, another path id) and the run is not sent.
 */
async function otpGuessing(ctx: ScanContext, t: LoginTarget | undefined): Promise<void> {
  const ops: { op: Operation; otp: { field: string; inBody: boolean } }[] = [];
  for (const op of ctx.spec.operations) {
    if (op === t?.op || isExcluded(op) || (op.method !== 'POST' && op.method !== 'GET')) continue;
    // A GET that sets a password is sent only by the reset check, for the scan's own account.
    if (op.method === 'GET' && setsPasswordByUrl(ctx.spec, op)) continue;
    const otp = otpField(ctx, op);
    if (otp) ops.push({ op, otp });
  }
  if (ops.length === 0) return;
  const v = (await reuseThrowaway(ctx)) ?? (await registerThrowaway(ctx, t, 'pco'));
  if (v) await checkIds(ctx, v);
  const tag = randomUUID().slice(0, 8);
  const nobody: OtpSubject = {
    name: `pc-nobody-${tag}`,
    email: `pc-nobody-${tag}@example.com`,
    ids: [],
    password: wrong(),
    label: 'a user name nobody has',
  };
  for (const { op, otp } of ops) {
    const setsPw = passwordInputs(ctx, op).body.length + passwordInputs(ctx, op).query.length > 0;
    const subject: OtpSubject | undefined = v
      ? {
          ...(requiresAuth(op) ? { identity: v.identity } : {}),
          name: v.name,
          email: v.email,
          // An id only once read back as V's own goes into a request that sets a password.
          ids: [...v.checked, ...(setsPw ? [] : v.ids.slice(0, 1))],
          password: v.password,
          label: `an account the scan registered (${v.name})`,
        }
      : requiresAuth(op)
        ? undefined
        : nobody;
    if (!subject) {
      ctx.note?.({
        rule: SCAN_RULES.bruteForce,
        operation: op,
        reason: `not sent: ${otp.field} guessing needs a session of an account of the scan's own (never a given identity's), and none could be registered`,
      });
      continue;
    }
    const password = freshPassword();
    const code = () => String(randomInt(0, 1_000_000)).padStart(6, '0');
    if (!otpRequest(ctx, op, otp, subject, code(), password)) {
      ctx.note?.({
        rule: SCAN_RULES.bruteForce,
        operation: op,
        reason: `not sent: an input names an account other than ${subject.label} (safety rule)`,
      });
      continue;
    }
    let first: string | undefined;
    let stopped = '';
    const statuses = new Set<number>();
    let last: ScanResponse | undefined;
    for (let i = 0; i < ATTEMPTS && !stopped; i++) {
      const value = code();
      const req = otpRequest(ctx, op, otp, subject, value, password);
      if (!req) break;
      const res = await ctx.send(req, subject.identity ?? null);
      stopped = throttled(res, first, [value, subject.name, subject.email]);
      if (!res) break;
      if (isSuccess(res) && i === 0 && loginOutcome({ path: op.path, body: {} }, res).token)
        stopped = 'accepted';
      if (subject === nobody && NO_SUCH_ACCOUNT.test(res.text)) stopped = 'no such account';
      first ??= shape(res, [value, subject.name, subject.email]);
      statuses.add(res.status);
      last = res;
    }
    if (stopped || !last || statuses.has(404)) continue;
    ctx.report(SCAN_RULES.bruteForce, {
      operation: op,
      key: `otp:${otp.field}`,
      message: `${op.method} ${op.path}: ${ATTEMPTS} wrong ${otp.field} values in a row for ${subject.label} were all answered ${[...statuses].join(', ')} without lockout or 429: the code can be guessed.`,
      evidence: { ...evidenceOf(last), field: otp.field, attempts: ATTEMPTS, account: subject.name },
    });
  }
}

/**
 * Reads (GET) that take a password or a secret in the query string, confirmed live: A's own credentials in
 * the URL must answer (2xx or a redirect) otherwise than a wrong password does, so the API authenticates from
 * the URL. The evidence names the parameters, never the values.
 */
async function credentialsInUrl(ctx: ScanContext, a: Identity): Promise<void> {
  const login = a.login?.body ?? {};
  const password = Object.entries(login).find(([k]) => PASSWORD_FIELD.test(k))?.[1];
  for (const op of ctx.spec.operations) {
    // A GET: the URL is also cached, kept in history and sent on as Referer.
    if (isExcluded(op) || op.method !== 'GET') continue;
    const secrets = op.parameters.filter((p) => p.in === 'query' && SECRET_QUERY.test(p.name));
    if (secrets.length === 0) continue;
    // A GET that sets a password (`/auth/reset-password?username=&new_password=`) is no login: sent with a
    // wrong password it would set A's password to it.
    if (setsPasswordByUrl(ctx.spec, op)) {
      ctx.note?.({
        rule: SCAN_RULES.credentialsInUrl,
        operation: op,
        reason: 'not sent: it sets a password (safety rule)',
      });
      continue;
    }
    if (typeof password !== 'string') {
      ctx.note?.({
        rule: SCAN_RULES.credentialsInUrl,
        operation: op,
        reason: 'identity A has no login password',
      });
      continue;
    }
    const params: Record<string, string> = {};
    for (const p of op.parameters) {
      if (p.in !== 'query' || !USER_FIELD.test(p.name)) continue;
      const own =
        login[p.name] ??
        Object.entries(login).find(([k]) => USER_FIELD.test(k) && !PASSWORD_FIELD.test(k))?.[1];
      if (typeof own === 'string') params[p.name] = own;
    }
    const send = (pw: string, names = params) => {
      const values = { ...names };
      for (const p of secrets) values[p.name] = pw;
      return ctx.send(planRequest(ctx.spec, op, ctx.objects, { params: values }), null);
    };
    const right = await send(password);
    // The comparison names a user nobody has: a wrong password for A would be a failed login of a given identity.
    const nobodyNames: Record<string, string> = {};
    for (const k of Object.keys(params)) nobodyNames[k] = `pc-nobody-${randomUUID().slice(0, 8)}`;
    const wrong = await send(`pcx-${randomUUID().slice(0, 8)}`, nobodyNames);
    if (!right || !wrong || right.status >= 400) continue;
    const outcome = (r: ScanResponse) => `${r.status} ${r.headers.location ?? ''} ${shape(r, [password])}`;
    const names = secrets.map((p) => p.name).join(', ');
    const differs = outcome(right) !== outcome(wrong);
    if (differs) {
      ctx.report(SCAN_RULES.credentialsInUrl, {
        operation: op,
        message: `${op.method} ${op.path} signs in with ${names} in the query string (the right password answered ${right.status}, a wrong one for a user nobody has ${wrong.status}${right.status === wrong.status ? ', otherwise' : ''}): the secret ends up in logs and browser history.`,
        evidence: { parameters: secrets.map((p) => p.name), status: right.status, wrongStatus: wrong.status },
      });
    }
    // The URL login may hand out a credential, to any password (then wrong-password-accepted too).
    const f = a.login?.flow;
    const urlFlow: LoginFlow = {
      path: op.path,
      body: {},
      ...(f?.header !== undefined ? { header: f.header } : {}),
      ...(f?.scheme !== undefined ? { scheme: f.scheme } : {}),
      ...(f?.tokenCookie !== undefined ? { tokenCookie: f.tokenCookie } : {}),
    };
    if (!(await worksAs(ctx, a, urlFlow, right, 'credentials in the URL'))) continue;
    if (!differs)
      ctx.report(SCAN_RULES.credentialsInUrl, {
        operation: op,
        message: `${op.method} ${op.path} signs ${a.name} in with ${names} in the query string (${right.status}, with a credential that reads what ${a.name}'s own session reads): the secret ends up in logs and browser history.`,
        evidence: { parameters: secrets.map((p) => p.name), status: right.status, wrongStatus: wrong.status },
      });
    // The control first (a user nobody has got no credential that works as A: `wrong` above), then A's wrong
    // password, only if A has not had its one failed login of the scan.
    const control = wrong;
    if (Object.keys(params).length === 0 || (await worksAs(ctx, a, urlFlow, control, 'unknown user')))
      continue;
    const user = Object.values(params)[0];
    if (!spendGivenFailure(ctx, user)) {
      ctx.note?.({
        rule: SCAN_RULES.wrongPasswordAccepted,
        operation: op,
        reason: `not sent: ${a.name} (a given identity) already had its one failed login of the scan`,
      });
      continue;
    }
    const wrongForA = await send(`pcx-${randomUUID().slice(0, 8)}`);
    if (!(await worksAs(ctx, a, urlFlow, wrongForA, 'wrong password'))) continue;
    refundGivenFailure(ctx, user);
    ctx.report(SCAN_RULES.wrongPasswordAccepted, {
      operation: op,
      message: `${op.method} ${op.path} signed ${a.name} in with a wrong ${names} in the query string (${wrongForA?.status}), and the credential it returned reads what ${a.name}'s own session reads; an unknown user with a wrong password got ${control ? control.status : 'no answer'} and no such credential.`,
      evidence: {
        parameters: secrets.map((p) => p.name),
        status: wrongForA?.status,
        controlStatus: control?.status,
      },
    });
  }
}

/** An input that holds an account's password (not a `secret` of an object, not a key or a token). */
const ECHO_FIELD = /pass(word|phrase)?|passwd|pwd/i;
const NOT_ECHO_FIELD = /grant|client|token|key|secret|hint|policy/i;
const echoField = (k: string) => ECHO_FIELD.test(k) && !NOT_ECHO_FIELD.test(k);

/** A password value worth looking for in answers: no injection payload, not a lone common word. */
function echoable(v: unknown): v is string {
  return (
    typeof v === 'string' &&
    v.length >= 4 &&
    v.length <= 200 &&
    /^[\x21-\x7e]+$/.test(v) &&
    !/['"<>;`\\]|--|\/\*/.test(v) &&
    (/[^a-z]/i.test(v) || v.length >= 10)
  );
}

/**
 * The passwords the scan knows, each with whose it is: the identities' login passwords, and every password
 * input the scan sent in a body, a form or a query string (the accounts it registered, its password changes).
 * A value that is also one of the request's other inputs (a user `test` with the password `test`) is left out:
 * its echo proves nothing.
 */
function knownPasswords(ctx: ScanContext): Map<string, string> {
  const out = new Map<string, string>();
  const take = (fields: Record<string, unknown>, whose: string) => {
    const others = new Set(
      Object.entries(fields)
        .filter(([k]) => !echoField(k))
        .map(([, v]) => String(v)),
    );
    for (const [k, v] of Object.entries(fields)) {
      if (!echoField(k) || !echoable(v) || others.has(v)) continue;
      if (!out.has(v) && out.size < 200) out.set(v, whose);
    }
  };
  for (const i of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])])
    if (i.login) take(i.login.body, `${i.name}'s password`);
  for (const { request } of ctx.observations) {
    const fields: Record<string, unknown> = {};
    const q = request.path.indexOf('?');
    if (q >= 0) for (const [k, v] of new URLSearchParams(request.path.slice(q + 1))) fields[k] = v;
    const body = request.body;
    if (body !== null && typeof body === 'object' && !Array.isArray(body)) Object.assign(fields, body);
    else if (typeof body === 'string' && /^[\w.%-]+=/.test(body))
      for (const [k, v] of new URLSearchParams(body)) fields[k] = v;
    take(fields, 'a password the scan sent');
  }
  return out;
}

/** Where a known password sits in an answer: a JSON pointer to a string equal to it, or `text`. */
function echoAt(res: ScanResponse, password: string): string | undefined {
  if (res.json !== undefined) {
    let at: string | undefined;
    const walk = (v: unknown, pointer: string, depth: number) => {
      if (at !== undefined || depth > 6) return;
      if (v === password) at = pointer || '/';
      else if (Array.isArray(v)) {
        for (const [i, x] of v.slice(0, 200).entries()) walk(x, `${pointer}/${i}`, depth + 1);
      } else if (v !== null && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) walk(x, `${pointer}/${k}`, depth + 1);
    };
    walk(res.json, '', 0);
    return at;
  }
  // In text (HTML, plain): only a password long and mixed enough not to be a word of the page.
  return password.length >= 8 && /[a-z]/i.test(password) && /\d/.test(password) && res.text.includes(password)
    ? 'text'
    : undefined;
}

/** `text` with every known password (plain and URL-encoded) masked. */
function maskPasswords(text: string, passwords: Iterable<string>): string {
  let out = text;
  for (const p of passwords) out = out.split(p).join('***').split(encodeURIComponent(p)).join('***');
  return out;
}

/**
 * Passive: an answer (2xx, no error) that gives a password the scan knows back in plain text (a login or a
 * sign-up echoing the caller's password, a profile holding it). The identities' own login answers (sent before
 * any check) count too. Reported as sensitive-data exposure (API3's rule, one finding per operation with API3's
 * own), without the password: the evidence masks it.
 */
function passwordEchoes(ctx: ScanContext): void {
  const passwords = knownPasswords(ctx);
  if (passwords.size === 0) return;
  const done = new Set<string>();
  const report = (
    op: Operation | undefined,
    route: string,
    res: { status: number; text: string; sent: ScanResponse['sent'] },
    whose: string,
    at: string,
  ) => {
    const key = op ? `${op.method} ${op.path}` : route;
    if (done.has(key)) return;
    done.add(key);
    const where = at === 'text' ? 'in its text' : `at ${at}`;
    ctx.report(SCAN_RULES.sensitiveData, {
      ...(op ? { operation: op } : { key: route }),
      message: `${route} answered ${res.status} with ${whose} in plain text ${where}.`,
      evidence: {
        request: redact(maskPasswords(`${res.sent.method} ${res.sent.url}`, passwords.keys())),
        status: res.status,
        at,
        responseExcerpt: redact(maskPasswords(res.text.slice(0, 600), passwords.keys())).slice(0, 300),
        curl: maskPasswords(curlFor(res.sent), passwords.keys()),
      },
    });
  };
  // The identities' logins, made before any check: their answers are kept with the identity.
  for (const i of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])]) {
    const flow = i.login?.flow;
    if (!flow || i.login?.answer === undefined) continue;
    const req = loginRequest(flow);
    const text = JSON.stringify(i.login.answer);
    const sent = {
      method: req.method,
      url: joinUrl(ctx.target, req.path),
      headers: {
        ...(req.body !== undefined && typeof req.body !== 'string'
          ? { 'content-type': 'application/json' }
          : {}),
        ...(req.headers as Record<string, string> | undefined),
      },
      ...(req.body !== undefined
        ? { body: typeof req.body === 'string' ? req.body : JSON.stringify(req.body) }
        : {}),
    };
    const res = { status: 200, text, json: i.login.answer, sent } as ScanResponse;
    for (const [password, whose] of passwords) {
      const at = echoAt(res, password);
      if (at === undefined) continue;
      const op = ctx.spec.operations.find(
        (o) => o.method === (flow.method ?? 'POST') && templateMatches(o.path, flow.path),
      );
      report(op, `${req.method} ${flow.path.split('?')[0]}`, res, whose, at);
      break;
    }
  }
  for (const { operation, request, response } of ctx.observations) {
    if (!isSuccess(response) || errorIn200(response)) continue;
    for (const [password, whose] of passwords) {
      const at = echoAt(response, password);
      if (at === undefined) continue;
      report(
        operation,
        `${request.method} ${operation?.path ?? request.path.split('?')[0]}`,
        response,
        whose,
        at,
      );
      break;
    }
  }
}

export const api2: Check = {
  id: 'API2',
  title: 'Broken authentication',
  rules: [
    SCAN_RULES.noCredentials,
    SCAN_RULES.tokenAccepted,
    SCAN_RULES.tokenInQuery,
    SCAN_RULES.weakHmacSecret,
    SCAN_RULES.userEnumeration,
    SCAN_RULES.bruteForce,
    SCAN_RULES.wrongPasswordAccepted,
    SCAN_RULES.anyCredentialsAccepted,
    SCAN_RULES.credentialsInUrl,
    SCAN_RULES.weakPasswordPolicy,
    SCAN_RULES.defaultCredentials,
    SCAN_RULES.passwordChangeWithoutCurrent,
    SCAN_RULES.passwordResetWithoutProof,
    SCAN_RULES.sessionNotEnded,
    SCAN_RULES.tokenWithoutExpiry,
    SCAN_RULES.secretInToken,
  ],
  async run(ctx) {
    const a = ctx.identities[0];
    if (!a) return;
    const target = findLoginTarget(ctx);
    if (!target) {
      for (const rule of [SCAN_RULES.userEnumeration, SCAN_RULES.bruteForce])
        ctx.note?.({
          rule,
          reason: 'no login: no identity logs in through the API and no login operation was recognised',
        });
    } else if (!target.known) {
      ctx.note?.({
        rule: SCAN_RULES.userEnumeration,
        reason: 'no identity logs in through the API, so no known user name to compare',
      });
    }
    // Logins whose failures set a session cookie too: learnt before any login check judges a sign-in.
    if (target)
      for (const d of [target, ...documentedLogins(ctx).filter((x) => !sameLogin(x, target))])
        await learnCookieFailure(ctx, d);
    await noCredentials(ctx, a);
    await bareLogins(ctx);
    // Without a declared secured GET, the rule tested something only if the undeclared comparison could run.
    const notJudged = await undeclaredNoCredentials(ctx, a);
    if (notJudged !== undefined && !ctx.spec.operations.some((op) => op.method === 'GET' && requiresAuth(op)))
      ctx.note?.({ rule: SCAN_RULES.noCredentials, reason: notJudged });
    await tokens(ctx, a, target?.op);
    await tokenInQuery(ctx, a);
    await identityHeaders(ctx);
    await roleInputs(ctx);
    await staticKeyGuessing(ctx);
    let told = target ? await enumeration(ctx, withOwnUser(ctx, a, target)) : false;
    if (target) await weakPasswordPolicy(ctx, target);
    // On an account of the scan's own: password change, logout, token lifetime.
    await sessionChecks(ctx, target);
    // What the tokens carry: the identities', and the scan's own accounts' (before any guessing locks them).
    await tokenSecrets(ctx, target);
    told = (await resetEnumeration(ctx, target)) || told;
    await resetAnswers(ctx, target);
    // Every other documented login too (at most eight), with an account of the scan's own (after the checks on
    // sessions and resets: those come first within the check's time).
    if (target)
      for (const other of documentedLogins(ctx).filter((d) => !sameLogin(d, target)))
        told = (await enumeration(ctx, other, target)) || told;
    await signupEnumeration(ctx, target, told);
    await otpGuessing(ctx, target);
    await credentialsInUrl(ctx, a);
    if (target) await loginChecks(ctx, target);
    for (const [where, res] of limitedLogins.get(ctx.objects) ?? []) {
      const retry = res.headers['retry-after'];
      for (const rule of [SCAN_RULES.userEnumeration, SCAN_RULES.defaultCredentials, SCAN_RULES.bruteForce])
        ctx.note?.({
          rule,
          reason: `${where} answered ${res.status}${retry !== undefined ? ` with Retry-After ${retry}` : ''} (a limit on logins): no later login of these checks was sent there, so what came after was not judged`,
        });
    }
  },
  passive(ctx) {
    passwordEchoes(ctx);
  },
};
