import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { stringify } from 'yaml';
import { httpRequest, op, openapi, tempFiles } from '../harness.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/portcullis.js');

/** `portcullis serve` as its own process, once it has printed its gateway and admin URLs. */
export interface ServeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
  readonly gatewayUrl: string;
  readonly adminUrl: string;
  /** Everything printed on stdout and stderr so far. */
  output(): string;
  /** The admin URL worker 0 printed last: a restarted worker 0 listens on a new port when it was 0. */
  latestAdminUrl(): string;
  /** The pid of worker `index` of `--workers N` now (read from /proc: Linux only). */
  workerPid(index: number): Promise<number>;
  /** SIGTERM, then SIGKILL after 10 s if it is still there; resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Writes the config of a one-API gateway (`shop`, GET /items) in front of `upstreamUrl`, with the admin
 * listener on (`token`) and the given `monitor` block; returns the config file's path.
 */
export async function writeShopConfig(
  upstreamUrl: string,
  opts: { token: string; monitor: Record<string, unknown> },
): Promise<string> {
  const dir = await tempFiles({ 'api.yaml': openapi({ '/items': { get: op('listItems') } }) });
  const configFile = path.join(dir, 'portcullis.yaml');
  await writeFile(
    configFile,
    stringify({
      version: 1,
      server: { listen: [{ host: '127.0.0.1', port: 0 }] },
      admin: { enabled: true, host: '127.0.0.1', port: 0, token: opts.token },
      logging: { level: 'warn', accessLog: false },
      monitor: opts.monitor,
      apis: [{ name: 'shop', spec: 'api.yaml', upstream: { url: upstreamUrl } }],
    }),
  );
  return configFile;
}

export async function startServeProcess(
  configFile: string,
  args: readonly string[] = [],
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [bin, 'serve', '--config', configFile, '--no-watch', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let output = '';
  child.stdout?.on('data', (c) => {
    output += c;
  });
  child.stderr?.on('data', (c) => {
    output += c;
  });
  const [gatewayUrl, adminUrl] = await new Promise<[string, string]>((resolve, reject) => {
    const timer = setInterval(() => {
      const gw = /gateway listening on (\S+)/.exec(output);
      const admin = /admin on (\S+)/.exec(output);
      if (gw && admin) {
        clearInterval(timer);
        resolve([gw[1], admin[1]]);
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`serve exited with ${code}: ${output}`));
    });
  });
  return {
    child,
    exited,
    gatewayUrl,
    adminUrl,
    output: () => output,
    latestAdminUrl: () => [...output.matchAll(/admin on (\S+)/g)].at(-1)![1],
    async workerPid(index) {
      const pid = child.pid!;
      const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/);
      for (const c of children) {
        const env = await readFile(`/proc/${c}/environ`, 'utf8').catch(() => '');
        if (env.split('\0').includes(`PORTCULLIS_WORKER=${index}`)) return Number(c);
      }
      throw new Error(`no worker ${index} among ${children.join(', ')}`);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Sends `n` GET /items over four lanes, each request on a new connection, so the cluster hands them to
 * its workers in turn; every answer must be 200.
 */
export async function sendSpread(gatewayUrl: string, n: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) {
      next++;
      assert.equal((await httpRequest(gatewayUrl, { path: '/items' })).status, 200);
    }
  };
  await Promise.all([lane(), lane(), lane(), lane()]);
}

/** Load that runs until stopped: four lanes of GET /items, each request on a new connection. */
export interface Load {
  /** Answers with status 200 so far. */
  ok(): number;
  /** Stops sending; resolves once the requests under way are answered, with the final counts. */
  stop(): Promise<{ ok: number; failed: number }>;
}

/**
 * Starts sending GET /items to `gatewayUrl` over four lanes. A request whose connection fails (a worker
 * killed under it) counts as failed: its event was never made.
 */
export function startLoad(gatewayUrl: string): Load {
  let ok = 0;
  let failed = 0;
  let running = true;
  // A connection handed to a worker as it is killed may never be answered: give up on it after 5 s.
  const once = () =>
    new Promise<boolean>((resolve) => {
      const req = http.get(`${gatewayUrl}/items`, { agent: false, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
        res.on('error', () => resolve(false));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  const lane = async () => {
    while (running) {
      if (await once()) ok++;
      else failed++;
    }
  };
  const lanes = Promise.all([lane(), lane(), lane(), lane()]);
  return {
    ok: () => ok,
    async stop() {
      running = false;
      await lanes;
      return { ok, failed };
    },
  };
}
