/** Terminal summary: findings grouped by severity, then OWASP category; colours only when asked. */
import { relative } from 'node:path';
import type { Finding, FindingsResult, Severity } from '../finding.ts';
import { OWASP_NAMES, OWASP_ORDER } from './owasp.ts';
import { countBySeverity, placeName, placesOf, runTitle, SEVERITIES_DESC } from './summary.ts';

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
      }
    }
    lines.push('');
  }
  const counts = countBySeverity(result.findings);
  const parts = SEVERITIES_DESC.filter((s) => counts[s] > 0).map((s) => paint(s, `${counts[s]} ${s}`));
  if (result.findings.length === 0) {
    lines.push(paint('green', `No findings (${result.rules.length} rules checked).`));
  } else {
    lines.push(
      `${result.findings.length} finding${result.findings.length === 1 ? '' : 's'}: ${parts.join(', ')} (${result.rules.length} rules checked).`,
    );
  }
  return lines.join('\n') + '\n';
}
