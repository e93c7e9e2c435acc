import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseJson, readValidJson, unsafeIntegerAt } from './json.ts';

/** Random values whose member names and strings are full of what JSON must escape. */
function randomValue(seed: { s: number }, depth = 0): unknown {
  const rnd = (n: number) => {
    seed.s = (seed.s * 1103515245 + 12345) & 0x7fffffff;
    return seed.s % n;
  };
  const chars = ['a', 'b', '$', '\\', '"', '\n', '\t', 'é', '€', '😀', '\u0000', '/', ' ', 'u', '0'];
  const str = () => Array.from({ length: rnd(5) }, () => chars[rnd(chars.length)]).join('');
  const r = rnd(depth > 3 ? 4 : 7);
  if (r === 0) return str();
  if (r === 1) return [0, -0.5, 1e21, 123456789012, -7, 3.25][rnd(6)];
  if (r === 2) return [true, false, null][rnd(3)];
  if (r === 3) return rnd(2) === 0 ? str() : rnd(1000) - 500;
  if (r === 4) return Array.from({ length: rnd(4) }, () => randomValue(seed, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = rnd(5); i > 0; i--) o[rnd(4) === 0 ? String(rnd(20)) : str()] = randomValue(seed, depth + 1);
  return o;
}

/** Rewrites every ASCII letter inside strings as a \u escape, as some serialisers do for other ranges. */
function escapeLetters(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\' && inString) {
      out += ch + text[i + 1];
      i++;
      continue;
    }
    if (ch === '"') inString = !inString;
    out += inString && /[a-z]/.test(ch) ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}` : ch;
  }
  return out;
}

describe('parseJson', () => {
  test('reads escaped member names right after V8 has seen a name with a backslash', () => {
    // These shapes make Node 24.21's JSON.parse return "\\" for the escaped names below.
    JSON.parse(String.raw`{"x":{"a":1,"\\":2}}`);
    JSON.parse(String.raw`{"password":{"a":1,"\\u0":2}}`);
    assert.deepEqual(parseJson(String.raw`{"x":{"a":1,"\u0062":2}}`), { x: { a: 1, b: 2 } });
    assert.deepEqual(parseJson(String.raw`{"x":{"a":1,"\n":2}}`), { x: { a: 1, '\n': 2 } });
    // JSON.parse would give the name `\u0`: MongoDB would read `$ne`, the injection guard a harmless name.
    assert.deepEqual(parseJson(String.raw`{"password":{"a":1,"\u0024ne":1}}`), {
      password: { a: 1, $ne: 1 },
    });
  });

  test('gives what JSON.stringify was given, for 3000 random values with escaped names and strings', () => {
    const seed = { s: 42 };
    for (let i = 0; i < 3000; i++) {
      const v = randomValue(seed);
      const text = JSON.stringify(v, null, i % 3 === 0 ? 2 : undefined);
      assert.deepEqual(parseJson(text), v, text);
      assert.deepEqual(parseJson(escapeLetters(text)), v, escapeLetters(text));
    }
  });

  test('keeps JSON.parse semantics: own __proto__, last duplicate wins, same errors', () => {
    const p = readValidJson(String.raw`{"__proto__":{"admin":true},"\u0061":1,"a":2}`) as Record<
      string,
      unknown
    >;
    assert.equal(Object.getPrototypeOf(p), Object.prototype);
    assert.deepEqual(Object.keys(p), ['__proto__', 'a']);
    assert.equal(p.a, 2);
    assert.equal((p as { admin?: boolean }).admin, undefined);
    assert.throws(() => parseJson('{"a\\":1'), SyntaxError);
    assert.throws(() => parseJson('{"a":01}'), SyntaxError);
    assert.deepEqual(parseJson('"\\u00e9"'), 'é');
    assert.deepEqual(parseJson(' [1, -0, 2.5e3, true, null, "\\\\"] '), [1, -0, 2500, true, null, '\\']);
  });
});

describe('unsafeIntegerAt', () => {
  test('points at the first integer literal beyond 2^53 - 1, through objects, arrays and escaped names', () => {
    assert.equal(unsafeIntegerAt('{"from":9007199254740993,"to":1}'), '/from');
    assert.equal(unsafeIntegerAt(String.raw`[1,{"a\u002fb":[0, -9007199254740993]}]`), '/1/a~1b/1');
    assert.equal(unsafeIntegerAt('12345678901234567890'), '');
  });

  test('passes safe integers, doubles and digits inside strings', () => {
    assert.equal(unsafeIntegerAt('{"a":9007199254740991,"b":-9007199254740991}'), undefined);
    assert.equal(unsafeIntegerAt('{"a":1.2345678901234567e300,"b":12345678901234567.5}'), undefined);
    assert.equal(unsafeIntegerAt('{"s":"12345678901234567890","12345678901234567890":true}'), undefined);
  });
});
