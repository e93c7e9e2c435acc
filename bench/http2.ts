/**
 * HTTP/2 beside HTTP/1.1 (issue 18 item 3): one Portcullis process with four listeners — plain HTTP/1.1,
 * h2c with prior knowledge, and TLS where ALPN offers both (driven once as HTTP/1.1, once as h2) — in front
 * of one upstream, each driven in turn with 64 requests in flight: wrk (64 connections) for HTTP/1.1,
 * h2load (8 connections × 8 streams) for HTTP/2. Runs alternate in pairs (h1 then h2, h2 then h1), and the
 * table gives the median req/s, p50 and the median per-pair ratio h2 ÷ h1, for plain text and for TLS.
 *
 * The gateway and its upstream (a Node server answering 201 bytes of JSON) share core 0; the load
 * generators run on core 1. h2load comes from Debian's nghttp2-client (installed with apt-get when missing).
 *
 * Run: `npx node bench/http2.ts`. Environment: BENCH_H2_PAIRS (default 5), BENCH_H2_SECONDS (default 3).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { BENCH_SPEC } from './scenario.ts';
import { freePort, median, pinned } from './support.ts';

const root = path.resolve(import.meta.dirname, '..');
const execFileAsync = promisify(execFile);
const PAIRS = Number(process.env.BENCH_H2_PAIRS ?? 5);
const SECONDS = Number(process.env.BENCH_H2_SECONDS ?? 3);

function ensureH2load(): boolean {
  if (existsSync('/usr/bin/h2load')) return true;
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', 'nghttp2-client'], { stdio: 'ignore' });
  } catch {
    return false;
  }
  return existsSync('/usr/bin/h2load');
}

interface Run {
  rps: number;
  p50: number;
}

function ms(value: string, unit: string): number {
  const v = Number(value);
  return unit === 'us' ? v / 1000 : unit === 's' ? v * 1000 : v;
}

async function wrk(url: string): Promise<Run> {
  const [cmd, args] = pinned('1', 'wrk', ['-t1', '-c64', `-d${SECONDS}s`, '--latency', url]);
  const { stdout } = await execFileAsync(cmd, args);
  const p50 = /50%\s+([\d.]+)(us|ms|s)/.exec(stdout);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN),
    p50: p50 ? ms(p50[1], p50[2]) : Number.NaN,
  };
}

async function h2load(url: string): Promise<Run> {
  const [cmd, args] = pinned('1', 'h2load', ['-c8', '-m8', '-t1', `-D${SECONDS}`, url]);
  const { stdout } = await execFileAsync(cmd, args);
  const failed = Number(/(\d+) failed/.exec(stdout)?.[1] ?? 0);
  if (failed > 0) throw new Error(`h2load: ${failed} requests failed against ${url}`);
  // "time for request:  min  max  mean  sd  +/- sd" — h2load prints no median; the mean stands in.
  const t = /time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/.exec(stdout);
  return {
    rps: Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(stdout)?.[1] ?? Number.NaN),
    p50: t ? ms(t[1], t[2]) : Number.NaN,
  };
}

export async function runHttp2Bench(): Promise<string> {
  if (!ensureH2load()) return 'HTTP/2 bench left out: h2load (Debian nghttp2-client) is missing';
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-http2-'));
  const procs: ChildProcess[] = [];
  try {
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    const subject = ['-subj', '/CN=localhost', '-keyout', key, '-out', cert];
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'];
    execFileSync('openssl', ['req', '-x509', ...ec, ...subject], { stdio: 'ignore' });
    const [ucmd, uargs] = pinned('0', process.execPath, [
      '-e',
      `const b = JSON.stringify({ id: 1, name: 'item' }).padEnd(201, ' ');
       require('node:http').createServer((q, s) => { q.resume(); s.writeHead(200, { 'content-type': 'application/json' }).end(b); })
         .listen(0, '127.0.0.1', function () { console.log(this.address().port); });`,
    ]);
    const upstreamProc = spawn(ucmd, uargs, { stdio: ['ignore', 'pipe', 'inherit'] });
    procs.push(upstreamProc);
    const upstream = await new Promise<number>((resolve) =>
      upstreamProc.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
    );
    const [h1, h2c, tls] = [await freePort(), await freePort(), await freePort()];
    const specFile = path.join(dir, 'openapi.yaml');
    await writeFile(specFile, stringify(BENCH_SPEC));
    const configFile = path.join(dir, 'portcullis.yaml');
    await writeFile(
      configFile,
      stringify({
        version: 1,
        server: {
          listen: [
            { host: '127.0.0.1', port: h1 },
            { host: '127.0.0.1', port: h2c, http2: 'h2c' },
            { host: '127.0.0.1', port: tls, tls: { certFile: cert, keyFile: key } },
          ],
        },
        admin: { enabled: false },
        logging: { level: 'warn', accessLog: false },
        monitor: { enabled: false },
        apis: [
          {
            name: 'bench',
            spec: specFile,
            upstream: { url: `http://127.0.0.1:${upstream}`, connections: 64 },
          },
        ],
      }),
    );
    const [gcmd, gargs] = pinned('0', process.execPath, [
      path.join(root, 'bin/portcullis.js'),
      'serve',
      '--config',
      configFile,
      '--no-watch',
    ]);
    const gateway = spawn(gcmd, gargs, { stdio: ['ignore', 'ignore', 'inherit'] });
    procs.push(gateway);
    for (let i = 0; ; i++) {
      if (gateway.exitCode !== null) throw new Error(`gateway exited with ${gateway.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${h1}${BENCH_PATH}`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (i > 400) throw new Error('gateway did not start');
      await sleep(50);
    }
    const sides = [
      {
        name: 'plain',
        h1: () => wrk(`http://127.0.0.1:${h1}${BENCH_PATH}`),
        h2: () => h2load(`http://127.0.0.1:${h2c}${BENCH_PATH}`),
      },
      {
        name: 'TLS (ALPN)',
        h1: () => wrk(`https://127.0.0.1:${tls}${BENCH_PATH}`),
        h2: () => h2load(`https://127.0.0.1:${tls}${BENCH_PATH}`),
      },
    ];
    const rows: string[] = [];
    for (const side of sides) {
      await side.h1();
      await side.h2(); // warm-up
      const r1: Run[] = [];
      const r2: Run[] = [];
      const ratios: number[] = [];
      for (let p = 0; p < PAIRS; p++) {
        let a: Run;
        let b: Run;
        if (p % 2 === 0) {
          a = await side.h1();
          b = await side.h2();
        } else {
          b = await side.h2();
          a = await side.h1();
        }
        r1.push(a);
        r2.push(b);
        ratios.push(b.rps / a.rps);
      }
      const fmt = (runs: Run[]) =>
        `${Math.round(median(runs.map((r) => r.rps)))} | ${median(runs.map((r) => r.p50)).toFixed(2)}`;
      rows.push(`| ${side.name} | HTTP/1.1 (wrk, 64 connections) | ${fmt(r1)} | 1 |`);
      rows.push(
        `| ${side.name} | HTTP/2 (h2load, 8 connections × 8 streams) | ${fmt(r2)} | ${median(ratios).toFixed(2)} |`,
      );
    }
    return [
      `HTTP/2 beside HTTP/1.1, Portcullis pass-through, 64 requests in flight, ${PAIRS} pairs of ${SECONDS} s.`,
      '',
      '| listener | protocol | req/s (median) | latency ms (wrk p50; h2load mean) | ÷ HTTP/1.1 (median of pairs) |',
      '| --- | --- | ---: | ---: | ---: |',
      ...rows,
    ].join('\n');
  } finally {
    for (const p of procs.reverse()) p.kill('SIGTERM');
    await sleep(500);
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

const BENCH_PATH = '/bench';

if (import.meta.main) process.stdout.write(`${await runHttp2Bench()}\n`);
