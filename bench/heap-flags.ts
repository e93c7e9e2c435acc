/**
 * The price of V8 heap settings for `serve` (issue 14 item 7): throughput and resident memory of the same
 * full-pipeline gateway started with different PORTCULLIS_NODE_FLAGS, side by side in one run.
 *
 * Each variant is a separate gateway process pinned to core 0 with its upstream (a Node server answering
 * 201 bytes of JSON); wrk runs on core 1 with 64 connections and a Lua script that gives every request a new
 * client address (X-Forwarded-For), so per-client state keeps growing as it would under a crowd. Runs
 * alternate A B … B A in pairs, and the table gives each variant's median req/s, the median of its per-pair
 * ratios to Node's defaults (a busy machine slows both sides of a pair alike), the CPU time it spent, its
 * resident size at the end and its peak.
 *
 * Run: `npx node bench/heap-flags.ts`. Environment: HEAP_VARIANTS (semicolon-separated flag sets; the first
 * is the reference, default: Node's defaults and the settings `serve` starts Node with), HEAP_PAIRS (pairs per
 * variant, default 8), HEAP_SECONDS (per run, default 3), HEAP_CLIENTS (`new`, the default: a new client
 * address on every request; a number K: the requests cycle over K addresses, each always asking for the same
 * item, a steady crowd whose state stops growing).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { jwtSetup } from './scenarios.ts';
import { GATEWAY_POLICIES, GATEWAY_SPEC } from './state-memory.ts';
import { freePort, median, pinned } from './support.ts';

const root = path.resolve(import.meta.dirname, '..');
const execFileAsync = promisify(execFile);
const VARIANTS = (process.env.HEAP_VARIANTS ?? ';--max-semi-space-size=16 --heap-growing-percent=30').split(
  ';',
);
const PAIRS = Number(process.env.HEAP_PAIRS ?? 8);
const SECONDS = Number(process.env.HEAP_SECONDS ?? 3);

function statusOf(pid: number): { rss: number; peak: number; cpuMs: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const cpuMs = ((Number(stat[11]) + Number(stat[12])) * 1000) / 100;
  return { rss: kb('VmRSS'), peak: kb('VmHWM'), cpuMs };
}

const CLIENTS = process.env.HEAP_CLIENTS ?? 'new';
if (CLIENTS !== 'new' && !(Number.isInteger(Number(CLIENTS)) && Number(CLIENTS) > 0))
  throw new Error(`HEAP_CLIENTS must be "new" or a positive integer, not ${JSON.stringify(CLIENTS)}`);

/**
 * Every request from a new client address (10.a.b.c counting up per wrk thread and connection), or, with
 * HEAP_CLIENTS=K, from one of K addresses, each asking for its own item every time.
 */
const LUA = `
local n = 0
local t = 0
local k = ${CLIENTS === 'new' ? 0 : Number(CLIENTS)}
setup = function(thread) t = t + 1; thread:set("tid", t) end
init = function() n = tid * 4000000 end
request = function()
  n = n + 1
  local c = n
  if k > 0 then c = n % k + 1 end
  -- wrk's Lua (LuaJIT, Lua 5.1) has no bit operators: the octets by division.
  local ip = "10." .. (math.floor(c / 65536) % 256) .. "." .. (math.floor(c / 256) % 256) .. "." .. (c % 256)
  return wrk.format("GET", "/items/" .. c, { ["X-Forwarded-For"] = ip })
end
`;

interface Gateway {
  flags: string;
  port: number;
  proc: ChildProcess;
}

async function startGateway(
  dir: string,
  flags: string,
  upstream: number,
  env: Record<string, string>,
): Promise<Gateway> {
  const port = await freePort();
  const configFile = path.join(dir, `portcullis-${port}.yaml`);
  await writeFile(
    configFile,
    stringify({
      version: 1,
      server: { listen: [{ host: '127.0.0.1', port }], trustedProxies: ['127.0.0.1/32'] },
      admin: { enabled: false },
      logging: { level: 'warn', accessLog: false },
      monitor: { enabled: true, events: { store: 'none' } },
      apis: [
        {
          name: 'bench',
          spec: path.join(dir, 'openapi.yaml'),
          upstream: { url: `http://127.0.0.1:${upstream}`, connections: 64 },
          policies: GATEWAY_POLICIES,
        },
      ],
    }),
  );
  const [cmd, args] = pinned('0', process.execPath, [
    path.join(root, 'bin/portcullis.js'),
    'serve',
    '--config',
    configFile,
    '--no-watch',
  ]);
  const proc = spawn(cmd, args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...env, PORTCULLIS_NODE_FLAGS: flags },
  });
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null)
      throw new Error(`gateway (${flags || 'defaults'}) exited with ${proc.exitCode}`);
    const ok = await fetch(`http://127.0.0.1:${port}/items/1`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) {
      // The request shape the load sends must pass the whole pipeline.
      const probe = await fetch(`http://127.0.0.1:${port}/items/4000001`, {
        headers: { 'x-forwarded-for': '10.61.9.1' },
      });
      if (probe.status !== 200) throw new Error(`probe answered ${probe.status}: ${await probe.text()}`);
      return { flags, port, proc };
    }
    if (i > 400) throw new Error('gateway did not start');
    await sleep(50);
  }
}

