/** What `audit` and `scan` report: one shape for both, so every reporter serves both commands. */

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/** OWASP API Security Top 10 (2023) category, e.g. `API1:2023`. */
export type OwaspCategory =
  | 'API1:2023'
  | 'API2:2023'
  | 'API3:2023'
  | 'API4:2023'
  | 'API5:2023'
  | 'API6:2023'
  | 'API7:2023'
  | 'API8:2023'
  | 'API9:2023'
  | 'API10:2023';

/** A rule or check, described once and referenced by its findings. */
export interface RuleInfo {
  /** Stable id, e.g. `audit/no-numeric-ids` or `scan/api1-bola`. */
  readonly id: string;
  readonly title: string;
  /** What the rule checks and why it matters. */
  readonly description: string;
  /** How to fix what it finds. */
  readonly remediation: string;
  readonly owasp: OwaspCategory;
  /** CWE numbers, e.g. [639, 285]. */
  readonly cwe: readonly number[];
  readonly severity: Severity;
}

export interface Finding {
  readonly rule: RuleInfo;
  /** Severity of this occurrence (defaults to the rule's). */
  readonly severity: Severity;
  readonly message: string;
  /** Where in the spec: file, JSON pointer and 1-based line when known. */
  readonly location: { readonly file: string; readonly pointer: string; readonly line?: number };
  /** For scan findings: the operation and the request/response that showed it. */
  readonly operation?: { readonly method: string; readonly path: string; readonly operationId?: string };
  readonly evidence?: Readonly<Record<string, unknown>>;
  /**
   * For a grouped finding: every place it applies to (the first is `location`). Reporters expand these, e.g.
   * one JUnit testcase per occurrence and SARIF `relatedLocations`.
   */
  readonly occurrences?: readonly FindingOccurrence[];
  /** Stable across runs: hash of rule id, method, route and parameter. */
  readonly fingerprint: string;
}

/** One place a grouped finding applies to: an operation, a property of a schema, a server... */
export interface FindingOccurrence {
  readonly pointer: string;
  readonly line?: number;
  readonly operation?: { readonly method: string; readonly path: string; readonly operationId?: string };
  /** Short text naming the place, e.g. `GET /users` or `address.street`. */
  readonly label?: string;
}

/** What `runAudit` returns and what the scanner hands to the reporters. */
export interface FindingsResult {
  readonly findings: readonly Finding[];
  /** Every rule or check that ran, those without findings too (JUnit and SARIF list the passes). */
  readonly rules: readonly RuleInfo[];
  /** Counters for the summary, e.g. `{ operations: 42, durationMs: 12 }`. */
  readonly stats: Readonly<Record<string, number | string>>;
  /** The spec file the findings point into (SARIF locations are made relative to the working directory). */
  readonly specFile?: string;
  /** For scans: the base URL that was tested. */
  readonly target?: string;
  /** `audit` or `scan`: names the tool run in reports. */
  readonly kind?: 'audit' | 'scan';
  /** Scans: problems every report shows loudly (setup that created nothing, checks that could not run). */
  readonly warnings?: readonly string[];
  /** Scans: checks that failed, with the reason. */
  readonly errors?: readonly { readonly check: string; readonly message: string }[];
  /** Scans: checks that ran out of time. */
  readonly timedOut?: readonly string[];
  /** A scan's phases (discovery, each check): wall time and requests. */
  readonly phases?: readonly { readonly name: string; readonly ms: number; readonly requests: number }[];
  /** Scans: what was tested, found or skipped, per check and operation. */
  readonly coverage?: ScanCoverage;
  /** Scans: the target going down during the scan (it answered, then refused connections). */
  readonly targetOutages?: TargetOutages;
  /** Scans: what the scan did beyond its probes (the accounts it registered, deleted or left at the end). */
  readonly notes?: readonly string[];
}

/** How often the target stopped answering during a scan, and where: what ran while it was down tested nothing. */
export interface TargetOutages {
  /** Times it stopped answering (each counted once until it answered again). */
  readonly times: number;
  /** Requests whose connection it refused after it had answered. */
  readonly refusedRequests: number;
  /** The phases (`discovery`, check ids, `setup`) in which it went down, in order. */
  readonly phases: readonly string[];
  /** It was still down when the scan ended. */
  readonly downAtEnd: boolean;
}

export type CoverageStatus = 'finding' | 'tested' | 'skipped';

/** One cell of a scan's coverage matrix: one check on one operation. */
export interface CoverageCell {
  readonly check: string;
  /** `GET /users/{id}`. */
  readonly operation: string;
  readonly status: CoverageStatus;
  /** Requests the check sent to this operation. */
  readonly requests: number;
  /** Why it was skipped. */
  readonly reason?: string;
  /**
   * Where the operation's path ids came from when they were no object of the scan's and nothing the API listed:
   * an identity's configured id header, or values discovery tried and confirmed (or could not).
   */
  readonly ids?: string;
  /**
   * What the check noted about this operation besides `reason`, each text once: a tested cell's or a finding's
   * notes too (a login that creates the account on first use, a request not sent because it acts).
   */
  readonly notes?: readonly string[];
}

/** Per check: how many operations it tested, found something on, or skipped. */
export interface CheckCoverage {
  readonly check: string;
  readonly tested: number;
  readonly findings: number;
  readonly skipped: number;
  /** Requests the check sent in all (to documented operations and elsewhere). */
  readonly requests: number;
  /** Rules of the check that tested nothing, with the reason (they are not listed as passing). */
  readonly untestedRules: readonly { readonly rule: string; readonly reason: string }[];
}

export interface ScanCoverage {
  readonly checks: readonly CheckCoverage[];
  readonly matrix: readonly CoverageCell[];
  /** The target answered 429 (Too Many Requests): what met those answers tested less. */
  readonly rateLimited?: RateLimited;
  /**
   * Notes no cell or untested rule holds: on a rule that found something or already has its reason, on an
   * operation the document does not list, or from a phase that is no check (discovery, clean-up).
   */
  readonly notes?: readonly CoverageNoteEntry[];
}

/** A note of a check or phase, as the JSON report keeps it when no cell of the matrix holds it. */
export interface CoverageNoteEntry {
  readonly check: string;
  /** `GET /users/{id}`. */
  readonly operation?: string;
  /** The rule it is about. */
  readonly rule?: string;
  readonly reason: string;
}

/** The 429 answers of a scan: how many, in which phases (`discovery`, check ids), and the first one. */
export interface RateLimited {
  readonly answers: number;
  readonly phases: readonly { readonly phase: string; readonly answers: number }[];
  /** `POST /auth/register`, or the path sent when it is no documented operation. */
  readonly firstOperation: string;
  readonly firstPhase: string;
}

/** Position of a severity in SEVERITIES (info = 0 ... critical = 4). */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}
