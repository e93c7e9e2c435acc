/** The active scanner: `runScan(options)` and `suggestPolicy(findings, spec)`. */
export type { ScanResponse } from './client.ts';
export type { LoginFlow, ScanIdentity, ScanOptions, ScanProgress } from './options.ts';
export { SCAN_DEFAULTS } from './options.ts';
export { SCAN_RULES } from './rules.ts';
export { CHECKS, runScan, ScanError, type ScanResult, type ScanStats } from './runner.ts';
export { suggestPolicy } from './suggest-policy.ts';
