/**
 * JUnit XML: one testsuite per OWASP category, one testcase per rule and place (operation, schema, server).
 * Findings are failures; a rule with no finding is one passing testcase. Several findings on the same
 * testcase are concatenated, since Jenkins keeps one failure per testcase.
 *
 * A scan's warnings (setup that created nothing, 429 answers, a target that went down, checks that ran out of
 * time or tested nothing) come first, in a testsuite of their own that CI tools list like any other: each
 * warning a skipped testcase (shown, never a pass, never a failure of the API), each check that failed an
 * `<error>` (the run itself went wrong), and all of them, with the scan's notes, as the suite's `<system-out>`.
 */
import { hostname } from 'node:os';
import type { Finding, FindingsResult, OwaspCategory, RuleInfo } from '../finding.ts';
import { OWASP_NAMES, OWASP_ORDER } from './owasp.ts';
import { placeName, placesOf } from './summary.ts';
import { escapeXml as x } from './xml.ts';

export interface JunitOptions {
  /** Timestamp of the run; default now. */
  readonly now?: Date;
}

interface Case {
  rule: RuleInfo;
  name: string;
  failures: { finding: Finding; where: string }[];
  /** A scan rule that could not run: a skipped testcase, never a pass. */
  skipped?: string;
}

export function renderJunit(result: FindingsResult, options: JunitOptions = {}): string {
  const timestamp = (options.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, '');
  const seconds = typeof result.stats.durationMs === 'number' ? result.stats.durationMs / 1000 : 0;
  const rules = new Map<string, RuleInfo>(result.rules.map((r) => [r.id, r]));
  for (const f of result.findings) if (!rules.has(f.rule.id)) rules.set(f.rule.id, f.rule);

  // Testcases keyed by rule and place name, in rule order.
  const cases = new Map<string, Case>();
  for (const f of result.findings) {
    for (const p of placesOf(f)) {
      const name = placeName(p);
      const key = `${f.rule.id}\u0000${name}`;
      let c = cases.get(key);
      if (!c) {
        c = { rule: f.rule, name, failures: [] };
        cases.set(key, c);
      }
      const where = `${f.location.file}${p.line !== undefined ? `:${p.line}` : ''} ${p.pointer}`;
      c.failures.push({ finding: f, where });
    }
  }
  const failedRules = new Set(result.findings.map((f) => f.rule.id));
  for (const r of rules.values()) {
    if (!failedRules.has(r.id)) cases.set(`${r.id}\u0000`, { rule: r, name: r.title, failures: [] });
  }

  for (const check of result.coverage?.checks ?? []) {
    for (const u of check.untestedRules) {
      const m = /api(\d+)-/.exec(u.rule);
      if (!m) continue;
      const owasp = `API${m[1]}:2023` as OwaspCategory;
      const rule = { id: u.rule, title: u.rule, owasp } as RuleInfo;
      cases.set(`${u.rule}\u0000`, { rule, name: u.rule, failures: [], skipped: u.reason });
    }
  }

  const byCategory = new Map<OwaspCategory, Case[]>();
  for (const c of cases.values()) {
    const list = byCategory.get(c.rule.owasp) ?? [];
    list.push(c);
    byCategory.set(c.rule.owasp, list);
  }

  const kind = result.kind ?? 'audit';
  const suites: string[] = [];
  let total = 0;
  let failed = 0;
  let skippedTotal = 0;
  let errorsTotal = 0;
  const notices = warningSuite(
    result,
    new Set([...cases.values()].filter((c) => c.skipped).map((c) => c.rule.id)),
  );
  if (notices) {
    total += notices.tests;
    skippedTotal += notices.skipped;
    errorsTotal += notices.errors;
    suites.push(
      `  <testsuite name="${x(`portcullis ${kind}: warnings`)}" tests="${notices.tests}" failures="0" errors="${notices.errors}" skipped="${notices.skipped}" time="0" timestamp="${timestamp}" hostname="${x(hostname())}">\n${notices.body}\n  </testsuite>`,
    );
  }
  for (const cat of OWASP_ORDER) {
    const list = byCategory.get(cat);
    if (!list) continue;
    const nFailed = list.filter((c) => c.failures.length > 0).length;
    const nSkipped = list.filter((c) => c.skipped !== undefined).length;
    total += list.length;
    failed += nFailed;
    skippedTotal += nSkipped;
    const body = list.map((c) => {
      const open = `    <testcase classname="${x(c.rule.id)}" name="${x(c.name)}" time="0"`;
      if (c.skipped !== undefined)
        return `${open}>\n      <skipped message="${x(`not tested: ${c.skipped}`)}"/>\n    </testcase>`;
      if (c.failures.length === 0) return `${open}/>`;
      const worst = c.failures[0]!.finding;
      const text = c.failures
        .map(
          ({ finding, where }) =>
            `[${finding.severity}] ${finding.message}\nat ${where}\n${c.rule.owasp} ${OWASP_NAMES[c.rule.owasp]}; CWE-${c.rule.cwe.join(', CWE-')}\nfix: ${c.rule.remediation}`,
        )
        .join('\n\n');
      return `${open}>\n      <failure message="${x(worst.message)}" type="${x(worst.severity)}">${x(text)}</failure>\n    </testcase>`;
    });
    suites.push(
      `  <testsuite name="${x(`${cat} ${OWASP_NAMES[cat]}`)}" tests="${list.length}" failures="${nFailed}" errors="0" skipped="${nSkipped}" time="0" timestamp="${timestamp}" hostname="${x(hostname())}">\n${body.join('\n')}\n  </testsuite>`,
    );
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${x(`portcullis ${kind}`)}" tests="${total}" failures="${failed}" errors="${errorsTotal}" skipped="${skippedTotal}" time="${seconds}">\n${suites.join('\n')}\n</testsuites>\n`;
}

/** Longest testcase name taken from a warning: CI tools show names in one line (the message holds it all). */
const NAME_CHARS = 120;

/**
 * The warnings suite's testcases and output (the scan's notes too: the accounts it registered and deleted), or
 * undefined when the run has no warnings, failed checks or notes.
 * A warning that only says a rule was not tested is left out of the testcases when that rule already is a
 * skipped testcase of its category (it stays in the output), and a failed check's warning is its `<error>`.
 */
function warningSuite(
  result: FindingsResult,
  skippedRules: ReadonlySet<string>,
): { body: string; tests: number; skipped: number; errors: number } | undefined {
  const warnings = result.warnings ?? [];
  const errors = result.errors ?? [];
  const notes = result.notes ?? [];
  if (warnings.length === 0 && errors.length === 0 && notes.length === 0) return undefined;
  const failedAs = new Set(errors.map((e) => `${e.check} failed: ${e.message}`));
  const cases: string[] = [];
  for (const e of errors) {
    cases.push(
      `    <testcase classname="portcullis/check-error" name="${x(`${e.check} failed`)}" time="0">\n      <error message="${x(e.message)}" type="check-error">${x(`${e.check} failed: ${e.message}`)}</error>\n    </testcase>`,
    );
  }
  let skipped = 0;
  for (const w of warnings) {
    if (failedAs.has(w)) continue;
    const rule = /^(\S+) was not tested: /.exec(w)?.[1];
    if (rule !== undefined && skippedRules.has(rule)) continue;
    const name = w.length > NAME_CHARS ? `${w.slice(0, NAME_CHARS - 1)}\u2026` : w;
    cases.push(
      `    <testcase classname="portcullis/scan-warning" name="${x(name)}" time="0">\n      <skipped message="${x(w)}"/>\n    </testcase>`,
    );
    skipped++;
  }
  const out = [
    ...warnings.map((w) => `WARNING: ${w}`),
    ...errors
      .filter((e) => !warnings.includes(`${e.check} failed: ${e.message}`))
      .map((e) => `ERROR: ${e.check} failed: ${e.message}`),
    ...notes.map((n) => `NOTE: ${n}`),
  ];
  const body = [...cases, `    <system-out>${x(out.join('\n'))}</system-out>`].join('\n');
  return { body, tests: cases.length, skipped, errors: errors.length };
}
