/**
 * `portcullis audit`: static security rules over an OpenAPI 3.0 / 3.1 or Swagger 2.0 document.
 */
import { performance } from 'node:perf_hooks';
import { PortcullisError } from '../../core/errors.ts';
import type { FindingsResult, Severity } from '../finding.ts';
import { checkSecrets, checkSecuritySchemes, checkServers } from './checks/document.ts';
import { checkOperations } from './checks/operations.ts';
import { checkSchemas, emitPatternRefusals, type PatternCheck } from './checks/schemas.ts';
import { createCollector, type Emit } from './collector.ts';
import { buildAuditModel } from './model.ts';
import { AUDIT_RULES, type AuditRuleInfo } from './rules.ts';
import { parseSpecSource, readSpecSource, type SpecSource } from './source.ts';

export interface AuditOptions {
  /** Rule ids to skip, e.g. `['audit/string-restricted']`. */
  readonly disable?: readonly string[];
  /** Drop findings below this severity (they still count as run rules). Default: keep all. */
  readonly minSeverity?: Severity;
}

export interface AuditResult extends FindingsResult {
  readonly rules: readonly AuditRuleInfo[];
  readonly kind: 'audit';
}

/**
 * Audits one spec file and returns grouped findings, the rules that ran and counters.
 * @example
 * const { findings } = await runAudit('openapi.yaml');
 */
export async function runAudit(file: string, options: AuditOptions = {}): Promise<AuditResult> {
  const started = performance.now();
  const source = await readSpecSource(file);
  return await auditSource(source, options, started);
}

/** Audits spec text already in memory (`file` names it in findings). */
export async function auditText(
  file: string,
  text: string,
  options: AuditOptions = {},
): Promise<AuditResult> {
  const started = performance.now();
  return await auditSource(await parseSpecSource(file, text), options, started);
}

async function auditSource(source: SpecSource, options: AuditOptions, started: number): Promise<AuditResult> {
  const model = buildAuditModel(source);
  const disabled = new Set(options.disable ?? []);
  const unknown = [...disabled].filter((id) => !AUDIT_RULES.some((r) => r.id === id));
  if (unknown.length > 0) throw new AuditOptionError(`unknown audit rule(s): ${unknown.join(', ')}`);
  const rules = AUDIT_RULES.filter((r) => !disabled.has(r.id));
  const collector = createCollector(source.file, source.lineOf);
  const emit: Emit =
    disabled.size === 0 ? collector.emit : (rule, hit) => disabled.has(rule.id) || collector.emit(rule, hit);

  checkServers(model, emit);
  checkSecuritySchemes(model, emit);
  checkOperations(model, emit);
  const patterns: PatternCheck[] = [];
  checkSchemas(model, emit, patterns);
  if (patterns.length > 0) {
    // Only a pattern that is not plain needs the RE2 engine; most specs have none.
    const { patternRefusal } = await import('../../openapi/pattern.ts');
    emitPatternRefusals(patterns, patternRefusal, emit);
  }
  checkSecrets(model, emit);

  const min = options.minSeverity;
  const order = ['info', 'low', 'medium', 'high', 'critical'];
  const findings = collector
    .findings()
    .filter((f) => min === undefined || order.indexOf(f.severity) >= order.indexOf(min));
  return {
    kind: 'audit',
    specFile: source.file,
    findings,
    rules,
    stats: {
      specVersion: model.version,
      parser: source.parser,
      operations: model.operations.length,
      schemas: model.owners.size,
      rules: rules.length,
      findings: findings.length,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
    },
  };
}

export class AuditOptionError extends PortcullisError {
  readonly code = 'ERR_AUDIT_OPTION';
  constructor(message: string) {
    super(message);
    this.name = 'AuditOptionError';
  }
}
