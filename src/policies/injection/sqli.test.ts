import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { detectSqli, pooledTextCount } from './sqli.ts';

describe('detectSqli token pool', () => {
  test('keeps no client text once a value is judged, whichever reading used the most slots', () => {
    // The plain reading makes many named tokens; the reading after the quote makes few. Only the slots of
    // the last reading used to be emptied, so the first reading's words (slices of the request body) stayed.
    const words = Array.from({ length: 300 }, (_, i) => `word${i}abcdefghijk`).join(' ');
    const value = `${words} ' then some more`;
    assert.equal(detectSqli(value, 1), false);
    assert.equal(pooledTextCount(), 0);
    assert.equal(detectSqli(`${words} ' OR 1=1 --`, 1), true);
    assert.equal(pooledTextCount(), 0);
  });

  test('a value judged after a long one still reads the same', () => {
    detectSqli(`${'abc '.repeat(5000)}'x`, 2);
    assert.equal(detectSqli("1' UNION SELECT password FROM users --", 1), true);
    assert.equal(detectSqli('plain words only', 1), false);
    assert.equal(pooledTextCount(), 0);
  });
});
