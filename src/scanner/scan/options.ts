/** The typed options of `runScan` and the identities it acts as. */

/**
 * How the scanner logs in through the API itself: one request whose answer carries a token (in the JSON body,
 * a header or a cookie) or sets a session cookie. A login counts only when a credential comes back: a
 * `200 {"error": "wrong password"}` is a failed login.
 */
export interface LoginFlow {
  /** Path relative to the target URL, e.g. `/v2/auth/login` or `/token`. */
  readonly path: string;
  /** Defaults to POST. GET: a login whose fields go in the query string (`encoding: 'query'`), or an HTTP Basic one. */
  readonly method?: 'POST' | 'PUT' | 'GET';
  /**
   * The fields sent, e.g. `{ username: 'alice', password: '...' }`: as JSON, form-encoded or in the query
   * string (`encoding`). A `path` with a query string and an empty `body` is a query-string login: its query
   * fields are the login's fields.
   */
  readonly body: Readonly<Record<string, unknown>>;
  /**
   * `json` (default), `form` (`application/x-www-form-urlencoded`) or `query` (the fields in the URL's query
   * string, no body: `POST /auth/login?username=...&password=...`).
   */
  readonly encoding?: 'json' | 'form' | 'query';
  /**
   * `password`: an OAuth2 resource owner password grant (RFC 6749 section 4.3): the body is form-encoded and
   * gets `grant_type=password` unless it has a `grant_type`; put `username`, `password` and, when the server
   * wants them, `client_id`, `client_secret` and `scope` in `body`.
   */
  readonly grantType?: 'password';
  /**
   * JSON pointer of the token in the answer (`/data/auth/token`). When no token place is given, the scanner
   * looks for a member named `access_token`, `token`, `jwt`, `id_token`... at any depth, then for any string
   * shaped like a JWT, then for a token in the `Authorization`, `X-Auth-Token` or `X-Access-Token` header;
   * when there is none, the cookies the answer sets are the session.
   */
  readonly tokenPointer?: string;
  /** Response header that carries the token (e.g. `x-auth-token`); a `Bearer ` prefix is dropped. */
  readonly tokenHeader?: string;
  /** Cookie that carries the token (it stays in the identity's cookie jar and is sent as a cookie). */
  readonly tokenCookie?: string;
  /** Request header that carries the token; default `authorization`. */
  readonly header?: string;
  /** Prefix of the token in that header; default `Bearer` for `authorization`, none for other headers. */
  readonly scheme?: string;
}

/** A test identity: exactly one of `headers`, `bearer` or `login`. */
export interface ScanIdentity {
  readonly name: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly bearer?: string;
  readonly login?: LoginFlow;
  /**
   * Path parameter values that designate this identity's own data, e.g. `{ accountId: 'alice' }` for
   * `/accounts/{accountId}/...`. API1 then tests the other identity on these paths (reads only, unless the
   * objects were created by the scan or `allowDestructive` is set).
   */
  readonly params?: Readonly<Record<string, string>>;
}

export interface ScanProgress {
  /** The check running now, e.g. `API1`. */
  readonly check: string;
  readonly checksDone: number;
  readonly checksTotal: number;
  /** Requests sent so far. */
  readonly requests: number;
}

