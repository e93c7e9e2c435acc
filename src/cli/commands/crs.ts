/**
 * `portcullis crs test`: replays one request through the Core Rule Set as the injection policy runs it, and
 * prints which rules fire, the anomaly score and the decision (issue 17).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { CrsSettings, WafRequest, WafVerdict } from '../../waf/types.ts';
import { registerCommand } from '../command-table.ts';
import { CliError } from '../errors.ts';

/** Where Debian's modsecurity-crs package puts the rules (the default of --rules when present). */
const DEBIAN_RULES = '/usr/share/modsecurity-crs/rules';

const USAGE =
  'portcullis crs test [--rules DIR] [--paranoia N] [--detection-paranoia N] [--threshold N] ' +
  '[--allowed-methods "GET POST ..."] [-X METHOD] [-H "Name: value"]... [-d BODY | --data-file FILE] ' +
  '[--request FILE] [--json] [URL]';

/** Reads a raw HTTP/1.1 request (request line, header fields, blank line, body) from a file. */
export function parseRawRequest(bytes: Buffer): Omit<WafRequest, 'remoteAddr'> {
  let end = bytes.indexOf('\r\n\r\n');
  let sep = 4;
  if (end < 0) {
    end = bytes.indexOf('\n\n');
    sep = 2;
  }
  const head = (end < 0 ? bytes : bytes.subarray(0, end)).toString('latin1');
  const body = end < 0 ? undefined : bytes.subarray(end + sep);
  const lines = head.split(/\r?\n/);
  const m = /^([A-Za-z]+) (\S+)(?: (HTTP\/\d(?:\.\d)?))?$/.exec(lines[0] ?? '');
  if (m === null)
    throw new CliError(`the request file does not start with a request line: ${JSON.stringify(lines[0])}`);
  const headers: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new CliError(`not a header field: ${JSON.stringify(line)}`);
    headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  return {
    method: m[1].toUpperCase(),
    uri: m[2],
    protocol: m[3] ?? 'HTTP/1.1',
    headers,
    ...(body === undefined || body.length === 0 ? {} : { body }),
  };
}

