/**
 * Reporters shared by `audit` and `scan`: text, JSON, SARIF 2.1.0, JUnit XML and HTML.
 * @example
 * const result = await runAudit('openapi.yaml');
 * await writeReport('sarif', result, 'portcullis.sarif');
 * process.exitCode = exitCodeFor(result.findings, 'high');
 */
import { writeFile } from 'node:fs/promises';
import { PortcullisError } from '../../core/errors.ts';
import type { FindingsResult } from '../finding.ts';
import { isReportFormat, REPORT_FORMATS, type ReportFormat } from './formats.ts';
import { renderHtml } from './html.ts';
import { renderJson } from './json.ts';
import { renderJunit } from './junit.ts';
import { renderSarif } from './sarif.ts';
import { renderText } from './text.ts';

export { isReportFormat, REPORT_FORMATS, type ReportFormat } from './formats.ts';
export { renderHtml } from './html.ts';
export { renderJson } from './json.ts';
export { renderJunit } from './junit.ts';
export { OWASP_NAMES, owaspUrl } from './owasp.ts';
export { renderSarif, sarifLevel } from './sarif.ts';
export { countBySeverity, exitCodeFor, parseSeverity } from './summary.ts';
export { renderText } from './text.ts';

export interface ReportOptions {
  /** Text only: ANSI colours. Default: true when `out` is a TTY stream, false for files. */
  readonly color?: boolean;
  /** Paths in text and SARIF are made relative to this directory (the repository root). Default: cwd. */
  readonly baseDir?: string;
  /** Portcullis version, shown in SARIF, JSON and HTML. */
  readonly toolVersion?: string;
  /** Timestamp for JUnit and HTML (tests pin it). */
  readonly now?: Date;
}

/** A stream the report can go to; `isTTY` decides colours for the text format. */
export interface ReportStream {
  write(chunk: string, cb?: (err?: Error | null) => void): boolean;
  readonly isTTY?: boolean;
}

export class ReportFormatError extends PortcullisError {
  readonly code = 'ERR_REPORT_FORMAT';
  constructor(format: string) {
    super(`unknown report format "${format}" (expected one of ${REPORT_FORMATS.join(', ')})`);
    this.name = 'ReportFormatError';
  }
}

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

/**
 * Writes a report to a file path or a stream (e.g. `process.stdout`). Text gets colours only when the stream
 * is a TTY, unless `options.color` says otherwise.
 */
export async function writeReport(
  format: ReportFormat | string,
  result: FindingsResult,
  out: string | ReportStream,
  options: ReportOptions = {},
): Promise<void> {
  if (!isReportFormat(format)) throw new ReportFormatError(format);
  if (typeof out === 'string') {
    await writeFile(out, renderReport(format, result, { ...options, color: options.color ?? false }));
    return;
  }
  const text = renderReport(format, result, { ...options, color: options.color ?? out.isTTY === true });
  await new Promise<void>((resolve, reject) => {
    out.write(text, (err) => (err ? reject(err) : resolve()));
  });
}
