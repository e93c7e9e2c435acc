/**
 * The contract of the rule engine (issue 17): what the injection policy hands it and what it answers.
 * The engine runs OWASP Core Rule Set files (SecLang) in our own code; nothing here knows the gateway.
 */

/** One request as the engine sees it: raw parts, exactly as the gateway will forward them. */
export interface WafRequest {
  readonly method: string;
  /** Request target as sent (path and query, still percent-encoded). */
  readonly uri: string;
  /** `HTTP/1.1` and the like (REQUEST_PROTOCOL). */
  readonly protocol: string;
  /** Header fields in order, names as sent (REQUEST_HEADERS is case-insensitive on names). */
  readonly headers: ReadonlyArray<readonly [name: string, value: string]>;
  /** The body, when the route buffers it; undefined when there is none. */
  readonly body?: Buffer;
  /** Client address (REMOTE_ADDR). */
  readonly remoteAddr: string;
  /**
   * Argument values that the OpenAPI document already guarantees to be harmless (integers, enums, uuids,
   * dates...), by ARGS name: rules that cannot match them skip them (schema awareness). Optional.
   */
  readonly typedArgs?: ReadonlyMap<string, 'number' | 'boolean' | 'enum' | 'format'>;
}

/** One rule that matched, as the security event and the access record show it. */
export interface WafMatch {
  readonly id: number;
  readonly msg?: string;
  /** The variable that matched, `ARGS:q`, `REQUEST_HEADERS:User-Agent`. */
  readonly variable?: string;
  /** The matched data (truncated by the engine to 200 characters). */
  readonly data?: string;
  readonly severity?: string;
  readonly tags: readonly string[];
  /** Paranoia level of the rule (from its `paranoia-level/N` tag), when it has one. */
  readonly paranoiaLevel?: number;
}

/** What the engine decided for one request. */
export interface WafVerdict {
  /** The inbound anomaly score (TX:ANOMALY_SCORE / blocking_inbound_anomaly_score in CRS 4). */
  readonly anomalyScore: number;
  /** True when the score reached the inbound threshold (or a disruptive rule fired). */
  readonly blocked: boolean;
  /** Rules that matched, in evaluation order (including the scoring rules 949xxx/980xxx when they fire). */
  readonly matches: readonly WafMatch[];
}

/** Settings CRS takes from crs-setup.conf, given from our YAML instead. */
export interface CrsSettings {
  /** blocking paranoia level, 1–4 (default 1). */
  readonly paranoiaLevel?: number;
  /** detection paranoia level, ≥ paranoiaLevel (default = paranoiaLevel). */
  readonly detectionParanoiaLevel?: number;
  /** inbound anomaly score threshold (default 5). */
  readonly inboundAnomalyThreshold?: number;
  readonly allowedMethods?: readonly string[];
  readonly allowedRequestContentTypes?: readonly string[];
  /** Extra `tx.*` variables to set, as `SecAction setvar` would (escape hatch for the rest of crs-setup). */
  readonly tx?: Readonly<Record<string, string | number>>;
}

/** A rule set compiled once at load. */
export interface CompiledRuleSet {
  /** `3.3.x` / `4.x.y` as the files declare it (crs_setup_version / the 90x rules), when found. */
  readonly version: string | undefined;
  /** How many rules were loaded, and which files. */
  readonly ruleCount: number;
  readonly files: readonly string[];
  /**
   * The rules decided at load (issue 17): they read only what the configuration fixes (TX set up by other
   * such rules, constants), so their outcome is the same for every request and they are not run per request.
   */
  readonly foldedIds: ReadonlySet<number>;
  /**
   * The header, cookie and argument-name values the engine remembers across requests (what their
   * transformations hold and which operators did not match them), and the bytes that memo holds; both bounded.
   */
  valueMemoSize(): { values: number; bytes: number };
  /** Evaluates the request phases (1 and 2). Never throws on client input. */
  evaluate(request: WafRequest, exclusions?: WafExclusions): WafVerdict;
}

/** Rule exclusions of one operation, as `ctl:ruleRemoveById` / `ruleRemoveTargetById` would express them. */
export interface WafExclusions {
  readonly removeIds?: ReadonlySet<number>;
  readonly removeTags?: ReadonlySet<string>;
  /** Targets removed per rule id (`ARGS:comment`, `REQUEST_COOKIES:session`). */
  readonly removeTargets?: ReadonlyMap<number, readonly string[]>;
  readonly removeTargetsByTag?: ReadonlyMap<string, readonly string[]>;
}

/** A directive the loader could not honour: reported by file and line, never ignored silently. */
export interface RuleLoadIssue {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}
