/**
 * Cost of one CRS evaluation in this process (issue 17 item 5): microseconds of CPU per request for a few
 * request shapes (the bench's 1 KB JSON POST, a GET with a query string, a form POST, an attack in the query)
 * at paranoia levels 1 and 2, on Debian's CRS 3.3 and, when CRS4_RULES names a CRS 4 `rules/` directory, on
 * CRS 4 too. Only `ruleSet.evaluate` is timed: no HTTP, no gateway.
 *
 * Run: `npx node bench/crs-engine.ts` (BENCH_CRS_BATCHES batches of BENCH_CRS_MS each, default 25 × 60; CRS_RULES overrides the
 * Debian path). `--profile` runs the JSON POST at PL1 in a loop for a CPU profile (`node --cpu-prof`).
 * BENCH_CRS_BASELINE names the `src/waf/index.ts` of another checkout (an older engine, e.g. extracted with
 * `git archive <commit> src/waf | tar x -C /tmp/old`): both engines are then measured on the same rules,
 * batches alternating, so a busy machine slows both alike, and the table gains a before/after column.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { loadCoreRuleSet } from '../src/waf/index.ts';
import type { CompiledRuleSet, WafRequest } from '../src/waf/types.ts';
import { JSON_1K } from './scenario.ts';

const MS = Number(process.env.BENCH_CRS_MS ?? 60);
const BATCHES = Number(process.env.BENCH_CRS_BATCHES ?? 25);
const CRS3 = process.env.CRS_RULES ?? '/usr/share/modsecurity-crs/rules';
const CRS4 = process.env.CRS4_RULES;
const BASELINE = process.env.BENCH_CRS_BASELINE;

type Load = typeof loadCoreRuleSet;

const COMMON: Array<[string, string]> = [
  ['Host', 'api.example.test'],
  [
    'User-Agent',
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  ],
  ['Accept', 'application/json'],
  ['Accept-Encoding', 'gzip, deflate, br'],
  ['Accept-Language', 'en-GB,en;q=0.9'],
  [
    'Authorization',
    'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjLTEwMjkzODQ3NTYiLCJzY29wZSI6Im9yZGVyczp3cml0ZSJ9.c2ln',
  ],
];

function request(method: string, uri: string, headers: Array<[string, string]>, body?: string): WafRequest {
  const buf = body === undefined ? undefined : Buffer.from(body, 'utf8');
  const all: Array<[string, string]> = [...COMMON, ...headers];
  if (buf) all.push(['Content-Length', String(buf.length)]);
  return { method, uri, protocol: 'HTTP/1.1', headers: all, body: buf, remoteAddr: '203.0.113.7' };
}

/** The request shapes measured. */
export const SHAPES: ReadonlyArray<readonly [string, WafRequest]> = [
  ['1 KB JSON POST', request('POST', '/orders', [['Content-Type', 'application/json']], JSON_1K)],
  [
    'GET with query',
    request(
      'GET',
      '/products?q=blue%20running%20shoes&sort=-created_at&page=2&limit=50&status=active&fields=id,name,price',
      [['Cookie', 'session=2f9c1e7a4b; theme=dark; consent=yes']],
    ),
  ],
  [
    'form POST',
    request(
      'POST',
      '/account/profile',
      [['Content-Type', 'application/x-www-form-urlencoded']],
      'name=Dana+O%27Brien&email=dana.obrien%40example.com&city=London&bio=I+like+tea%2C+moats+and+drawbridges.&newsletter=on',
    ),
  ],
  [
    'attack in the query',
    request('GET', "/products?q=1'%20UNION%20SELECT%20password%20FROM%20users--&page=1", []),
  ],
  // The HTTP bench's request (bench/scenarios.ts, bench/crs-policy.ts): its four headers, a 700-byte token.
  [
    '1 KB JSON POST, HTTP bench headers',
    {
      method: 'POST',
      uri: '/bench',
      protocol: 'HTTP/1.1',
      headers: [
        ['Host', '127.0.0.1:8080'],
        [
          'authorization',
          `Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoLTEiLCJ0eXAiOiJhdCtqd3QifQ.${'eyJzY29wZSI6ImJlbmNoOnJlYWQgYmVuY2g6d3JpdGUifQ'.repeat(10)}.${'c2lnbmF0dXJl'.repeat(28)}`,
        ],
        ['content-type', 'application/json'],
        ['Content-Length', String(Buffer.byteLength(JSON_1K))],
      ],
      body: Buffer.from(JSON_1K, 'utf8'),
      remoteAddr: '127.0.0.1',
    },
  ],
];

