/** The typed options of `runScan` and the identities it acts as. */

/**
 * How the scanner logs in through the API itself: one request whose answer carries a token (in the JSON body,
 * a header or a cookie) or sets a session cookie. A login counts only when a credential comes back: a
 * `200 {"error": "wrong password"}` is a failed login.
 */
export interface LoginFlow {
  /** Path relative to the target URL, e.g. `/v2/auth/login` or `/token`. */
  readonly path: string;
  /** Defaults to POST. */
  readonly method?: 'POST' | 'PUT';
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
  /** Requests per second at most. Default 20. The API4 burst is the one exception (50 requests, once). */
  readonly ratePerSecond?: number;
  /** Timeout of one request in milliseconds. Default 5000. */
  readonly timeoutMs?: number;
  /** Timeout of one check (API1 ... API10) in milliseconds. Default 30000. */
  readonly checkTimeoutMs?: number;
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
  /** Only these checks (`API1` ... `API10`); default all. */
  readonly checks?: readonly string[];
  readonly onProgress?: (progress: ScanProgress) => void;
}

export const SCAN_DEFAULTS = {
  concurrency: 4,
  ratePerSecond: 20,
  timeoutMs: 5000,
  checkTimeoutMs: 30_000,
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
