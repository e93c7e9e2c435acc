/**
 * Cost of the injection policy's handler in this process (issue 17 item 5): CPU microseconds per request of
 * the bench's 1 KB JSON POST (the `postBench` operation of the bench spec, headers as the HTTP bench sends
 * them, the body already parsed as request validation leaves it) through
 *   - the built-in guard at paranoia 1 (the full pipeline's injection policy),
 *   - the CRS mode at PL1 with the built-in detectors kept (the CRS full pipeline's injection policy),
 *   - the CRS mode without them,
 *   - `ruleSet.evaluate` alone on the same request (the engine's own work),
 *   - `glue`: what the CRS handler computes before the engine (typed arguments, the engine's request),
 * taking turns batch by batch so a busy machine slows all alike; the table prints each beside the built-in
 * guard and what the CRS handler spends outside the engine. No HTTP, no other policy.
 *
 * Run: `npx node bench/crs-policy.ts` (BENCH_CRS_BATCHES batches of BENCH_CRS_MS each, default 25 × 60;
 * BENCH_CRS_ONLY=crs,evaluate measures only those).
 * `--profile <name>` runs one handler in a loop for 10 s for a CPU profile (`--cpu-prof`).
 */
import type { IncomingMessage } from 'node:http';
import type { Exchange } from '../src/core/exchange.ts';
import type { PolicyHandler } from '../src/core/policy.ts';
import {
  compileTypedArgs,
  type LoadedRuleSet,
  ruleSetKey,
  typedArgsOf,
  wafRequestOf,
} from '../src/policies/injection/crs.ts';
import { injectionPolicy } from '../src/policies/injection/policy.ts';
import type { CrsConfig, InjectionConfig } from '../src/policies/injection/schema.ts';
import { apiDocument, createTestContext, exchangeOf } from '../test/kit/policy.ts';
import { BENCH_SPEC, JSON_1K } from './scenario.ts';
import { CRS_RULES } from './scenarios.ts';

const MS = Number(process.env.BENCH_CRS_MS ?? 60);
const BATCHES = Number(process.env.BENCH_CRS_BATCHES ?? 25);

const spec = apiDocument(BENCH_SPEC as never);
const tc = createTestContext(spec);
const ctx = tc.ctx('postBench');
const body = Buffer.from(JSON_1K, 'utf8');
const json = JSON.parse(JSON_1K) as unknown;
const token = `eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoLTEiLCJ0eXAiOiJhdCtqd3QifQ.${'eyJzY29wZSI6ImJlbmNoOnJlYWQgYmVuY2g6d3JpdGUifQ'.repeat(10)}.${'c2lnbmF0dXJl'.repeat(28)}`;
const rawHeaders = [
  'Host',
  '127.0.0.1:8080',
  'authorization',
  `Bearer ${token}`,
  'content-type',
  'application/json',
  'Content-Length',
  String(body.length),
];
const headers: Record<string, string> = {};
for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i].toLowerCase()] = rawHeaders[i + 1];
const req = {
  method: 'POST',
  url: '/bench',
  httpVersion: '1.1',
  headers,
  rawHeaders,
} as unknown as IncomingMessage;

/** A fresh exchange for each request, with the JSON body validation already parsed. */
function exchange(): Exchange {
  const ex = exchangeOf(ctx, { req, url: '/bench', body });
  ex.json = json;
  return ex;
}

async function handler(config: Partial<InjectionConfig>): Promise<PolicyHandler> {
  const h = await injectionPolicy.compile(config as InjectionConfig, ctx);
  if (h === null || h.onRequest === undefined) throw new Error('no handler');
  return h;
}

// The defaults the config loader fills in from the policy's schema.
const crs = {
  path: CRS_RULES,
  paranoiaLevel: 1,
  inboundAnomalyThreshold: 5,
  schemaAware: true,
  builtinDetectors: true,
  exclusions: [],
  unicodeCodePage: 20127,
};
const contenders: Array<[string, () => void]> = [];
for (const [name, config] of [
  ['builtin', { mode: 'enforce', paranoia: 1 }],
  ['crs', { mode: 'enforce', crs }],
  ['crs-only', { mode: 'enforce', crs: { ...crs, builtinDetectors: false } }],
] as const) {
  const h = await handler(config as Partial<InjectionConfig>);
  contenders.push([
    name,
    () => {
      if (h.onRequest!(exchange()) !== undefined) throw new Error(`${name} refused the bench request`);
    },
  ]);
}
// The rule set the handlers share (loaded once per config load, as the gateway does).
const loaded = await ctx.shared.get<Promise<LoadedRuleSet>>(ruleSetKey(crs as CrsConfig), () => {
  throw new Error('the rule set was not loaded');
});
const ruleSet = loaded.rules;
const fixed = wafRequestOf(exchange());
/** Arguments of the bench body the spec types (customer.tier, an enum). */
const TYPED = 1;
// What the CRS handler computes before the engine: the schema-typed arguments and the engine's request.
const table = compileTypedArgs(ctx.operation, ctx.spec);
if (table === undefined) throw new Error('the bench operation types no argument');
contenders.push([
  'glue',
  () => {
    const ex = exchange();
    const typed = typedArgsOf(table, ex.rawQuery, headers['content-type'], ex.body, () => ex.json);
    if (wafRequestOf(ex, typed).typedArgs?.size !== TYPED) throw new Error('typed arguments changed');
  },
]);
contenders.push([
  'evaluate',
  () => {
    if (ruleSet.evaluate(fixed).blocked) throw new Error('the engine blocked the bench request');
  },
]);

function batch(run: () => void, ms: number): number {
  let n = 0;
  const start = process.cpuUsage();
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 10; i++) run();
    n += 10;
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const profile = process.argv.indexOf('--profile');
if (profile >= 0) {
  const name = process.argv[profile + 1] ?? 'crs';
  const run = contenders.find(([n]) => n === name)?.[1];
  if (run === undefined) throw new Error(`no contender ${name}`);
  console.log(`${name}: ${batch(run, 10_000).toFixed(1)} µs/request`);
} else {
  const only = process.env.BENCH_CRS_ONLY?.split(',');
  if (only !== undefined)
    for (let i = contenders.length - 1; i >= 0; i--)
      if (!only.includes(contenders[i][0])) contenders.splice(i, 1);
  for (const [, run] of contenders) batch(run, 200);
  const per = contenders.map(() => [] as number[]);
  for (let b = 0; b < BATCHES; b++) {
    for (const [k, [, run]] of contenders.entries()) per[k].push(batch(run, MS));
  }
  const best = per.map((xs) => Math.min(...xs));
  const us = Object.fromEntries(contenders.map(([n], k) => [n, best[k]]));
  console.log(`injection policy on the 1 KB JSON POST, CPU µs per request (best of ${BATCHES} × ${MS} ms)`);
  console.log('');
  console.log('| handler | µs/request | × built-in |');
  console.log('| --- | ---: | ---: |');
  for (const [n] of contenders)
    console.log(
      `| ${n} | ${us[n].toFixed(1)} | ${us.builtin === undefined ? '' : (us[n] / us.builtin).toFixed(2)} |`,
    );
  console.log('');
  if (only === undefined)
    console.log(
      `CRS handler outside the engine: ${(us['crs-only'] - us.evaluate).toFixed(1)} µs (crs-only − evaluate); ` +
        `built-in layer in CRS mode: ${(us.crs - us['crs-only']).toFixed(1)} µs`,
    );
}
