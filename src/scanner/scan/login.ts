import { randomBytes } from 'node:crypto';
import { type ErrorCode, PortcullisError } from '../../core/errors.ts';
/**
 * Logging in through the API itself, as a new user would configure it: one request (JSON or form-encoded,
 * OAuth2 password grant included) whose answer carries a token (at a JSON pointer, in a response header or a
 * cookie) or sets a session cookie.
 *
 * A login succeeds when a credential comes back, whatever the status: some APIs answer a failed login with
 * `200 {"message": "wrong password"}`. The same judgement serves the brute-force and OTP checks of API2.
 */
import type { ScanClient, ScanRequest, ScanResponse, Session } from './client.ts';
import type { Identity } from './context.ts';
import type { LoginFlow, LoginInfo, ScanIdentity } from './options.ts';
import { envelopeOf, fieldsAt, withFields } from './schema.ts';

export type { LoginInfo } from './options.ts';

/** A usage problem: bad options or an identity that cannot log in. */
export class LoginError extends PortcullisError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'LoginError';
    this.code = code;
  }
}

/** Member names that usually hold the token, most specific first (searched at any depth). */
const TOKEN_KEYS = [
  'access_token',
  'accesstoken',
  'auth_token',
  'authtoken',
  'token',
  'jwt',
  'id_token',
  'idtoken',
  'bearer',
  'session_token',
  'sessiontoken',
  'key',
];
/** Response headers that may carry a fresh token. */
const TOKEN_HEADERS = ['authorization', 'x-auth-token', 'x-access-token', 'x-token', 'x-jwt', 'token'];
const JWT_SHAPE = /^eyJ[\w-]*\.[\w-]+\.[\w-]*$/;
const MAX_DEPTH = 5;

function atPointer(value: unknown, pointer: string): unknown {
  if (pointer === '') return value;
  let cur = value;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/-/g, '_');
}

/**
 * Finds a token in a JSON answer without a pointer: a member named like a token (`access_token`, `token`,
 * `jwt`...) at any depth, most specific name first, else any string shaped like a JWT.
 */
export function findToken(json: unknown): string | undefined {
  const found = new Map<string, string>();
  let jwt: string | undefined;
  const walk = (v: unknown, depth: number): void => {
    if (depth > MAX_DEPTH || v === null || typeof v !== 'object') return;
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      if (typeof child === 'string' && child.length >= 8) {
        const key = normaliseKey(k);
        if (TOKEN_KEYS.includes(key) && !found.has(key)) found.set(key, child);
        if (jwt === undefined && JWT_SHAPE.test(child)) jwt = child;
      } else walk(child, depth + 1);
    }
  };
  walk(json, 0);
  for (const key of TOKEN_KEYS) {
    const t = found.get(key);
    if (t !== undefined) return t;
  }
  return jwt;
}

/**
 * A login that sends its user and password as HTTP Basic credentials (RFC 7617) and no body: built by API2 from
 * a documented login operation whose security is `http` `basic` (`GET /login`, `POST /auth`), never given in
 * options. Its fields are `username` and `password`; its `method` is often GET.
 */
export interface BasicLoginFlow extends LoginFlow {
  readonly basic: true;
}

export function isBasicLogin(flow: LoginFlow): flow is BasicLoginFlow {
  return (flow as Partial<BasicLoginFlow>).basic === true;
}

/** The `Authorization` value of HTTP Basic credentials (RFC 7617 section 2: user-id ":" password, base64). */
export function basicCredentials(user: unknown, password: unknown): string {
  return `Basic ${Buffer.from(`${String(user ?? '')}:${String(password ?? '')}`).toString('base64')}`;
}

/**
 * The user-facing fields of a login flow's body: those at its record envelope (`data.attributes` of a JSON:API
 * body, `user` of Rails-style params), else its top-level members.
 */
export function loginFields(flow: LoginFlow): Record<string, unknown> {
  return (flow.encoding ?? 'json') === 'json' && flow.grantType === undefined
    ? fieldsAt(flow.body, envelopeOf(flow.body))
    : flow.body;
}

