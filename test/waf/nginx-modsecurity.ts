/**
 * Debian's nginx with libmodsecurity as a child process on free loopback ports, for the tests and benches
 * that use ModSecurity as a reference: nginx on `front` runs the rules given and proxies to a `back` server
 * that answers 200, and the JSON audit log is read as it grows. Both oracles (the CRS one in oracle.ts and
 * the libinjection one in detect-oracle-server.ts) run on this.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const MODSECURITY_MODULE = '/usr/lib/nginx/modules/ngx_http_modsecurity_module.so';

/** One line of ModSecurity's JSON audit log (only what the oracles read). */
export interface AuditEntry {
  readonly transaction?: {
    readonly request?: { readonly headers?: Record<string, string> };
    readonly messages?: ReadonlyArray<{
      readonly message?: string;
      readonly details?: { readonly ruleId?: string; readonly data?: string };
    }>;
  };
}

export interface NginxModSecurity {
  readonly dir: string;
  /** The port nginx (with ModSecurity) listens on. */
  readonly front: number;
  /** The audit log file, where ModSecurity's config must write (`SecAuditLog`). */
  readonly auditFile: string;
  /** Reads the audit entries written since the last call. */
  readAudit(): AuditEntry[];
  /** Resolves once `probe` succeeds; fails with nginx's own words if it exits first. */
  ready(probe: () => Promise<unknown>): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

function nginxConfig(dir: string, front: number, back: number, maxBodyBytes: number): string {
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
  client_max_body_size ${maxBodyBytes};
  client_body_buffer_size ${maxBodyBytes};
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

/**
 * Starts nginx with the ModSecurity config `modSecurity(dir, auditFile)` returns (rules, engine settings,
 * the audit log). The caller waits with `ready` before sending.
 */
export async function startNginxModSecurity(opts: {
  readonly prefix: string;
  readonly modSecurity: (dir: string, auditFile: string) => string;
  readonly maxBodyBytes?: number;
}): Promise<NginxModSecurity> {
  const dir = mkdtempSync(join(tmpdir(), opts.prefix));
  const front = await freePort();
  const back = await freePort();
  const auditFile = join(dir, 'audit.log');
  writeFileSync(join(dir, 'modsec.conf'), opts.modSecurity(dir, auditFile));
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, front, back, opts.maxBodyBytes ?? 1024 * 1024));
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
  let offset = 0;
  let partial = '';
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGQUIT');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    dir,
    front,
    auditFile,
    readAudit() {
      if (!existsSync(auditFile)) return [];
      const buf = readFileSync(auditFile);
      if (buf.length <= offset) return [];
      const text = partial + buf.subarray(offset).toString('utf8');
      offset = buf.length;
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      const out: AuditEntry[] = [];
      for (const line of lines) {
        if (line.trim() === '') continue;
        try {
          out.push(JSON.parse(line) as AuditEntry);
        } catch {
          // A line ModSecurity cut short: nothing to compare.
        }
      }
      return out;
    },
    async ready(probe) {
      for (let i = 0; ; i++) {
        if (child.exitCode !== null) {
          const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
          rmSync(dir, { recursive: true, force: true });
          throw new Error(`nginx exited: ${stderr}${log.slice(-2000)}`);
        }
        try {
          await probe();
          return;
        } catch (e) {
          if (i > 200) {
            await stop();
            throw e;
          }
          await sleep(50);
        }
      }
    },
    stop,
  };
}
