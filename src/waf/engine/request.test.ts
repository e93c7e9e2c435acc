import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../../test/kit/random.ts';
import type { WafRequest } from '../types.ts';
import { type Collections, readRequestBody } from './request.ts';

function readJson(text: string): { args: string[]; names: string[]; spaced: boolean | undefined } {
  const c: Collections = new Map();
  const req: WafRequest = {
    method: 'POST',
    uri: '/',
    protocol: 'HTTP/1.1',
    headers: [],
    body: Buffer.from(text),
    remoteAddr: '127.0.0.1',
  };
  const reading = readRequestBody(c, req, 'JSON', { argumentsLimit: 1000, jsonDepthLimit: 512 });
  return {
    args: (c.get('ARGS') ?? []).map((e) => `${e.key}=${e.value}`),
    names: (c.get('ARGS_NAMES') ?? []).map((e) => e.value),
    spaced: reading?.spaced,
  };
}

test('a JSON member after a comma and white space is read by its own name and value', () => {
  // Pretty-printed JSON: each member after the first follows `, ` or `,\n  `. Its key was read from the white
  // space (json.= instead of json.q=...), so the rules never saw the value under its name.
  assert.deepEqual(readJson('{"a":1, "q":"<script>alert(1)</script>"}').args, [
    'json.a=1',
    'json.q=<script>alert(1)</script>',
  ]);
  assert.deepEqual(readJson('{\n  "a": 1,\n  "b": {\n    "c": "x y",\n\t"d": [1, "z"]\n  }\n}').args, [
    'json.a=1',
    'json.b.c=x y',
    'json.b.d.array_0=1',
    'json.b.d.array_1=z',
  ]);
  assert.equal(readJson('{"a":1, "b":2}').spaced, true);
});

test('white space between the tokens of a JSON body changes none of its arguments', () => {
  // Documents made of random members (nested objects and arrays, strings, numbers, literals), each read
  // compact and with JSON white space (space, tab, line feed, carriage return) drawn between every two tokens.
  const next = seededRandom(0x9e3779b9);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)];
  const gaps = ['', ' ', '  ', '\t', '\n', '\r\n', ' \n\t'];
  // A document as its tokens; `join` puts a gap between every two.
  const value = (depth: number): string[] => {
    const r = next();
    if (depth < 3 && r < 0.2) {
      const members = Array.from({ length: 1 + Math.floor(next() * 3) }, () => [
        `"${pick(['a', 'k', 'name', 'q', 'x y'])}"`,
        ':',
        ...value(depth + 1),
      ]);
      return ['{', ...members.flatMap((m, i) => (i === 0 ? m : [',', ...m])), '}'];
    }
    if (depth < 3 && r < 0.35) {
      const items = Array.from({ length: 1 + Math.floor(next() * 3) }, () => value(depth + 1));
      return ['[', ...items.flatMap((m, i) => (i === 0 ? m : [',', ...m])), ']'];
    }
    return [pick(['"v"', '"a, b"', '"<b>"', '1', '-2.5e3', 'true', 'false', 'null', '""'])];
  };
  let read = 0;
  for (let n = 0; n < 2000; n++) {
    const tokens = ['{', '"root"', ':', ...value(0), '}'];
    const compact = readJson(tokens.join(''));
    let spaced = pick(gaps);
    for (let i = 0; i < tokens.length; i++) spaced += tokens[i] + pick(gaps);
    const loose = readJson(spaced);
    assert.deepEqual(loose.args, compact.args, JSON.stringify(spaced));
    assert.deepEqual(loose.names, compact.names, JSON.stringify(spaced));
    read += compact.args.length;
  }
  assert.ok(read > 3000, `${read}`);
});