/**
 * The request a login flow sends, with fields overridden (for failed-login probes). A JSON body with a record
 * envelope (`{"data": {"attributes": {...}}}`, `{"user": {...}}`) takes the overrides inside it.
 */
export function loginRequest(
  flow: LoginFlow,
  overrides: Readonly<Record<string, unknown>> = {},
): ScanRequest {
  if (isBasicLogin(flow)) {
    const f: Record<string, unknown> = { ...flow.body, ...overrides };
    return {
      method: flow.method ?? 'POST',
      path: flow.path,
      headers: { authorization: basicCredentials(f.username, f.password) },
    };
  }
  const nested = (flow.encoding ?? 'json') === 'json' && flow.grantType === undefined;
  const fields: Record<string, unknown> = nested
    ? withFields(flow.body, envelopeOf(flow.body), overrides)
    : { ...flow.body, ...overrides };
  if (flow.encoding === 'query') {
    const url = new URL(flow.path, 'http://x');
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined || v === null) url.searchParams.delete(k);
      else url.searchParams.set(k, typeof v === 'string' ? v : JSON.stringify(v));
    }
    return { method: flow.method ?? 'POST', path: `${url.pathname}${url.search}` };
  }
  const form = flow.encoding === 'form' || flow.grantType === 'password';
  if (flow.grantType === 'password' && fields.grant_type === undefined) fields.grant_type = 'password';
  if (!form) return { method: flow.method ?? 'POST', path: flow.path, body: fields };
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || v === null) continue;
    params.set(k, typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  return {
    method: flow.method ?? 'POST',
    path: flow.path,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: params.toString(),
  };
}

/** Cookie names and values a response sets. */
export function setCookies(res: ScanResponse): Map<string, string> {
  const out = new Map<string, string>();
  const raw = res.headers['set-cookie'];
  if (!raw) return out;
  // The client joins repeated headers with ", "; cookie values rarely hold ", " followed by "name=".
  for (const line of raw.split(/,\s*(?=[^;,=\s]+=)/)) {
    const pair = line.split(';', 1)[0];
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(eq + 1).trim() !== '')
      out.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  return out;
}

/** What a login answer yielded: a token (and where it was), or session cookies, or nothing. */
export interface LoginOutcome {
  readonly token?: string;
  /** Where the token came from: `json:/data/token`, `header:x-auth-token`, `cookie:jwt`. */
  readonly source?: string;
  /** Cookies the answer set that look like a session. */
  readonly sessionCookies: readonly string[];
}

const SESSION_COOKIE = /sess|sid|auth|token|jwt|login|connect|remember/i;

/**
 * An HTML page that still asks for a password (`<input type="password">`): the login form shown again, with its
 * error, a failed login whatever cookie comes with it.
 */
