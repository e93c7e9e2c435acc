/**
 * Allocation and garbage collection per request, for bench/run.ts: each Node contender runs with
 * bench/gc-probe.ts loaded, under closed-loop load (wrk), and the probe's window over a run is divided by
 * the requests it served: bytes allocated, bytes promoted out of the young generation (what lived through
 * young collections), young collections per 1000 requests and their pauses. Unlike throughput, these
 * figures hardly move with the machine's other work.
 *
 * Environment: BENCH_GC_ROUNDS (runs per contender, default 2; 0 skips), BENCH_GC_SECONDS (default 4).
 */
import path from 'node:path';
import type { GcWindow } from './gc-probe.ts';
import type { Scenario } from './scenario.ts';
import { median } from './support.ts';

const GC_ROUNDS = Number(process.env.BENCH_GC_ROUNDS ?? 2);
const GC_SECONDS = Number(process.env.BENCH_GC_SECONDS ?? 4);

/** [label, scenario]. */
export type GcRow = readonly [label: string, scenario: string];

export interface GcHarness {
  launch(
    sc: Scenario,
    gcFile: string,
  ): Promise<{
    port: number;
    headers: Record<string, string>;
    cpuMs(): number | undefined;
    gcWindow(): Promise<GcWindow | undefined>;
    stop(): Promise<void>;
  }>;
  wrk(
    port: number,
    sc: Scenario,
    headers: Record<string, string>,
    seconds: number,
  ): Promise<{ rps: number; requests: number }>;
}

interface GcRun {
  bytesPerRequest: number;
  promotedPerRequest: number;
  scavengesPer1000: number;
  pauses: number[];
  cpuUsPerRequest: number;
  rps: number;
}

/** Runs the allocation section for the rows whose scenarios are in `scenarios`; returns its markdown. */
export async function runGc(
  rows: readonly GcRow[],
  scenarios: readonly Scenario[],
  h: GcHarness,
  dir: string,
): Promise<string> {
  if (GC_ROUNDS <= 0) return '';
  const byName = new Map(scenarios.map((s) => [s.name, s]));
  const out: string[] = [];
  for (const [label, name] of rows) {
    const sc = byName.get(name);
    if (sc === undefined) continue;
    const c = await h.launch(sc, path.join(dir, `gc-${label.replace(/\W+/g, '-')}.json`));
    const runs: GcRun[] = [];
    try {
      for (let i = 0; i < 3; i++) await h.wrk(c.port, sc, c.headers, 2);
      for (let round = 0; round < GC_ROUNDS; round++) {
        await c.gcWindow(); // opens the window
        const cpu0 = c.cpuMs();
        const r = await h.wrk(c.port, sc, c.headers, GC_SECONDS);
        const cpu1 = c.cpuMs();
        const w = await c.gcWindow();
        if (w === undefined || r.requests === 0) continue;
        runs.push({
          bytesPerRequest: w.allocated / r.requests,
          promotedPerRequest: w.promoted / r.requests,
          scavengesPer1000: (w.scavenges / r.requests) * 1000,
          pauses: w.scavengePausesUs,
          cpuUsPerRequest:
            cpu0 !== undefined && cpu1 !== undefined ? ((cpu1 - cpu0) * 1000) / r.requests : Number.NaN,
          rps: r.rps,
        });
      }
    } finally {
      await c.stop();
    }
    if (runs.length === 0) continue;
    const pauses = runs.flatMap((r) => r.pauses);
    const m = (k: keyof Omit<GcRun, 'pauses'>) => median(runs.map((r) => r[k]));
    process.stderr.write(
      `bench: gc ${label}: ${Math.round(m('bytesPerRequest'))} B/request allocated, ${Math.round(m('promotedPerRequest'))} promoted\n`,
    );
    out.push(
      `| ${label} | ${Math.round(m('rps'))} | ${fmtInt(m('bytesPerRequest'))} | ${fmtInt(m('promotedPerRequest'))} | ${m('scavengesPer1000').toFixed(2)} | ${(median(pauses) / 1000).toFixed(2)} | ${(Math.max(0, ...pauses) / 1000).toFixed(2)} | ${Number.isFinite(m('cpuUsPerRequest')) ? m('cpuUsPerRequest').toFixed(0) : 'n/a'} |`,
    );
  }
  if (out.length === 0) return '';
  return [
    '',
    '## Allocation and garbage collection per request',
    '',
    `Closed-loop load (wrk, 64 connections, ${GC_SECONDS} s runs, median of ${GC_ROUNDS}); bench/gc-probe.ts in the measured`,
    "process reads V8's collector (v8.GCProfiler) over each run: bytes allocated on the JS heap, bytes the",
    'young collections promoted to the old generation (what lived through them), and the young collections',
    "with their main-thread pauses. CPU is the process's, all threads (GC helpers included), per request.",
    '',
    '| contender | req/s | bytes allocated / request | bytes promoted / request | young GCs / 1000 requests | young GC pause median ms | max ms | CPU µs / request |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...out,
  ].join('\n');
}

function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en') : 'n/a';
}