export interface ScanOptions {
  /** OpenAPI document (3.0, 3.1 or Swagger 2.0). */
  readonly spec: string;
  /** Base URL the operations' paths are appended to; overrides the document's `servers`. */
  readonly target: string;
  /** Two ordinary identities (A and B) for the authorization checks; one is enough for the rest. */
  readonly identities: readonly ScanIdentity[];
  /** An administrator, used to confirm that privileged operations work before testing them as A. */
  readonly admin?: ScanIdentity;
  /**
   * Send PUT, PATCH and DELETE to objects the scan did not create itself. Default false: those methods go
   * only to objects the scan created in its own setup.
   */
  readonly allowDestructive?: boolean;
  /** Requests in flight at once. Default 4. */
  readonly concurrency?: number;
  /**
   * Requests per second at most, kept all through the scan. The API4 burst is the one exception (50 requests,
   * once). Default: the scan starts at 20 and speeds up by steps while the target answers quickly and sets no
   * limit, up to `maxRatePerSecond`; a 429 halves the pace (client.ts).
   */
  readonly ratePerSecond?: number;
  /** The fastest pace the default rate may reach, requests per second. Default 50. Ignored with `ratePerSecond`. */
  readonly maxRatePerSecond?: number;
  /** Timeout of one request in milliseconds. Default 5000. */
  readonly timeoutMs?: number;
  /** Timeout of one check (API1 ... API10) in milliseconds, at most. Default 30000. */
  readonly checkTimeoutMs?: number;
  /**
   * The whole scan's time in milliseconds, logins included. Default 55000. The discovery and the checks share it by
   * the work each has on the document (time-budget.ts); a check whose share runs out stops with what it found, one
   * whose turn comes after the deadline does not run, and the coverage says so. The clean-up of the scan's own
   * accounts gets a few seconds more if it needs them.
   */
  readonly scanTimeoutMs?: number;
  /** Extra CA certificates to trust (PEM text), e.g. a staging CA. */
  readonly ca?: string;
  /** Do not verify the target's certificate (self-signed staging). The API8 TLS check still reports it. */
  readonly insecureTls?: boolean;
  /**
   * Delay the time-based injection probes ask for (`sleep`, `SLEEP()`, `pg_sleep()`, `WAITFOR`), in
   * milliseconds. Default 1000. An answer counts as delayed when it is slower than the slower of two baselines
   * by 80% of it, twice, with a zero-delay control between the two that is not. Lower only on a quiet target
   * (a test fixture): the shorter the delay, the closer it is to the target's own jitter.
   */
  readonly timeDelayMs?: number;
  /**
   * Headers sent with every request of the scan, whoever it is sent as (anonymous requests, logins and the
   * login checks included): a setting of the environment, not a credential (`X-Api-Version: 2`, a tenant or
   * mode header the deployment routes by). An identity's own headers win for that identity. A header that
   * every identity gives with the same value and a name that says no credential is taken as one too (see
   * `sharedHeaders`). Shown in evidence and curl lines, except one that may hold a secret (`secretHeader`:
   * `X-Gateway-Key`, a generated-looking value), shown as `$CREDENTIAL`; a caller's credentials belong in the
   * identities.
   */
  readonly headers?: Readonly<Record<string, string>>;
  /** Only these checks (`API1` ... `API10`); default all. */
  readonly checks?: readonly string[];
  readonly onProgress?: (progress: ScanProgress) => void;
}

export const SCAN_DEFAULTS = {
  concurrency: 4,
  ratePerSecond: 20,
  maxRatePerSecond: 50,
  timeoutMs: 5000,
  checkTimeoutMs: 30_000,
  scanTimeoutMs: 55_000,
  timeDelayMs: 1000,
} as const;

/** Logged-in identity details the API2 checks need beyond the session. */
export interface LoginInfo {
  readonly path: string;
  /** The fields the login sends (user name, password...), whatever the encoding. */
  readonly body: Readonly<Record<string, unknown>>;
  readonly flow: LoginFlow;
  /** The login's JSON answer (account number, user id...): what the API told this identity about itself. */
  readonly answer?: unknown;
}

/**
 * Header names that may carry a credential or say who the caller is: never taken as shared, however alike
 * (an API key every identity shares still lets its holder in; an anonymous request must not carry it).
 */
const CREDENTIAL_NAME =
  /auth|token|key|secret|session|cookie|pass|cred|jwt|bearer|sig|user|account|login|owner|member|customer|csrf|xsrf|(^|[-_])(id|uid|sub)($|[-_])|ids?$/i;
/**
 * More names an inferred setting may not have: each can hold a shared secret or a privilege (`X-Access-Code`,
 * `X-Pin`, `X-Hmac`, `X-Role`) that an anonymous request must not carry. Only for inference: a header the
 * user configures as shared is sent as given.
 */
const GUARDED_NAME = /access|code|pin|hmac|pwd|otp|role|scope|perm|grant|priv|admin|tenant|org|sign/i;
/**
 * A value that reads as a setting of the environment: a switch (`false`, `on`), a short mode word (`legacy`,
 * `staging`) or a small version (`2`, `v1.1`). Numbers of three digits or more, mixed words and anything longer
 * may be a code someone was given, so they are not inferred.
 */
