/**
 * The differential comparison of issue 17: the same corpus requests through the oracle (nginx +
 * libmodsecurity + CRS) and through our engine, request by request, on the set of matched rule ids and the
 * block decision; disagreements are grouped into classes (which rule one side matched and the other did
 * not, or a decision that differs with the same rules) so a report names each class with its count and
 * an example.
 */
import type { CompiledRuleSet, WafRequest } from '../../src/waf/types.ts';
import type { CorpusRequest } from './corpus.ts';
import type { Oracle, OracleResult } from './oracle.ts';

/**
 * Whether a rule id takes part in the comparison: the request rules and the inbound blocking evaluation.
 * Left out: 900xxx–901xxx (setup and initialization, `nolog`), the response rules 950xxx–959xxx (our engine
 * runs phases 1 and 2 only) and the correlation rules 980xxx (the logging phase, after the response), and
 * ModSecurity's own 2000xx.
 */
export function isCompared(id: number): boolean {
  return id >= 905000 && id < 950000;
}

/**
 * The WafRequest our engine is handed for a corpus request: exactly the bytes the oracle received, read as
 * an HTTP parser reads them: a field value without the spaces and tabs around it (RFC 9110 5.5; nginx and
 * Node's parser both drop them, so the gateway never hands the engine ` onmouseover=...`).
 */
export function toWafRequest(req: CorpusRequest, oracle: Pick<Oracle, 'wireHeaders'>): WafRequest {
  return {
    method: req.method,
    uri: req.uri,
    protocol: 'HTTP/1.1',
    headers: oracle.wireHeaders(req, req.id).map(([n, v]) => [n, v.replace(/^[ \t]+|[ \t]+$/g, '')] as const),
    body: req.body,
    remoteAddr: '127.0.0.1',
  };
}

export interface Comparison {
  readonly id: string;
  readonly family: string;
  readonly label: CorpusRequest['label'];
  readonly oracleIds: readonly number[];
  readonly ourIds: readonly number[];
  readonly oracleBlocked: boolean;
  readonly ourBlocked: boolean;
  /** Ids only the oracle matched / only we matched. */
  readonly missing: readonly number[];
  readonly extra: readonly number[];
  readonly agrees: boolean;
}

export interface DifferentialReport {
  readonly compared: number;
  /** Requests nginx answered itself before ModSecurity ran (400, 405): not compared. */
  readonly skipped: readonly string[];
  readonly agreed: number;
  readonly agreement: number;
  readonly decisionAgreement: number;
  readonly comparisons: readonly Comparison[];
  /** Disagreement classes, most frequent first: `missing 942100`, `extra 920273`, `decision only`. */
  readonly classes: ReadonlyArray<{
    readonly key: string;
    readonly count: number;
    readonly examples: string[];
  }>;
  /** How each side did on the labels (for the record, not the bar). */
  readonly oracleBlockedAttacks: number;
  readonly ourBlockedAttacks: number;
  readonly oracleBlockedBenign: number;
  readonly ourBlockedBenign: number;
}

function sortedUnique(ids: Iterable<number>): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}

/** Compares one request's two answers. */
export function compareOne(
  req: CorpusRequest,
  oracle: OracleResult,
  ours: { ids: readonly number[]; blocked: boolean },
): Comparison {
  const oracleIds = sortedUnique(oracle.ruleIds.filter(isCompared));
  const ourIds = sortedUnique(ours.ids.filter(isCompared));
  const missing = oracleIds.filter((id) => !ourIds.includes(id));
  const extra = ourIds.filter((id) => !oracleIds.includes(id));
  return {
    id: req.id,
    family: req.family,
    label: req.label,
    oracleIds,
    ourIds,
    oracleBlocked: oracle.blocked,
    ourBlocked: ours.blocked,
    missing,
    extra,
    agrees: missing.length === 0 && extra.length === 0 && oracle.blocked === ours.blocked,
  };
}

/** Runs the corpus through both and compares. */
export async function runDifferential(
  corpus: readonly CorpusRequest[],
  oracle: Oracle,
  rules: CompiledRuleSet,
): Promise<DifferentialReport> {
  const answers = await oracle.sendAll(corpus.map((c) => [c.id, c] as const));
  const comparisons: Comparison[] = [];
  const skipped: string[] = [];
  for (const req of corpus) {
    const o = answers.get(req.id);
    if (o === undefined || !o.reachedModSecurity) {
      skipped.push(req.id);
      continue;
    }
    const verdict = rules.evaluate(toWafRequest(req, oracle));
    comparisons.push(compareOne(req, o, { ids: verdict.matches.map((m) => m.id), blocked: verdict.blocked }));
  }
  return summarize(comparisons, skipped);
}

export function summarize(
  comparisons: readonly Comparison[],
  skipped: readonly string[] = [],
): DifferentialReport {
  const classes = new Map<string, { count: number; examples: string[] }>();
  const add = (key: string, example: string) => {
    const c = classes.get(key) ?? { count: 0, examples: [] };
    c.count++;
    if (c.examples.length < 3) c.examples.push(example);
    classes.set(key, c);
  };
  let agreed = 0;
  let decisions = 0;
  for (const c of comparisons) {
    if (c.oracleBlocked === c.ourBlocked) decisions++;
    if (c.agrees) {
      agreed++;
      continue;
    }
    const example = `${c.id} (${c.family})`;
    for (const id of c.missing) add(`missing ${id}`, example);
    for (const id of c.extra) add(`extra ${id}`, example);
    if (c.missing.length === 0 && c.extra.length === 0)
      add(`decision only (oracle ${c.oracleBlocked ? 'blocked' : 'passed'})`, example);
  }
  const count = (pred: (c: Comparison) => boolean) => comparisons.filter(pred).length;
  return {
    compared: comparisons.length,
    skipped,
    agreed,
    agreement: comparisons.length === 0 ? 0 : agreed / comparisons.length,
    decisionAgreement: comparisons.length === 0 ? 0 : decisions / comparisons.length,
    comparisons,
    classes: [...classes].map(([key, v]) => ({ key, ...v })).sort((a, b) => b.count - a.count),
    oracleBlockedAttacks: count((c) => c.label === 'attack' && c.oracleBlocked),
    ourBlockedAttacks: count((c) => c.label === 'attack' && c.ourBlocked),
    oracleBlockedBenign: count((c) => c.label === 'benign' && c.oracleBlocked),
    ourBlockedBenign: count((c) => c.label === 'benign' && c.ourBlocked),
  };
}

/** The report as text: the figures and every disagreement class with its examples. */
export function formatReport(title: string, r: DifferentialReport): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const attacks = r.comparisons.filter((c) => c.label === 'attack').length;
  const benign = r.compared - attacks;
  const lines = [
    `${title}: ${r.agreed}/${r.compared} requests agree (${pct(r.agreement)}), decisions ${pct(r.decisionAgreement)}` +
      (r.skipped.length > 0 ? `; ${r.skipped.length} answered by nginx itself, not compared` : ''),
    `  blocked attacks: oracle ${r.oracleBlockedAttacks}/${attacks}, ours ${r.ourBlockedAttacks}/${attacks}; ` +
      `blocked benign: oracle ${r.oracleBlockedBenign}/${benign}, ours ${r.ourBlockedBenign}/${benign}`,
  ];
  for (const c of r.classes)
    lines.push(`  ${String(c.count).padStart(4)}  ${c.key}  e.g. ${c.examples.join(', ')}`);
  return lines.join('\n');
}
