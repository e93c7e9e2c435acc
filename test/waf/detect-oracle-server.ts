/**
 * The oracle for src/waf/detect (issue 17): Debian's nginx + libnginx-mod-http-modsecurity (libmodsecurity 3,
 * which carries libinjection) with a rule file of two rules only, `@detectSQLi` and `@detectXSS` on every
 * argument. Values are sent percent-encoded byte by byte in a form body, many per request, so ModSecurity
 * sees exactly the bytes of the corpus; the JSON audit log says, per argument, which operator matched and,
 * for SQLi, the fingerprint libinjection reported (captured into TX:0).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const MODSECURITY_MODULE = '/usr/lib/nginx/modules/ngx_http_modsecurity_module.so';

/** What libmodsecurity answered for one value. */
export interface DetectVerdict {
  readonly sqli: boolean;
  readonly fingerprint?: string;
  readonly xss: boolean;
}

export interface DetectOracle {
  /** Classifies byte strings (latin1 code units), in batches over keep-alive connections. */
  classify(values: readonly string[]): Promise<DetectVerdict[]>;
  stop(): Promise<void>;
}

/** Why the oracle cannot run on this machine, or undefined when it can. */
export function detectOracleUnavailable(): string | undefined {
  if (!existsSync(MODSECURITY_MODULE))
    return `${MODSECURITY_MODULE} is missing: apt-get install nginx libnginx-mod-http-modsecurity`;
  return undefined;
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

const RULES = [
  'SecRuleEngine On',
  'SecRequestBodyAccess On',
  'SecRequestBodyLimit 13107200',
  'SecRequestBodyNoFilesLimit 13107200',
  'SecArgumentsLimit 5000',
  'SecAuditEngine RelevantOnly',
  'SecAuditLogRelevantStatus "^$"',
  'SecAuditLogFormat JSON',
  'SecAuditLogType Serial',
  'SecAuditLogParts ABHZ',
  // One message per matching argument: the name says which value, TX:0 the fingerprint.
  `SecRule ARGS "@detectSQLi" "id:1,phase:2,pass,log,auditlog,capture,t:none,multiMatch,msg:'sqli',logdata:'%{MATCHED_VAR_NAME}=%{TX.0}'"`,
  `SecRule ARGS "@detectXSS" "id:2,phase:2,pass,log,auditlog,t:none,multiMatch,msg:'xss',logdata:'%{MATCHED_VAR_NAME}'"`,
];

interface AuditLine {
  transaction?: {
    request?: { headers?: Record<string, string> };
    messages?: Array<{ details?: { ruleId?: string; data?: string } }>;
  };
}

/** Starts the oracle; resolves once nginx answers. */
export async function startDetectOracle(): Promise<DetectOracle> {
  const why = detectOracleUnavailable();
  if (why !== undefined) throw new Error(why);
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-detect-oracle-'));
  const front = await freePort();
  const back = await freePort();
  const audit = join(dir, 'audit.log');
  writeFileSync(join(dir, 'modsec.conf'), [...RULES, `SecAuditLog ${audit}`, ''].join('\n'));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `load_module ${MODSECURITY_MODULE};
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} error;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 20m;
  client_body_buffer_size 20m;
  server { listen 127.0.0.1:${back}; location / { return 200 "ok"; } }
  server {
    listen 127.0.0.1:${front};
    modsecurity on;
    modsecurity_rules_file ${join(dir, 'modsec.conf')};
    location / { proxy_pass http://127.0.0.1:${back}; }
  }
}
`,
  );
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
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let batchNo = 0;
  let auditOffset = 0;
  let partial = '';
  const byBatch = new Map<string, AuditLine>();
  const readAudit = () => {
    if (!existsSync(audit)) return;
    const buf = readFileSync(audit);
    if (buf.length <= auditOffset) return;
    const text = partial + buf.subarray(auditOffset).toString('utf8');
    auditOffset = buf.length;
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      const entry = JSON.parse(line) as AuditLine;
      for (const [n, v] of Object.entries(entry.transaction?.request?.headers ?? {}))
        if (n.toLowerCase() === 'x-batch') byBatch.set(v, entry);
    }
  };
  const post = (body: string, batch: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: front,
          method: 'POST',
          path: '/',
          agent,
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(body),
            'x-batch': batch,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const encode = (v: string): string => {
    let out = '';
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i) & 0xff;
      out += `%${c < 16 ? '0' : ''}${c.toString(16)}`;
    }
    return out;
  };
  const runBatch = async (values: readonly string[]): Promise<DetectVerdict[]> => {
    const batch = `b${batchNo++}`;
    const body = values.map((v, i) => `v${i}=${encode(v)}`).join('&');
    await post(body, batch);
    // A batch where nothing matched writes no audit entry (RelevantOnly): wait a little, then assume none.
    let entry: AuditLine | undefined;
    for (let i = 0; i < 40; i++) {
      readAudit();
      entry = byBatch.get(batch);
      if (entry !== undefined) break;
      await sleep(i < 5 ? 2 : 10);
    }
    byBatch.delete(batch);
    const out: Array<{ sqli: boolean; fingerprint?: string; xss: boolean }> = values.map(() => ({
      sqli: false,
      xss: false,
    }));
    for (const m of entry?.transaction?.messages ?? []) {
      const data = m.details?.data ?? '';
      const hit = /^ARGS:v(\d+)(?:=(.*))?$/s.exec(data);
      if (hit === null) continue;
      const slot = out[Number(hit[1])];
      if (m.details?.ruleId === '1') {
        slot.sqli = true;
        slot.fingerprint = hit[2];
      } else if (m.details?.ruleId === '2') slot.xss = true;
    }
    return out;
  };
  const oracle: DetectOracle = {
    async classify(values) {
      const out: DetectVerdict[] = [];
      // One value per request would be slow; many per request keep the audit entries few. Requests run
      // one at a time so the audit log order is simple.
      for (let i = 0; i < values.length; i += 200) out.push(...(await runBatch(values.slice(i, i + 200))));
      return out;
    },
    async stop() {
      agent.destroy();
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
      await post('', 'ready');
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
