/**
 * The CRS differential of issue 17 on any rule set, run by hand: our corpus (`test/waf/corpus.ts`) and the
 * requests derived from the rules themselves (`test/waf/rule-derived.ts`) through Debian's nginx +
 * libmodsecurity with the rule folder given and through our engine on the same folder, at each paranoia
 * level asked. Prints the agreement on matched rule ids and on the decision, per set, and every
 * disagreement class. `npm test` runs the CRS 3.3 differential (test/waf/differential.test.ts); this script
 * is for rule sets CI does not have, such as a CRS 4 release a user downloads (we may not ship its rules).
 *
 * Usage: node scripts/crs-differential.ts [--rules DIR] [--pl 1,2] [--sets corpus,derived] [--seeds 4]
 *        [--details FILE]
 *   --rules    a CRS rules/ folder (default: Debian's /usr/share/modsecurity-crs/rules)
 *   --seeds    seeds of the derived set, comma-separated (each gives a different draw of values)
 *   --details  writes every disagreeing request with both sides' rule ids as JSON lines
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadCoreRuleSet, readUnicodeMapFile } from '../src/waf/index.ts';
import { type CorpusRequest, generateCorpus } from '../test/waf/corpus.ts';
import { formatReport, runDifferential } from '../test/waf/differential.ts';
import {
  DEBIAN_CRS_RULES,
  oracleUnavailable,
  ruleSetVersion,
  startOracle,
  UNICODE_MAP,
} from '../test/waf/oracle.ts';
import { deriveRequests } from '../test/waf/rule-derived.ts';

const { values } = parseArgs({
  options: {
    rules: { type: 'string', default: DEBIAN_CRS_RULES },
    pl: { type: 'string', default: '1,2' },
    sets: { type: 'string', default: 'corpus,derived' },
    seeds: { type: 'string', default: '4' },
    details: { type: 'string' },
  },
});
const rulesPath = values.rules;
const why = oracleUnavailable(rulesPath);
if (why !== undefined) {
  console.error(`crs-differential: ${why}`);
  process.exit(2);
}
const levels = values.pl.split(',').map(Number);
if (levels.some((l) => !Number.isInteger(l) || l < 1 || l > 4)) {
  console.error(`crs-differential: --pl takes levels 1 to 4, got ${values.pl}`);
  process.exit(2);
}
const sets: Array<[string, CorpusRequest[]]> = [];
for (const name of values.sets.split(',')) {
  if (name === 'corpus') sets.push([name, generateCorpus()]);
  else if (name === 'derived')
    sets.push([name, values.seeds.split(',').flatMap((seed) => deriveRequests(rulesPath, Number(seed)))]);
  else {
    console.error(`crs-differential: unknown set ${name} (corpus, derived)`);
    process.exit(2);
  }
}

console.log(`rule set: OWASP CRS ${ruleSetVersion(rulesPath) ?? '(unknown version)'} in ${rulesPath}`);
const details: string[] = [];
for (const paranoiaLevel of levels) {
  const oracle = await startOracle({ paranoiaLevel, rulesPath });
  try {
    const { ruleSet } = loadCoreRuleSet(
      rulesPath,
      { paranoiaLevel },
      { unicodeMap: readUnicodeMapFile(UNICODE_MAP) },
    );
    for (const [name, requests] of sets) {
      const report = await runDifferential(requests, oracle, ruleSet);
      console.log(formatReport(`PL${paranoiaLevel} ${name} (${requests.length} requests)`, report));
      const byId = new Map(requests.map((q) => [q.id, q]));
      for (const c of report.comparisons) {
        if (c.agrees) continue;
        const q = byId.get(c.id) as CorpusRequest;
        details.push(
          JSON.stringify({
            pl: paranoiaLevel,
            set: name,
            ...c,
            request: { method: q.method, uri: q.uri, headers: q.headers, body: q.body?.toString('latin1') },
          }),
        );
      }
    }
  } finally {
    await oracle.stop();
  }
}
if (values.details !== undefined) writeFileSync(values.details, `${details.join('\n')}\n`);
