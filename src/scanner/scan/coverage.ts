/**
 * What the scan tested, and what it could not: the coverage matrix (check × operation: finding, tested, or
 * skipped and why), the rules that actually ran (reporters list those as passing, and only those), and the
 * warnings a report must show loudly (no object created, a class of checks that tested nothing, timeouts).
 */
import type { ApiDocument, Operation } from '../../core/api-document.ts';
import type {
  CheckCoverage,
  CoverageCell,
  CoverageNoteEntry,
  Finding,
  RateLimited,
  RuleInfo,
  ScanCoverage,
  TargetOutages,
} from '../finding.ts';
import type { Check } from './check.ts';
import { type FindingInput, type Observation, redact } from './context.ts';
import { curlFor } from './curl.ts';

/** Something a check could not test, recorded through `ctx.note`. */
export interface CoverageNote {
  readonly check: string;
  readonly operation?: Operation;
  /** The rule that could not run; none when the whole check or operation is meant. */
  readonly rule?: RuleInfo;
  readonly reason: string;
  /** The check's probes of the operation were cut short (a budget): skipped with this reason even if reached. */
  readonly incomplete?: boolean;
}

export type {
  CheckCoverage,
  CoverageCell,
  CoverageNoteEntry,
  CoverageStatus,
  ScanCoverage,
} from '../finding.ts';

export interface CoverageInput {
  readonly spec: ApiDocument;
  readonly checks: readonly Check[];
  readonly observations: readonly Observation[];
  readonly findings: readonly Finding[];
  readonly notes: readonly CoverageNote[];
  readonly timedOut: readonly string[];
  /** Checks not run: the scan's time was up before their turn. */
  readonly notRun?: readonly string[];
  readonly errors: readonly { readonly check: string; readonly message: string }[];
  readonly objectsCreated: number;
  /** Identities that logged in, and whether each has a token the token checks can alter. */
  readonly identities: readonly { readonly name: string; readonly token?: string }[];
  readonly admin?: { readonly name: string };
  /** The target going down during the scan. */
  readonly outages?: TargetOutages;
}

export interface CoverageResult {
  readonly coverage: ScanCoverage;
  /** Rules that tested something (a pass means something): the reporters' `rules`. */
  readonly rules: readonly RuleInfo[];
  /** Loud problems for the summary. */
  readonly warnings: readonly string[];
}

const opName = (op: { method: string; path: string }) => `${op.method} ${op.path}`;

