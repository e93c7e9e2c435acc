/**
 * Memory per client key: the bytes each kind of per-client state costs (limiter keys, bans, detector keys),
 * read as heap growth after a full GC in a child process with `--expose-gc`, and the resident size of a
 * full-pipeline gateway after one request from each of 100k distinct client addresses (issue 14 item 7).
 * `npx node bench/state-memory.ts` prints the table; `npm run bench` calls `runStateMemoryBench()`.
 *
 * Environment: BENCH_STATE_KEYS (keys per structure, default 100000), BENCH_STATE_CLIENTS (distinct clients
 * sent through the gateway, default 100000; 0 skips that part), BENCH_STATE_NODE_ARGS (extra Node flags
 * for the gateway process, e.g. `--heapsnapshot-signal=SIGUSR2` or `--max-semi-space-size=16`).
 * The gateway is measured twice: as `serve` runs it (with the V8 heap flags of bin/portcullis.js) and
 * with Node's own heap defaults (PORTCULLIS_NODE_FLAGS empty), with the CPU time each spent on the load.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { createManualClock } from '../src/core/clock.ts';
import type { SecurityEvent } from '../src/core/events.ts';
import {
  createCredentialAbuseDetector,
  credentialAbuseDefaults,
} from '../src/monitor/detectors/credential-abuse.ts';
import type { Detector } from '../src/monitor/detectors/detector.ts';
import { createEnumerationDetector, enumerationDefaults } from '../src/monitor/detectors/enumeration.ts';
import { createErrorSpikeDetector, errorSpikeDefaults } from '../src/monitor/detectors/error-spike.ts';
import { createShadowApiDetector, shadowApiDefaults } from '../src/monitor/detectors/shadow-api.ts';
import { createVolumetricDetector, volumetricDefaults } from '../src/monitor/detectors/volumetric.ts';
import { createBanList } from '../src/state/bans.ts';
import type { LimitAlgorithm, LimitCheck } from '../src/state/limiter.ts';
import { createMemoryStore } from '../src/state/memory-store.ts';
import { jwtSetup } from './scenarios.ts';
import { freePort } from './support.ts';

const root = path.resolve(import.meta.dirname, '..');
const CLIENTS = Number(process.env.BENCH_STATE_CLIENTS ?? 100_000);
const KEYS = Number(process.env.BENCH_STATE_KEYS ?? 100_000);
const T0 = Date.UTC(2026, 0, 1);

/** A client address per index, as the gateway reads it from X-Forwarded-For. */
function ipOf(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

/** A request id made the way the gateway makes one (16 hex of the trace id and 8 random hex). */
function requestIdOf(): string {
  const trace = randomBytes(16).toString('hex');
  return `${trace.slice(0, 16)}${randomBytes(4).toString('hex')}`;
}

/** An access event as the gateway emits it, with the fields the detectors read. */
function accessEvent(i: number, fields: Record<string, unknown>): SecurityEvent {
  return {
    '@timestamp': new Date(T0 + i).toISOString(),
    'event.kind': 'event',
    'event.category': 'web',
    'event.type': 'access',
    'http.request.id': requestIdOf(),
    'http.request.method': 'GET',
    'client.address': ipOf(i),
    'portcullis.api': 'shop',
    ...fields,
  } as unknown as SecurityEvent;
}

/** A limiter check keyed the way the rate-limit policy keys one (128 bits of the partition's SHA-256). */
function limitCheck(i: number, algorithm: LimitAlgorithm, code: string): LimitCheck {
  const h = createHash('sha256')
    .update(`ip=${ipOf(i).length}:${ipOf(i)}|`)
    .digest()
    .subarray(0, 16)
    .toString('base64url');
  return {
    key: `rl:{shop:${h}}:rateLimit:per-client:${code}${algorithm === 'fixed-window' ? `:${T0 / 1000}` : ''}`,
    algorithm,
    limit: 1_000_000,
    burst: 1_000_000,
    windowMs: 60_000,
    windowEndMs: T0 + 60_000,
    subWindows: 10,
    cost: 1,
    countRejected: false,
  };
}

/** One kind of per-client state: how to make its holder, and how to add the state of one more client. */
interface StateKind {
  name: string;
  /** The bound on this state, in keys, by default. */
  bound: string;
  setup(): (i: number) => unknown;
}

function detectorKind(
  name: string,
  bound: string,
  make: () => Detector,
  event: (i: number) => SecurityEvent,
): StateKind {
  return {
    name,
    bound,
    setup() {
      const d = make();
      return (i) => d.observe(event(i), T0 + i);
    },
  };
}

function limiterKind(algorithm: LimitAlgorithm, code: string): StateKind {
  return {
    name: `limiter, ${algorithm}`,
    bound: 'state.maxEntries (live keys)',
    setup() {
      const store = createMemoryStore({
        clock: createManualClock(T0),
        maxEntries: KEYS + 10,
        maxLimiterKeys: KEYS + 10,
      });
      return (i) =>
        store.consume({ nowMs: T0 + (i % 1000), limits: [limitCheck(i, algorithm, code)], leaseId: '' });
    },
  };
}

const MANY = KEYS + 10;
const KINDS: StateKind[] = [
  limiterKind('gcra', 'g'),
  limiterKind('sliding-window', 's'),
  limiterKind('fixed-window', 'f'),
  {
    name: 'ban (memory store)',
    bound: 'state.maxEntries',
    setup() {
      const clock = createManualClock(T0);
      const store = createMemoryStore({ clock, maxEntries: 3 * MANY });
      const bans = createBanList({ store, clock });
      return (i) =>
        bans.ban('ip', ipOf(i), {
          reason: 'volumetric/above-own-baseline',
          source: 'auto',
          alertId: randomUUID(),
          detector: 'volumetric',
        });
    },
  },
  detectorKind(
    'detector volumetric (caller × operation)',
    `detectors.volumetric.maxKeys (${volumetricDefaults.maxKeys})`,
    () => createVolumetricDetector({ ...volumetricDefaults, maxKeys: MANY }),
    (i) =>
      accessEvent(i, {
        'http.route': '/orders',
        'portcullis.operation_id': 'listOrders',
        'http.response.status_code': 200,
      }),
  ),
  detectorKind(
    'detector enumeration (caller × operation)',
    `detectors.enumeration.maxKeys (${enumerationDefaults.maxKeys})`,
    () => createEnumerationDetector({ ...enumerationDefaults, maxKeys: MANY }),
    (i) => {
      const url = `/orders/${100000 + i}`;
      return accessEvent(i, {
        'http.route': '/orders/{id}',
        'portcullis.operation_id': 'getOrder',
        'portcullis.path_params': { id: url.slice(8) },
        'http.response.status_code': 404,
      });
    },
  ),
  detectorKind(
    'detector credential abuse (IP)',
    `detectors.credentialAbuse.maxKeys (${credentialAbuseDefaults.maxKeys}) × 3`,
    () => createCredentialAbuseDetector({ ...credentialAbuseDefaults, maxKeys: MANY }),
    (i) => accessEvent(i, { 'http.route': '/login', 'http.response.status_code': 401, 'user.name': 'alice' }),
  ),
  detectorKind(
    'detector shadow API (caller)',
    `detectors.shadowApi.maxKeys (${shadowApiDefaults.maxKeys}) × 2`,
    () => createShadowApiDetector({ ...shadowApiDefaults, maxKeys: MANY }),
    (i) =>
      accessEvent(i, {
        'url.path': `/internal/export/${i}`,
        'portcullis.decision': 'undeclared_route',
        'http.response.status_code': 404,
      }),
  ),
  detectorKind(
    'detector error spike (route)',
    `detectors.errorSpike.maxKeys (${errorSpikeDefaults.maxKeys})`,
    () => createErrorSpikeDetector({ ...errorSpikeDefaults, maxKeys: MANY }),
    (i) => accessEvent(i, { 'http.route': `/r${i}`, 'http.response.status_code': 503 }),
  ),
];

const held: unknown[] = [];

/** Child side (`--expose-gc`): heap growth per key of each kind, as JSON lines on stdout. */
async function measureKinds(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const settle = () => {
    for (let i = 0; i < 3; i++) gc();
    return process.memoryUsage().heapUsed;
  };
  for (const kind of KINDS) {
    const add = kind.setup();
    // Warm up the code paths with keys that are not counted, so compiled code is not counted either.
    const before = settle();
    for (let i = 0; i < KEYS; i++) {
      const r = add(i);
      if (r instanceof Promise) await r;
    }
    // The holder must stay reachable while the heap is read.
    held.push(add);
    const after = settle();
    held.length = 0;
    process.stdout.write(
      `${JSON.stringify({ name: kind.name, bound: kind.bound, bytesPerKey: (after - before) / KEYS })}\n`,
    );
  }
}

/** Resident set size and its peak of a process, in bytes (Linux /proc). */
function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** User plus system CPU time of a process (all its threads) in ms (Linux /proc, clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const OK = {
  '200': {
    description: 'ok',
    content: { 'application/json': { schema: { type: 'object', properties: { ok: { type: 'boolean' } } } } },
  },
};

/** The spec of the full-pipeline gateway: a bearer-protected operation, a public one with an id, nothing else. */
export const GATEWAY_SPEC = {
  openapi: '3.1.0',
  info: { title: 'state-memory', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  security: [{ bearer: ['bench:read'] }],
  paths: {
    '/bench': { get: { operationId: 'getBench', responses: OK } },
    '/items/{id}': {
      get: {
        operationId: 'getItem',
        security: [],
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: OK,
      },
    },
  },
};

/** Limits that never reject (the state is what is measured): one per algorithm that keeps per-client state. */
const HIGH = 1_000_000_000;
export const GATEWAY_POLICIES = {
  authenticate: {
    schemes: {
      bearer: {
        jwt: {
          issuers: [
            {
              issuer: 'https://idp.bench.example',
              jwksUri: '${BENCH_JWKS}',
              audiences: ['https://api.bench.example'],
              algorithms: ['RS256'],
            },
          ],
        },
      },
    },
  },
  ipRateLimit: { limits: [{ name: 'per-ip', algorithm: 'gcra', limit: HIGH, windowSeconds: 10, key: 'ip' }] },
  rateLimit: {
    limits: [
      { name: 'sliding', algorithm: 'sliding-window', limit: HIGH, windowSeconds: 60, key: 'ip' },
      { name: 'fixed', algorithm: 'fixed-window', limit: HIGH, windowSeconds: 60, key: 'ip' },
    ],
  },
  validateRequest: {},
  injection: { paranoia: 1 },
  protectResponse: {},
};

/**
 * Starts a full-pipeline gateway (JWT, ban checks, IP and per-client limits, validation, injection, response
 * filter, watch loop with every detector and discovery) trusting 127.0.0.1 as a proxy, sends one request
 * from each of `clients` distinct addresses (X-Forwarded-For) in four kinds (anonymous read of an object id,
 * failed authentication, authenticated read, undeclared path) and reads the gateway's RSS.
 */
export async function measureGatewayRss(
  clients = CLIENTS,
  env: Record<string, string> = {},
): Promise<{ idle: number; rss: number; peak: number; cpuMs: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-state-memory-'));
  const upstream = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const jwt = await jwtSetup();
  const port = await freePort();
  const specFile = path.join(dir, 'openapi.yaml');
  const configFile = path.join(dir, 'portcullis.yaml');
  await writeFile(specFile, stringify(GATEWAY_SPEC));
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
          spec: specFile,
          upstream: { url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, connections: 64 },
          policies: GATEWAY_POLICIES,
        },
      ],
    }),
  );
  const proc: ChildProcess = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_STATE_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      ...(process.env.BENCH_STATE_SNAPSHOT
        ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${process.env.BENCH_STATE_SNAPSHOT}`]
        : []),
      path.join(root, 'bin/portcullis.js'),
      'serve',
      '--config',
      configFile,
      '--no-watch',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...jwt.env, ...env } },
  );
  try {
    for (let i = 0; ; i++) {
      if (proc.exitCode !== null) throw new Error(`gateway exited with ${proc.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/items/1`).then(
        () => true,
        () => false,
      );
      if (ok) break;
      if (i > 400) throw new Error('gateway did not start');
      await sleep(50);
    }
    await sleep(500);
    await snapshot(proc, 'idle');
    const idle = rssOf(proc.pid!).rss;
    const cpu0 = cpuMsOf(proc.pid!);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const bearer = jwt.headers.authorization;
    let next = 0;
    const statuses = new Map<number, number>();
    const one = (i: number) =>
      new Promise<void>((resolve, reject) => {
        const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
        const kind = i & 3;
        const headers: Record<string, string> = { 'x-forwarded-for': ip };
        if (kind === 2) headers.authorization = bearer;
        const p = kind === 0 ? `/items/${i}` : kind === 3 ? `/admin/export/${i}` : '/bench';
        const req = http.get({ host: '127.0.0.1', port, path: p, headers, agent }, (res) => {
          statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
      });
    const worker = async () => {
      while (next < clients) await one(next++);
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    agent.destroy();
    // Let the watch loop take the last batches, then read what stays.
    await sleep(2000);
    const { rss, peak } = rssOf(proc.pid!);
    await snapshot(proc, 'loaded');
    const cpuMs = cpuMsOf(proc.pid!) - cpu0;
    process.stderr.write(`bench: state memory: statuses ${JSON.stringify(Object.fromEntries(statuses))}\n`);
    return { idle, rss, peak, cpuMs };
  } finally {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (proc.exitCode === null) proc.kill('SIGKILL');
    await jwt.cleanup();
    await new Promise((r) => upstream.close(r));
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * With BENCH_STATE_SNAPSHOT naming a folder (and `--heapsnapshot-signal=SIGUSR2` in BENCH_STATE_NODE_ARGS,
 * which this adds), writes a heap snapshot of the gateway there at idle and after the load.
 */
async function snapshot(proc: ChildProcess, label: string): Promise<void> {
  const dir = process.env.BENCH_STATE_SNAPSHOT;
  if (!dir) return;
  const before = new Set(readdirSync(dir));
  proc.kill('SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await sleep(100);
    const made = readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    if (made && statSync(path.join(dir, made)).size > 0) {
      await sleep(1000);
      process.stderr.write(`bench: state memory: ${label} heap snapshot ${path.join(dir, made)}\n`);
      return;
    }
  }
}

/** Measures both parts and returns a Markdown table (also printed when run directly). */
export async function runStateMemoryBench(): Promise<string> {
  const out = execFileSync(process.execPath, ['--expose-gc', import.meta.filename, '--child'], {
    encoding: 'utf8',
    env: { ...process.env, BENCH_STATE_KEYS: String(KEYS) },
  });
  const rows = out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { name: string; bound: string; bytesPerKey: number });
  const lines = [
    `Heap growth per key after a full GC, ${KEYS.toLocaleString('en')} keys per structure (Node ${process.version}).`,
    '',
    '| state | bytes per key | bounded by |',
    '| --- | ---: | --- |',
    ...rows.map((r) => `| ${r.name} | ${Math.round(r.bytesPerKey)} | ${r.bound} |`),
  ];
  if (CLIENTS > 0) {
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
    const served = await measureGatewayRss(CLIENTS);
    const nodeDefaults = await measureGatewayRss(CLIENTS, { PORTCULLIS_NODE_FLAGS: '' });
    const row = (label: string, r: typeof served) =>
      `| ${label} | ${mb(r.idle)} | ${mb(r.rss)} | ${mb(r.peak)} | ${(r.cpuMs / 1000).toFixed(1)} s |`;
    lines.push(
      '',
      `Full-pipeline gateway (JWT, ban checks, GCRA per IP, sliding and fixed window per IP, validation, injection,`,
      `response filter, watch loop with every detector and discovery, events not stored), one request from each`,
      `of ${CLIENTS.toLocaleString('en')} client addresses (RSS at start, after the last request, peak; CPU time of the load):`,
      '',
      '| V8 heap settings | RSS at start | RSS after | peak | CPU |',
      '| --- | ---: | ---: | ---: | ---: |',
      row('as `serve` starts Node (bin/portcullis.js)', served),
      row("Node's defaults (`PORTCULLIS_NODE_FLAGS=`)", nodeDefaults),
    );
  }
  return lines.join('\n');
}

if (process.argv.includes('--child')) await measureKinds();
else if (import.meta.main) process.stdout.write(`${await runStateMemoryBench()}\n`);
