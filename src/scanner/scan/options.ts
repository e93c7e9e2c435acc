/** The typed options of `runScan` and the identities it acts as. */

/** How the scanner logs in through the API itself: one JSON request whose response carries a token or cookie. */
export interface LoginFlow {
  /** Path relative to the target URL, e.g. `/v2/auth/login`. */
  readonly path: string;
  /** Defaults to POST. */
  readonly method?: 'POST' | 'PUT';
  /** JSON body sent as is, e.g. `{ username: 'alice', password: '...' }`. */
  readonly body: Readonly<Record<string, unknown>>;
  /**
   * JSON pointer of the token in the response (`/token`). When absent the scanner tries `/token`,
   * `/access_token`, `/accessToken`, `/jwt` and `/id_token`; when none is there, cookies set by the response
   * are the session.
   */
  readonly tokenPointer?: string;
  /** Header that carries the token; default `authorization` with the `Bearer ` prefix. */
  readonly header?: string;
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
  /** Only these checks (`API1` ... `API10`); default all. */
  readonly checks?: readonly string[];
  readonly onProgress?: (progress: ScanProgress) => void;
}

export const SCAN_DEFAULTS = {
  concurrency: 4,
  ratePerSecond: 20,
  timeoutMs: 5000,
  checkTimeoutMs: 30_000,
} as const;