const SETTING_VALUE = /^(?:[a-z]{1,12}|\d{1,2}(?:\.\d{1,2}){0,2}|v\d{1,2}(?:\.\d{1,2}){0,2})$/i;
/** A value that looks like a generated credential: long, no spaces, letters and digits mixed. */
const CREDENTIAL_VALUE = /^(?=[^\s]{16,}$)(?=.*\d)(?=.*[a-z])/i;
/** A header name: an RFC 9110 token. */
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/**
 * Headers a scan never sends as shared ones (lower-case): the client sets them for each request or they shape
 * the connection, and the cookie is each identity's jar's (a shared one would silence the jars).
 */
export const UNSHARED_HEADERS: readonly string[] = [
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'host',
  'cookie',
];

/** Header names that say a secret is in the value (narrower than CREDENTIAL_NAME: a user id is no secret). */
const SECRET_NAME = /auth|token|key|secret|session|cookie|pass|pwd|cred|jwt|bearer|signature/i;

/**
 * A shared header that may hold a secret: its name says so (`X-Gateway-Key`, `Authorization`) or its value
 * looks generated. The client names such headers among a request's credentials, so curl lines show
 * `$CREDENTIAL` instead of the value.
 */
export function secretHeader(name: string, value: string): boolean {
  return SECRET_NAME.test(name) || CREDENTIAL_VALUE.test(value.trim());
}

/** The headers a scan sends with every request, and the identities without them. */
export interface SharedHeaders {
  /** Lower-case names. */
  readonly shared: Readonly<Record<string, string>>;
  /** Names taken from the identities (same value in each), for the report. */
  readonly inferred: readonly string[];
  readonly identities: readonly ScanIdentity[];
  readonly admin?: ScanIdentity;
}

/**
 * The scan's shared headers: the configured `headers`, and each header that every identity (the admin too;
 * at least two in all, each given by `headers`) gives with the same value, whose name says no credential or
 * caller, access code or privilege (`X-Secure-Mode: false` beside `X-User-ID: 1`/`2`; never `X-Access-Code`)
 * and whose value reads as a setting (a switch, a mode word, a small version: never a PIN-like number). Such a
 * header is a setting of the environment the API answers in: without it an anonymous request, a login or a
 * made-up user's sign-in would reach another mode of the API (a 404 taken for a refusal). It leaves the
 * identities that gave it, unless nothing else would be left of one (that identity keeps it as well).
 */
export function sharedHeaders(options: Pick<ScanOptions, 'headers' | 'identities' | 'admin'>): SharedHeaders {
  const shared: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.headers ?? {})) shared[k.toLowerCase()] = v;
  const all = [...options.identities, ...(options.admin ? [options.admin] : [])];
  const lower = (h: Readonly<Record<string, string>>) =>
    new Map(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v] as const));
  const inferred: string[] = [];
  if (all.length >= 2 && all.every((i) => i.headers !== undefined && i.bearer === undefined && !i.login)) {
    const maps = all.map((i) => lower(i.headers ?? {}));
    for (const [name, value] of maps[0]) {
      if (CREDENTIAL_NAME.test(name) || GUARDED_NAME.test(name) || !SETTING_VALUE.test(value.trim()))
        continue;
      if (!maps.every((m) => m.get(name) === value)) continue;
      if (shared[name] === undefined) shared[name] = value;
      inferred.push(name);
    }
  }
  if (inferred.length === 0) {
    return {
      shared,
      inferred,
      identities: options.identities,
      ...(options.admin ? { admin: options.admin } : {}),
    };
  }
  const strip = (i: ScanIdentity): ScanIdentity => {
    const own = Object.entries(i.headers ?? {}).filter(([k]) => !inferred.includes(k.toLowerCase()));
    return own.length === 0 ? i : { ...i, headers: Object.fromEntries(own) };
  };
  return {
    shared,
    inferred,
    identities: options.identities.map(strip),
    ...(options.admin ? { admin: strip(options.admin) } : {}),
  };
}
