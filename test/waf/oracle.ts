import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { detectVersion } from '../../src/waf/load.ts';
import { type AuditEntry, MODSECURITY_MODULE, startNginxModSecurity } from './nginx-modsecurity.ts';

/** Where Debian puts what the oracle needs. */
export const DEBIAN_CRS_RULES = '/usr/share/modsecurity-crs/rules';
/** The unicode mapping the oracle's SecUnicodeMapFile names (code page 20127); our engine is given it too. */
export const UNICODE_MAP = '/etc/nginx/unicode.mapping';
/** The header that ties a request to its audit-log entry (sent to the engine too, so both see it). */
export const CORRELATION_HEADER = 'x-corpus-id';
/** Host sent when a corpus request names none (a numeric one would fire 920350 on every request). */
export const DEFAULT_HOST = 'api.example.test';

/** What both the oracle and our engine are configured with (the crs-setup.conf choices). */
export interface OracleSettings {
  readonly paranoiaLevel: number;
  readonly detectionParanoiaLevel?: number;
  readonly inboundAnomalyThreshold?: number;
  /** Rules directory (default: Debian's). */
  readonly rulesPath?: string;
}

/** One request of the corpus, as raw parts. */
export interface RawRequest {
  readonly method: string;
  /** Request target exactly as sent. */
  readonly uri: string;
  /** Header fields in order; Host, Content-Length and the correlation header are added by the sender. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body?: Buffer;
}

/** What the oracle made of one request. */
export interface OracleResult {
  readonly status: number;
  readonly blocked: boolean;
  /** Ids of the rules that logged a match, in log order. */
  readonly ruleIds: readonly number[];
  /** The messages with their rule ids, for reports. */
  readonly messages: ReadonlyArray<{ id: number; message: string; data?: string }>;
  /** False when nginx answered on its own (a 400 or 405 before ModSecurity ran): nothing to compare. */
  readonly reachedModSecurity: boolean;
}

export interface Oracle {
  readonly port: number;
  /** The header fields the sender adds to a corpus request (the engine must be given the same). */
  wireHeaders(req: RawRequest, id: string): Array<[string, string]>;
  send(req: RawRequest, id: string): Promise<OracleResult>;
  /** Sends many at once (bounded concurrency), keyed by id. */
  sendAll(
    reqs: ReadonlyArray<readonly [string, RawRequest]>,
    concurrency?: number,
  ): Promise<Map<string, OracleResult>>;
  stop(): Promise<void>;
}

/** The CRS version the rule files of `rulesPath` declare (`3.3.4`, `4.28.0`), read from the files. */
export function ruleSetVersion(rulesPath: string): string | undefined {
  const files = statSync(rulesPath).isDirectory()
    ? readdirSync(rulesPath)
        .filter((f) => f.endsWith('.conf'))
        .map((f) => join(rulesPath, f))
    : [rulesPath];
  return detectVersion(files.map((f) => readFileSync(f, 'latin1')));
}

/**
 * The `setvar`s crs-setup.conf would make for `s`, by CRS generation: CRS 3 names the levels
 * `paranoia_level` / `executing_paranoia_level` and its setup version `334`; CRS 4 names them
 * `blocking_paranoia_level` / `detection_paranoia_level` and its setup version `4280` (4.28.0).
 */
export function setupVariables(version: string | undefined, s: OracleSettings): string[] {
  const [major, minor, patch] = (version ?? '3.3.4').split('.').map((x) => Number.parseInt(x, 10) || 0);
  const crs4 = major >= 4;
  const setvars = [
    `setvar:tx.crs_setup_version=${crs4 ? major * 1000 + minor * 10 + patch : major * 100 + minor * 10 + patch}`,
    `setvar:tx.${crs4 ? 'blocking_paranoia_level' : 'paranoia_level'}=${s.paranoiaLevel}`,
  ];
  if (s.detectionParanoiaLevel !== undefined)
    setvars.push(
      `setvar:tx.${crs4 ? 'detection_paranoia_level' : 'executing_paranoia_level'}=${s.detectionParanoiaLevel}`,
    );
  return setvars;
}

/** The whole ModSecurity configuration of the oracle: the engine on, JSON audit log, CRS with our settings. */
export function modSecurityConfig(dir: string, s: OracleSettings): string {
  const rules = s.rulesPath ?? DEBIAN_CRS_RULES;
  const setvars = setupVariables(ruleSetVersion(rules), s);
  if (s.inboundAnomalyThreshold !== undefined)
    setvars.push(`setvar:tx.inbound_anomaly_score_threshold=${s.inboundAnomalyThreshold}`);
  return [
    // The engine and its body processors, as Debian's modsecurity.conf sets them (its deny rules for
    // body-parsing errors, 2000xx, are left out: our engine runs the CRS alone, and so does the oracle).
    'SecRuleEngine On',
    'SecRequestBodyAccess On',
    'SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"',
    'SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"',
    'SecRequestBodyLimit 13107200',
    'SecRequestBodyNoFilesLimit 131072',
    'SecRequestBodyLimitAction Reject',
    'SecRequestBodyJsonDepthLimit 512',
    'SecArgumentsLimit 1000',
    'SecPcreMatchLimit 1000',
    'SecPcreMatchLimitRecursion 1000',
    'SecResponseBodyAccess Off',
    `SecTmpDir ${dir}`,
    `SecDataDir ${dir}`,
    'SecArgumentSeparator &',
    'SecCookieFormat 0',
    `SecUnicodeMapFile ${UNICODE_MAP} 20127`,
    'SecStatusEngine Off',
    // Every transaction in the audit log, one JSON object a line.
    'SecAuditEngine On',
    'SecAuditLogFormat JSON',
    'SecAuditLogType Serial',
    'SecAuditLogParts ABHZ',
    `SecAuditLog ${join(dir, 'audit.log')}`,
    // crs-setup.conf as the rule set's release ships it, with our settings.
    'SecDefaultAction "phase:1,log,auditlog,pass"',
    'SecDefaultAction "phase:2,log,auditlog,pass"',
    `SecAction "id:900990,phase:1,nolog,pass,t:none,${setvars.join(',')}"`,
    `Include ${rules}/*.conf`,
    '',
  ].join('\n');
}

/** Why the oracle cannot run here, or undefined when it can. */
export function oracleUnavailable(rulesPath = DEBIAN_CRS_RULES): string | undefined {
  if (!existsSync(MODSECURITY_MODULE))
    return `${MODSECURITY_MODULE} is missing: apt-get install nginx libnginx-mod-http-modsecurity`;
  if (!existsSync(rulesPath)) return `${rulesPath} is missing: apt-get install modsecurity-crs`;
  return undefined;
}

/** Starts nginx + ModSecurity + CRS with `settings`; resolves once it answers. */
export async function startOracle(settings: OracleSettings): Promise<Oracle> {
  const why = oracleUnavailable(settings.rulesPath);
  if (why !== undefined) throw new Error(why);
  const nginx = await startNginxModSecurity({
    prefix: 'portcullis-oracle-',
    modSecurity: (dir) => modSecurityConfig(dir, settings),
  });
  const { front } = nginx;
  /** Audit entries read so far, by correlation id. */
  const entries = new Map<string, AuditEntry>();
  const readAudit = () => {
    for (const entry of nginx.readAudit()) {
      const headers = entry.transaction?.request?.headers ?? {};
      for (const [name, value] of Object.entries(headers)) {
        if (name.toLowerCase() === CORRELATION_HEADER) entries.set(value, entry);
      }
    }
  };

  const wireHeaders = (req: RawRequest, id: string): Array<[string, string]> => {
    const out: Array<[string, string]> = req.headers.some(([n]) => n.toLowerCase() === 'host')
      ? []
      : [['Host', DEFAULT_HOST]];
    for (const [n, v] of req.headers) out.push([n, v]);
    if (req.body !== undefined && !req.headers.some(([n]) => n.toLowerCase() === 'content-length'))
      out.push(['Content-Length', String(req.body.length)]);
    out.push([CORRELATION_HEADER, id], ['Connection', 'close']);
    return out;
  };

  const rawSend = (req: RawRequest, id: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const head = `${req.method} ${req.uri} HTTP/1.1\r\n${wireHeaders(req, id)
        .map(([n, v]) => `${n}: ${v}\r\n`)
        .join('')}\r\n`;
      const socket = net.connect(front, '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.setTimeout(30_000, () => socket.destroy(new Error(`oracle: no answer for ${id}`)));
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.on('error', reject);
      socket.on('close', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
        if (m === null)
          reject(new Error(`oracle: no status line for ${id}: ${JSON.stringify(text.slice(0, 80))}`));
        else resolve(Number(m[1]));
      });
      socket.write(Buffer.concat([Buffer.from(head, 'latin1'), req.body ?? Buffer.alloc(0)]));
    });