/** Builds the request from curl-like flags: a URL (or a path), a method, header fields and a body. */
export function requestFromFlags(
  url: string,
  method: string | undefined,
  headerFlags: readonly string[],
  body: Buffer | undefined,
): Omit<WafRequest, 'remoteAddr'> {
  let uri = url;
  let host: string | undefined;
  const abs = /^https?:\/\/([^/?#]+)([^#]*)/i.exec(url);
  if (abs !== null) {
    host = abs[1];
    uri = abs[2] === '' ? '/' : abs[2];
  }
  if (!uri.startsWith('/')) throw new CliError(`the URL must be absolute or start with "/": ${url}`);
  const headers: Array<[string, string]> = [];
  for (const h of headerFlags) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new CliError(`-H takes "Name: value", got ${JSON.stringify(h)}`);
    headers.push([h.slice(0, colon).trim(), h.slice(colon + 1).trim()]);
  }
  const has = (n: string) => headers.some(([k]) => k.toLowerCase() === n);
  // What a client would send anyway: Host, and a Content-Length with a body.
  if (!has('host')) headers.unshift(['Host', host ?? 'localhost']);
  if (body !== undefined && !has('content-length')) headers.push(['Content-Length', String(body.length)]);
  return {
    method: (method ?? (body === undefined ? 'GET' : 'POST')).toUpperCase(),
    uri,
    protocol: 'HTTP/1.1',
    headers,
    ...(body === undefined ? {} : { body }),
  };
}

function parseFlags(args: string[]) {
  return parseArgs({
    args,
    options: {
      rules: { type: 'string' },
      paranoia: { type: 'string' },
      'detection-paranoia': { type: 'string' },
      threshold: { type: 'string' },
      'allowed-methods': { type: 'string' },
      method: { type: 'string', short: 'X' },
      header: { type: 'string', short: 'H', multiple: true },
      data: { type: 'string', short: 'd' },
      'data-file': { type: 'string' },
      request: { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
}

function intFlag(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new CliError(`--${name} must be an integer from ${min} to ${max}`);
  return n;
}

/** The verdict as lines for a terminal. */
export function formatVerdict(v: WafVerdict, threshold: number): string {
  const lines: string[] = [];
  if (v.matches.length === 0) lines.push('no rule matched');
  for (const m of v.matches) {
    const where = m.variable === undefined ? '' : `  ${m.variable}`;
    const data =
      m.data === undefined || m.data === '' ? '' : `\n          ${JSON.stringify(m.data.slice(0, 200))}`;
    lines.push(`  ${m.id}  ${(m.severity ?? '').padEnd(8)}${where}  ${m.msg ?? ''}${data}`);
  }
  lines.push(
    `anomaly score ${v.anomalyScore} (threshold ${threshold}): ${v.blocked ? 'BLOCKED' : 'allowed'}`,
  );
  return lines.join('\n');
}

registerCommand('crs test', {
  usage: USAGE,
  summary: 'replay a request through the OWASP Core Rule Set: which rules fire, the score, the decision',
  help: `Options:
  --rules DIR                  the CRS rules/ folder (default Debian's ${DEBIAN_RULES} when installed)
  --paranoia N                 blocking paranoia level, 1 to 4 (default 1)
  --detection-paranoia N       also run (and print, without scoring) rules up to this level
  --threshold N                inbound anomaly score that blocks (default 5)
  --allowed-methods "GET ..."  methods the rule set allows (the injection policy's crs.allowedMethods)
  -X, --method METHOD          request method (default GET, or POST with a body)
  -H, --header "Name: value"   a request header field; repeat for several
  -d, --data BODY              request body
  --data-file FILE             request body read from a file
  --request FILE               the whole raw HTTP/1.1 request from a file, instead of URL, -d and -H
  --json                       print the verdict as JSON

URL is absolute (http://host/path?query) or a path (/path?query). Exit codes: 0 the request passes,
1 the rule set blocks it, 2 usage error.`,
  async run(args) {
    let parsed: ReturnType<typeof parseFlags>;
    try {
      parsed = parseFlags(args);
    } catch (err) {
      throw new CliError(`${(err as Error).message.split('\n')[0]}\nusage: ${USAGE}`);
    }
    const { values, positionals } = parsed;
    const rules = values.rules ?? (existsSync(DEBIAN_RULES) ? DEBIAN_RULES : undefined);
    if (rules === undefined)
      throw new CliError(
        `no rule set: give --rules DIR (the CRS rules/ folder), or install Debian's modsecurity-crs`,
      );
    const paranoiaLevel = intFlag('paranoia', values.paranoia, 1, 4) ?? 1;
    const detection = intFlag('detection-paranoia', values['detection-paranoia'], paranoiaLevel, 4);
    const threshold = intFlag('threshold', values.threshold, 1, 10_000) ?? 5;
    let req: Omit<WafRequest, 'remoteAddr'>;
    if (values.request !== undefined) {
      if (positionals.length > 0 || values.data !== undefined || values['data-file'] !== undefined)
        throw new CliError('--request takes the whole request: give no URL, -d or --data-file with it');
      req = parseRawRequest(readFile(values.request));
    } else {
      if (positionals.length !== 1) throw new CliError(`give one URL (or --request FILE)\nusage: ${USAGE}`);
      if (values.data !== undefined && values['data-file'] !== undefined)
        throw new CliError('give -d or --data-file, not both');
      const body =
        values.data !== undefined
          ? Buffer.from(values.data)
          : values['data-file'] !== undefined
            ? readFile(values['data-file'])
            : undefined;
      req = requestFromFlags(positionals[0], values.method, values.header ?? [], body);
    }
    const settings: CrsSettings = {
      paranoiaLevel,
      detectionParanoiaLevel: detection ?? paranoiaLevel,
      inboundAnomalyThreshold: threshold,
      ...(values['allowed-methods'] === undefined
        ? {}
        : { allowedMethods: values['allowed-methods'].split(/[\s,]+/).filter((m) => m !== '') }),
    };
    let loaded: Awaited<ReturnType<typeof import('../../waf/index.ts').loadCoreRuleSet>>;
    try {
      const { loadCoreRuleSet } = await import('../../waf/index.ts');
      loaded = await loadCoreRuleSet(rules, settings);
    } catch (err) {
      throw new CliError(`cannot load the rule set in ${rules}: ${(err as Error).message}`);
    }
    const verdict = loaded.ruleSet.evaluate({ ...req, remoteAddr: '127.0.0.1' });
    if (values.json === true) {
      process.stdout.write(
        `${JSON.stringify({ ruleSet: { path: rules, version: loaded.ruleSet.version, rules: loaded.ruleSet.ruleCount }, settings, ...verdict })}\n`,
      );
    } else {
      process.stdout.write(
        `rule set: OWASP CRS ${loaded.ruleSet.version ?? '(version unknown)'} in ${rules} (${loaded.ruleSet.ruleCount} rules), paranoia ${paranoiaLevel}${detection !== undefined && detection !== paranoiaLevel ? ` (detection ${detection})` : ''}\n`,
      );
      process.stdout.write(`${req.method} ${req.uri}\n${formatVerdict(verdict, threshold)}\n`);
      if (loaded.issues.length > 0)
        process.stderr.write(
          `(${loaded.issues.length} directives of the rule set were not loaded; see the serve log)\n`,
        );
    }
    // Scripts can test a request: 0 = it passes, 1 = the rule set blocks it (2 = a usage error).
    return verdict.blocked ? 1 : 0;
  },
});

function readFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}
