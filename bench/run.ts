/**
 * `npm run bench`: Portcullis side by side with nginx and haproxy proxying the same upstream, driven by wrk.
 *
 * Setup (as in ../shared/PERFORMANCE.md): the upstream (nginx `return 200` with a 201-byte JSON body) and
 * each proxy share core 0; wrk runs on core 1 with 64 connections. Contenders run one after another in
 * interleaved rounds, and the table reports the median of the rounds and the ratio to nginx. Missing
 * peers are installed with apt-get when possible, otherwise left out with a note.
 *
 * Environment: BENCH_SECONDS (per run, default 8), BENCH_ROUNDS (default 2), BENCH_ONLY (semicolon-separated
 * scenario names), BENCH_NODE_ARGS (extra Node flags for the Portcullis process, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a scenario), BENCH_DUEL_PAIRS (pairs of runs per bar
 * duel, default 10; 0 skips the duels), BENCH_DUEL_SECONDS (per duel run, default 2), BENCH_NICE (a
 * niceness for every measured process, the load generators included, e.g. -10 to put them ahead of the
 * machine's other work; default 0) and the tail section's BENCH_TAIL_ROUNDS, BENCH_TAIL_SECONDS and
 * BENCH_TAIL_LOAD (bench/tail.ts), and the allocation section's BENCH_GC_ROUNDS and BENCH_GC_SECONDS
 * (bench/gc.ts). BENCH_ROUNDS=0 BENCH_DUEL_PAIRS=0 leaves only those two tables.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { type GcRow, runGc } from './gc.ts';
import type { GcWindow } from './gc-probe.ts';
import { runLimitBench } from './limits.ts';
import { MODSEC_MODULE, MODSEC_PACKAGES, writeModSecurityRules } from './modsecurity.ts';
import { BENCH_SPEC, JSON_POST, type Scenario } from './scenario.ts';
import { CRS_ALONE, CRS_FULL_PIPELINE, CRS_RULES, extraScenarios } from './scenarios.ts';
import { runStateMemoryBench } from './state-memory.ts';
import { freePort, median, pinned as pinnedAt } from './support.ts';
import { runTail, type TailRow } from './tail.ts';

/** Runs a command on `cores` at the bench's niceness. */
const pinned = (cores: string, cmd: string, args: string[]) => pinnedAt(cores, cmd, args, NICE);

const root = path.resolve(import.meta.dirname, '..');
const execFileAsync = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const ONLY = process.env.BENCH_ONLY?.split(';');
const DUEL_PAIRS = Number(process.env.BENCH_DUEL_PAIRS ?? 10);
const DUEL_SECONDS = Number(process.env.BENCH_DUEL_SECONDS ?? 2);
const NICE = Number(process.env.BENCH_NICE ?? 0);
/** Warm-up runs per contender before a duel's pairs. */
const DUEL_WARMUPS = 3;
const BODY_201 = JSON.stringify({
  id: 12345,
  name: 'portcullis benchmark item',
  tags: ['a', 'b', 'c'],
  price: 19.99,
  stock: 42,
  description: 'A small JSON document used as the upstream response body.',
}).padEnd(201, ' ');

const NODE_FLOOR = 'node minimal proxy (undici Pool.stream, no gateway work)';
const NODE_FLOOR_POST = 'node minimal proxy, JSON POST';
const FULL_PIPELINE = 'full pipeline (JWT, limits, validation, injection P1, response filter), JSON POST';

