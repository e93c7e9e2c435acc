import assert from 'node:assert/strict';
import { test } from 'node:test';
import { similarity } from './similarity.ts';

test('rates identical JSON 1, disjoint JSON 0 and partial overlap in between', () => {
  assert.equal(similarity({ a: 1, b: { c: 'x' } }, { b: { c: 'x' }, a: 1 }), 1);
  assert.equal(similarity({ a: 1 }, { a: 2 }), 0);
  assert.equal(similarity({ a: 1, b: 2, c: 3 }, { a: 1, b: 2, c: 4 }), 0.5);
});

test('compares texts for equality', () => {
  assert.equal(similarity('same', 'same'), 1);
  assert.equal(similarity('same', 'other'), 0);
});
