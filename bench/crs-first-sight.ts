/**
 * What the header memo costs when nothing repeats (issue 17 item 5): the HTTP bench's request with every
 * header value new on every evaluation (a counter in each), so the engine's cross-request memo of header
 * values never hits and only adds its bookkeeping; CPU µs per evaluation, best of BENCH_CRS_BATCHES
 * batches, with BENCH_CRS_BASELINE's engine taking turns (as crs-engine.ts).
 *
 * Run: `BENCH_CRS_BASELINE=/tmp/old/src/waf/index.ts npx node bench/crs-first-sight.ts`.
 */
import { pathToFileURL } from 'node:url';
import { loadCoreRuleSet } from '../src/waf/index.ts';
import type { CompiledRuleSet, WafRequest } from '../src/waf/types.ts';
import { SHAPES } from './crs-engine.ts';

const BATCHES = Number(process.env.BENCH_CRS_BATCHES ?? 15);
const MS = Number(process.env.BENCH_CRS_MS ?? 60);
const CRS3 = process.env.CRS_RULES ?? '/usr/share/modsecurity-crs/rules';
const BASELINE = process.env.BENCH_CRS_BASELINE;

const shape = SHAPES.find(([name]) => name === '1 KB JSON POST, HTTP bench headers');
if (shape === undefined) throw new Error('no HTTP bench shape');
const base = shape[1];
let counter = 0;
/** The request with a fresh value in every header but Content-Length. */
function fresh(): WafRequest {
  counter++;
  return {
    ...base,
    headers: base.headers.map(([n, v]) => [n, n === 'Content-Length' ? v : `${v}${counter}`]),
  };
}

function batch(ruleSet: CompiledRuleSet): number {
  let n = 0;
  const start = process.cpuUsage();
  const end = performance.now() + MS;
  while (performance.now() < end) {
    for (let i = 0; i < 10; i++) ruleSet.evaluate(fresh());
    n += 10;
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

type Load = typeof loadCoreRuleSet;
const engines: Array<[string, CompiledRuleSet]> = [
  ['now', loadCoreRuleSet(CRS3, { paranoiaLevel: 1 }).ruleSet],
];
if (BASELINE !== undefined) {
  const old = ((await import(pathToFileURL(BASELINE).href)) as { loadCoreRuleSet: Load }).loadCoreRuleSet;
  engines.unshift(['baseline', old(CRS3, { paranoiaLevel: 1 }).ruleSet]);
}
for (const [, e] of engines) for (let i = 0; i < 1000; i++) e.evaluate(fresh());
const best = engines.map(() => Number.POSITIVE_INFINITY);
for (let b = 0; b < BATCHES; b++)
  engines.forEach(([, e], k) => {
    best[k] = Math.min(best[k], batch(e));
  });
console.log(
  `CRS 3.3 PL1, HTTP bench request, every header value new: ${engines
    .map(([name], k) => `${name} ${best[k].toFixed(1)} µs`)
    .join(', ')}`,
);
