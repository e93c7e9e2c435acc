import { readFile, writeFile } from 'node:fs/promises';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { PortcullisError } from '../../core/errors.ts';
import { type FindingsResult, type Severity, severityRank } from '../../scanner/finding.ts';
// The renderers load only when a report is written: `--help` and argument errors need only these.
import { isReportFormat, REPORT_FORMATS } from '../../scanner/report/formats.ts';
import { exitCodeFor, parseSeverity } from '../../scanner/report/summary.ts';
import type { ScanIdentity } from '../../scanner/scan/index.ts';
import { HEADER_NAME, secretHeader, UNSHARED_HEADERS } from '../../scanner/scan/options.ts';
import { packageVersion } from '../../shared/package-version.ts';
import { registerCommand } from '../command-table.ts';
import { CliError } from '../errors.ts';

const reportFlags = {
  format: { type: 'string', short: 'f', multiple: true },
  output: { type: 'string', short: 'o' },
  'fail-on': { type: 'string', default: 'high' },
  'min-severity': { type: 'string', default: 'info' },
} as const;

function parse<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError((err as Error).message.split('\n')[0]);
  }
}

/** One report to write: a format and where (a file, or stdout when none). */
interface ReportTarget {
  readonly format: string;
  readonly output?: string;
}

interface ReportSettings {
  readonly targets: readonly ReportTarget[];
  readonly failOn: Severity;
  /** Findings below this severity are left out of the reports (and so of the exit code). */
  readonly minSeverity: Severity;
}

/**
 * `--format` may be repeated, each `FORMAT` or `FORMAT:FILE` (`-f text -f sarif:out.sarif -f json:out.json`).
 * At most one report goes to stdout; `--output FILE` is the file of a single format without one.
 */
export function reportSettings(values: Record<string, unknown>): ReportSettings {
  const given = (values.format as string[] | undefined) ?? [];
  const formats = given.length > 0 ? given : ['text'];
  const targets: ReportTarget[] = formats.map((spec) => {
    const colon = spec.indexOf(':');
    const format = colon < 0 ? spec : spec.slice(0, colon);
    const file = colon < 0 ? undefined : spec.slice(colon + 1);
    if (!isReportFormat(format)) throw new CliError(`--format must be one of ${REPORT_FORMATS.join(', ')}`);
    if (file === '') throw new CliError(`--format ${format}: give a file after the colon`);
    return file ? { format, output: file } : { format };
  });
  const output = values.output as string | undefined;
  const toStdout = targets.filter((t) => t.output === undefined);
  if (output !== undefined) {
    if (toStdout.length !== 1)
      throw new CliError('--output names the file of one format; with several, write --format FORMAT:FILE');
    const i = targets.indexOf(toStdout[0]);
    targets[i] = { ...targets[i], output };
  } else if (toStdout.length > 1) {
    throw new CliError('only one report can go to stdout; give the others a file: --format FORMAT:FILE');
  }
  const failOn = parseSeverity(String(values['fail-on']));
  if (failOn === undefined) throw new CliError('--fail-on must be one of info, low, medium, high, critical');
  const minSeverity = parseSeverity(String(values['min-severity'] ?? 'info'));
  if (minSeverity === undefined)
    throw new CliError('--min-severity must be one of info, low, medium, high, critical');
  return { targets, failOn, minSeverity };
}

async function report(all: FindingsResult, s: ReportSettings): Promise<number> {
  const floor = severityRank(s.minSeverity);
  const result =
    floor === severityRank('info')
      ? all
      : {
          ...all,
          findings: all.findings.filter((f) => severityRank(f.severity) >= floor),
          stats: { ...all.stats, minSeverity: s.minSeverity },
        };
  for (const t of s.targets) {
    const { writeReport } = await import('../../scanner/report/write.ts');
    await writeReport(t.format, result, t.output ?? process.stdout, { toolVersion: packageVersion() });
    if (t.output) process.stderr.write(`portcullis: wrote ${t.format} report to ${t.output}\n`);
  }
  return exitCodeFor(result.findings, s.failOn);
}

const REPORT_HELP = `  -f, --format FORMAT[:FILE]  text (default), json, sarif, junit or html; repeat for several reports in
                              one run, each to its FILE (at most one to stdout)
  -o, --output FILE           file of the single report (default: stdout)
      --fail-on SEVERITY      exit 1 when a finding is at or above it: info, low, medium, high (default),
                              critical; exit 2 on a usage or runtime error
      --min-severity SEVERITY report only findings at or above it (default info: all)`;

