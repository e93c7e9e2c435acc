/** What every check receives: the spec, the client, the identities, the objects the setup created. */
import { createHash } from 'node:crypto';
import type { ApiDocument, Operation } from '../../core/api-document.ts';
import type { Finding, RuleInfo, Severity } from '../finding.ts';
import type { Canary } from './canary.ts';
import type { ScanClient, ScanRequest, ScanResponse, Session } from './client.ts';
import { curlFor } from './curl.ts';
import type { LoginInfo } from './options.ts';
import type { ObjectRegistry } from './planner.ts';

/** A logged-in identity: its session, and its raw token when it has one (for the token checks). */
export interface Identity {
  readonly name: string;
  readonly session: Session;
  readonly token?: string;
  /** The login request that produced the session, when it came from a login flow. */
  readonly login?: LoginInfo;
}

/** One response the scan saw, kept for the passive checks. */
export interface Observation {
  readonly request: ScanRequest;
  readonly response: ScanResponse;
  readonly operation?: Operation;
  readonly identity?: string;
  /** The check (or `discovery`) that sent it, for the coverage matrix. */
  readonly check?: string;
}

/**
 * An identity the scan's own probe made privileged (a `role: admin` its update of its own account stored) and
 * could not set back: from then on it is no ordinary identity.
 */
export interface Elevation {
  readonly identity: string;
  /** What was stored and stays: `role="admin"`. */
  readonly fields: readonly string[];
  /** The probed operation, `PUT /users/{user_id}`. */
  readonly operation: string;
  /** How many observations there were when the probe was sent: the identity's later ones are an admin's. */
  readonly since: number;
}

export interface FindingInput {
  readonly operation?: Operation;
  readonly message: string;
  readonly severity?: Severity;
  /** Distinguishes findings of one rule on one operation (a parameter, a path). */
  readonly key?: string;
  readonly evidence?: Record<string, unknown>;
}

export interface ScanContext {
  readonly spec: ApiDocument;
  /** The base URL under test. */
  readonly target: string;
  /** Extra trusted CAs (PEM) and the request timeout, for checks that open their own connections. */
  readonly tls: { readonly ca?: string; readonly timeoutMs: number };
  readonly client: ScanClient;
  /** Ordinary identities: [0] is A, [1] is B (when given). */
  readonly identities: readonly Identity[];
  readonly admin?: Identity;
  readonly allowDestructive: boolean;
  /** The delay the time-based injection probes ask for, in milliseconds. */
  readonly timeDelayMs: number;
  readonly objects: ObjectRegistry;
  readonly canary: Canary;
  /** Aborted when the check's time is up. */
  readonly signal: AbortSignal;
  /**
   * When that is (a `performance.now()` time), for a check that plans its probes within its share of the scan's
   * time (time-budget.ts); absent for the clean-up and the passive checks.
   */
  readonly deadline?: number;
  /** Responses seen so far (bounded), for passive checks. */
  readonly observations: readonly Observation[];
  /** Identities the scan itself made privileged and could not set back, by name (see `Elevation`). */
  readonly elevated?: ReadonlyMap<string, Elevation>;
  /** Records such an identity: later checks no longer use it as an ordinary identity, the report warns. */
  markElevated?(elevation: Elevation): void;
  report(rule: RuleInfo, input: FindingInput): void;
  /**
   * A loud line for the report's warnings (text, JSON, JUnit, SARIF, HTML): something the scan did to the target
   * that it could not undo and a person must (`alice's bio could not be set back to '...': reset it on the target
   * by hand`). Not for what was left untested (`note`), nor for an identity made privileged (`markElevated`).
   */
  warn?(text: string): void;
  /** Records what could not be tested and why (an operation, a rule, or both), for the coverage matrix. */
  note?(entry: {
    readonly operation?: Operation;
    readonly rule?: RuleInfo;
    readonly reason: string;
    /** The check's probes of this operation were cut short: not tested, whatever else it sent there. */
    readonly incomplete?: boolean;
  }): void;
  /** Sends as an identity (or anonymously) and records the response for passive checks. */
  send(
    req: ScanRequest & { operation?: Operation },
    as?: Identity | null,
    /**
     * `burst`: past the rate limit (API4). `ownProfile`: a PUT/PATCH of the sender's own profile
     * (`/users/me`; for a given identity also `/users/6` when it is user 6 by its token or login answer, or when
     * its own-profile read showed it `uid: 6`, and its own record at a path that names none, `/v1/account`, once
     * it has read that record there in this scan), which the safety rule lets through for a given identity (API3's
     * mass-assignment probe, the injection probes: read first, set back after) or an account the scan registered
     * (its own profile path only). A check that declares it must read first and set back what it stored.
     * `restore`: sets back what such a probe stored, as the identity or the admin, on a path a given identity's
     * `ownProfile` request touched.
     * `registeredAccount`: the end-of-scan DELETE of an account the scan registered, at its own-account route
     * (`DELETE /me`), sent as that account (never a given identity or the admin).
     * `moneySafe`: the sending check vouches that this request, though it moves money (planner's movesMoney or
     * API6's changesMoney), changes no given identity's money (it names only accounts of the scan's own, or sets
     * back what it moved). Without it, the runner refuses a money flow sent as a given identity or the admin.
     */
    options?: {
      readonly burst?: boolean;
      readonly ownProfile?: boolean;
      readonly restore?: boolean;
      readonly registeredAccount?: boolean;
      readonly moneySafe?: boolean;
    },
  ): Promise<ScanResponse | undefined>;
}