/** Touches every cache line of `other`. */
function sweepMemory(other: Int32Array): void {
  for (let i = 0; i < other.length; i += 16) other[i] = (other[i] + i) | 0;
}

/** CPU microseconds per evaluation of `req` over one batch of about `ms` milliseconds. */
function batch(ruleSet: CompiledRuleSet, req: WafRequest, ms: number): number {
  let n = 0;
  const start = process.cpuUsage();
  const wallEnd = performance.now() + ms;
  while (performance.now() < wallEnd) {
    for (let i = 0; i < 20; i++) ruleSet.evaluate(req);
    n += 20;
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

/**
 * CPU microseconds per evaluation of `req` for each rule set given: the best of BATCHES short batches each,
 * the rule sets taking turns batch by batch. The best batch, not the median: on a shared machine a batch
 * can only be slowed down by its neighbours, never sped up.
 */
export function measure(ruleSets: readonly CompiledRuleSet[], req: WafRequest, ms = MS): number[] {
  for (const r of ruleSets) for (let i = 0; i < 50; i++) r.evaluate(req);
  const per = ruleSets.map(() => [] as number[]);
  for (let b = 0; b < BATCHES; b++) {
    ruleSets.forEach((r, k) => {
      per[k].push(batch(r, req, ms));
    });
  }
  return per.map((xs) => Math.min(...xs));
}

async function main(): Promise<void> {
  const sets: Array<[string, string]> = [['CRS 3.3 (Debian)', CRS3]];
  if (CRS4 !== undefined) sets.push(['CRS 4', CRS4]);
  const countAt = process.argv.indexOf('--count');
  if (countAt >= 0) {
    // For instruction counts (valgrind --tool=callgrind): N evaluations of one shape after a warm-up of
    // WARM; the difference of two runs (N and a larger N) divided by the difference of N is the cost of
    // one evaluation, load and warm-up cancelling out.
    const n = Number(process.argv[countAt + 1] ?? 1000);
    const warm = Number(process.env.BENCH_CRS_WARM ?? 300);
    const pl = Number(process.env.BENCH_CRS_PL ?? 1);
    const shape = Number(process.env.BENCH_CRS_SHAPE ?? 0);
    const path = process.env.BENCH_CRS_SET === '4' ? (CRS4 as string) : CRS3;
    const { ruleSet } = loadCoreRuleSet(path, { paranoiaLevel: pl });
    // BENCH_CRS_TOKEN_REPEAT: the Authorization header's payload repeated (the HTTP bench's token is ~700 bytes).
    const repeat = Number(process.env.BENCH_CRS_TOKEN_REPEAT ?? 1);
    const base = SHAPES[shape][1];
    const req: WafRequest = {
      ...base,
      headers: base.headers.map(([n, v]) => [
        n,
        n === 'Authorization' ? v + v.slice(7).repeat(repeat - 1) : v,
      ]),
    };
    // BENCH_CRS_SWEEP_MB: a sweep over that much other memory before each evaluation (warm-up included),
    // as the rest of a gateway request evicts the engine's data and code from the caches; with callgrind's
    // --cache-sim the misses then count what an evaluation brings back (the sweep is its own function).
    const sweepMb = Number(process.env.BENCH_CRS_SWEEP_MB ?? 0);
    const other = new Int32Array((sweepMb * 1024 * 1024) / 4);
    let score = 0;
    for (let i = 0; i < warm; i++) {
      if (sweepMb > 0) sweepMemory(other);
      score += ruleSet.evaluate(req).anomalyScore;
    }
    // BENCH_CRS_SYNC names a directory: the run waits there for `go` after the warm-up and writes `done`
    // after the N evaluations, so a script can turn callgrind's counting on and off around them alone
    // (`valgrind --tool=callgrind --instr-atstart=no`, `callgrind_control -i on|off`).
    const sync = process.env.BENCH_CRS_SYNC;
    const waitFor = (file: string) => {
      const cell = new Int32Array(new SharedArrayBuffer(4));
      while (!existsSync(`${sync}/${file}`)) Atomics.wait(cell, 0, 0, 20);
    };
    if (sync !== undefined) {
      writeFileSync(`${sync}/ready`, '');
      waitFor('go');
    }
    for (let i = 0; i < n; i++) {
      if (sweepMb > 0) sweepMemory(other);
      score += ruleSet.evaluate(req).anomalyScore;
    }
    if (sync !== undefined) {
      writeFileSync(`${sync}/done`, '');
      waitFor('exit');
    }
    console.log(`${n} evaluations after ${warm}, score sum ${score}`);
    return;
  }
  if (process.argv.includes('--profile')) {
    const { ruleSet } = loadCoreRuleSet(CRS3, { paranoiaLevel: 1 });
    const req = SHAPES[0][1];
    const end = performance.now() + 10_000;
    let n = 0;
    while (performance.now() < end) {
      ruleSet.evaluate(req);
      n++;
    }
    console.log(`${n} evaluations`);
    return;
  }
  const baseline: Load | undefined =
    BASELINE === undefined
      ? undefined
      : ((await import(pathToFileURL(BASELINE).href)) as { loadCoreRuleSet: Load }).loadCoreRuleSet;
  console.log(`CRS engine, CPU µs per request (best of ${BATCHES} × ${MS} ms), ${cpus()[0]?.model ?? ''}`);
  if (baseline) console.log(`baseline: ${BASELINE}`);
  console.log('');
  console.log(
    baseline
      ? '| rule set | PL | shape | baseline µs | µs/request | speed-up | score | blocked | same verdict |'
      : '| rule set | PL | shape | µs/request | score | blocked |',
  );
  console.log(
    baseline
      ? '| --- | ---: | --- | ---: | ---: | ---: | ---: | --- | --- |'
      : '| --- | ---: | --- | ---: | ---: | --- |',
  );
  for (const [name, path] of sets) {
    if (!existsSync(path)) {
      console.log(`| ${name} | | ${path} missing | | | |`);
      continue;
    }
    for (const pl of [1, 2]) {
      const { ruleSet } = loadCoreRuleSet(path, { paranoiaLevel: pl });
      const old = baseline?.(path, { paranoiaLevel: pl }).ruleSet;
      for (const [shape, req] of SHAPES) {
        const verdict = ruleSet.evaluate(req);
        if (old) {
          const same = JSON.stringify(old.evaluate(req)) === JSON.stringify(verdict);
          const [before, after] = measure([old, ruleSet], req);
          console.log(
            `| ${name} | ${pl} | ${shape} | ${before.toFixed(1)} | ${after.toFixed(1)} | ${(before / after).toFixed(1)}× | ${verdict.anomalyScore} | ${verdict.blocked} | ${same} |`,
          );
        } else {
          const [us] = measure([ruleSet], req);
          console.log(
            `| ${name} | ${pl} | ${shape} | ${us.toFixed(1)} | ${verdict.anomalyScore} | ${verdict.blocked} |`,
          );
        }
      }
    }
  }
}

if (import.meta.main) await main();
