/** The report formats, on their own so that a command can check `--format` without loading the renderers. */
export const REPORT_FORMATS = ['text', 'json', 'sarif', 'junit', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function isReportFormat(value: string): value is ReportFormat {
  return (REPORT_FORMATS as readonly string[]).includes(value);
}