/** Stable id of a finding: hash of rule id, method, route and key. */
export function fingerprint(ruleId: string, method: string, route: string, key: string): string {
  return createHash('sha256').update(`${ruleId}\0${method}\0${route}\0${key}`).digest('hex').slice(0, 32);
}

export function makeFinding(spec: ApiDocument, rule: RuleInfo, input: FindingInput): Finding {
  const op = input.operation;
  const pointer = op?.pointer ?? '';
  const line = spec.lineOf(pointer);
  return {
    rule,
    severity: input.severity ?? rule.severity,
    message: input.message,
    location: line === undefined ? { file: spec.file, pointer } : { file: spec.file, pointer, line },
    ...(op ? { operation: { method: op.method, path: op.path, operationId: op.id } } : {}),
    ...(input.evidence ? { evidence: input.evidence } : {}),
    fingerprint: fingerprint(rule.id, op?.method ?? '', op?.path ?? '', input.key ?? ''),
  };
}

const JWT = /\beyJ[\w-]*\.[\w-]+\.[\w-]*/g;
const SECRET_MEMBER =
  /("[\w-]*(?:password|passwd|secret|token|api_?key|private_?key|credential)[\w-]*"\s*:\s*")[^"]*"/gi;
const SECRET_ASSIGNMENT =
  /\b([\w-]*(?:PASSWORD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY)[\w-]*\s*[=:]\s*)[^\s"',;&]+/gi;

/** Masks tokens and secret values in text that goes into a finding (findings end up in CI logs). */
export function redact(text: string): string {
  return text
    .replace(JWT, '[redacted JWT]')
    .replace(SECRET_MEMBER, '$1[redacted]"')
    .replace(SECRET_ASSIGNMENT, '$1[redacted]');
}

/** Request and response summary for evidence: no credentials, secrets masked, body cut short. */
export function evidenceOf(res: ScanResponse, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    request: redact(`${res.sent.method} ${res.sent.url}`),
    status: res.status,
    responseExcerpt: redact(res.text.slice(0, 600)).slice(0, 300),
    curl: curlFor(res.sent),
    ...extra,
  };
}

/** Characters of a body looked through for an error page. */
const ERROR_PAGE_CHARS = 8192;
/**
 * What a server's or framework's error page shows (PHP's fatal and parse errors, a Python traceback, a Node or
 * Java stack trace, Express's default error page, the error pages of Spring, Tomcat, ASP.NET, Rails, a bare
 * "Internal Server Error" title). Literal words and bounded line shapes only: linear on any text.
 */
