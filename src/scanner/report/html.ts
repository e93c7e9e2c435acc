/**
 * A self-contained HTML report: inline CSS, no script, no external asset, every value escaped, and a CSP that
 * forbids anything else from running should escaping ever fail.
 */
import type { Finding, FindingsResult } from '../finding.ts';
import { OWASP_NAMES, OWASP_ORDER, owaspUrl } from './owasp.ts';
import {
  checkNoteLines,
  countBySeverity,
  placeName,
  placesOf,
  runTitle,
  SEVERITIES_DESC,
  shownNotes,
} from './summary.ts';
import { pathIdSources } from './text.ts';
import { escapeXml as h } from './xml.ts';

export interface HtmlOptions {
  readonly now?: Date;
  readonly toolVersion?: string;
  /** Places listed per finding before "and N more". */
  readonly maxPlaces?: number;
}

const CSS = `
:root{--fg:#1d2330;--muted:#5b6475;--bg:#f6f7f9;--card:#fff;--line:#e2e5ea;
--critical:#7a0019;--high:#c62828;--medium:#b26a00;--low:#1565c0;--info:#607d8b}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:24px 32px;background:#1d2330;color:#fff}header h1{margin:0 0 4px;font-size:20px}header p{margin:0;color:#c5cad3}
main{padding:24px 32px;max-width:1200px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:24px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px;min-width:110px}
.card b{display:block;font-size:24px}
.sev{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600;text-transform:uppercase}
.sev.critical{background:var(--critical)}.sev.high{background:var(--high)}.sev.medium{background:var(--medium)}
.sev.low{background:var(--low)}.sev.info{background:var(--info)}
h2{font-size:16px;margin:28px 0 8px}h3{font-size:14px;margin:16px 0 6px;color:var(--muted)}
details{background:var(--card);border:1px solid var(--line);border-radius:8px;margin:6px 0;padding:8px 12px}
summary{cursor:pointer}summary .msg{margin-left:6px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:10px 0}dt{color:var(--muted)}dd{margin:0}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef0f3;padding:1px 4px;border-radius:4px;word-break:break-all}
ul.places{margin:4px 0;padding-left:18px}table{border-collapse:collapse;width:100%;background:var(--card)}
th,td{border:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}th{background:#eef0f3}
.ok{color:#2e7d32;font-weight:600}.warn{color:#b71c1c;font-weight:600}.warnings{border:2px solid #b71c1c;padding:8px 16px;margin:16px 0}footer{color:var(--muted);padding:16px 32px}
`;

function findingHtml(f: Finding, maxPlaces: number): string {
  const places = placesOf(f);
  const shown = places.slice(0, maxPlaces);
  const where = `${f.location.file}${f.location.line !== undefined ? `:${f.location.line}` : ''}`;
  const cwes = f.rule.cwe
    .map((n) => `<a href="https://cwe.mitre.org/data/definitions/${n}.html">CWE-${n}</a>`)
    .join(', ');
  const placeList =
    places.length > 1
      ? `<dt>Places (${places.length})</dt><dd><ul class="places">${shown
          .map(
            (p) => `<li>${h(placeName(p))}${p.line !== undefined ? ` <code>line ${p.line}</code>` : ''}</li>`,
          )
          .join(
            '',
          )}${places.length > maxPlaces ? `<li>and ${places.length - maxPlaces} more</li>` : ''}</ul></dd>`
      : '';
  const { curl, ...rest } = f.evidence ?? {};
  const evidence = Object.keys(rest).some((k) => k !== 'count')
    ? `<dt>Evidence</dt><dd><code>${h(JSON.stringify(rest))}</code></dd>`
    : '';
  const repro =
    typeof curl === 'string' ? `<dt>Reproduce</dt><dd><pre><code>${h(curl)}</code></pre></dd>` : '';
  return `<details><summary><span class="sev ${h(f.severity)}">${h(f.severity)}</span><span class="msg">${h(f.message)}</span></summary>
<dl><dt>Rule</dt><dd><code>${h(f.rule.id)}</code> ${h(f.rule.title)}</dd>
<dt>Why</dt><dd>${h(f.rule.description)}</dd>
<dt>Fix</dt><dd>${h(f.rule.remediation)}</dd>
<dt>OWASP</dt><dd><a href="${h(owaspUrl(f.rule.owasp))}">${h(f.rule.owasp)} ${h(OWASP_NAMES[f.rule.owasp])}</a></dd>
<dt>CWE</dt><dd>${cwes}</dd>
<dt>Location</dt><dd><code>${h(where)}</code> <code>${h(f.location.pointer || '/')}</code></dd>
${f.operation ? `<dt>Operation</dt><dd><code>${h(`${f.operation.method} ${f.operation.path}`)}</code></dd>` : ''}
${placeList}${evidence}${repro}<dt>Fingerprint</dt><dd><code>${h(f.fingerprint)}</code></dd></dl></details>`;
}