export function showsLoginForm(res: ScanResponse): boolean {
  if (!/html/i.test(res.headers['content-type'] ?? '')) return false;
  return /<input\b[^>]{0,300}\btype\s*=\s*["']?password\b/i.test(res.text.slice(0, 200_000));
}

/**
 * A redirect back to the login itself (`POST /login.php` -> `302 Location: login.php?error=1`): the form shown
 * again, a failed login whatever cookie comes with it (a PHP site sets `PHPSESSID` on every page).
 */
function backToLogin(flow: LoginFlow, res: ScanResponse): boolean {
  const location = res.headers.location;
  if (res.status < 300 || res.status >= 400 || location === undefined) return false;
  try {
    const base = new URL(flow.path, 'http://x');
    return new URL(location, base).pathname === base.pathname;
  } catch {
    return false;
  }
}

/**
 * Reads the credential out of a login answer. With `tokenPointer`, `tokenHeader` or `tokenCookie`, only that
 * place counts; otherwise the JSON body (by member name, at any depth), then the usual headers. Session
 * cookies count too. An error status, a redirect back to the login's own path, or a page that still asks for
 * a password never counts as a login, whatever it carries.
 */
export function loginOutcome(flow: LoginFlow, res: ScanResponse): LoginOutcome {
  if (res.status >= 400 || backToLogin(flow, res) || showsLoginForm(res)) return { sessionCookies: [] };
  const cookies = setCookies(res);
  const sessionCookies = [...cookies.keys()].filter((n) => SESSION_COOKIE.test(n) || n === flow.tokenCookie);
  const bearerless = (v: string) => v.replace(/^bearer\s+/i, '');
  if (flow.tokenPointer !== undefined) {
    const v = atPointer(res.json, flow.tokenPointer);
    return typeof v === 'string' && v !== ''
      ? { token: v, source: `json:${flow.tokenPointer}`, sessionCookies }
      : { sessionCookies };
  }
  if (flow.tokenHeader !== undefined) {
    const v = res.headers[flow.tokenHeader.toLowerCase()];
    return v
      ? { token: bearerless(v), source: `header:${flow.tokenHeader}`, sessionCookies }
      : { sessionCookies };
  }
  if (flow.tokenCookie !== undefined) {
    const v = cookies.get(flow.tokenCookie);
    return v ? { token: v, source: `cookie:${flow.tokenCookie}`, sessionCookies } : { sessionCookies: [] };
  }
  const fromJson = findToken(res.json);
  if (fromJson !== undefined) return { token: fromJson, source: 'json', sessionCookies };
  for (const h of TOKEN_HEADERS) {
    const v = res.headers[h];
    if (v && bearerless(v).length >= 8)
      return { token: bearerless(v), source: `header:${h}`, sessionCookies };
  }
  return { sessionCookies };
}

/** Members that say whether the login went through: `success`, `ok`, `authenticated`, `logged_in`... */
const SIGN_IN_FLAG =
  /^(success|successful|ok|authenticated|authorized|authorised|logged_?in|signed_?in|valid|login)$/i;
/** Values of a `status`/`result` member that say the caller is signed in. */
const SIGN_IN_WORD =
  /^(ok|success|successful|succeeded|authenticated|logged[ _-]?in|signed[ _-]?in|welcome)$/i;
/** A message that says the caller is signed in, and one that says otherwise. */
const SIGN_IN_TEXT = /\b(log(ged)?[ _-]?in|sign(ed)?[ _-]?in|authenticated|welcome)\b/i;
/** Words of a text answer that says the sign-in is done (not `Please log in`). */
const SIGNED_IN_TEXT = /\b(success(ful(ly)?)?|welcome|logged[ _-]?in|signed[ _-]?in|authenticated)\b/i;
const NOT_SIGNED_IN =
  /fail|invalid|incorrect|wrong|denied|not|error|unable|cannot|can't|locked|too many|expired|required|missing|bad|unknown|no such/i;
/** A member holding the account signed in: `user`, `account`, `profile`, `member`... */
const ACCOUNT_MEMBER = /^(user|account|profile|member|customer|client|me|identity|principal|data)$/i;
const ACCOUNT_KEY = /^(id|_id|uuid|user_?id|userid|username|user_?name|login|email|e_?mail|handle)$/i;

/**
 * Does a 2xx JSON answer to a login say, by itself, that it signed the caller in, without handing a credential
 * (an API that trusts later requests naming the user, or keeps its session in a cookie of any name)? Yes when
 * it refuses nothing (no `success`/`ok` false, no error member, no failure status) and holds a success flag set
 * to true (`{"success": true}`), a status word of success (`{"status": "ok"}`), a message of signing in with no
 * word of failure, or the account itself (`{"user": {"id": 3, ...}}`, or `{"id": 3, "username": ...}`); or a
 * short text answer that says so (`Login successful`). The callers judge it against a failure
 * baseline (a user nobody has, or a wrong password, must not get the same): that difference is the proof.
 */
export function reportsSignIn(res: ScanResponse): boolean {
  if (res.status < 200 || res.status >= 300) return false;
  const body = res.json;
  // A short text answer (`Login successful`, `Welcome back, alice`) says so in words.
  if (body === undefined && res.text.length < 200)
    return SIGNED_IN_TEXT.test(res.text) && !NOT_SIGNED_IN.test(res.text) && !/<form|<input/i.test(res.text);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  const r = body as Record<string, unknown>;
  const entries = Object.entries(r);
  for (const [k, v] of entries) {
    if (SIGN_IN_FLAG.test(k) && v === false) return false;
    if (/^(error|errors|err)$/i.test(k) && v !== null && v !== '' && v !== false) {
      if (!(Array.isArray(v) && v.length === 0)) return false;
    }
    if (/^(status|result|state|outcome)$/i.test(k) && typeof v === 'string' && NOT_SIGNED_IN.test(v))
      return false;
  }
  const message = entries
    .filter(([k, v]) => /^(message|msg|detail|info|description)$/i.test(k) && typeof v === 'string')
    .map(([, v]) => v as string)
    .join(' ');
  if (NOT_SIGNED_IN.test(message)) return false;
  // The account record itself at the top (`{"id": 7, "username": "alice"}`): an id and a name or e-mail.
  const keys = Object.keys(r);
  if (
    keys.some((k) => /^(id|_id|uuid|user_?id|userid)$/i.test(k)) &&
    keys.some((k) => /^(username|user_?name|login|email|e_?mail|handle)$/i.test(k))
  )
    return true;
  for (const [k, v] of entries) {
    if (SIGN_IN_FLAG.test(k) && v === true) return true;
    if (/^(status|result|state|outcome)$/i.test(k) && typeof v === 'string' && SIGN_IN_WORD.test(v.trim()))
      return true;
    if (
      ACCOUNT_MEMBER.test(k) &&
      v !== null &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      Object.keys(v).some((x) => ACCOUNT_KEY.test(x))
    )
      return true;
  }
  return SIGN_IN_TEXT.test(message);
}

/**
 * Did a login answer sign someone in? A token or a session cookie came back, or the answer says it signed the
 * caller in without a credential (reportsSignIn).
 */
export function signedIn(flow: LoginFlow, res: ScanResponse | undefined): boolean {
  if (!res) return false;
  const o = loginOutcome(flow, res);
  // HTTP Basic is stateless: the credentials sent are the session, and a 2xx (no refusal, the callers judge)
  // says they were taken.
  const basicTaken = isBasicLogin(flow) && res.status >= 200 && res.status < 300;
  return o.token !== undefined || o.sessionCookies.length > 0 || basicTaken || reportsSignIn(res);
}

/**
 * The identity a login answer signed in, named `name`: its token in the flow's header (`Bearer` on
 * Authorization unless the flow names a scheme), or the cookies the answer set. Whether the answer signed
 * anyone in at all is the caller's to decide first (signedIn, and no refusal).
 */
export function sessionIdentity(flow: LoginFlow, res: ScanResponse, name: string): Identity {
  const outcome = loginOutcome(flow, res);
  const session = { name, headers: {} as Record<string, string>, cookies: new Map<string, string>() };
  if (outcome.token !== undefined && !outcome.source?.startsWith('cookie:')) {
    const header = (flow.header ?? 'authorization').toLowerCase();
    const scheme = flow.scheme ?? (header === 'authorization' ? 'Bearer' : '');
    session.headers[header] = scheme ? `${scheme} ${outcome.token}` : outcome.token;
  } else {
    for (const [k, v] of setCookies(res)) session.cookies.set(k, v);
    // An HTTP Basic login without a token: the credentials it sent are what later requests carry.
    const sent = Object.entries(res.sent.headers ?? {}).find(
      ([k]) => k.toLowerCase() === 'authorization',
    )?.[1];
    if (isBasicLogin(flow) && sent !== undefined) session.headers.authorization = sent;
  }
  return { name, session, ...(outcome.token !== undefined ? { token: outcome.token } : {}) };
}

function checkFlow(name: string, flow: LoginFlow): void {
  if (typeof flow.path !== 'string' || !flow.path.startsWith('/'))
    throw new LoginError('ERR_SCAN_IDENTITY', `identity ${name}: login.path must start with "/"`);
  if (flow.body === null || typeof flow.body !== 'object' || Array.isArray(flow.body))
    throw new LoginError('ERR_SCAN_IDENTITY', `identity ${name}: login.body must be an object of fields`);
  const places = [flow.tokenPointer, flow.tokenHeader, flow.tokenCookie].filter((p) => p !== undefined);
  if (places.length > 1)
    throw new LoginError(
      'ERR_SCAN_IDENTITY',
      `identity ${name}: give at most one of login.tokenPointer, login.tokenHeader, login.tokenCookie`,
    );
  if (flow.tokenPointer !== undefined && flow.tokenPointer !== '' && !flow.tokenPointer.startsWith('/'))
    throw new LoginError(
      'ERR_SCAN_IDENTITY',
      `identity ${name}: login.tokenPointer must be a JSON pointer such as /data/token`,
    );
}

/**
 * A login whose fields are all in its path's query string (`/auth/login?username=a&password=b`, body empty):
 * the same flow with those fields as its fields and `encoding: 'query'`, so that the login checks can vary them.
 */
export function queryLogin(flow: LoginFlow): LoginFlow {
  const q = typeof flow.path === 'string' ? flow.path.indexOf('?') : -1;
  if (q < 0 || flow.encoding !== undefined || flow.grantType !== undefined) return flow;
  if (flow.body === null || typeof flow.body !== 'object' || Object.keys(flow.body).length > 0) return flow;
  const body: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(flow.path.slice(q + 1))) body[k] = v;
  return { ...flow, path: flow.path.slice(0, q), body, encoding: 'query' };
}

