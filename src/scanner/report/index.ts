/**
 * Reporters shared by `audit` and `scan`: text, JSON, SARIF 2.1.0, JUnit XML and HTML.
 * @example
 * const result = await runAudit('openapi.yaml');
 * await writeReport('sarif', result, 'portcullis.sarif');
 * process.exitCode = exitCodeFor(result.findings, 'high');
 */
import type { FindingsResult } from '../finding.ts';
import type { ReportFormat } from './formats.ts';
import { renderHtml } from './html.ts';
import { renderJson } from './json.ts';
import { renderJunit } from './junit.ts';
import { renderSarif } from './sarif.ts';
import { renderText } from './text.ts';
import { ReportFormatError, type ReportOptions } from './write.ts';

export { isReportFormat, REPORT_FORMATS, type ReportFormat } from './formats.ts';
export { renderHtml } from './html.ts';
export { renderJson } from './json.ts';
export { renderJunit } from './junit.ts';
export { OWASP_NAMES, owaspUrl } from './owasp.ts';
export { renderSarif, sarifLevel } from './sarif.ts';
export { countBySeverity, exitCodeFor, parseSeverity } from './summary.ts';
export { renderText } from './text.ts';
export { ReportFormatError, type ReportOptions, type ReportStream, writeReport } from './write.ts';

/** Renders a report to a string. */
export function renderReport(
  format: ReportFormat,
  result: FindingsResult,
  options: ReportOptions = {},
): string {
  switch (format) {
    case 'text':
      return renderText(result, { color: options.color ?? false, baseDir: options.baseDir });
    case 'json':
      return renderJson(result, { toolVersion: options.toolVersion });
    case 'sarif':
      return renderSarif(result, { baseDir: options.baseDir, toolVersion: options.toolVersion });
    case 'junit':
      return renderJunit(result, { now: options.now });
    case 'html':
      return renderHtml(result, { now: options.now, toolVersion: options.toolVersion });
    default:
      throw new ReportFormatError(String(format));
  }
}