export function renderHtml(result: FindingsResult, options: HtmlOptions = {}): string {
  const maxPlaces = options.maxPlaces ?? 50;
  const counts = countBySeverity(result.findings);
  const title = `Portcullis ${runTitle(result)}`;
  const cards = SEVERITIES_DESC.map(
    (s) => `<div class="card"><b>${counts[s]}</b><span class="sev ${s}">${s}</span></div>`,
  ).join('');
  const sections: string[] = [];
  for (const sev of SEVERITIES_DESC) {
    const list = result.findings.filter((f) => f.severity === sev);
    if (list.length === 0) continue;
    const parts = [
      `<h2><span class="sev ${sev}">${sev}</span> ${list.length} finding${list.length === 1 ? '' : 's'}</h2>`,
    ];
    for (const cat of OWASP_ORDER) {
      const inCat = list.filter((f) => f.rule.owasp === cat);
      if (inCat.length === 0) continue;
      parts.push(`<h3>${h(cat)} ${h(OWASP_NAMES[cat])}</h3>`);
      for (const f of inCat) parts.push(findingHtml(f, maxPlaces));
    }
    sections.push(`<section>${parts.join('\n')}</section>`);
  }
  const failed = new Set(result.findings.map((f) => f.rule.id));
  const ruleRows = result.rules
    .map(
      (r) =>
        `<tr><td><code>${h(r.id)}</code></td><td>${h(r.title)}</td><td>${h(r.owasp)}</td><td><span class="sev ${h(r.severity)}">${h(r.severity)}</span></td><td>${failed.has(r.id) ? 'findings' : '<span class="ok">pass</span>'}</td></tr>`,
    )
    .join('\n');
  const untested = (result.coverage?.checks ?? []).flatMap((c) => c.untestedRules);
  const untestedRows = untested
    .map(
      (u) =>
        `<tr><td><code>${h(u.rule)}</code></td><td colspan="3">${h(u.reason)}</td><td class="warn">not tested</td></tr>`,
    )
    .join('\n');
  const warnings =
    result.warnings && result.warnings.length > 0
      ? `<section class="warnings"><h2>Warning: this scan did not test everything</h2><ul>${result.warnings.map((w) => `<li>${h(w)}</li>`).join('')}</ul></section>`
      : '';
  const coverageRows = (result.coverage?.checks ?? [])
    .map(
      (c) =>
        `<tr><td>${h(c.check)}</td><td>${c.findings}</td><td>${c.tested}</td><td>${c.skipped}</td><td>${c.requests}</td></tr>`,
    )
    .join('\n');
  const coverage = coverageRows
    ? `<h2>Coverage (operations per check)</h2>
<table><thead><tr><th>Check</th><th>With findings</th><th>Tested, no finding</th><th>Skipped</th><th>Requests</th></tr></thead>
<tbody>${coverageRows}</tbody></table>`
    : '';
  // Where each operation's path ids came from when nothing the API listed gave them, every one, cut like the notes.
  const ids = pathIdSources(result);
  const idWords = shownNotes(
    ids.map(([, how]) => how),
    Number.POSITIVE_INFINITY,
  ).shown;
  const idsHtml =
    ids.length > 0
      ? `<h2>Path ids nothing listed (${ids.length}): where their values came from</h2>
<table class="ids"><thead><tr><th>Operation</th><th>Ids</th></tr></thead>
<tbody>${ids.map(([op], i) => `<tr><td><code>${h(op)}</code></td><td>${h(idWords[i] ?? '')}</td></tr>`).join('\n')}</tbody></table>`
      : '';
  // What the checks noted beside the counts, condensed like the text report's, every line: the JSON has them whole.
  const checkNotes = shownNotes(checkNoteLines(result), Number.POSITIVE_INFINITY).shown;
  const checkNotesHtml =
    checkNotes.length > 0
      ? `<h2>Check notes (${checkNotes.length}): what the checks noted beside the counts</h2>
<ul class="notes">${checkNotes.map((n) => `<li>${h(n)}</li>`).join('')}</ul>`
      : '';
  // Every note the scan kept (the runner bounds them), each cut short: the JSON report has them whole.
  const notes = shownNotes(result.notes, Number.POSITIVE_INFINITY);
  const notesHtml =
    notes.shown.length > 0
      ? `<h2>Notes (${notes.shown.length}): what the scan did beyond its probes</h2>
<ul class="notes">${notes.shown.map((n) => `<li>${h(n)}</li>`).join('')}</ul>`
      : '';
  const stats = Object.entries(result.stats)
    .map(([k, v]) => `${h(k)} ${h(v)}`)
    .join(' · ');
  const generated = (options.now ?? new Date()).toISOString();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${h(title)}</title><style>${CSS}</style></head>
<body><header><h1>${h(title)}</h1><p>${stats}</p></header>
<main>${warnings}<div class="cards">${cards}</div>
${result.findings.length === 0 ? `<p class="ok">No findings: ${result.rules.length} rules checked.</p>` : sections.join('\n')}
<h2>Rules checked (${result.rules.length})</h2>
<table><thead><tr><th>Rule</th><th>Title</th><th>OWASP</th><th>Default severity</th><th>Result</th></tr></thead>
<tbody>${ruleRows}${untestedRows}</tbody></table>
${coverage}
${idsHtml}
${checkNotesHtml}
${notesHtml}</main>
<footer>Generated by Portcullis${options.toolVersion ? ` ${h(options.toolVersion)}` : ''} at ${h(generated)}.</footer>
</body></html>
`;
}