const ERROR_PAGE =
  /<b>(?:Parse|Fatal|Catchable fatal|Recoverable fatal) error<\/b>:|(?:^|\n)(?:PHP )?(?:Parse|Fatal) error: |Traceback \(most recent call last\)|Traceback <em>\(most recent call last\)<\/em>|(?:^|\n)[ \t]*at [^\n()]{1,300}\([^\n()]{1,300}:\d+:\d+\)|<br> &nbsp; &nbsp;at |(?:^|\n)[ \t]*at [\w$.<>]{1,300}\([\w$]{1,100}\.(?:java|kt|scala):\d+\)|(?:^|\n)Exception in thread "|Whitelabel Error Page|HTTP Status 500 [-–] |Server Error in '[^'\n]{0,200}' Application|Action Controller: Exception caught|<title>\s*(?:500 )?Internal Server Error\s*<\/title>|<h1>\s*Internal Server Error\s*<\/h1>/;

/**
 * A body that is a server's or framework's error page rather than data: no JSON (see `ScanResponse.json`), and a
 * fatal error, traceback or stack trace (`ERROR_PAGE`) in its first 8 KiB, or nothing but `Internal Server Error`.
 * PHP notices before JSON are no error page: the JSON is the answer.
 */
export function isErrorPage(res: ScanResponse): boolean {
  if (res.json !== undefined) return false;
  const head = res.text.slice(0, ERROR_PAGE_CHARS);
  return ERROR_PAGE.test(head) || /^\s*(?:500 )?Internal Server Error\.?\s*$/i.test(head);
}

/** Members of a body that only reports an error (`{"error": "Bad token"}`, `{"error": ..., "code": 401}`). */
const ERROR_MEMBERS = /^(?:errors?|message|msg|detail|status|status_?code|code|success|ok)$/i;

/** A body's `status` word that says the request failed. */
const FAILED_STATUS = /^(?:error|fail(?:ed|ure)?|denied|unauthori[sz]ed|forbidden|invalid)$/i;

/**
 * A JSON body that is only an error report: an object of at most four members, all named like those of an error
 * (`error`, `message`, `code`, `status`...), one of which says the request failed: `error` or `errors` holding
 * something (a text, a record, a list that is not empty, `true`), `success` or `ok` false, a `status` word such
 * as `error` or `fail`, or a `status` or `code` number from 400 to 599 (`{"error": "Bad token"}`,
 * `{"success": false, "message": "Invalid token"}`, `{"code": 401, "msg": "..."}`). `{"error": null, "status":
 * "ok"}` is none, nor is any body with `success: true` or with data.
 */
export function isErrorReport(json: unknown): boolean {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return false;
  const r = json as Record<string, unknown>;
  const keys = Object.keys(r);
  if (keys.length === 0 || keys.length > 4 || !keys.every((k) => ERROR_MEMBERS.test(k))) return false;
  if (keys.some((k) => /^(?:success|ok)$/i.test(k) && r[k] === true)) return false;
  return keys.some((k) => {
    const v = r[k];
    if (/^errors?$/i.test(k))
      return (
        (typeof v === 'string' && v.trim() !== '') ||
        v === true ||
        (Array.isArray(v) ? v.length > 0 : v !== null && typeof v === 'object')
      );
    if (/^(?:success|ok)$/i.test(k)) return v === false;
    if (typeof v === 'string') return /^status$/i.test(k) && FAILED_STATUS.test(v.trim());
    return /^(?:status|status_?code|code)$/i.test(k) && typeof v === 'number' && v >= 400 && v < 600;
  });
}

/**
 * A 2xx that is no error page (`isErrorPage`) and no bare error report (`isErrorReport`). A route that crashed
 * after its status went out (a PHP fatal error in a 200 `text/html`, the same page to every caller, anonymous
 * included) served nothing, and a `{"error": "Bad token"}` in a 200 refused: the checks that judge access take
 * neither for data. The checks that look for verbose errors read the status and text themselves.
 */
export function isSuccess(res: ScanResponse | undefined): res is ScanResponse {
  return (
    res !== undefined &&
    res.status >= 200 &&
    res.status < 300 &&
    !isErrorPage(res) &&
    !isErrorReport(res.json)
  );
}

/** Not a 2xx (plain boolean: no narrowing, unlike `isSuccess`). */
export function isRefused(res: ScanResponse): boolean {
  return res.status < 200 || res.status >= 300;
}
