/**
 * The oracle of the differential test (issue 17): Debian's nginx + libnginx-mod-http-modsecurity
 * (libmodsecurity 3) running the Core Rule Set that `modsecurity-crs` installs. nginx runs as a
 * non-daemon child on free loopback ports with a temp prefix and a config of ours; every request is
 * answered by a second server block of the same nginx (ModSecurity off there) so the request phases run as
 * they would in front of an API. The JSON audit log (parts A, B, H, Z) gives per request the ids of the
 * rules that logged a match; the status line gives the decision (403 = blocked).
 *
 * Requests are sent as raw bytes on their own connection, so the URI, the header order and spelling and
 * the body reach ModSecurity exactly as the corpus wrote them, and exactly as our engine is handed them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Where Debian puts what the oracle needs. */
export const DEBIAN_CRS_RULES = '/usr/share/modsecurity-crs/rules';
export const MODSECURITY_MODULE = '/usr/lib/nginx/modules/ngx_http_modsecurity_module.so';
const UNICODE_MAP = '/etc/nginx/unicode.mapping';
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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The whole ModSecurity configuration of the oracle: the engine on, JSON audit log, CRS with our settings. */
export function modSecurityConfig(dir: string, s: OracleSettings): string {
  const rules = s.rulesPath ?? DEBIAN_CRS_RULES;
  const setvars = [`setvar:tx.paranoia_level=${s.paranoiaLevel}`];
  if (s.detectionParanoiaLevel !== undefined)
    setvars.push(`setvar:tx.executing_paranoia_level=${s.detectionParanoiaLevel}`);
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
    // crs-setup.conf as Debian ships it, with our settings.
    'SecDefaultAction "phase:1,log,auditlog,pass"',
    'SecDefaultAction "phase:2,log,auditlog,pass"',
    'SecAction "id:900990,phase:1,nolog,pass,t:none,setvar:tx.crs_setup_version=334"',
    `SecAction "id:900000,phase:1,nolog,pass,t:none,${setvars.join(',')}"`,
    `Include ${rules}/*.conf`,
    '',
  ].join('\n');
}

function nginxConfig(dir: string, front: number, back: number): string {
  return `load_module ${MODSECURITY_MODULE};
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} error;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 1m;
  large_client_header_buffers 8 32k;
  underscores_in_headers on;
  ignore_invalid_headers off;
  merge_slashes off;
  upstream app { server 127.0.0.1:${back}; keepalive 8; }
  server {
    listen 127.0.0.1:${back};
    location / { return 200 "ok"; }
  }
  server {
    listen 127.0.0.1:${front};
    modsecurity on;
    modsecurity_rules_file ${join(dir, 'modsec.conf')};
    location / {
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://app;
    }
  }
}
`;
}

/** Why the oracle cannot run here, or undefined when it can. */
export function oracleUnavailable(rulesPath = DEBIAN_CRS_RULES): string | undefined {
  if (!existsSync(MODSECURITY_MODULE))
    return `${MODSECURITY_MODULE} is missing: apt-get install nginx libnginx-mod-http-modsecurity`;
  if (!existsSync(rulesPath)) return `${rulesPath} is missing: apt-get install modsecurity-crs`;
  return undefined;
}

interface AuditEntry {
  transaction?: {
    request?: { headers?: Record<string, string> };
    response?: { http_code?: number };
    messages?: Array<{ message?: string; details?: { ruleId?: string; data?: string } }>;
  };
}

/** Starts nginx + ModSecurity + CRS with `settings`; resolves once it answers. */
export async function startOracle(settings: OracleSettings): Promise<Oracle> {
  const why = oracleUnavailable(settings.rulesPath);
  if (why !== undefined) throw new Error(why);
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-oracle-'));
  const front = await freePort();
  const back = await freePort();
  writeFileSync(join(dir, 'modsec.conf'), modSecurityConfig(dir, settings));
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, front, back));
  const child: ChildProcess = spawn(
    'nginx',
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const auditFile = join(dir, 'audit.log');
  /** Audit entries read so far, by correlation id; the file is read from where the last read stopped. */
  const entries = new Map<string, AuditEntry>();
  let readOffset = 0;
  let partial = '';
  const readAudit = () => {
    if (!existsSync(auditFile)) return;
    const buf = readFileSync(auditFile);
    if (buf.length <= readOffset) return;
    const text = partial + buf.subarray(readOffset).toString('utf8');
    readOffset = buf.length;
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      let entry: AuditEntry;
      try {
        entry = JSON.parse(line) as AuditEntry;
      } catch {
        continue;
      }
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
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGQUIT');
        await Promise.race([exited, sleep(5000)]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };

  for (let i = 0; ; i++) {
    if (child.exitCode !== null) {
      const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`nginx exited: ${stderr}${log.slice(-2000)}`);
    }
    try {
      await rawSend({ method: 'GET', uri: '/ready', headers: [] }, `ready-${i}`);
      break;
    } catch (e) {
      if (i > 200) {
        await oracle.stop();
        throw e;
      }
      await sleep(50);
    }
  }
  return oracle;
}
