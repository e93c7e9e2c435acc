/**
 * Verdict equivalence of two CRS engines (issue 17 item 5): every speed change must leave the matched rules,
 * their messages and data, the score and the decision as they were. The engine of this checkout and an older
 * one (BENCH_CRS_BASELINE names its `src/waf/index.ts`, e.g. after `git archive HEAD src/waf | tar x -C
 * /tmp/old`) evaluate the same requests: our corpus, the rule-derived draws of each rule set, the bench
 * shapes (also with the Authorization header repeated), at PL1–PL4 on Debian's CRS 3.3 and on CRS 4 when
 * CRS4_RULES names its `rules/` folder; with no exclusions, with schema types, and with a few exclusion sets
 * (ids, tags, targets; some touching rules decided at load). The whole list is evaluated twice in a row, so
 * that anything an engine keeps across requests is exercised on repeated and on fresh values.
 *
 * Run: `BENCH_CRS_BASELINE=/tmp/old/src/waf/index.ts npx node bench/crs-equivalence.ts` (BENCH_EQ_PLS
 * overrides the levels, e.g. `1,2`). Prints the count of evaluations compared and the first differences;
 * exits 1 on any difference.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { loadCoreRuleSet } from '../src/waf/index.ts';
import type { WafExclusions, WafRequest } from '../src/waf/types.ts';
import { generateCorpus } from '../test/waf/corpus.ts';
import { deriveRequests } from '../test/waf/rule-derived.ts';
import { SHAPES } from './crs-engine.ts';

const CRS3 = process.env.CRS_RULES ?? '/usr/share/modsecurity-crs/rules';
const CRS4 = process.env.CRS4_RULES;
const BASELINE = process.env.BENCH_CRS_BASELINE;
const PLS = (process.env.BENCH_EQ_PLS ?? '1,2,3,4').split(',').map(Number);

type Load = typeof loadCoreRuleSet;

function toRequest(req: ReturnType<typeof generateCorpus>[number]): WafRequest {
  const headers: Array<[string, string]> = req.headers.some(([n]) => n.toLowerCase() === 'host')
    ? []
    : [['Host', 'localhost']];
  for (const [n, v] of req.headers) headers.push([n, v]);
  if (req.body !== undefined && !req.headers.some(([n]) => n.toLowerCase() === 'content-length'))
    headers.push(['Content-Length', String(req.body.length)]);
  return {
    method: req.method,
    uri: req.uri,
    protocol: 'HTTP/1.1',
    headers,
    body: req.body,
    remoteAddr: '127.0.0.1',
    typedArgs: req.typedArgs,
  };
}

const EXCLUSIONS: ReadonlyArray<WafExclusions | undefined> = [
  undefined,
  { removeIds: new Set([942100, 920350, 901200]) },
  { removeTags: new Set(['attack-sqli', 'OWASP_CRS/WEB_ATTACK/SQL_INJECTION']) },
  {
    removeTargets: new Map([
      [942100, ['ARGS:q', 'REQUEST_COOKIES']],
      [949110, ['TX:ANOMALY_SCORE']],
      [920170, ['REQUEST_HEADERS:Content-Length']],
    ]),
    removeTargetsByTag: new Map([['attack-xss', ['ARGS:comment', 'REQUEST_HEADERS:User-Agent']]]),
  },
];

async function main(): Promise<void> {
  if (BASELINE === undefined) throw new Error('BENCH_CRS_BASELINE names the older engine (src/waf/index.ts)');
  const old = ((await import(pathToFileURL(BASELINE).href)) as { loadCoreRuleSet: Load }).loadCoreRuleSet;
  const corpus = generateCorpus().map(toRequest);
  const shapes = SHAPES.map(([, r]) => r);
  const longToken = shapes.map((r) => ({
    ...r,
    headers: r.headers.map(([n, v]) => [n, n === 'Authorization' ? v + v.slice(7).repeat(7) : v]),
  })) as WafRequest[];
  const sets: Array<[string, string]> = [['CRS 3.3', CRS3]];
  if (CRS4 !== undefined && existsSync(CRS4)) sets.push(['CRS 4', CRS4]);
  let compared = 0;
  let differences = 0;
  for (const [name, dir] of sets) {
    const derived = deriveRequests(dir).map(toRequest);
    const requests = [...shapes, ...longToken, ...corpus, ...derived];
    for (const pl of PLS) {
      const a = old(dir, { paranoiaLevel: pl }).ruleSet;
      const b = loadCoreRuleSet(dir, { paranoiaLevel: pl }).ruleSet;
      let setCompared = 0;
      let setDiffs = 0;
      for (let round = 0; round < 2; round++) {
        for (const [k, ex] of EXCLUSIONS.entries()) {
          // The exclusion sets on every fourth request only: they are few and the corpus is long.
          for (const [i, req] of requests.entries()) {
            if (k > 0 && i % 4 !== k) continue;
            const va = JSON.stringify(a.evaluate(req, ex));
            const vb = JSON.stringify(b.evaluate(req, ex));
            setCompared++;
            if (va !== vb) {
              setDiffs++;
              if (differences + setDiffs <= 5)
                console.log(`DIFF ${name} PL${pl} request ${i} exclusions ${k}:\n  old ${va}\n  new ${vb}`);
            }
          }
        }
      }
      console.log(`${name} PL${pl}: ${setCompared} evaluations, ${setDiffs} different`);
      compared += setCompared;
      differences += setDiffs;
    }
  }
  console.log(`total: ${compared} evaluations, ${differences} different`);
  if (differences > 0) process.exitCode = 1;
}

await main();