/** The ratios the issues set bars on (and one reference): [label, numerator scenario, denominator scenario]. */
const BAR_PAIRS: ReadonlyArray<readonly [string, string, string]> = [
  // Issue 18: pass-through ≥ 0.8× the Node floor, the full pipeline ≥ 0.5× (same requests on both sides).
  ['pass-through ÷ node floor', 'portcullis pass-through', NODE_FLOOR],
  ['full pipeline ÷ node floor, JSON POST', FULL_PIPELINE, NODE_FLOOR_POST],
  ['pass-through ÷ nginx', 'portcullis pass-through', 'nginx'],
  ['rate limit, memory ÷ pass-through', 'rate limit (memory)', 'portcullis pass-through'],
  ['rate limit, Redis ÷ pass-through', 'rate limit (redis)', 'portcullis pass-through'],
  // Issue 18: the Redis limiter ≥ 0.8× the memory one (same requests, same limit).
  ['rate limit, Redis ÷ memory', 'rate limit (redis)', 'rate limit (memory)'],
  [
    'JWT cached ÷ same requests unverified',
    'JWT RS256 via JWKS + scope, cached',
    'pass-through, same requests with the bearer header',
  ],
  [
    'JWT uncached ÷ same requests unverified',
    'JWT RS256 via JWKS + scope, uncached',
    'pass-through, same requests with the bearer header',
  ],
  [
    // The same 1 KB JSON POST on both sides.
    'full pipeline ÷ nginx, JSON POST',
    FULL_PIPELINE,
    'nginx, JSON POST',
  ],
  [
    // Not a bar: the ceiling of any Node proxy here, for the bar above.
    'node minimal proxy ÷ nginx, JSON POST (the Node floor)',
    NODE_FLOOR_POST,
    'nginx, JSON POST',
  ],
  ['full pipeline ÷ nginx + ModSecurity CRS PL1', FULL_PIPELINE, 'nginx + ModSecurity CRS PL1, JSON POST'],
  [
    // Issue 17: the CRS at Node speed, ≥ 10× nginx + ModSecurity running the same rules (Debian's CRS 3.3).
    'full pipeline with CRS PL1 ÷ nginx + ModSecurity CRS PL1',
    CRS_FULL_PIPELINE,
    'nginx + ModSecurity CRS PL1, JSON POST',
  ],
  [
    // Not a bar: the same rules on the same request on both sides (the gateway doing nothing but the CRS).
    'CRS PL1 alone ÷ nginx + ModSecurity CRS PL1',
    CRS_ALONE,
    'nginx + ModSecurity CRS PL1, JSON POST',
  ],
  [
    // Issue 17: the CRS mode costs at most 1/0.6 of today's guard in the full pipeline (≥ 0.6×).
    'full pipeline with CRS PL1 ÷ full pipeline with the built-in guard',
    CRS_FULL_PIPELINE,
    FULL_PIPELINE,
  ],
  [
    'full pipeline, events to SQLite ÷ events off',
    'full pipeline, JSON POST, events to SQLite',
    FULL_PIPELINE,
  ],
  [
    // The narrower reading of that bar: the watch loop runs on both sides, only storing differs.
    'full pipeline, events to SQLite ÷ events not stored (watch loop on in both)',
    'full pipeline, JSON POST, events to SQLite',
    'full pipeline, JSON POST, watch loop on, events not stored',
  ],
  [
    // Not a bar: the other factor of it, the watch loop (detectors, discovery) without storing.
    'full pipeline, watch loop on, events not stored ÷ events off',
    'full pipeline, JSON POST, watch loop on, events not stored',
    FULL_PIPELINE,
  ],
];

/** The tail table's rows (issue 18: Portcullis p99 ≤ 2× the floor's at half load). */
const TAIL_ROWS: readonly TailRow[] = [
  ['nginx', 'nginx', 'node floor'],
  ['node floor', NODE_FLOOR, 'node floor'],
  ['portcullis pass-through', 'portcullis pass-through', 'node floor'],
  ['nginx, JSON POST', 'nginx, JSON POST', 'node floor, JSON POST'],
  ['node floor, JSON POST', NODE_FLOOR_POST, 'node floor, JSON POST'],
  ['full pipeline, JSON POST', FULL_PIPELINE, 'node floor, JSON POST'],
];

/** The allocation table's rows: [label, scenario]. */
const GC_ROWS: readonly GcRow[] = [
  ['node floor', NODE_FLOOR],
  ['portcullis pass-through', 'portcullis pass-through'],
  ['portcullis pass-through, access log off', 'portcullis pass-through, access log off'],
  ['node floor, JSON POST', NODE_FLOOR_POST],
  ['full pipeline, JSON POST', FULL_PIPELINE],
];

interface Duel {
  label: string;
  ratios: number[];
  median: number;
  /**
   * Median of B's CPU time per request ÷ A's, per pair (Portcullis contenders without workers only): the
   * same comparison as `median` read from the processes' own CPU clocks, which a noisy neighbour moves
   * far less than it moves throughput.
   */
  cpuMedian?: number;
  /** Median CPU time per request of A and of B, in µs (same condition as `cpuMedian`). */
  cpuUsA?: number;
  cpuUsB?: number;
  /** Length of each run. */
  seconds: number;
}