/** A member named like a credential holding a long string, at any depth (its JSON pointer), or undefined. */
function unnamedCredential(json: unknown): string | undefined {
  let found: string | undefined;
  const walk = (v: unknown, pointer: string, depth: number): void => {
    if (found !== undefined || depth > MAX_DEPTH || v === null || typeof v !== 'object') return;
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      if (
        typeof child === 'string' &&
        child.length >= 16 &&
        /token|session|sid|jwt|key|auth|secret|bearer/i.test(k)
      )
        found = `${pointer}/${k}`;
      else walk(child, `${pointer}/${k}`, depth + 1);
    }
  };
  walk(json, '', 0);
  return found;
}

/** A hint for the login error: the member that looks like the credential, to name as tokenPointer. */
function hint(res: ScanResponse): string {
  const at = unnamedCredential(res.json);
  return at === undefined ? '' : ` (${at} looks like one: give login.tokenPointer: '${at}')`;
}

/** Answers normalised for comparing two logins: volatile ids, times and long numbers dropped. */
function answerShape(res: ScanResponse, names: readonly string[]): string {
  let text = res.text;
  for (const n of names) if (n) text = text.split(n).join('{user}');
  return `${res.status} ${text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '{uuid}')
    .replace(/\d{4}-\d\d-\d\d[T ][\d:.]+(Z|[+-]\d\d:?\d\d)?/g, '{time}')
    .replace(/\d+/g, '{n}')}`;
}

