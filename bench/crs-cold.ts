/**
 * Cost of one CRS evaluation with cold caches (issue 17 item 5): in the gateway the rest of the pipeline
 * (JWT, validation, proxying, the response filter) runs between two evaluations and evicts the engine's
 * tables from the CPU caches, which a loop of evaluations (bench/crs-engine.ts) never does. Here each
 * evaluation of the HTTP bench's request follows a sweep over BENCH_COLD_MB megabytes of other memory
 * (default 16; 0 for a warm loop); microseconds of wall time per evaluation, median of BENCH_COLD_RUNS
 * batches, with BENCH_CRS_BASELINE's engine taking turns as in crs-engine.ts.
 *
 * Run: `npx node bench/crs-cold.ts` (CRS_RULES, CRS4_RULES and BENCH_CRS_BASELINE as crs-engine.ts).
 */
import { pathToFileURL } from 'node:url';
import { loadCoreRuleSet } from '../src/waf/index.ts';
import type { CompiledRuleSet } from '../src/waf/types.ts';
import { SHAPES } from './crs-engine.ts';

const MB = Number(process.env.BENCH_COLD_MB ?? 16);
const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 15);
const PER_RUN = 40;
const CRS3 = process.env.CRS_RULES ?? '/usr/share/modsecurity-crs/rules';
const CRS4 = process.env.CRS4_RULES;
const BASELINE = process.env.BENCH_CRS_BASELINE;

const other = new Int32Array((MB * 1024 * 1024) / 4);
let sink = 0;
/** Touches every cache line of `other`, as the rest of a request's work would. */
function sweep(): void {
  for (let i = 0; i < other.length; i += 16) {
    other[i] = (other[i] + i) | 0;
    sink ^= other[i];
  }
}

const shape = SHAPES.find(([name]) => name === '1 KB JSON POST, HTTP bench headers');
if (shape === undefined) throw new Error('no HTTP bench shape');
const req = shape[1];

/** Microseconds per evaluation over one batch, each evaluation after a sweep. */
function batch(ruleSet: CompiledRuleSet): number {
  let total = 0;
  for (let k = 0; k < PER_RUN; k++) {
    if (MB > 0) sweep();
    const t0 = performance.now();
    ruleSet.evaluate(req);
    total += performance.now() - t0;
  }
  return (total * 1000) / PER_RUN;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

type Load = typeof loadCoreRuleSet;
const old: Load | undefined =
  BASELINE === undefined
    ? undefined
    : ((await import(pathToFileURL(BASELINE).href)) as { loadCoreRuleSet: Load }).loadCoreRuleSet;
const sets: Array<[string, string]> = [['CRS 3.3', CRS3]];
if (CRS4 !== undefined) sets.push(['CRS 4', CRS4]);
console.log(`µs per evaluation after a ${MB} MB sweep (median of ${RUNS} × ${PER_RUN})`);
for (const [name, dir] of sets) {
  const engines: CompiledRuleSet[] = [loadCoreRuleSet(dir, { paranoiaLevel: 1 }).ruleSet];
  if (old) engines.unshift(old(dir, { paranoiaLevel: 1 }).ruleSet);
  for (const e of engines) for (let i = 0; i < 2000; i++) e.evaluate(req);
  const per = engines.map(() => [] as number[]);
  for (let r = 0; r < RUNS; r++)
    engines.forEach((e, k) => {
      per[k].push(batch(e));
    });
  const us = per.map(median);
  console.log(
    old
      ? `${name} PL1: baseline ${us[0].toFixed(1)} µs, now ${us[1].toFixed(1)} µs (${(us[0] / us[1]).toFixed(2)}×)`
      : `${name} PL1: ${us[0].toFixed(1)} µs`,
  );
}
if (sink === 0.5) console.log(sink);