/**
 * The bars, measured as duels: both contenders of a pair run at once (idle in turn), and short wrk runs
 * alternate between them, A B B A ..., so a slow spell of this shared machine, which lasts seconds, weighs
 * on both sides of a ratio. Each adjacent pair of runs gives one ratio; the median is the figure to quote.
 */
async function runDuels(scenarios: readonly Scenario[], dir: string, upstreamPort: number): Promise<Duel[]> {
  const byName = new Map(scenarios.map((sc) => [sc.name, sc]));
  const out: Duel[] = [];
  for (const [label, an, bn] of BAR_PAIRS) {
    const a = byName.get(an);
    const b = byName.get(bn);
    if (!a || !b || DUEL_PAIRS === 0) continue;
    const ca = await launch(a, dir, upstreamPort);
    const cb = await launch(b, dir, upstreamPort).catch(async (err) => {
      await ca.stop();
      throw err;
    });
    try {
      // Warm-up, alternating: a new Node process is still compiling its hot paths for several seconds
      // (its compiler threads took 3-4 times their later CPU per request in the first runs), and one
      // short run each left the first pairs to whichever side had settled first.
      let warmA = await wrk(ca.port, a, ca.headers, dir, DUEL_SECONDS);
      let warmB = await wrk(cb.port, b, cb.headers, dir, DUEL_SECONDS);
      for (let i = 1; i < DUEL_WARMUPS; i++) {
        warmA = await wrk(ca.port, a, ca.headers, dir, DUEL_SECONDS);
        warmB = await wrk(cb.port, b, cb.headers, dir, DUEL_SECONDS);
      }
      // A run counts the requests completed within it, so the requests still in flight at its end are
      // lost: each connection must complete many in one run (40 at the slower side's median latency),
      // or the slower contender is under-counted (nginx + ModSecurity answers in about 250 ms).
      const slowest = Math.max(warmA.p50, warmB.p50) / 1000;
      const seconds = Math.min(15, Math.max(DUEL_SECONDS, Math.ceil(40 * slowest)));
      /** A run, with the contender's CPU time per completed request when its clock can be read. */
      const run = async (sc: Scenario, c: Contender) => {
        const cpu0 = c.cpuMs();
        const r = await wrk(c.port, sc, c.headers, dir, seconds);
        const cpu1 = c.cpuMs();
        const cpuPerRequest =
          cpu0 !== undefined && cpu1 !== undefined && r.requests > 0 ? (cpu1 - cpu0) / r.requests : undefined;
        return { ...r, cpuPerRequest };
      };
      const ratios: number[] = [];
      const cpuRatios: number[] = [];
      const cpuA: number[] = [];
      const cpuB: number[] = [];
      for (let i = 0; i < DUEL_PAIRS; i++) {
        let ra: Awaited<ReturnType<typeof run>>;
        let rb: Awaited<ReturnType<typeof run>>;
        if (i % 2 === 0) {
          ra = await run(a, ca);
          rb = await run(b, cb);
        } else {
          rb = await run(b, cb);
          ra = await run(a, ca);
        }
        ratios.push(ra.rps / rb.rps);
        if (ra.cpuPerRequest && rb.cpuPerRequest) {
          cpuRatios.push(rb.cpuPerRequest / ra.cpuPerRequest);
          cpuA.push(ra.cpuPerRequest * 1000);
          cpuB.push(rb.cpuPerRequest * 1000);
        }
      }
      const duel: Duel = { label, ratios, median: median(ratios), seconds };
      if (cpuRatios.length === ratios.length) {
        duel.cpuMedian = median(cpuRatios);
        duel.cpuUsA = median(cpuA);
        duel.cpuUsB = median(cpuB);
      }
      out.push(duel);
      process.stderr.write(
        `bench: duel ${label}: median ${duel.median.toFixed(2)}${duel.cpuMedian ? `, CPU per request ${duel.cpuMedian.toFixed(2)} (A ${duel.cpuUsA!.toFixed(0)} µs, B ${duel.cpuUsB!.toFixed(0)} µs)` : ''}\n`,
      );
    } finally {
      await ca.stop();
      await cb.stop();
    }
  }
  return out;
}

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function ensure(pkgs: Record<string, string>): string[] {
  const missing = Object.entries(pkgs).filter(([cmd]) => !have(cmd));
  if (missing.length === 0) return [];
  try {
    process.stderr.write(`bench: installing ${missing.map(([, p]) => p).join(' ')} with apt-get...\n`);
    execFileSync(
      'sh',
      [
        '-c',
        `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing.map(([, p]) => p).join(' ')}`,
      ],
      { stdio: 'ignore' },
    );
  } catch {
    // Reported below.
  }
  return missing.filter(([cmd]) => !have(cmd)).map(([cmd]) => cmd);
}

