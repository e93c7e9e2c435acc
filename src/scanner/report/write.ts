/**
 * Writing one report to a file or a stream. Only the renderer of the format asked for loads: `audit -f json`
 * does not load the HTML, SARIF, JUnit and text renderers (index.ts has all of them, for `renderReport`).
 */
import { writeFile } from 'node:fs/promises';
import { PortcullisError } from '../../core/errors.ts';
import type { FindingsResult } from '../finding.ts';
import { isReportFormat, REPORT_FORMATS, type ReportFormat } from './formats.ts';

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

/** Renders a report with the one renderer the format needs, loaded on use. */
async function render(format: ReportFormat, result: FindingsResult, options: ReportOptions): Promise<string> {
  switch (format) {
    case 'text':
      return (await import('./text.ts')).renderText(result, {
        color: options.color ?? false,
        baseDir: options.baseDir,
      });
    case 'json':
      return (await import('./json.ts')).renderJson(result, { toolVersion: options.toolVersion });
    case 'sarif':
      return (await import('./sarif.ts')).renderSarif(result, {
        baseDir: options.baseDir,
        toolVersion: options.toolVersion,
      });
    case 'junit':
      return (await import('./junit.ts')).renderJunit(result, { now: options.now });
    case 'html':
      return (await import('./html.ts')).renderHtml(result, {
        now: options.now,
        toolVersion: options.toolVersion,
      });
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
    await writeFile(out, await render(format, result, { ...options, color: options.color ?? false }));
    return;
  }
  const text = await render(format, result, { ...options, color: options.color ?? out.isTTY === true });
  await new Promise<void>((resolve, reject) => {
    out.write(text, (err) => (err ? reject(err) : resolve()));
  });
}
