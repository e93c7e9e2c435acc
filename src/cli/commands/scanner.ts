import { writeFile } from 'node:fs/promises';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import type { FindingsResult, Severity } from '../../scanner/finding.ts';
import {
  exitCodeFor,
  isReportFormat,
  parseSeverity,
  REPORT_FORMATS,
  writeReport,
} from '../../scanner/report/index.ts';
import type { ScanIdentity } from '../../scanner/scan/index.ts';
import { registerCommand } from '../command-table.ts';
import { CliError } from '../errors.ts';

const reportFlags = {
  format: { type: 'string', short: 'f', default: 'text' },
  output: { type: 'string', short: 'o' },
  'fail-on': { type: 'string', default: 'high' },
} as const;

function parse<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError((err as Error).message.split('\n')[0]);
  }
}

function reportSettings(values: Record<string, unknown>): {
  format: string;
  output?: string;
  failOn: Severity;
} {
  const format = String(values.format);
  if (!isReportFormat(format)) throw new CliError(`--format must be one of ${REPORT_FORMATS.join(', ')}`);
  const failOn = parseSeverity(String(values['fail-on']));
  if (failOn === undefined) throw new CliError('--fail-on must be one of info, low, medium, high, critical');
  return { format, output: values.output as string | undefined, failOn };
}

async function report(
  result: FindingsResult,
  s: { format: string; output?: string; failOn: Severity },
): Promise<number> {
  await writeReport(s.format, result, s.output ?? process.stdout);
  if (s.output) process.stderr.write(`portcullis: wrote ${s.format} report to ${s.output}\n`);
  return exitCodeFor(result.findings, s.failOn);
}

/**
 * Parses `--identity NAME:bearer:TOKEN`, `NAME:header:Name=Value` or
 * `NAME:login:PATH:{"username":"..."}` (a JSON body posted to PATH; the token is read from the answer).
 * `;param=value` pairs after the name give the identity's own path values (`alice;accountId=alice:bearer:T`).
 */
export function parseIdentity(text: string): ScanIdentity {
  const first = text.indexOf(':');
  const second = text.indexOf(':', first + 1);
  if (first < 1 || second === -1)
    throw new CliError(`identity "${text.split(':')[0]}" must look like NAME:bearer:TOKEN`);
  const [name, ...paramParts] = text.slice(0, first).split(';');
  const params = Object.fromEntries(paramParts.map((p) => p.split('=') as [string, string]));
  const kind = text.slice(first + 1, second);
  const rest = text.slice(second + 1);
  const base = { name, ...(paramParts.length ? { params } : {}) };
  if (kind === 'bearer') return { ...base, bearer: rest };
  if (kind === 'header') {
    const eq = rest.indexOf('=');
    if (eq < 1) throw new CliError(`identity ${name}: header must be Name=Value`);
    return { ...base, headers: { [rest.slice(0, eq)]: rest.slice(eq + 1) } };
  }
  if (kind === 'login') {
    const colon = rest.indexOf(':');
    try {
      return { ...base, login: { path: rest.slice(0, colon), body: JSON.parse(rest.slice(colon + 1)) } };
    } catch {
      throw new CliError(`identity ${name}: login must be PATH:{json body}`);
    }
  }
  throw new CliError(`identity ${name}: kind must be bearer, header or login`);
}

registerCommand('audit', {
  usage: 'portcullis audit SPEC [--format text|json|sarif|junit|html] [--output FILE] [--fail-on SEVERITY]',
  summary: 'check an OpenAPI document against OWASP API Top 10 rules (no traffic sent)',
  async run(args) {
    const { values, positionals } = parse(args, {
      ...reportFlags,
      disable: { type: 'string', multiple: true },
    });
    if (positionals.length !== 1) throw new CliError('audit needs exactly one SPEC file');
    const settings = reportSettings(values);
    try {
      // Loaded on use: `audit` never loads the scanner, the gateway or the policies.
      const { runAudit } = await import('../../scanner/audit/index.ts');
      const result = await runAudit(positionals[0], { disable: values.disable as string[] | undefined });
      return report(result, settings);
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.code?.startsWith('ERR_')) throw new CliError(e.message.split('\n')[0]);
      throw err;
    }
  },
});

registerCommand('scan', {
  usage:
    'portcullis scan --spec SPEC --target URL --identity NAME:bearer:TOKEN ... [--admin ID] [--suggest-policy FILE] [report flags]',
  summary: 'test a live API for the OWASP API Security Top 10 (2023) from its spec',
  async run(args) {
    const { values } = parse(args, {
      ...reportFlags,
      spec: { type: 'string' },
      target: { type: 'string' },
      identity: { type: 'string', multiple: true },
      admin: { type: 'string' },
      'allow-destructive': { type: 'boolean' },
      concurrency: { type: 'string' },
      rate: { type: 'string' },
      'timeout-ms': { type: 'string' },
      checks: { type: 'string' },
      'insecure-tls': { type: 'boolean' },
      'suggest-policy': { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
    });
    if (!values.spec || !values.target) throw new CliError('scan needs --spec SPEC and --target URL');
    const identities = ((values.identity as string[] | undefined) ?? []).map(parseIdentity);
    if (identities.length === 0)
      throw new CliError('scan needs at least one --identity (two for the authorization checks)');
    const settings = reportSettings(values);
    const num = (flag: string) => {
      const v = values[flag as keyof typeof values];
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new CliError(`--${flag} must be a positive number`);
      return n;
    };
    const showProgress = !values.quiet && process.stderr.isTTY;
    try {
      const { runScan, suggestPolicy } = await import('../../scanner/scan/index.ts');
      const { loadApiDocument } = await import('../../openapi/load.ts');
      const result = await runScan({
        spec: values.spec as string,
        target: values.target as string,
        identities,
        admin: values.admin ? parseIdentity(values.admin as string) : undefined,
        allowDestructive: values['allow-destructive'] === true,
        concurrency: num('concurrency'),
        ratePerSecond: num('rate'),
        timeoutMs: num('timeout-ms'),
        checks: (values.checks as string | undefined)?.split(','),
        insecureTls: values['insecure-tls'] === true,
        onProgress: showProgress
          ? (p) => {
              const width = 24;
              const done = Math.round((p.checksDone / Math.max(1, p.checksTotal)) * width);
              process.stderr.write(
                `\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${p.check.padEnd(5)} ${p.requests} requests`,
              );
            }
          : undefined,
      });
      if (showProgress) process.stderr.write('\n');
      process.stderr.write(
        `portcullis: ${result.stats.requests} requests in ${(result.stats.durationMs / 1000).toFixed(1)} s, ${result.findings.length} findings\n`,
      );
      if (values['suggest-policy']) {
        const spec = await loadApiDocument(values.spec as string);
        await writeFile(values['suggest-policy'] as string, suggestPolicy(result.findings, spec));
        process.stderr.write(`portcullis: wrote suggested gateway policies to ${values['suggest-policy']}\n`);
      }
      return report(result, settings);
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.code === 'ERR_SPEC' || e.code?.startsWith('ERR_SCAN'))
        throw new CliError(e.message.split('\n')[0]);
      throw err;
    }
  },
});
