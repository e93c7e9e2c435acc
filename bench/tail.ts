/**
 * Tail latency at half load, for bench/run.ts: each contender's maximum rate is measured closed-loop (wrk),
 * then it is driven open-loop at 50% of its own maximum by bench/open-loop.c, which counts each request's
 * latency from the moment it fell due (no coordinated omission). Contenders run at once and take turns,
 * round after round (A B C ... then ... C B A), and a contender's p99 is compared with its floor's p99 of
 * the same round: one ratio per round, the median is the figure to quote.
 *
 * Environment: BENCH_TAIL_ROUNDS (default 3; 0 skips), BENCH_TAIL_SECONDS (measured seconds per run,
 * default 8), BENCH_TAIL_LOAD (fraction of the maximum rate, default 0.5).
 */
import { execFile, execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Scenario } from './scenario.ts';
import { median } from './support.ts';

const execFileAsync = promisify(execFile);
export const TAIL_ROUNDS = Number(process.env.BENCH_TAIL_ROUNDS ?? 3);
const TAIL_SECONDS = Number(process.env.BENCH_TAIL_SECONDS ?? 8);
const TAIL_LOAD = Number(process.env.BENCH_TAIL_LOAD ?? 0.5);
const TAIL_WARMUP_SECONDS = 2;
const CONNECTIONS = 64;

/** One open-loop run, as bench/open-loop.c prints it (latencies in ms from the due time). */
export interface OpenLoopResult {
  rate: number;
  achieved: number;
  due: number;
  completed: number;
  errors: number;
  unfinished: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** How late the generator itself wrote requests that had a connection free (p99, ms). */
  sendLagP99: number;
}

/** What the tail section needs from bench/run.ts. */
export interface TailHarness {
  launch(sc: Scenario): Promise<{ port: number; headers: Record<string, string>; stop(): Promise<void> }>;
  /** A closed-loop wrk run of `seconds`: requests per second. */
  maxRate(port: number, sc: Scenario, headers: Record<string, string>, seconds: number): Promise<number>;
  /** The command prefix that runs a process on the load core (taskset, nice). */
  loadCore(cmd: string, args: string[]): [string, string[]];
}

/** The rows of the tail table: [label, scenario, the floor scenario its p99 is compared with]. */
export type TailRow = readonly [label: string, scenario: string, floor: string];

/** Compiles the generator into `dir`; undefined (with the reason on stderr) when there is no C compiler. */
export function buildOpenLoop(dir: string): string | undefined {
  const out = path.join(dir, 'open-loop');
  try {
    execFileSync('cc', ['-O2', '-o', out, path.join(import.meta.dirname, 'open-loop.c')], { stdio: 'pipe' });
    return out;
  } catch (err) {
    process.stderr.write(
      `bench: cannot build bench/open-loop.c (${(err as Error).message.split('\n')[0]})\n`,
    );
    return undefined;
  }
}

