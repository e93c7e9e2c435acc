/**
 * SARIF 2.1.0 as GitHub code scanning reads it: rules with descriptions, help, level, tags (CWE, OWASP) and
 * `security-severity`; results located at the spec file and line, with stable partial fingerprints.
 * Field list: github/docs "SARIF support for code scanning" (see CONVENTIONS.md §6).
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Finding, FindingsResult, RuleInfo, Severity } from '../finding.ts';
import { OWASP_NAMES, owaspUrl } from './owasp.ts';
import { placeName, placesOf, TOOL_NAME } from './summary.ts';

export interface SarifOptions {
  /** Locations are written relative to this directory (the repository root). Default: the working directory. */
  readonly baseDir?: string;
  readonly toolVersion?: string;
}

/** SARIF `level` per severity. */
export function sarifLevel(s: Severity): 'error' | 'warning' | 'note' {
  return s === 'critical' || s === 'high' ? 'error' : s === 'medium' ? 'warning' : 'note';
}

/** GitHub maps > 9.0 to critical, 7.0–8.9 high, 4.0–6.9 medium, 0.1–3.9 low. */
const SECURITY_SEVERITY: Record<Severity, string | undefined> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '3.0',
  info: undefined,
};

const cweTag = (n: number): string => `external/cwe/cwe-${String(n).padStart(3, '0')}`;

function sarifRule(rule: RuleInfo) {
  const url = owaspUrl(rule.owasp);
  const cwes = rule.cwe.map((n) => `[CWE-${n}](https://cwe.mitre.org/data/definitions/${n}.html)`).join(', ');
  return {
    id: rule.id,
    name: rule.id
      .split('/')
      .pop()!
      .replace(/(^|-)([a-z0-9])/g, (_m, _d, c: string) => c.toUpperCase()),
    shortDescription: { text: rule.title },
    fullDescription: { text: rule.description },
    help: {
      text: `${rule.description}\n\nFix: ${rule.remediation}\n\nOWASP ${rule.owasp} ${OWASP_NAMES[rule.owasp]}: ${url}`,
      markdown: `${rule.description}\n\n**Fix:** ${rule.remediation}\n\n[OWASP ${rule.owasp} ${OWASP_NAMES[rule.owasp]}](${url}) · ${cwes}`,
    },
    helpUri: url,
    defaultConfiguration: { level: sarifLevel(rule.severity) },
    properties: {
      tags: ['security', ...rule.cwe.map(cweTag), `owasp-api/${rule.owasp}`],
      precision: rule.severity === 'info' ? 'medium' : 'high',
      ...(SECURITY_SEVERITY[rule.severity] ? { 'security-severity': SECURITY_SEVERITY[rule.severity] } : {}),
    },
  };
}

export function renderSarif(result: FindingsResult, options: SarifOptions = {}): string {
  const base = resolve(options.baseDir ?? process.cwd());
  // Rules that ran plus any rule a finding names (a scan check may report under a rule it did not list).
  const rules: RuleInfo[] = [...result.rules];
  const index = new Map(rules.map((r, i) => [r.id, i]));
  for (const f of result.findings) {
    if (!index.has(f.rule.id)) {
      index.set(f.rule.id, rules.length);
      rules.push(f.rule);
    }
  }
  const artifact = (file: string) => {
    const abs = isAbsolute(file) ? file : resolve(base, file);
    const rel = relative(base, abs);
    if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) {
      return { uri: rel.split(sep).join('/'), uriBaseId: '%SRCROOT%' };
    }
    return { uri: pathToFileURL(abs).href };
  };
  const physical = (file: string, line: number | undefined) => ({
    physicalLocation: {
      artifactLocation: artifact(file),
      ...(line !== undefined ? { region: { startLine: line } } : {}),
    },
  });

  const results = result.findings.map((f: Finding) => {
    const places = placesOf(f).slice(0, 1000);
    const operation = f.operation ? `${f.operation.method} ${f.operation.path}` : undefined;
    return {
      ruleId: f.rule.id,
      ruleIndex: index.get(f.rule.id)!,
      level: sarifLevel(f.severity),
      message: { text: f.message },
      locations: [physical(f.location.file, f.location.line)],
      ...(places.length > 1
        ? {
            relatedLocations: places.map((p, i) => ({
              id: i + 1,
              ...physical(f.location.file, p.line),
              message: { text: placeName(p) },
            })),
          }
        : {}),
      partialFingerprints: { primaryLocationLineHash: f.fingerprint, 'portcullis/v1': f.fingerprint },
      properties: {
        severity: f.severity,
        ...(SECURITY_SEVERITY[f.severity] ? { 'security-severity': SECURITY_SEVERITY[f.severity] } : {}),
        owasp: f.rule.owasp,
        pointer: f.location.pointer,
        ...(operation ? { operation } : {}),
        ...(f.evidence ? { evidence: f.evidence } : {}),
      },
    };
  });

  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: TOOL_NAME,
            informationUri: 'https://portcullis.dev',
            ...(options.toolVersion
              ? { semanticVersion: options.toolVersion, version: options.toolVersion }
              : {}),
            rules: rules.map(sarifRule),
          },
        },
        automationDetails: { id: `portcullis/${result.kind ?? 'audit'}/` },
        ...(result.warnings || result.errors
          ? {
              invocations: [
                {
                  executionSuccessful: (result.errors ?? []).length === 0,
                  toolExecutionNotifications: [
                    ...(result.errors ?? []).map((e) => ({
                      level: 'error',
                      message: { text: `${e.check} failed: ${e.message}` },
                    })),
                    ...(result.warnings ?? []).map((w) => ({ level: 'warning', message: { text: w } })),
                  ],
                },
              ],
            }
          : {}),
        results,
        properties: { stats: result.stats, ...(result.target ? { target: result.target } : {}) },
      },
    ],
  };
  return JSON.stringify(sarif, null, 2) + '\n';
}
