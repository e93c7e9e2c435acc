import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isFlagged, loadCorpus, percent, scoreCorpus } from './corpus.ts';
import { compileDetector } from './engine.ts';

const CORPUS = join(import.meta.dirname, '../../../test/fixtures/corpus');

/**
 * Floors measured on the committed corpus at paranoia 1 (see docs/injection.md). The corpus was written by
 * the same team as the rules, so these numbers are an upper bound of what unseen attacks will meet.
 */
const MIN_DETECTION = 0.95;
/**
 * Per class 1.5%: the benign pools share hand-written text that honestly trips level 1 (shell pipelines in
 * documentation, SQL written as SQL), and one class's pool happens to draw four of them. Overall 1%.
 */
const MAX_FALSE_POSITIVES = 0.015;
const MAX_FALSE_POSITIVES_OVERALL = 0.01;

describe('labelled corpus at paranoia 1', () => {
  const items = loadCorpus(CORPUS);
  const detector = compileDetector({ paranoia: 1 });
  const scores = scoreCorpus(items, (item) => isFlagged(detector, item));
  const table = scores
    .map(
      (s) =>
        `${s.class.padEnd(15)} ${percent(s.detected, s.attacks).padStart(7)} ${percent(s.falsePositives, s.benign).padStart(7)}`,
    )
    .join('\n');
  console.log(`class           detect     FP\n${table}`);

  test('holds at least 300 attacks and 300 benign inputs per class', () => {
    for (const s of scores) {
      assert.ok(s.attacks >= 300, `${s.class}: ${s.attacks} attacks`);
      assert.ok(s.benign >= 300, `${s.class}: ${s.benign} benign`);
    }
  });
  for (const s of scores) {
    test(`detects at least 95% of ${s.class} attacks`, () => {
      assert.ok(s.detected / s.attacks >= MIN_DETECTION, `${s.class}: ${percent(s.detected, s.attacks)}`);
    });
    test(`flags at most 1.5% of benign ${s.class} inputs`, () => {
      assert.ok(
        s.falsePositives / s.benign <= MAX_FALSE_POSITIVES,
        `${s.class}: ${percent(s.falsePositives, s.benign)}`,
      );
    });
  }
  test('flags at most 1% of all benign inputs', () => {
    const fp = scores.reduce((a, s) => a + s.falsePositives, 0);
    const benign = scores.reduce((a, s) => a + s.benign, 0);
    assert.ok(fp / benign <= MAX_FALSE_POSITIVES_OVERALL, percent(fp, benign));
  });
  test('paranoia 3 detects at least as much as paranoia 1 in every class', () => {
    const p3 = compileDetector({ paranoia: 3 });
    const high = scoreCorpus(items, (item) => isFlagged(p3, item));
    for (const [i, s] of scores.entries()) assert.ok(high[i].detected >= s.detected, s.class);
  });
});