/**
 * Parses `--identity NAME:bearer:TOKEN`, `NAME:header:Name=Value`, `NAME:login:PATH:{"username":"..."}` (a
 * JSON body posted to PATH; the token is read from the answer), `NAME:form:PATH:username=a&password=b` (the
 * same, form-encoded) or `NAME:oauth2:TOKEN_PATH:USER:PASSWORD` (an OAuth2 password grant). Token places and
 * other login options: `--identities FILE`.
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
  if (kind === 'form') {
    const colon = rest.indexOf(':');
    if (colon < 1) throw new CliError(`identity ${name}: form must be PATH:field=value&field=value`);
    const body = Object.fromEntries(new URLSearchParams(rest.slice(colon + 1)));
    return { ...base, login: { path: rest.slice(0, colon), body, encoding: 'form' } };
  }
  if (kind === 'oauth2') {
    // PATH:USER:PASSWORD (the password may hold colons).
    const [path, user, ...password] = rest.split(':');
    if (!path || !user || password.length === 0)
      throw new CliError(`identity ${name}: oauth2 must be TOKEN_PATH:USER:PASSWORD`);
    return {
      ...base,
      login: { path, grantType: 'password', body: { username: user, password: password.join(':') } },
    };
  }
  throw new CliError(`identity ${name}: kind must be bearer, header, login, form or oauth2`);
}

/** Control characters a field value may not hold (a tab is allowed): a CR or LF would start another header. */
const CONTROL = /[\0-\x08\n-\x1f\x7f]/;

/**
 * One header sent with every request of the scan, checked: a token name, a value without line breaks or other
 * control characters (trimmed, not empty), not one the client sets itself nor the cookie the identities' jars
 * send. `where` names the flag or the config path in the error. A name or value that looks like a secret is
 * allowed (an API key of the deployment every caller sends) and added to `warnings`: curl lines mask it.
 */
function sharedHeader(where: string, name: string, raw: string, warnings: string[]): [string, string] {
  if (!HEADER_NAME.test(name))
    throw new CliError(`${where}: not a header name (letters, digits and !#$%&'*+-.^_\`|~ only)`);
  if (CONTROL.test(raw))
    throw new CliError(`${where}: the value holds a line break or another control character`);
  const value = raw.trim();
  if (value === '') throw new CliError(`${where}: give a value after the colon`);
  const lower = name.toLowerCase();
  if (lower === 'cookie')
    throw new CliError(
      `${where}: each identity's cookie jar sends the Cookie header; give a cookie as an identity's header`,
    );
  if (UNSHARED_HEADERS.includes(lower))
    throw new CliError(`${where}: the scan sets ${name} itself; it cannot be shared`);
  if (secretHeader(name, value))
    warnings.push(
      `${where} looks like a credential: every request carries it, anonymous ones included (the checks without credentials too); curl lines show $CREDENTIAL`,
    );
  return [name, value];
}

/** Adds a checked header to `into`; a name given twice (in any case) is refused. */
function addHeader(into: Record<string, string>, where: string, [name, value]: [string, string]): void {
  if (Object.keys(into).some((k) => k.toLowerCase() === name.toLowerCase()))
    throw new CliError(`${where}: given twice`);
  into[name] = value;
}

/**
 * Parses `--header 'Name: value'` (repeatable): headers sent with every request of the scan. Returns them and
 * the warnings to print (a header that looks like a credential).
 */
export function parseHeaders(texts: readonly string[]): {
  headers: Record<string, string>;
  warnings: string[];
} {
  const headers: Record<string, string> = {};
  const warnings: string[] = [];
  texts.forEach((text, i) => {
    const colon = text.indexOf(':');
    // The text itself stays out of this message: it may be a secret written without its colon.
    if (colon < 0) throw new CliError(`--header #${i + 1} has no colon: write it as 'Name: value'`);
    const name = text.slice(0, colon).trim();
    const where = `--header ${HEADER_NAME.test(name) ? name : JSON.stringify(name)}`;
    addHeader(headers, where, sharedHeader(where, name, text.slice(colon + 1), warnings));
  });
  return { headers, warnings };
}

/** `headers.X-Api-Mode`, `headers["Bad Name"]`: a shared header's path in the identities file. */
function headerPath(name: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(name) ? `headers.${name}` : `headers[${JSON.stringify(name)}]`;
}

