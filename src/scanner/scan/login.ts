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
 * Reads the credential out of a login answer. With `tokenPointer`, `tokenHeader` or `tokenCookie`, only that
 * place counts; otherwise the JSON body (by member name, at any depth), then the usual headers. Session
 * cookies count too. An error status never counts as a login, whatever it carries.
 */
export function loginOutcome(flow: LoginFlow, res: ScanResponse): LoginOutcome {
  if (res.status >= 400) return { sessionCookies: [] };
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

/** Did a login answer sign someone in? (A token or a session cookie came back.) */
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
  }
  return { name, session, ...(outcome.token !== undefined ? { token: outcome.token } : {}) };
}

export function signedIn(flow: LoginFlow, res: ScanResponse | undefined): boolean {
  if (!res) return false;
  const o = loginOutcome(flow, res);
  return o.token !== undefined || o.sessionCookies.length > 0;
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
  if (outcome.token === undefined && session.cookies.size === 0) {
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
      `identity ${identity.name}: the login answer (status ${res.status}) had no token${where} and set no cookie: ${res.text.slice(0, 120)}`,
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