async function waitForPort(port: number, child?: ChildProcess): Promise<void> {
  // Up to 60 s: on a loaded machine (load average above 20) a gateway loading the CRS took more than 10 s.
  for (let i = 0; i < 1200; i++) {
    if (child && child.exitCode !== null) throw new Error(`process exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${port}`);
}

function start(cmd: string, args: string[], cores: string, env: Record<string, string> = {}): ChildProcess {
  const [prefix, all] = pinned(cores, cmd, args);
  return spawn(prefix, all, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...env },
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function nginxConf(dir: string, name: string, body: string, preamble = ''): Promise<string> {
  const file = path.join(dir, `${name}.conf`);
  await writeFile(
    file,
    `${preamble}worker_processes 1;\ndaemon off;\npid ${dir}/${name}.pid;\nerror_log /dev/null crit;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  client_body_temp_path ${dir}/${name}-body;\n  proxy_temp_path ${dir}/${name}-proxy;\n  fastcgi_temp_path ${dir}/${name}-fcgi;\n  uwsgi_temp_path ${dir}/${name}-uwsgi;\n  scgi_temp_path ${dir}/${name}-scgi;\n  keepalive_requests 1000000;\n${body}\n}\n`,
  );
  return file;
}

interface WrkResult {
  rps: number;
  /** Requests completed in the run. */
  requests: number;
  p50: number;
  p99: number;
}

function parseLatency(s: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(s);
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

async function wrk(
  port: number,
  sc: Scenario,
  headers: Record<string, string>,
  dir: string,
  seconds = SECONDS,
): Promise<WrkResult> {
  const script = path.join(dir, `wrk-${sc.name.replace(/\W+/g, '-')}.lua`);
  const allHeaders = { ...sc.headers, ...headers };
  await writeFile(
    script,
    [
      `wrk.method = "${sc.method ?? 'GET'}"`,
      sc.body ? `wrk.body = ${JSON.stringify(sc.body)}` : '',
      ...Object.entries(allHeaders).map(
        ([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`,
      ),
    ].join('\n'),
  );
  // Asynchronous on purpose: a scenario's helpers (a JWKS server) live in this process and must answer.
  const { stdout: out } = await execFileAsync(
    ...pinned('1', 'wrk', [
      '-t1',
      '-c64',
      `-d${seconds}s`,
      '--latency',
      '-s',
      script,
      `http://127.0.0.1:${port}${sc.path ?? '/bench'}`,
    ]),
    { encoding: 'utf8' },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const p50 = parseLatency(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = parseLatency(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors:.*/.exec(out)?.[0];
  if (non2xx > 0 || errors) {
    // Show what the failures were, so a broken scenario is never reported as a fast one.
    const probe = await fetch(`http://127.0.0.1:${port}${sc.path ?? '/bench'}`, {
      method: sc.method ?? 'GET',
      headers: allHeaders,
      body: sc.body,
    }).then(
      async (r) => `${r.status} ${(await r.text()).slice(0, 160)}`,
      (e: Error) => e.message,
    );
    process.stderr.write(
      `bench: ${sc.name}: ${non2xx} non-2xx responses${errors ? `; ${errors}` : ''}; e.g. ${probe}\n`,
    );
  }
  return { rps, requests, p50, p99 };
}

interface Contender {
  port: number;
  headers: Record<string, string>;
  /** CPU time used so far by a single Node process (all its threads), else undefined. */
  cpuMs(): number | undefined;
  /** With a GC file: closes the probe's window (bench/gc-probe.ts) and returns it. */
  gcWindow(): Promise<GcWindow | undefined>;
  stop(): Promise<void>;
}

function readGcWindow(file: string): GcWindow | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as GcWindow;
  } catch {
    return undefined;
  }
}

/** User plus system CPU time of a process and its threads, in ms (Linux /proc; clock ticks of 10 ms). */
function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * (1000 / CLOCK_TICKS);
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Starts one scenario's proxy (and its helpers, such as a JWKS server) and waits for it to listen. */
async function launch(sc: Scenario, dir: string, upstreamPort: number, gcFile?: string): Promise<Contender> {
  const port = await freePort();
  const setup = await sc.setup?.();
  // A Node contender may carry bench/gc-probe.ts, which reports its collector's work per window.
  const probe = gcFile === undefined ? [] : ['--import', path.join(root, 'bench/gc-probe.ts')];
  const probeEnv: Record<string, string> = gcFile === undefined ? {} : { BENCH_GC_FILE: gcFile };
  // Each contender has its own files: two of them may run at once (see runDuels).
  const tag = sc.name.replace(/\W+/g, '-');
  let proc: ChildProcess;
  if (sc.kind === 'nginx' || sc.kind === 'nginx-modsecurity') {
    const waf = sc.kind === 'nginx-modsecurity';
    const conf = await nginxConf(
      dir,
      `proxy-${tag}`,
      `  client_max_body_size 1m;\n  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 64; }\n  server { listen 127.0.0.1:${port};${waf ? ` modsecurity on; modsecurity_rules_file ${writeModSecurityRules(dir)};` : ''} location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
      waf ? `load_module ${MODSEC_MODULE};\n` : '',
    );
    proc = start('nginx', ['-c', conf, '-p', dir], '0');
  } else if (sc.kind === 'node-minimal') {
    proc = start(
      process.execPath,
      [...probe, path.join(root, 'bench/minimal-proxy.ts'), String(port), `http://127.0.0.1:${upstreamPort}`],
      '0',
      probeEnv,
    );
  } else if (sc.kind === 'haproxy') {
    const conf = path.join(dir, `haproxy-${tag}.cfg`);
    await writeFile(
      conf,
      `global\n  nbthread 1\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n  http-reuse always\nfrontend fe\n  bind 127.0.0.1:${port}\n  default_backend be\nbackend be\n  server up 127.0.0.1:${upstreamPort} maxconn 64\n`,
    );
    proc = start('haproxy', ['-f', conf], '0');
  } else {
    const specFile = path.join(dir, `bench-openapi-${tag}.yaml`);
    await writeFile(specFile, stringify({ ...(sc.spec ?? BENCH_SPEC), ...sc.specPatch }));
    const configFile = path.join(dir, `bench-portcullis-${tag}.yaml`);
    await writeFile(
      configFile,
      stringify({
        version: 1,
        server: { listen: [{ host: '127.0.0.1', port }], ...sc.server },
        admin: { enabled: false },
        logging: { level: 'info', accessLog: sc.accessLog ?? true },
        apis: [
          {
            name: 'bench',
            spec: specFile,
            upstream: { url: `http://127.0.0.1:${upstreamPort}`, connections: 64 },
            ...sc.api,
          },
        ],
        // The watch loop is off unless a scenario measures it.
        monitor: { enabled: false },
        ...sc.root,
      }),
    );
    const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    const args = [
      ...nodeArgs,
      ...probe,
      path.join(root, 'bin/portcullis.js'),
      'serve',
      '--config',
      configFile,
      '--no-watch',
    ];
    if (sc.workers) args.push('--workers', String(sc.workers));
    proc = start(process.execPath, args, sc.workers && sc.workers > 1 ? '0,1' : '0', {
      ...setup?.env,
      ...probeEnv,
    });
  }
  const stopAll = async () => {
    await stop(proc);
    await setup?.cleanup();
  };
  try {
    await waitForPort(port, proc);
  } catch (err) {
    await stopAll();
    throw err;
  }
  // One Node process (Portcullis without workers, or the floor): its CPU clock can be read.
  const single =
    (sc.kind === 'portcullis' || sc.kind === 'node-minimal') &&
    !(sc.workers && sc.workers > 1) &&
    proc.pid !== undefined;
  return {
    port,
    headers: setup?.headers ?? {},
    cpuMs: () => (single ? processCpuMs(proc.pid!) : undefined),
    async gcWindow() {
      if (gcFile === undefined || proc.pid === undefined) return undefined;
      const seq = readGcWindow(gcFile)?.seq ?? 0;
      proc.kill('SIGUSR2');
      for (let i = 0; i < 200; i++) {
        const w = readGcWindow(gcFile);
        if (w !== undefined && w.seq > seq) return w;
        await sleep(10);
      }
      return undefined;
    },
    stop: stopAll,
  };
}

async function main() {
  const missingWrk = ensure({ wrk: 'wrk' });
  if (missingWrk.length) {
    process.stderr.write('bench: wrk is not installed and could not be installed; nothing to measure with\n');
    process.exit(1);
  }
  const missing = ensure({ nginx: 'nginx', haproxy: 'haproxy' });
  if (!existsSync(MODSEC_MODULE) && have('apt-get')) {
    process.stderr.write(`bench: installing ${MODSEC_PACKAGES.join(' ')} with apt-get...\n`);
    try {
      execFileSync(
        'sh',
        [
          '-c',
          `DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${MODSEC_PACKAGES.join(' ')}`,
        ],
        { stdio: 'ignore' },
      );
    } catch {
      // Reported below.
    }
  }
  const hasModSecurity = existsSync(MODSEC_MODULE);
  const loadAtStart = loadAverage();
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-bench-'));
  const upstreamPort = await freePort();
  const notes: string[] = [];

  // The upstream: nginx returning a 201-byte JSON body, or a Node server when nginx is missing.
  let upstream: ChildProcess;
  if (have('nginx')) {
    const conf = await nginxConf(
      dir,
      'upstream',
      `  server { listen 127.0.0.1:${upstreamPort}; keepalive_timeout 600s; location / { default_type application/json; return 200 '${BODY_201}'; } }`,
    );
    upstream = start('nginx', ['-c', conf, '-p', dir], '0');
  } else {
    notes.push('nginx missing: the upstream is a Node server, and the nginx contender is left out');
    const file = path.join(dir, 'upstream.mjs');
    await writeFile(
      file,
      `import http from 'node:http'; const b = ${JSON.stringify(BODY_201)}; http.createServer((q, s) => { q.resume(); s.writeHead(200, {'content-type':'application/json','content-length':b.length}); s.end(b); }).listen(${upstreamPort}, '127.0.0.1');`,
    );
    upstream = start(process.execPath, [file], '0');
  }
  await waitForPort(upstreamPort, upstream);
  if (missing.includes('haproxy')) notes.push('haproxy missing and not installable: left out');
  if (!hasModSecurity)
    notes.push(`ModSecurity missing (${MODSEC_PACKAGES.join(', ')}): its contender is left out`);

  const builtIn: Scenario[] = [
    { name: 'nginx', kind: 'nginx' },
    { name: 'haproxy', kind: 'haproxy' },
    { name: 'node minimal proxy (undici Pool.stream, no gateway work)', kind: 'node-minimal' },
    { name: 'portcullis pass-through', kind: 'portcullis' },
    { name: 'portcullis pass-through, access log off', kind: 'portcullis', accessLog: false },
    { name: 'portcullis pass-through, 2 workers', kind: 'portcullis', workers: 2 },
    { name: 'nginx, JSON POST', kind: 'nginx', ...JSON_POST },
    { name: 'nginx + ModSecurity CRS PL1, JSON POST', kind: 'nginx-modsecurity', ...JSON_POST },
    { name: 'node minimal proxy, JSON POST', kind: 'node-minimal', ...JSON_POST },
    { name: 'portcullis pass-through, JSON POST', kind: 'portcullis', ...JSON_POST },
    ...extraScenarios,
  ];
  const scenarios = builtIn
    .filter((s) => (ONLY ? ONLY.includes(s.name) : true))
    .filter(
      (s) =>
        s.kind === 'portcullis' ||
        s.kind === 'node-minimal' ||
        (s.kind === 'nginx-modsecurity' ? hasModSecurity : have(s.kind)),
    )
    // The CRS scenario runs Debian's rules (installed with the ModSecurity packages).
    .filter((s) => (s.name !== CRS_FULL_PIPELINE && s.name !== CRS_ALONE) || existsSync(CRS_RULES));
  if (!existsSync(CRS_RULES))
    notes.push(`${CRS_RULES} missing (modsecurity-crs): the CRS pipeline is left out`);

  const results = new Map<string, WrkResult[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const sc of scenarios) {
      const c = await launch(sc, dir, upstreamPort);
      try {
        await wrk(c.port, { ...sc, name: `${sc.name}-warmup` }, c.headers, dir).catch(() => undefined);
        const r = await wrk(c.port, sc, c.headers, dir);
        results.set(sc.name, [...(results.get(sc.name) ?? []), r]);
        process.stderr.write(`bench: round ${round + 1} ${sc.name}: ${Math.round(r.rps)} req/s\n`);
      } finally {
        await c.stop();
      }
    }
  }
  const duels = await runDuels(scenarios, dir, upstreamPort);
  const gc = await runGc(
    GC_ROWS,
    scenarios,
    {
      launch: (sc, gcFile) => launch(sc, dir, upstreamPort, gcFile),
      wrk: (port, sc, headers, seconds) => wrk(port, sc, headers, dir, seconds),
    },
    dir,
  );
  const tail = await runTail(
    TAIL_ROWS,
    scenarios,
    {
      launch: (sc) => launch(sc, dir, upstreamPort),
      maxRate: async (port, sc, headers, seconds) => (await wrk(port, sc, headers, dir, seconds)).rps,
      loadCore: (cmd, args) => pinned('1', cmd, args),
    },
    dir,
  );
  await stop(upstream);

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const summary = [...results].map(([name, rs]) => ({
    name,
    rps: median(rs.map((r) => r.rps)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
  }));
  const nginx = summary.find((s) => s.name === 'nginx');
  const pass = summary.find((s) => s.name === 'portcullis pass-through');
  const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
  const lines = [
    `| scenario | req/s | p50 ms | p99 ms | × nginx | × pass-through | p99 × nginx |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...summary.map(
      (s) =>
        `| ${s.name} | ${Math.round(s.rps)} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${nginx ? fmt(s.rps / nginx.rps) : 'n/a'} | ${pass ? fmt(s.rps / pass.rps) : 'n/a'} | ${nginx ? fmt(s.p99 / nginx.p99) : 'n/a'} |`,
    ),
  ];
  if (duels.length > 0) {
    lines.push(
      '',
      'The bars, as duels: both contenders run at once and wrk runs alternate between them (A B B A ...), so',
      'a slow spell of the machine weighs on both; one ratio per adjacent pair of runs, and their median is',
      `the figure to quote. Runs last ${DUEL_SECONDS} s, longer when a contender is slow (40 × its median latency).`,
      '',
      'Where both sides are one Portcullis process, the last column reads the same comparison from the',
      "processes' CPU clocks (all threads): the median of B's CPU time per request ÷ A's, and each side's",
      'median CPU µs per request.',
      '',
      '| ratio | per pair of runs | median | run | CPU per request, B ÷ A | CPU µs/request, A | B |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
      ...duels.map(
        (d) =>
          `| ${d.label} | ${d.ratios.map((r) => fmt(r)).join(', ')} | ${fmt(d.median)} | ${d.seconds} s | ${d.cpuMedian === undefined ? '' : fmt(d.cpuMedian)} | ${d.cpuUsA === undefined ? '' : fmt(d.cpuUsA, 0)} | ${d.cpuUsB === undefined ? '' : fmt(d.cpuUsB, 0)} |`,
      ),
    );
  }
  const node = execFileSync(process.execPath, ['--version'], { encoding: 'utf8' }).trim();
  const header = `Run ${new Date().toISOString()} on ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores, Node ${node}; wrk -t1 -c64 -d${SECONDS}s on core 1, upstream and proxy on core 0 (2 workers: cores 0-1, sharing core 1 with wrk); median of ${ROUNDS} round(s); measured processes at niceness ${NICE}; load average (1, 5, 15 min) ${loadAtStart} at the start, ${loadAverage()} at the end.`;
  const limits = ONLY ? '' : `\n## Rate-limit decision cost, in process\n\n${await runLimitBench()}`;
  const memory = ONLY ? '' : `\n## Memory per client key\n\n${await runStateMemoryBench()}`;
  const text = [header, '', ...lines, '', ...notes.map((n) => `- ${n}`), gc, tail, limits, memory].join('\n');
  process.stdout.write(`\n${text}\n`);
  if (!ONLY) {
    await writeFile(
      path.join(root, 'bench/RESULTS.md'),
      `# Benchmark results\n\nThe latest output of \`npm run bench\` (see bench/run.ts for the setup). Absolute numbers drift with the\nmachine's neighbours; compare the ratios, measured side by side in one run.\n\n${text}\n`,
    );
  }
}

/** The 1, 5 and 15 minute load averages (other work on the machine), as `uptime` shows them. */
function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}

if (!existsSync('/proc/self')) process.stderr.write('bench: needs Linux (taskset)\n');
await main();