function rawRequest(sc: Scenario, headers: Record<string, string>, port: number): Buffer {
  const all = { ...sc.headers, ...headers };
  const body = sc.body ?? '';
  const lines = [`${sc.method ?? 'GET'} ${sc.path ?? '/bench'} HTTP/1.1`, `host: 127.0.0.1:${port}`];
  for (const [k, v] of Object.entries(all)) lines.push(`${k}: ${v}`);
  if (body !== '') lines.push(`content-length: ${Buffer.byteLength(body)}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

async function openLoop(
  bin: string,
  h: TailHarness,
  port: number,
  requestFile: string,
  rate: number,
): Promise<OpenLoopResult> {
  const [cmd, args] = h.loadCore(bin, [
    String(port),
    String(Math.round(rate)),
    String(TAIL_SECONDS),
    String(TAIL_WARMUP_SECONDS),
    String(CONNECTIONS),
    requestFile,
  ]);
  const { stdout } = await execFileAsync(cmd, args, { encoding: 'utf8' });
  return JSON.parse(stdout) as OpenLoopResult;
}

interface TailLine {
  label: string;
  floor: string;
  maxRps: number;
  rate: number;
  runs: OpenLoopResult[];
  /** This row's p99 ÷ its floor's p99, per round. */
  ratios: number[];
}

/** Runs the tail section for the rows whose scenarios are in `scenarios`; returns its markdown. */
export async function runTail(
  rows: readonly TailRow[],
  scenarios: readonly Scenario[],
  h: TailHarness,
  dir: string,
): Promise<string> {
  if (TAIL_ROUNDS <= 0) return '';
  const bin = buildOpenLoop(dir);
  if (bin === undefined)
    return '\n## Tail latency at half load\n\n(not measured: no C compiler for bench/open-loop.c)\n';
  const byName = new Map(scenarios.map((s) => [s.name, s]));
  const present = rows.filter(([, s]) => byName.has(s));
  if (present.length === 0) return '';
  const started: Array<{ sc: Scenario; port: number; file: string; stop(): Promise<void> }> = [];
  const lines = new Map<string, TailLine>();
  try {
    for (const [label, name, floor] of present) {
      const sc = byName.get(name)!;
      const c = await h.launch(sc);
      const file = path.join(dir, `tail-${label.replace(/\W+/g, '-')}.http`);
      await writeFile(file, rawRequest(sc, c.headers, c.port));
      started.push({ sc, port: c.port, file, stop: c.stop });
      // Warm-up, then the closed-loop maximum this contender is loaded at a fraction of.
      for (let i = 0; i < 3; i++) await h.maxRate(c.port, sc, c.headers, 2);
      const maxRps = await h.maxRate(c.port, sc, c.headers, 4);
      lines.set(label, { label, floor, maxRps, rate: maxRps * TAIL_LOAD, runs: [], ratios: [] });
      process.stderr.write(`bench: tail ${label}: max ${Math.round(maxRps)} req/s\n`);
    }
    for (let round = 0; round < TAIL_ROUNDS; round++) {
      const order = present.map((_, i) => i);
      if (round % 2 === 1) order.reverse();
      const byRound = new Map<string, OpenLoopResult>();
      for (const i of order) {
        const label = present[i][0];
        const line = lines.get(label)!;
        const s = started[i];
        const r = await openLoop(bin, h, s.port, s.file, line.rate);
        line.runs.push(r);
        byRound.set(label, r);
        process.stderr.write(
          `bench: tail round ${round + 1} ${label}: p50 ${r.p50.toFixed(2)} p99 ${r.p99.toFixed(2)} p99.9 ${r.p999.toFixed(2)} ms${r.errors + r.unfinished > 0 ? ` (${r.errors} errors, ${r.unfinished} unfinished)` : ''}\n`,
        );
      }
      for (const line of lines.values()) {
        const own = byRound.get(line.label);
        const floor = [...lines.values()].find((l) => l.label === line.floor);
        const floorRun = floor ? byRound.get(floor.label) : undefined;
        if (own && floorRun) line.ratios.push(own.p99 / floorRun.p99);
      }
    }
  } finally {
    for (const s of started) await s.stop();
  }
  const fmt = (n: number, d = 2) => (Number.isFinite(n) && n >= 0 ? n.toFixed(d) : 'n/a');
  const out = [
    '',
    '## Tail latency at half load',
    '',
    `Each contender at ${Math.round(TAIL_LOAD * 100)}% of its own closed-loop maximum (wrk, 64 connections), driven open-loop by`,
    'bench/open-loop.c: requests fall due at a constant rate and latency counts from the due time, so a stall',
    `shows in every request that fell due during it (no coordinated omission). ${CONNECTIONS} keep-alive connections,`,
    `${TAIL_SECONDS} s measured after ${TAIL_WARMUP_SECONDS} s at the same rate; median of ${TAIL_ROUNDS} rounds in which the contenders take turns.`,
    'The last columns: p99 ÷ the p99 of the floor for the same request in the same round (median of the rounds), and',
    "the generator's own lateness (p99 of due → written, for requests that found a free connection).",
    '',
    '| contender | max req/s (closed loop) | rate | p50 ms | p99 ms | p99.9 ms | max ms | p99 ÷ floor p99 | per round | errors | generator lag p99 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
  ];
  for (const l of lines.values()) {
    const m = (k: keyof OpenLoopResult) => median(l.runs.map((r) => r[k]));
    const errors = l.runs.reduce((n, r) => n + r.errors + r.unfinished, 0);
    out.push(
      `| ${l.label} | ${Math.round(l.maxRps)} | ${Math.round(l.rate)} | ${fmt(m('p50'))} | ${fmt(m('p99'))} | ${fmt(m('p999'))} | ${fmt(m('max'))} | ${l.label === l.floor ? '1.00' : l.ratios.length ? fmt(median(l.ratios)) : 'n/a'} | ${l.label === l.floor ? '' : l.ratios.map((r) => fmt(r)).join(', ')} | ${errors} | ${fmt(m('sendLagP99'))} |`,
    );
  }
  return out.join('\n');
}
