import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RE2JS } from 're2js';
import { compileSpecPattern, PatternError, patternRefusal } from './pattern.ts';

/** Deterministic strings over an alphabet that exercises classes, dots, spaces and astral characters. */
function* samples(count: number): Generator<string> {
  const alphabet = [
    'a',
    'Z',
    '0',
    '9',
    '_',
    '-',
    '.',
    '@',
    ' ',
    '\t',
    '\n',
    '\r',
    '\u00a0',
    '\u2028',
    'é',
    '😀',
    '/',
    '+',
  ];
  let seed = 7;
  for (let i = 0; i < count; i++) {
    let s = '';
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const len = seed % 12;
    for (let j = 0; j < len; j++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      s += alphabet[seed % alphabet.length];
    }
    yield s;
  }
}

describe('compileSpecPattern', () => {
  test('agrees with ECMA-262 (u flag) on 2000 strings for each of a set of spec patterns', () => {
    const patterns = [
      '^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\\.[a-zA-Z0-9-.]+$',
      '^\\d{3}-\\d{4}$',
      '^.{1,3}$',
      '\\s',
      '^\\S+$',
      '^[\\s\\d]+$',
      '^[^@]+$',
      '^(?:[a-z]|\\.)+$',
      '(?<user>[a-z]+)@',
      '^\\w+$',
      '^[\\u00e9a]+$',
      '\\bZ',
      '^$',
      '[]',
      '^[^]$',
    ];
    for (const source of patterns) {
      const re2 = compileSpecPattern(source);
      const js = new RegExp(source, 'u');
      for (const s of samples(2000))
        assert.equal(re2.test(s), js.test(s), `${source} on ${JSON.stringify(s)}`);
    }
  });

  test('reads a pattern the u grammar refuses with the grammar of a pattern without flags', () => {
    const p = compileSpecPattern('^[\\w\\_]+$');
    assert.equal(p.test('a_b'), true);
    assert.equal(p.test('a-b'), false);
  });

  test('searches anywhere in the value: patterns are not anchored', () => {
    assert.equal(compileSpecPattern('b').test('abc'), true);
  });

  test('refuses backreferences and lookaround, saying why', () => {
    for (const source of ['(a)\\1', '(?<n>a)\\k<n>', 'a(?=b)', 'a(?!b)', '(?<=a)b', '(?<!a)b']) {
      const why = patternRefusal(source);
      assert.match(why ?? '', /cannot run on the linear-time engine \(RE2\)/, source);
      assert.ok(why?.includes(JSON.stringify(source)), source);
    }
    assert.throws(() => compileSpecPattern('(a)\\1'), PatternError);
  });

  test('refuses what is not a regular expression', () => {
    assert.match(patternRefusal('[') ?? '', /is not a valid regular expression/);
  });

  test('compiles a repeated pattern once and answers it the same way each time', (t) => {
    const compile = t.mock.method(RE2JS, 'compile');
    for (let i = 0; i < 3; i++) {
      assert.equal(patternRefusal('^MEMO[0-9a-fA-F]{32}$'), undefined);
      assert.match(patternRefusal('memo(?=b)') ?? '', /lookahead/);
    }
    // The lookahead is refused before RE2 sees it; the accepted pattern reaches RE2 once, not three times.
    assert.equal(compile.mock.callCount(), 1);
  });
});