/** Builds the matrix, the tested rules and the warnings from what the scan recorded. */
export function buildCoverage(input: CoverageInput): CoverageResult {
  const { spec, checks, observations, findings, notes } = input;
  const matrix: CoverageCell[] = [];
  const perCheck: CheckCoverage[] = [];
  const rules: RuleInfo[] = [];
  const warnings: string[] = [];
  const documented = new Set(spec.operations.map(opName));
  // Every note reaches the report: as a cell's reason, a cell's notes, an untested rule's reason, an operation's
  // ids, the scan's notes (neither operation nor rule: the runner lists those) or, failing all, coverage.notes.
  const placed = new Set<CoverageNote>();
  for (const n of notes) if (!n.operation && !n.rule) placed.add(n);
  // Discovery's notes (made before any check ran) say where an operation's ids came from: every cell shows it.
  const idNotes = new Map<string, string>();
  for (const n of notes) {
    if (n.check === 'setup' && n.operation && !idNotes.has(opName(n.operation))) {
      idNotes.set(opName(n.operation), n.reason);
      placed.add(n);
    }
  }
  // Each check's notes on each documented operation, in the order they were made.
  const byCell = new Map<string, CoverageNote[]>();
  for (const n of notes) {
    if (!n.operation || !documented.has(opName(n.operation))) continue;
    const key = `${n.check}\0${opName(n.operation)}`;
    const list = byCell.get(key);
    if (list) list.push(n);
    else byCell.set(key, [n]);
  }

  for (const check of checks) {
    const ruleIds = new Set(check.rules.map((r) => r.id));
    const sent = new Map<string, number>();
    // Operations a request of this check reached: an answer other than 404/405 (a route found, a value it knows).
    const reached = new Set<string>();
    let requests = 0;
    for (const o of observations) {
      if (o.check !== check.id) continue;
      requests++;
      if (!o.operation) continue;
      const name = opName(o.operation);
      sent.set(name, (sent.get(name) ?? 0) + 1);
      if (!UNREACHED.has(o.response.status)) reached.add(name);
    }
    // Passive checks judge every response the scan saw: answers other checks got, counted apart (they are not
    // this check's requests, so they do not make the operation tested by it).
    const passiveReads = new Map<string, number>();
    if (check.passive) {
      for (const o of observations) {
        if (!o.operation || UNREACHED.has(o.response.status)) continue;
        passiveReads.set(opName(o.operation), (passiveReads.get(opName(o.operation)) ?? 0) + 1);
      }
    }
    const found = new Map<string, number>();
    for (const f of findings) {
      if (!ruleIds.has(f.rule.id)) continue;
      const name = f.operation && documented.has(opName(f.operation)) ? opName(f.operation) : '(api)';
      found.set(name, (found.get(name) ?? 0) + 1);
    }
    const checkNotes = notes.filter((n) => n.check === check.id);
    const failed = input.errors.find((e) => e.check === check.id);
    const timedOut = input.timedOut.includes(check.id);
    const notRun = input.notRun?.includes(check.id) === true;
    let tested = 0;
    let withFindings = 0;
    let skipped = 0;
    for (const op of spec.operations) {
      const name = opName(op);
      const n = sent.get(name) ?? 0;
      const ids = idNotes.get(name);
      const opNotes = byCell.get(`${check.id}\0${name}`) ?? [];
      for (const x of opNotes) placed.add(x);
      // The cell's other notes: every text once, the one its reason already says left out.
      const push = (cell: CoverageCell) => {
        const others = [...new Set(opNotes.map((x) => x.reason))].filter((r) => r !== cell.reason);
        matrix.push({
          ...cell,
          ...(ids === undefined ? {} : { ids }),
          ...(others.length > 0 ? { notes: others } : {}),
        });
      };
      const note = opNotes[0];
      const cut = opNotes.find((x) => x.incomplete === true);
      if (found.has(name)) {
        withFindings++;
        push({ check: check.id, operation: name, status: 'finding', requests: n });
      } else if (cut) {
        skipped++;
        push({ check: check.id, operation: name, status: 'skipped', requests: n, reason: cut.reason });
      } else if (reached.has(name)) {
        tested++;
        push({ check: check.id, operation: name, status: 'tested', requests: n });
      } else {
        skipped++;
        const passive = passiveReads.get(name) ?? 0;
        const reason =
          n > 0
            ? `its ${n} request${n === 1 ? ' was' : 's were all'} answered 404/405: the route was not reached with a value it knows`
            : (note?.reason ??
              (failed
                ? `the check failed: ${failed.message}`
                : notRun
                  ? "not tested: the scan's time (scanTimeoutMs) was up before this check's turn"
                  : timedOut
                    ? "not reached: the check ran out of its share of the scan's time"
                    : passive > 0
                      ? `no request of its own; its passive rules read ${passive} answer${passive === 1 ? '' : 's'} other checks got`
                      : 'no request of this check applies to this operation'));
        push({ check: check.id, operation: name, status: 'skipped', requests: n, reason });
      }
    }
    // A rule "passes" only if its check sent something, and no note says the rule itself could not run.
    const untestedRules: { rule: string; reason: string }[] = [];
    for (const rule of check.rules) {
      const ruleFound = findings.some((f) => f.rule.id === rule.id);
      const note = checkNotes.find((x) => x.rule?.id === rule.id && x.operation === undefined);
      if (ruleFound) rules.push(rule);
      else if (requests === 0 && !(check.passive && observations.length > 0)) {
        // The check's own word on why the rule could not run says more than "sent no request".
        if (note && !failed) placed.add(note);
        untestedRules.push({
          rule: rule.id,
          reason: failed
            ? `the check failed: ${failed.message}`
            : notRun
              ? "the check did not run: the scan's time (scanTimeoutMs) was up before its turn"
              : (note?.reason ?? 'the check sent no request'),
        });
      } else if (note) {
        untestedRules.push({ rule: rule.id, reason: note.reason });
        placed.add(note);
      } else rules.push(rule);
    }
    perCheck.push({ check: check.id, tested, findings: withFindings, skipped, requests, untestedRules });
    if (failed) warnings.push(`${check.id} failed: ${failed.message}`);
    if (timedOut)
      warnings.push(`${check.id} ran out of time: it kept its findings, but did not test everything`);
    if (notRun)
      warnings.push(`${check.id} did not run: the scan's time (scanTimeoutMs) was up before its turn`);
    if (!failed && !notRun && requests === 0 && !check.passive)
      warnings.push(`${check.id} sent no request: it tested nothing`);
    if (requests > 0 || check.passive)
      for (const u of untestedRules) warnings.push(`${u.rule} was not tested: ${u.reason}`);
  }

  for (const e of input.errors) {
    if (!checks.some((c) => c.id === e.check)) warnings.unshift(`${e.check} failed: ${e.message}`);
  }
  for (const t of input.timedOut) {
    if (!checks.some((c) => c.id === t))
      warnings.unshift(`${t} ran out of time: later checks had less to work with`);
  }
  const creators = spec.operations.filter((op) => op.method === 'POST').length;
  if (input.objectsCreated === 0 && creators > 0) {
    warnings.unshift(
      'SETUP CREATED NO OBJECT: the object-level checks (API1 reads, updates and deletes of scan-created objects, API3 read-back) had nothing of their own to test',
    );
  }
  const refusedWrites = writesAllRefused(input);
  if (refusedWrites) warnings.unshift(refusedWrites);
  const rateLimited = rateLimitedBy(observations, documented);
  if (rateLimited) {
    const where = rateLimited.phases.map((p) => `${p.phase} ${p.answers}`).join(', ');
    const burstOnly = rateLimited.phases.every((p) => p.phase === 'API4');
    warnings.unshift(
      `THE API RATE-LIMITED THE SCAN: ${rateLimited.answers} answer${rateLimited.answers === 1 ? '' : 's'} 429 Too Many Requests (${where}; first: ${rateLimited.firstOperation} in ${rateLimited.firstPhase})` +
        (burstOnly
          ? ': only in API4, whose burst probes the rate limit'
          : ': the checks that met them may have tested nothing there'),
    );
  }
  const down = input.outages;
  if (down && down.times > 0) {
    // First of all: a target that went down voids whatever ran while it was down, findings and passes alike.
    warnings.unshift(
      `THE TARGET STOPPED ANSWERING ${down.times === 1 ? 'once' : `${down.times} times`} during the scan ` +
        `(in ${down.phases.join(', ')}; ${down.refusedRequests} request${down.refusedRequests === 1 ? '' : 's'} refused)` +
        `${down.downAtEnd ? ' and was still down at the end' : ''}: checks after that may have tested nothing`,
    );
  }
  if (input.identities.length < 2) {
    warnings.push('only one ordinary identity: API1 (one identity against the other) was not tested');
  }
  if (!input.admin) {
    warnings.push('no admin identity: API5 judged privileged operations by their names alone');
  }
  if (!input.identities.some((i) => i.token)) {
    warnings.push(
      'no identity has a token: the token checks of API2 (altered, unsigned, expired tokens) did not run',
    );
  }
  // What no cell, rule or scan note holds, each once.
  const leftOver = new Map<string, CoverageNoteEntry>();
  for (const n of notes) {
    if (placed.has(n)) continue;
    const entry: CoverageNoteEntry = {
      check: n.check,
      ...(n.operation ? { operation: opName(n.operation) } : {}),
      ...(n.rule ? { rule: n.rule.id } : {}),
      reason: n.reason,
    };
    const key = `${entry.check}\0${entry.operation ?? ''}\0${entry.rule ?? ''}\0${entry.reason}`;
    if (!leftOver.has(key)) leftOver.set(key, entry);
  }
  return {
    coverage: {
      checks: perCheck,
      matrix,
      ...(rateLimited ? { rateLimited } : {}),
      ...(leftOver.size > 0 ? { notes: [...leftOver.values()] } : {}),
    },
    rules,
    warnings,
  };
}