/**
 * The failure baseline of a login that hands out no credential: the same flow with every field replaced (a
 * user name nobody has, a made-up password) must be refused (an error status, or an answer that does not say
 * it signed in) and answer otherwise than `signed` did. One request, for a user nobody has: no given
 * identity's failed login.
 */
async function refusesNobody(client: ScanClient, flow: LoginFlow, signed: ScanResponse): Promise<boolean> {
  const tag = randomBytes(4).toString('hex');
  const overrides: Record<string, unknown> = {};
  const names: string[] = [];
  for (const [k, v] of Object.entries(loginFields(flow))) {
    if (typeof v !== 'string') continue;
    names.push(v);
    overrides[k] = /pass|pwd|secret|pin/i.test(k)
      ? `pc-wrong-${tag}`
      : v.includes('@')
        ? `pc-nobody-${tag}@example.com`
        : `pc-nobody-${tag}`;
  }
  if (Object.keys(overrides).length === 0) return false;
  const session: Session = { name: 'login baseline', headers: {}, cookies: new Map() };
  const control = await client.trySend(loginRequest(flow, overrides), { session });
  if (!control || control.status >= 500) return false;
  if (control.status < 300 && reportsSignIn(control)) return false;
  return (
    answerShape(control, [...Object.values(overrides).map(String), ...names]) !== answerShape(signed, names)
  );
}

