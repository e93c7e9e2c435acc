import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sampleForPattern } from './pattern-sample.ts';

describe('values built from a schema pattern', () => {
  test('each value is accepted by its pattern', () => {
    for (const pattern of [
      '^20[2-9][0-9]$',
      '^0[1-9]|1[0-2]$',
      '^[a-z]{5}[1-9]{3}[a-z]{3}$',
      '^\\d{3,4}$',
      '^[A-Z]{2}-\\d+$',
      '^(?:visa|mastercard)$',
      '^(EUR|USD)\\.[0-9]{2}$',
      '^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$',
      '^\\+?[0-9 ]{7,15}$',
      'abc',
      '^[-a]x?$',
    ]) {
      const value = sampleForPattern(pattern);
      assert.ok(value !== undefined, pattern);
      assert.match(value, new RegExp(pattern, 'u'), `${pattern} → ${value}`);
    }
  });

  test('gives the least non-empty count and the first branch', () => {
    assert.equal(sampleForPattern('^20[2-9][0-9]$'), '2020');
    assert.equal(sampleForPattern('^[a-z]{5}[1-9]{3}[a-z]{3}$'), 'aaaaa111aaa');
    assert.equal(sampleForPattern('^(a|b)+$'), 'a');
  });

  test('gives up on what it does not know', () => {
    assert.equal(sampleForPattern('^(?=.*\\d)\\w+$'), undefined);
    assert.equal(sampleForPattern('^(a)\\1$'), undefined);
    assert.equal(sampleForPattern('^\\p{L}+$'), undefined);
    assert.equal(sampleForPattern('a{1000}'), undefined);
    assert.equal(sampleForPattern('(ab'), undefined);
    assert.equal(sampleForPattern('^[]$'), undefined);
  });
});
