/**
 * Differential test of the CRS engine (issue 17): our corpus through Debian's nginx + libmodsecurity + CRS
 * 3.3 (the oracle) and through `loadCoreRuleSet` on the same rule files, at paranoia levels 1 and 2. The
 * matched rule ids and the block decision must agree on at least 99% of requests; every disagreement class
 * is printed. Then the benign corpus with and without schema awareness (the typed arguments a spec would
 * declare), to measure the false positives it removes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadCoreRuleSet, readUnicodeMapFile } from '../../src/waf/index.ts';
import type { CompiledRuleSet } from '../../src/waf/types.ts';
import { type CorpusRequest, generateCorpus } from './corpus.ts';
import { formatReport, runDifferential, toWafRequest } from './differential.ts';
import { DEBIAN_CRS_RULES, type Oracle, oracleUnavailable, startOracle, UNICODE_MAP } from './oracle.ts';

/** The bar of issue 17. */
const AGREEMENT = 0.99;
const corpus: CorpusRequest[] = generateCorpus();

const unavailable = oracleUnavailable();
if (unavailable !== undefined) {
  // Tests never skip: the oracle is part of the test environment (.ci/run installs it).
  throw new Error(`the CRS oracle cannot run: ${unavailable}`);
}

for (const paranoiaLevel of [1, 2]) {
  describe(`CRS 3.3 at paranoia level ${paranoiaLevel}`, () => {
    let oracle: Oracle;
    let rules: CompiledRuleSet;
    before(async () => {
      oracle = await startOracle({ paranoiaLevel });
      // The engine settings of the oracle's modsecurity.conf that matter to the rules: SecUnicodeMapFile.
      const loaded = loadCoreRuleSet(
        DEBIAN_CRS_RULES,
        { paranoiaLevel },
        { unicodeMap: readUnicodeMapFile(UNICODE_MAP) },
      );
      rules = loaded.ruleSet;
    });
    after(() => oracle?.stop());

    test(`matched rule ids and the block decision agree with libmodsecurity on at least ${AGREEMENT * 100}% of requests`, async () => {
      const report = await runDifferential(corpus, oracle, rules);
      console.log(formatReport(`PL${paranoiaLevel}`, report));
      assert.ok(
        report.compared > corpus.length * 0.95,
        `only ${report.compared} requests reached ModSecurity`,
      );
      assert.ok(
        report.agreement >= AGREEMENT,
        `agreement ${(report.agreement * 100).toFixed(2)}% < ${AGREEMENT * 100}%:\n${formatReport(`PL${paranoiaLevel}`, report)}`,
      );
    });

    test('schema awareness blocks fewer benign requests than the same rules without it', () => {
      let plain = 0;
      let aware = 0;
      const benign = corpus.filter((c) => c.label === 'benign');
      for (const req of benign) {
        const base = toWafRequest(req, oracle);
        if (rules.evaluate(base).blocked) plain++;
        if (rules.evaluate({ ...base, ...(req.typedArgs ? { typedArgs: req.typedArgs } : {}) }).blocked)
          aware++;
      }
      console.log(
        `PL${paranoiaLevel} benign requests blocked: ${plain}/${benign.length} without schema awareness, ${aware}/${benign.length} with it`,
      );
      assert.ok(aware < plain, `${aware} with schema awareness, ${plain} without`);
    });
  });
}