/** Logs an identity in (or takes its headers or bearer token as given). Throws LoginError on failure. */
export async function resolveIdentity(client: ScanClient, identity: ScanIdentity): Promise<Identity> {
  const session: Session = { name: identity.name, headers: {}, cookies: new Map() };
  const kinds = [identity.headers, identity.bearer, identity.login].filter((k) => k !== undefined).length;
  if (kinds !== 1) {
    throw new LoginError(
      'ERR_SCAN_IDENTITY',
      `identity ${identity.name}: give exactly one of headers, bearer or login`,
    );
  }
  if (identity.headers) {
    for (const [k, v] of Object.entries(identity.headers)) session.headers[k.toLowerCase()] = v;
    const auth = session.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    return token ? { name: identity.name, session, token } : { name: identity.name, session };
  }
  if (identity.bearer !== undefined) {
    session.headers.authorization = `Bearer ${identity.bearer}`;
    return { name: identity.name, session, token: identity.bearer };
  }
  const flow = queryLogin(identity.login!);
  checkFlow(identity.name, flow);
  const res = await client.trySend(loginRequest(flow), { session });
  if (!res || res.status >= 400) {
    throw new LoginError(
      'ERR_SCAN_LOGIN',
      `identity ${identity.name}: login at ${flow.path} failed (${res ? `status ${res.status}: ${res.text.slice(0, 120)}` : 'no response'})`,
    );
  }
  const outcome = loginOutcome(flow, res);
  // An answer that says it signed the caller in without any credential (the API trusts requests that name
  // the user) is taken when a user nobody has, with a made-up password, does not get the same answer.
  // Not when the answer holds a credential under a name the scanner does not know (`sessionId`, `apiKey`): the
  // scan would run without it, as nobody; the error asks for tokenPointer instead.
  const bare =
    outcome.token === undefined &&
    session.cookies.size === 0 &&
    reportsSignIn(res) &&
    unnamedCredential(res.json) === undefined &&
    (await refusesNobody(client, flow, res));
  if (outcome.token === undefined && session.cookies.size === 0 && !bare) {
    const where =
      flow.tokenPointer !== undefined
        ? ` at ${flow.tokenPointer}`
        : flow.tokenHeader !== undefined
          ? ` in header ${flow.tokenHeader}`
          : flow.tokenCookie !== undefined
            ? ` in cookie ${flow.tokenCookie}`
            : '';
    throw new LoginError(
      'ERR_SCAN_LOGIN',
      `identity ${identity.name}: the login answer (status ${res.status}) had no token${where} and set no cookie${hint(res)}: ${res.text.slice(0, 120)}`,
    );
  }
  // A token that came as a cookie stays in the jar; any other token goes into the request header.
  if (outcome.token !== undefined && !outcome.source?.startsWith('cookie:')) {
    const header = (flow.header ?? 'authorization').toLowerCase();
    const scheme = flow.scheme ?? (header === 'authorization' ? 'Bearer' : '');
    session.headers[header] = scheme ? `${scheme} ${outcome.token}` : outcome.token;
  }
  // The fields the login sends, out of their envelope: what the checks read a user name or a password from.
  const login: LoginInfo = { path: flow.path, body: loginFields(flow), flow, answer: res.json };
  return outcome.token !== undefined
    ? { name: identity.name, session, token: outcome.token, login }
    : { name: identity.name, session, login };
}