/** Answers that say a request did not reach an operation: no such route, or no such method on it. */
const UNREACHED = new Set([404, 405]);

/** Paths of signing in or up, sessions, tokens and passwords (not the writes the warning below is about). */
const SESSION_PATH = /log_?(in|out)|sign_?(in|up|out)|regist|session|token|auth|password|passwd/i;
/** Writes as the given identities before the scan may say they are all refused alike. */
const MIN_REFUSED_WRITES = 4;

/**
 * A warning when every write the given identities sent (POST, PUT, PATCH, DELETE; at least MIN_REFUSED_WRITES)
 * was refused with one status of 401, 403 or 419 while their reads were served: the API wants something the scan
 * did not send with writes (an anti-forgery header of a cookie session, most often), and every write check
 * tested nothing. Names a CSRF-like header the document declares, if any.
 */
export function writesAllRefused(
  input: Pick<CoverageInput, 'spec' | 'observations' | 'identities'>,
): string | undefined {
  const names = new Set(input.identities.map((i) => i.name));
  const mine = input.observations.filter((o) => o.identity !== undefined && names.has(o.identity));
  // Sign-ins, sign-ups, sessions and password changes are left out: a login answers whatever writes want. So are
  // a probe's hand-made bytes (a body given as text: API8's cut-short JSON, an XML or serialized copy), which a
  // body parser may refuse (400, 415) before any credential is looked at: no real write attempt.
  const isWrite = (o: Observation) =>
    ['POST', 'PUT', 'PATCH', 'DELETE'].includes(o.request.method) &&
    !SESSION_PATH.test(o.request.path.split('?')[0]) &&
    typeof o.request.body !== 'string';
  const writes = mine.filter(isWrite);
  if (writes.length < MIN_REFUSED_WRITES) return undefined;
  const statuses = new Set(writes.map((o) => o.response.status));
  const [status] = statuses;
  if (statuses.size !== 1 || ![401, 403, 419].includes(status)) return undefined;
  // Served to nobody: the admin's or the scan's own accounts' writes refused too (else members are simply read-only).
  const served = input.observations.some(
    (o) => o.identity !== undefined && isWrite(o) && o.response.status >= 200 && o.response.status < 300,
  );
  if (served) return undefined;
  const reads = mine.filter((o) => o.request.method === 'GET');
  if (!reads.some((o) => o.response.status >= 200 && o.response.status < 300)) return undefined;
  const csrf = Object.values(input.spec.securitySchemes)
    .filter(
      (s) => s.type === 'apiKey' && s.raw.in === 'header' && /csrf|xsrf|forgery/i.test(String(s.raw.name)),
    )
    .map((s) => String(s.raw.name));
  const who = [...new Set(writes.map((o) => o.identity))].join(', ');
  return (
    `EVERY WRITE WAS REFUSED: ${writes.length} writes as ${who} all answered ${status} while their reads were served, so the checks that write tested nothing` +
    (csrf.length > 0
      ? `; the document declares ${csrf.join(', ')}: give it in each identity's headers (a cookie session's anti-forgery token)`
      : '; does the API want an anti-forgery header or another credential for writes? give it in the identities')
  );
}

