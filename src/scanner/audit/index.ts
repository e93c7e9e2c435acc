export { AuditOptionError, type AuditOptions, type AuditResult, auditText, runAudit } from './audit.ts';
export { AUDIT_RULES, type AuditRuleInfo } from './rules.ts';
export { SpecSourceError } from './source.ts';
