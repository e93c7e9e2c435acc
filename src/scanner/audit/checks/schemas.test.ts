import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileSpecPattern, PatternError } from '../../../openapi/pattern.ts';
import { plainPattern } from './schemas.ts';

/** Whether the gateway's compile accepts the pattern. */
function compiles(source: string): boolean {
  try {
    compileSpecPattern(source);
    return true;
  } catch (e) {
    if (e instanceof PatternError) return false;
    throw e;
  }
}

describe('plainPattern', () => {
  test('clears the patterns real specs are made of', () => {
    for (const p of [
      '^AC[0-9a-fA-F]{32}$',
      '^[a-zA-Z]{2}[0-9a-fA-F]{32}$',
      '^(SM|MM)[0-9a-fA-F]{32}$',
      '^XY[0-9a-f]{32}(,XY[0-9a-f]{32}){0,19}$',
      '^\\d{3}-\\d{4}$',
      '^[\\w.-]+@[\\w-]+\\.[a-z]{2,}$',
      '^(?:red|green|blue)$',
      '^https://[^ ]+$',
      '^[A-Z_]+$',
      '.*',
      'a+?b*?c??d{2,5}?',
    ]) {
      assert.equal(plainPattern(p), true, p);
      assert.equal(compiles(p), true, p);
    }
  });

  test('leaves to RE2 what it cannot be sure of, refused or not', () => {
    for (const p of [
      '(a)\\1', // backreference: refused
      '(?=a)b', // lookahead: refused
      '(?<!a)b', // lookbehind: refused
      'a{1001}', // RE2: count above 1000
      '(a{100}){20}', // RE2: nested counts above 1000
      '(a{40}|b{40}){30}',
      'a{2,1}', // not a regular expression
      'a**',
      '[z-a]',
      '[\\w-z]', // a range from a class escape
      '[[:alpha:]]',
      '[]',
      '[^]',
      '(|a)',
      '(a|)',
      'a|',
      '(a',
      'a)',
      '{2}',
      '^*',
      '\\s+', // rewritten for RE2: left to the compile
      '\\bword\\b',
      '\\p{L}+',
      '\\u0041',
      '(?i)a',
      '(?<name>a)',
      'é+',
      '',
    ]) {
      assert.equal(plainPattern(p), false, p);
    }
  });

  test('every pattern it clears compiles for the gateway (generated patterns)', () => {
    // Pieces chosen to hit the edges: quantifiers after anything, dashes in classes, groups, escapes.
    const pieces = [
      'a',
      'Z',
      '0',
      '9',
      '-',
      '_',
      '.',
      ',',
      ':',
      '/',
      ' ',
      '#',
      '@',
      '~',
      '"',
      "'",
      '^',
      '$',
      '|',
      '(',
      ')',
      '(?:',
      '(?=',
      '[',
      ']',
      '[^',
      '-]',
      'a-z',
      'z-a',
      'A-Z',
      '0-9',
      '9-0',
      'a-Z',
      '\\d',
      '\\w',
      '\\W',
      '\\D',
      '\\.',
      '\\-',
      '\\\\',
      '\\/',
      '\\(',
      '\\[',
      '\\]',
      '\\{',
      '\\s',
      '\\b',
      '\\1',
      '*',
      '+',
      '?',
      '{',
      '}',
      '{2}',
      '{0,3}',
      '{3,}',
      '{5,2}',
      '{999}',
      '{1000}',
      '{1001}',
      '{,4}',
      '{40}',
      '{30}',
    ];
    let seed = 0x2545f491;
    const random = (n: number) => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      return seed % n;
    };
    let cleared = 0;
    for (let k = 0; k < 20_000; k++) {
      let p = '';
      const length = 1 + random(12);
      for (let j = 0; j < length; j++) p += pieces[random(pieces.length)];
      if (!plainPattern(p)) continue;
      cleared++;
      assert.equal(compiles(p), true, `cleared but refused by the gateway: ${JSON.stringify(p)}`);
    }
    // The test means something only if many generated patterns are cleared.
    assert.ok(cleared > 1000, `only ${cleared} generated patterns cleared`);
  });
});