/** The 429 answers among the observations, per phase (discovery is `setup` inside the runner). */
export function rateLimitedBy(
  observations: readonly Observation[],
  documented: ReadonlySet<string>,
): RateLimited | undefined {
  const limited = observations.filter((o) => o.response.status === 429);
  const first = limited[0];
  if (first === undefined) return undefined;
  const phase = (o: Observation) => (o.check === undefined || o.check === 'setup' ? 'discovery' : o.check);
  const phases = new Map<string, number>();
  for (const o of limited) phases.set(phase(o), (phases.get(phase(o)) ?? 0) + 1);
  const name = first.operation ? opName(first.operation) : '';
  return {
    answers: limited.length,
    phases: [...phases].map(([p, answers]) => ({ phase: p, answers })),
    firstOperation: documented.has(name)
      ? name
      : `${first.request.method} ${first.request.path.split('?')[0]}`,
    firstPhase: phase(first),
  };
}

/** How a finding's evidence names the request it saw: `METHOD URL`, as sent or masked like evidence text. */
function requestLine(o: Observation): string {
  return `${o.response.sent.method} ${o.response.sent.url}`;
}

/**
 * Gives a finding a reproducible request when its check did not attach one. When the evidence names the
 * request it saw (`request: 'GET http://h/x?q=1'`, with its `status`), the curl line is that request's, as
 * sent: the observations sent that way with that answer (the reporting check's own when it sent any, any
 * check's for a passive finding); if they differ (one as alice with her cookie, one anonymous) no line is
 * given rather than a wrong one, and none either when no observation matches. A finding naming no request
 * gets the last request the same check sent to the same operation (or, for passive findings, any request to
 * it).
 */
export function withReproduction(
  input: FindingInput,
  observations: readonly Observation[],
  check: string,
): FindingInput {
  if (input.evidence?.curl !== undefined) return input;
  const named = input.evidence?.request;
  if (typeof named === 'string') {
    const status = input.evidence?.status;
    const matching = observations.filter((o) => {
      if (typeof status === 'number' && o.response.status !== status) return false;
      const line = requestLine(o);
      return line === named || redact(line) === named;
    });
    // An active check reports what it just sent: its own requests first (API4's burst, not others' reads).
    const own = matching.filter((o) => o.check === check);
    const lines = new Set((own.length > 0 ? own : matching).map((o) => curlFor(o.response.sent)));
    const [line] = lines;
    return line === undefined || lines.size > 1
      ? input
      : { ...input, evidence: { ...input.evidence, curl: line } };
  }
  if (!input.operation) return input;
  const id = input.operation.id;
  let match: Observation | undefined;
  for (let i = observations.length - 1; i >= 0 && !match; i--) {
    const o = observations[i];
    if (o.operation?.id === id && (o.check === check || check === 'passive')) match = o;
  }
  if (!match) return input;
  return { ...input, evidence: { ...input.evidence, curl: curlFor(match.response.sent) } };
}