async function load(dir: string, port: number): Promise<number> {
  const script = path.join(dir, 'clients.lua');
  const [cmd, args] = pinned('1', 'wrk', [
    '-t1',
    '-c64',
    `-d${SECONDS}s`,
    '-s',
    script,
    `http://127.0.0.1:${port}`,
  ]);
  const { stdout } = await execFileAsync(cmd, args);
  // Every request must pass the whole pipeline: a refusal (a ban, a limit) would be a cheaper request.
  const refused = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1];
  if (refused !== undefined) {
    const sample = await fetch(`http://127.0.0.1:${port}/items/4000003`, {
      headers: { 'x-forwarded-for': '10.61.9.3' },
    });
    throw new Error(
      `${refused} requests were not answered 2xx (one now: ${sample.status} ${await sample.text()}): the load is not comparable`,
    );
  }
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN);
}

export async function runHeapFlagsBench(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-heap-flags-'));
  await writeFile(path.join(dir, 'clients.lua'), LUA);
  await writeFile(path.join(dir, 'openapi.yaml'), stringify(GATEWAY_SPEC));
  // The upstream shares core 0 with the gateways, as in bench/run.ts.
  const [ucmd, uargs] = pinned('0', process.execPath, [
    '-e',
    `const b = JSON.stringify({ id: 1, name: 'item' }).padEnd(201, ' ');
     require('node:http').createServer((q, s) => { q.resume(); s.writeHead(200, { 'content-type': 'application/json' }).end(b); })
       .listen(0, '127.0.0.1', function () { console.log(this.address().port); });`,
  ]);
  const upstreamProc = spawn(ucmd, uargs, { stdio: ['ignore', 'pipe', 'inherit'] });
  const upstream = await new Promise<number>((resolve) =>
    upstreamProc.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
  );
  const jwt = await jwtSetup();
  const gateways: Gateway[] = [];
  try {
    for (const flags of VARIANTS) gateways.push(await startGateway(dir, flags, upstream, jwt.env));
    // CPU is counted over each gateway's own measured runs only: an idle gateway's timers and collections
    // between its runs would otherwise be spread over its requests (the reference runs in every pair).
    const cpuMs = gateways.map(() => 0);
    const requests = gateways.map(() => 0);
    for (const g of gateways) await load(dir, g.port); // warm-up
    const rps: number[][] = gateways.map(() => []);
    const ratios: number[][] = gateways.map(() => []);
    for (let p = 0; p < PAIRS; p++) {
      for (let v = 1; v < gateways.length; v++) {
        // A B in even pairs, B A in odd ones.
        const order = p % 2 === 0 ? [0, v] : [v, 0];
        const got: Record<number, number> = {};
        for (const i of order) {
          const before = statusOf(gateways[i].proc.pid!).cpuMs;
          got[i] = await load(dir, gateways[i].port);
          cpuMs[i] += statusOf(gateways[i].proc.pid!).cpuMs - before;
          rps[i].push(got[i]);
          requests[i] += got[i] * SECONDS;
        }
        ratios[v].push(got[v] / got[0]);
      }
    }
    await sleep(2000);
    const rows = gateways.map((g, i) => {
      const s = statusOf(g.proc.pid!);
      const cpuPerReq = (cpuMs[i] * 1000) / requests[i];
      return `| ${g.flags || "Node's defaults"} | ${Math.round(median(rps[i]))} | ${
        i === 0 ? '1' : median(ratios[i]).toFixed(2)
      } | ${Math.round(cpuPerReq)} | ${Math.round(s.rss / 1e6)} MB | ${Math.round(s.peak / 1e6)} MB |`;
    });
    return [
      `Heap settings side by side: full pipeline, ${CLIENTS === 'new' ? 'every request from a new client address' : `requests from ${CLIENTS} client addresses in turn`}, ${PAIRS} pairs of ${SECONDS} s (wrk -c64).`,
      '',
      '| PORTCULLIS_NODE_FLAGS | req/s (median) | ÷ defaults (median of pairs) | CPU µs/request | RSS at end | peak |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
    ].join('\n');
  } finally {
    for (const g of gateways) {
      g.proc.kill('SIGTERM');
    }
    await sleep(1000);
    for (const g of gateways) if (g.proc.exitCode === null) g.proc.kill('SIGKILL');
    upstreamProc.kill('SIGKILL');
    await jwt.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) process.stdout.write(`${await runHeapFlagsBench()}\n`);
