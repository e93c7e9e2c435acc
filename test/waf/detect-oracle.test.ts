/**
 * Differential test of src/waf/detect against libmodsecurity's @detectSQLi / @detectXSS (issue 17): the
 * same generated values (test/waf/detect-corpus.ts: benign API values and injection templates) go through
 * Debian's nginx + ModSecurity with a two-rule file and through our detectors; the decisions must agree on
 * at least 99% of the values, separately for SQLi and XSS, and each direction of disagreement stays small.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { detectSQLi, detectXSS } from '../../src/waf/detect/index.ts';
import { attackValues, benignValues } from './detect-corpus.ts';
import { type DetectOracle, type DetectVerdict, startDetectOracle } from './detect-oracle-server.ts';

interface Agreement {
  readonly total: number;
  readonly agree: number;
  /** The oracle flagged it, we did not. */
  readonly missed: string[];
  /** We flagged it, the oracle did not. */
  readonly extra: string[];
}

function compare(
  values: readonly string[],
  oracle: readonly boolean[],
  ours: (v: string) => boolean,
): Agreement {
  const missed: string[] = [];
  const extra: string[] = [];
  let agree = 0;
  values.forEach((v, i) => {
    const mine = ours(v);
    if (mine === oracle[i]) agree++;
    else if (oracle[i]) missed.push(v);
    else extra.push(v);
  });
  return { total: values.length, agree, missed, extra };
}

function describeAgreement(name: string, a: Agreement): string {
  return `${name}: ${a.agree}/${a.total} agree (${((100 * a.agree) / a.total).toFixed(2)}%), ${a.missed.length} missed, ${a.extra.length} extra; first missed ${JSON.stringify(a.missed.slice(0, 5))}, first extra ${JSON.stringify(a.extra.slice(0, 5))}`;
}

describe('detectors against libmodsecurity', () => {
  let oracle: DetectOracle;
  let values: string[];
  let verdicts: DetectVerdict[];

  before(async () => {
    oracle = await startDetectOracle();
    values = [...new Set([...attackValues(4000, 11), ...benignValues(6000, 12)])];
    verdicts = await oracle.classify(values);
  });

  after(async () => {
    await oracle?.stop();
  });

  test('the corpus holds both SQLi and XSS positives and plenty of negatives', () => {
    const sqli = verdicts.filter((v) => v.sqli).length;
    const xss = verdicts.filter((v) => v.xss).length;
    assert.ok(sqli > 500, `only ${sqli} SQLi positives`);
    assert.ok(xss > 500, `only ${xss} XSS positives`);
    assert.ok(values.length - sqli - xss > 4000);
  });

  test('detectSQLi agrees with @detectSQLi on at least 99% of the values', () => {
    const a = compare(
      values,
      verdicts.map((v) => v.sqli),
      (v) => detectSQLi(v).match,
    );
    assert.ok(a.agree / a.total >= 0.99, describeAgreement('SQLi', a));
    assert.ok(
      a.missed.length <= a.total * 0.01 && a.extra.length <= a.total * 0.01,
      describeAgreement('SQLi', a),
    );
  });

  test('detectSQLi reports the fingerprint libinjection reports when both match', () => {
    let same = 0;
    let both = 0;
    values.forEach((v, i) => {
      const mine = detectSQLi(v);
      if (mine.match && verdicts[i].sqli) {
        both++;
        if (mine.fingerprint === verdicts[i].fingerprint) same++;
      }
    });
    assert.ok(both > 0 && same / both >= 0.95, `${same}/${both} fingerprints equal`);
  });

  test('detectXSS agrees with @detectXSS on at least 99% of the values', () => {
    const a = compare(
      values,
      verdicts.map((v) => v.xss),
      detectXSS,
    );
    assert.ok(a.agree / a.total >= 0.99, describeAgreement('XSS', a));
    assert.ok(
      a.missed.length <= a.total * 0.01 && a.extra.length <= a.total * 0.01,
      describeAgreement('XSS', a),
    );
  });
});
