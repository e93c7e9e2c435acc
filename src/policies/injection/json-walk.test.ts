import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileDetector } from './engine.ts';
import { scanJson } from './json-walk.ts';

const detector = compileDetector({ paranoia: 1 });

describe('scanJson pointers', () => {
  test('a deeply nested body gets the right pointer for its finding and for the keys it asks about', () => {
    const depth = 3000;
    let doc: unknown = "1' OR '1'='1";
    for (let i = depth - 1; i >= 0; i--) doc = i % 2 === 0 ? { 'a/b': doc, n: 'x' } : [doc];
    const asked: string[] = [];
    const findings = scanJson(detector, doc, (p) => {
      asked.push(p);
      return undefined;
    });
    let expected = '';
    for (let i = 0; i < depth; i++) expected += i % 2 === 0 ? '/a~1b' : '/0';
    assert.deepEqual(findings, [{ pointer: expected, class: 'sqli' }]);
    // Each object asks for its two keys and its string leaf; each array for nothing of its own.
    assert.equal(asked.length, (depth / 2) * 3 + 1);
    assert.ok(asked.includes(`${expected.slice(0, -'/0/a~1b'.length)}/n`));
  });

  test('a pointer excluded by classesAt skips that value only', () => {
    const doc = { q: "1' OR '1'='1", items: [{ q: "1' OR '1'='1" }] };
    const findings = scanJson(detector, doc, (p) => (p === '/q' ? new Set() : undefined));
    assert.deepEqual(findings, [{ pointer: '/items/0/q', class: 'sqli' }]);
  });
});
