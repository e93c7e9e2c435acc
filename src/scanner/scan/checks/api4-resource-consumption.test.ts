import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pageItems } from './api4-resource-consumption.ts';

test('a page is the array, an items-like member, or the only array of records in an envelope', () => {
  assert.equal(pageItems([1, 2, 3])?.length, 3);
  assert.equal(pageItems({ items: [1, 2], total: 2 })?.length, 2);
  assert.equal(pageItems({ results: [{ id: 1 }], facets: [{ k: 'x' }] })?.length, 1);
  assert.equal(pageItems({ documents: [{ id: 1 }, { id: 2 }], count: 2 })?.length, 2);
  assert.equal(pageItems({ data: { users: [{ id: 1 }, { id: 2 }, { id: 3 }] }, ok: true })?.length, 3);
});

test('no page where no single list can be told apart', () => {
  assert.equal(pageItems({ id: 1, roles: ['a', 'b'] }), undefined);
  assert.equal(pageItems({ data: { id: 1, roles: ['a', 'b'] } }), undefined);
  assert.equal(pageItems({ users: [{ id: 1 }], groups: [{ id: 2 }] }), undefined);
  assert.equal(pageItems('text'), undefined);
  assert.equal(pageItems({ a: { b: { c: { d: [{ id: 1 }] } } } }), undefined);
});
