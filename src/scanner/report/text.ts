/** Terminal summary: findings grouped by severity, then OWASP category; colours only when asked. */
import { relative } from 'node:path';
import type { Finding, FindingsResult, Severity } from '../finding.ts';
import { OWASP_NAMES, OWASP_ORDER } from './owasp.ts';
import {
  checkNoteLines,
  countBySeverity,
  NOTES_SHOWN,
  placeName,
  placesOf,
  runTitle,
  SEVERITIES_DESC,
  shownNotes,
} from './summary.ts';

export interface TextOptions {
  /** Use ANSI colours (the caller decides: only when writing to a TTY). */
  readonly color?: boolean;
  /** Paths are shown relative to this directory. */
  readonly baseDir?: string;
  /** Occurrences listed per finding before "and N more". */
  readonly maxPlaces?: number;
}

const CODES: Record<string, string> = {
  critical: '1;97;41',
  high: '1;31',
  medium: '33',
  low: '36',
  info: '2',
  bold: '1',
  dim: '2',
  green: '32',
};

export function renderText(result: FindingsResult, options: TextOptions = {}): string {
  const paint = (style: string, s: string): string =>
    options.color ? `\u001b[${CODES[style]}m${s}\u001b[0m` : s;
  const base = options.baseDir ?? process.cwd();
  const show = (file: string): string => {
    const rel = relative(base, file);
    return rel.startsWith('..') ? file : rel;
  };
  const maxPlaces = options.maxPlaces ?? 5;
  const lines: string[] = [];
  const stats = Object.entries(result.stats)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  lines.push(
    paint(
      'bold',
      `Portcullis ${runTitle({ ...result, specFile: result.specFile && show(result.specFile) })}`,
    ),
  );
  if (stats) lines.push(paint('dim', stats));
  lines.push('');
  if (result.warnings && result.warnings.length > 0) {
    lines.push(paint('high', `WARNING: this scan did not test everything (${result.warnings.length})`));
    for (const w of result.warnings) lines.push(`  ${paint('high', '!')} ${w}`);
    lines.push('');
  }

  const bySeverity = new Map<Severity, Finding[]>();
  for (const f of result.findings) {
    const list = bySeverity.get(f.severity) ?? [];
    list.push(f);
    bySeverity.set(f.severity, list);
  }
  for (const sev of SEVERITIES_DESC) {
    const list = bySeverity.get(sev);
    if (!list) continue;
    lines.push(paint(sev, `${sev.toUpperCase()} (${list.length})`));
    for (const cat of OWASP_ORDER) {
      const inCat = list.filter((f) => f.rule.owasp === cat);
      if (inCat.length === 0) continue;
      lines.push(`  ${paint('bold', `${cat} ${OWASP_NAMES[cat]}`)}`);
      for (const f of inCat) {
        const where =
          f.location.line !== undefined
            ? `${show(f.location.file)}:${f.location.line}`
            : show(f.location.file);
        lines.push(`    ${paint(sev, '●')} ${f.message}`);
        lines.push(`      ${paint('dim', `${f.rule.id} · CWE-${f.rule.cwe.join(', CWE-')} · ${where}`)}`);
        const places = placesOf(f);
        if (places.length > 1) {
          for (const p of places.slice(0, maxPlaces)) {
            lines.push(
              `      ${paint('dim', `- ${placeName(p)}${p.line !== undefined ? ` (line ${p.line})` : ''}`)}`,
            );
          }
          if (places.length > maxPlaces)
            lines.push(`      ${paint('dim', `- and ${places.length - maxPlaces} more`)}`);
        }
        lines.push(`      ${paint('dim', `fix: ${f.rule.remediation}`)}`);
        const curl = f.evidence?.curl;
        if (typeof curl === 'string') lines.push(`      ${paint('dim', `repro: ${curl}`)}`);
      }
    }
    lines.push('');
  }
  if (result.coverage && result.coverage.checks.length > 0) {
    lines.push(paint('bold', 'Coverage (operations per check: with findings / tested without / skipped)'));
    for (const c of result.coverage.checks) {
      const skippedWhy = new Map<string, number>();
      for (const cell of result.coverage.matrix) {
        if (cell.check === c.check && cell.status === 'skipped' && cell.reason)
          skippedWhy.set(cell.reason, (skippedWhy.get(cell.reason) ?? 0) + 1);
      }
      const top = [...skippedWhy].sort((a, b) => b[1] - a[1]).slice(0, 2);
      lines.push(
        `  ${c.check.padEnd(6)} ${c.findings} / ${c.tested} / ${c.skipped}, ${c.requests} requests${top.length ? paint('dim', ` (skipped: ${top.map(([r, n]) => `${n} ${r}`).join('; ')})`) : ''}`,
      );
    }
    lines.push('');
  }
  // Where the path ids of an operation came from when nothing the API listed gave them (discovery's word, the same
  // in every check's cell): one line an operation, cut and cleaned like the notes.
  const ids = pathIdSources(result);
  if (ids.length > 0) {
    const shown = shownNotes(
      ids.map(([op, how]) => `${op}: ${how}`),
      IDS_SHOWN,
    );
    lines.push(paint('bold', `Path ids nothing listed (${ids.length}): where their values came from`));
    for (const n of shown.shown) lines.push(`  - ${n}`);
    if (shown.more > 0) lines.push(paint('dim', `  - and ${shown.more} more in the JSON report`));
    lines.push('');
  }
  // What the checks noted on the operations they tested, found something on or could not reach (the login that
  // creates the account on first use), condensed: the JSON report has every note at its cell.
  const checkNotes = checkNoteLines(result);
  if (checkNotes.length > 0) {
    const shown = shownNotes(checkNotes, NOTES_SHOWN);
    lines.push(paint('bold', `Check notes (${checkNotes.length}): what the checks noted beside the counts`));
    for (const n of shown.shown) lines.push(`  - ${n}`);
    if (shown.more > 0) lines.push(paint('dim', `  - and ${shown.more} more in the JSON report`));
    lines.push('');
  }
  const notes = shownNotes(result.notes, NOTES_SHOWN);
  if (notes.shown.length > 0) {
    lines.push(paint('bold', `Notes (${result.notes?.length}): what the scan did beyond its probes`));
    for (const n of notes.shown) lines.push(`  - ${n}`);
    if (notes.more > 0) lines.push(paint('dim', `  - and ${notes.more} more in the JSON report`));
    lines.push('');
  }
  const counts = countBySeverity(result.findings);
  const parts = SEVERITIES_DESC.filter((s) => counts[s] > 0).map((s) => paint(s, `${counts[s]} ${s}`));
  if (result.findings.length === 0) {
    lines.push(
      result.warnings && result.warnings.length > 0
        ? paint(
            'high',
            `No findings (${result.rules.length} rules checked), but see the warnings above: a clean scan proves little.`,
          )
        : paint('green', `No findings (${result.rules.length} rules checked).`),
    );
  } else {
    lines.push(
      `${result.findings.length} finding${result.findings.length === 1 ? '' : 's'}: ${parts.join(', ')} (${result.rules.length} rules checked).`,
    );
  }
  return lines.join('\n') + '\n';
}

/** Operations listed in the text report's path-id section before "and N more". */
const IDS_SHOWN = 10;

/** Each operation's `ids` from the coverage matrix, once, in the matrix's order: `[operation, where from]`. */
export function pathIdSources(result: FindingsResult): [string, string][] {
  const byOperation = new Map<string, string>();
  for (const cell of result.coverage?.matrix ?? []) {
    if (cell.ids !== undefined && cell.ids !== '' && !byOperation.has(cell.operation))
      byOperation.set(cell.operation, cell.ids);
  }
  return [...byOperation];
}
