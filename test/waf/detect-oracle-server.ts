import { existsSync } from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AuditEntry, MODSECURITY_MODULE, startNginxModSecurity } from './nginx-modsecurity.ts';

export { MODSECURITY_MODULE } from './nginx-modsecurity.ts';

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

/** Starts the oracle; resolves once nginx answers. */
export async function startDetectOracle(): Promise<DetectOracle> {
  const why = detectOracleUnavailable();
  if (why !== undefined) throw new Error(why);
  const nginx = await startNginxModSecurity({
    prefix: 'portcullis-detect-oracle-',
    modSecurity: (_dir, auditFile) => [...RULES, `SecAuditLog ${auditFile}`, ''].join('\n'),
    maxBodyBytes: 20 * 1024 * 1024,
  });
  const { front } = nginx;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let batchNo = 0;
  const byBatch = new Map<string, AuditEntry>();
  const readAudit = () => {
    for (const entry of nginx.readAudit()) {
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
    let entry: AuditEntry | undefined;
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
      await nginx.stop();
    },
  };
  await nginx.ready(() => post('', 'ready'));
  return oracle;
}
