/** JSON report: the findings with rules listed once and referenced by id. */
import type { FindingsResult } from '../finding.ts';
import { countBySeverity, TOOL_NAME } from './summary.ts';

export interface JsonOptions {
  readonly toolVersion?: string;
}

export function renderJson(result: FindingsResult, options: JsonOptions = {}): string {
  const doc = {
    tool: { name: TOOL_NAME, version: options.toolVersion, kind: result.kind ?? 'audit' },
    specFile: result.specFile,
    target: result.target,
    stats: result.stats,
    summary: { total: result.findings.length, bySeverity: countBySeverity(result.findings) },
    ...(result.warnings ? { warnings: result.warnings } : {}),
    ...(result.errors ? { errors: result.errors } : {}),
    ...(result.timedOut ? { timedOut: result.timedOut } : {}),
    ...(result.phases ? { phases: result.phases } : {}),
    ...(result.targetOutages ? { targetOutages: result.targetOutages } : {}),
    ...(result.coverage?.rateLimited ? { rateLimited: result.coverage.rateLimited } : {}),
    ...(result.notes && result.notes.length > 0 ? { notes: result.notes } : {}),
    rules: result.rules,
    findings: result.findings.map((f) => ({
      ruleId: f.rule.id,
      severity: f.severity,
      owasp: f.rule.owasp,
      cwe: f.rule.cwe,
      message: f.message,
      location: f.location,
      operation: f.operation,
      occurrences: f.occurrences,
      evidence: f.evidence,
      fingerprint: f.fingerprint,
    })),
    ...(result.coverage ? { coverage: result.coverage } : {}),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}