  const resultFor = async (id: string, status: number): Promise<OracleResult> => {
    // nginx writes the audit entry in the logging phase, just after the response: wait for it.
    for (let i = 0; i < 400 && !entries.has(id); i++) {
      readAudit();
      if (!entries.has(id)) await sleep(5);
    }
    const entry = entries.get(id);
    entries.delete(id);
    if (entry === undefined) {
      // nginx answered before ModSecurity saw the request (a 400 of its own): no rules ran.
      return { status, blocked: false, ruleIds: [], messages: [], reachedModSecurity: false };
    }
    const messages = (entry.transaction?.messages ?? []).flatMap((m) => {
      const id = Number(m.details?.ruleId);
      return Number.isInteger(id) ? [{ id, message: m.message ?? '', data: m.details?.data }] : [];
    });
    return {
      status,
      blocked: status === 403,
      ruleIds: messages.map((m) => m.id),
      messages,
      reachedModSecurity: true,
    };
  };

  const oracle: Oracle = {
    port: front,
    wireHeaders,
    async send(req, id) {
      const status = await rawSend(req, id);
      return resultFor(id, status);
    },
    async sendAll(reqs, concurrency = 8) {
      const out = new Map<string, OracleResult>();
      let next = 0;
      const worker = async () => {
        while (next < reqs.length) {
          const [id, req] = reqs[next++];
          out.set(id, await oracle.send(req, id));
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      return out;
    },
    stop: () => nginx.stop(),
  };

  await nginx.ready(() => rawSend({ method: 'GET', uri: '/ready', headers: [] }, 'ready'));
  return oracle;
}