/** The identities file's `headers:` map (names to strings, numbers or booleans), checked like `--header`. */
function fileHeaders(file: string, doc: unknown, warnings: string[]): Record<string, string> {
  if (doc === undefined) return {};
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new CliError(`--identities ${file}: headers must be a map of header names to values`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(doc)) {
    const where = `--identities ${file}: ${headerPath(name)}`;
    if (typeof value !== 'string' && typeof value !== 'boolean' && !Number.isFinite(value))
      throw new CliError(`${where} must be a string`);
    addHeader(headers, where, sharedHeader(where, name, String(value), warnings));
  }
  return headers;
}

/**
 * Reads `--identities FILE`: `{ identities: [...], admin: {...}, headers: {...} }` or a plain array, as JSON or
 * YAML. `headers` go with every request of the scan (see `--header`).
 */
async function readIdentities(file: string): Promise<{
  identities: ScanIdentity[];
  admin?: ScanIdentity;
  headers: Record<string, string>;
  warnings: string[];
}> {
  let doc: unknown;
  try {
    const text = await readFile(file, 'utf8');
    const { parse: parseYaml } = await import('yaml');
    doc = parseYaml(text);
  } catch (err) {
    throw new CliError(`--identities ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const root = Array.isArray(doc) ? { identities: doc } : (doc as Record<string, unknown> | null);
  const list = root?.identities;
  if (
    !Array.isArray(list) ||
    list.some((i) => i === null || typeof i !== 'object' || typeof i.name !== 'string')
  )
    throw new CliError(`--identities ${file}: identities must be a list of objects with a name`);
  const admin = root?.admin;
  if (admin !== undefined && (admin === null || typeof admin !== 'object'))
    throw new CliError(`--identities ${file}: admin must be an object`);
  const warnings: string[] = [];
  const headers = Array.isArray(doc) ? {} : fileHeaders(file, root?.headers, warnings);
  return {
    identities: list as ScanIdentity[],
    ...(admin ? { admin: admin as ScanIdentity } : {}),
    headers,
    warnings,
  };
}

registerCommand('audit', {
  usage:
    'portcullis audit SPEC [--format text|json|sarif|junit|html] [--output FILE] [--fail-on SEVERITY] [--min-severity SEVERITY]',
  summary: 'check an OpenAPI document against OWASP API Top 10 rules (no traffic sent)',
  help: `Options:
${REPORT_HELP}
      --disable RULE          skip a rule (repeatable), e.g. audit/no-numeric-ids`,
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
      // The project's own errors are one readable line; anything else is a bug and keeps its stack.
      if (err instanceof PortcullisError) throw new CliError(err.message.split('\n')[0]);
      throw err;
    }
  },
});

registerCommand('scan', {
  usage:
    "portcullis scan --spec SPEC --target URL --identity ID ... [--admin ID] [--identities FILE] [-H 'NAME: VALUE' ...] [report flags]",
  summary: 'test a live API for the OWASP API Security Top 10 (2023) from its spec',
  help: `Options:
      --spec FILE             the OpenAPI document (3.0, 3.1 or Swagger 2.0); its servers are ignored
      --target URL            base URL the paths are appended to (a staging deployment you may attack)
      --identity ID           an ordinary identity; give two (A and B) for the authorization checks:
                                NAME:bearer:TOKEN
                                NAME:header:Name=Value
                                NAME:login:PATH:{"username":"u","password":"p"}   (JSON login)
                                NAME:form:PATH:username=u&password=p              (form login)
                                NAME:oauth2:TOKEN_PATH:USER:PASSWORD              (OAuth2 password grant)
                              NAME;param=value:... names the identity's own path values
      --admin ID              an administrator, same forms, to confirm privileged operations
      --identities FILE       identities as JSON or YAML ({identities: [...], admin: {...}}), for login
                              options the flags cannot say: tokenPointer (/data/auth/token), tokenHeader,
                              tokenCookie, header, scheme, encoding, grantType (see docs/scan.md); its
                              headers: {Name: value} are sent like --header
  -H, --header 'NAME: VALUE'  a header sent with every request of the scan, anonymous ones, logins and the
                              login checks included (repeatable): a setting of the deployment such as
                              'X-Api-Version: 2' or a tenant; an identity's own headers win for it, and a
                              --header wins over the same name in --identities FILE. One that looks like a
                              credential is sent too, with a warning, and shown as $CREDENTIAL in curl lines
      --allow-destructive     send PUT, PATCH and DELETE to objects the scan did not create
      --checks LIST           only these checks, e.g. API1,API2
      --concurrency N         requests in flight (default 4)
      --rate N                requests per second, kept all through the scan (default: from 20, rising
                              by steps to 50 while the target keeps up; a 429 slows it either way)
      --timeout SECONDS       the whole scan's time, logins included (default 55): the checks share it, one
                              that runs out keeps what it found and the report says what was left untested
      --timeout-ms N          timeout of one request (default 5000)
      --time-delay-ms N       delay the time-based injection probes ask for (default 1000, 100 to 10000)
      --insecure-tls          do not verify the target's certificate (API8 still reports it)
      --suggest-policy FILE   write gateway policies that address the findings (YAML)
  -q, --quiet                 no progress bar
${REPORT_HELP}

Scan only APIs you own or may test, with test accounts: the scan registers accounts and creates objects of
its own, fails logins on purpose (a given identity at most once) and sends harmless injection payloads.`,
  async run(args) {
    const { values } = parse(args, {
      ...reportFlags,
      spec: { type: 'string' },
      target: { type: 'string' },
      identity: { type: 'string', multiple: true },
      identities: { type: 'string' },
      header: { type: 'string', short: 'H', multiple: true },
      admin: { type: 'string' },
      'allow-destructive': { type: 'boolean' },
      concurrency: { type: 'string' },
      rate: { type: 'string' },
      timeout: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'time-delay-ms': { type: 'string' },
      checks: { type: 'string' },
      'insecure-tls': { type: 'boolean' },
      'suggest-policy': { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
    });
    if (!values.spec || !values.target) throw new CliError('scan needs --spec SPEC and --target URL');
    const fromFile = values.identities ? await readIdentities(values.identities as string) : undefined;
    const identities = [
      ...(fromFile?.identities ?? []),
      ...((values.identity as string[] | undefined) ?? []).map(parseIdentity),
    ];
    const admin = values.admin ? parseIdentity(values.admin as string) : fromFile?.admin;
    if (identities.length === 0)
      throw new CliError('scan needs at least one --identity (two for the authorization checks)');
    // The flags win over the same names in the file.
    const flags = parseHeaders((values.header as string[] | undefined) ?? []);
    const given = new Set(Object.keys(flags.headers).map((k) => k.toLowerCase()));
    const headers = {
      ...Object.fromEntries(
        Object.entries(fromFile?.headers ?? {}).filter(([k]) => !given.has(k.toLowerCase())),
      ),
      ...flags.headers,
    };
    const settings = reportSettings(values);
    const num = (flag: string) => {
      const v = values[flag as keyof typeof values];
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new CliError(`--${flag} must be a positive number`);
      return n;
    };
    const scanSeconds = num('timeout');
    // Checked before the scan starts: a mistyped value is a usage error, not a scan cut short.
    if (scanSeconds !== undefined && scanSeconds > 3600)
      throw new CliError('--timeout is in seconds, at most 3600');
    const showProgress = !values.quiet && process.stderr.isTTY;
    for (const w of [...(fromFile?.warnings ?? []), ...flags.warnings])
      process.stderr.write(`portcullis: WARNING: ${w}\n`);
    try {
      const { runScan, suggestPolicy } = await import('../../scanner/scan/index.ts');
      const { loadApiDocument } = await import('../../openapi/load.ts');
      const result = await runScan({
        spec: values.spec as string,
        target: values.target as string,
        identities,
        admin,
        ...(Object.keys(headers).length > 0 ? { headers } : {}),
        allowDestructive: values['allow-destructive'] === true,
        concurrency: num('concurrency'),
        ratePerSecond: num('rate'),
        ...(scanSeconds !== undefined ? { scanTimeoutMs: scanSeconds * 1000 } : {}),
        timeoutMs: num('timeout-ms'),
        timeDelayMs: num('time-delay-ms'),
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
      for (const w of result.warnings) process.stderr.write(`portcullis: WARNING: ${w}\n`);
      if (values['suggest-policy']) {
        const spec = await loadApiDocument(values.spec as string);
        await writeFile(values['suggest-policy'] as string, suggestPolicy(result.findings, spec));
        process.stderr.write(`portcullis: wrote suggested gateway policies to ${values['suggest-policy']}\n`);
      }
      return report(result, settings);
    } catch (err) {
      if (err instanceof PortcullisError) throw new CliError(err.message.split('\n')[0]);
      throw err;
    }
  },
});
