import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pageCounts, pageItems } from './api4-resource-consumption.ts';

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

test('page counts: count-like numbers and an echo of the page-size input, one envelope down at most', () => {
  assert.deepEqual([...pageCounts({ rows: 100000, format: 'csv' }, 'size')], [['rows', 100000]]);
  assert.deepEqual(
    [...pageCounts({ meta: { returned: 20, total: 5000 }, status: 'ok' }, 'pageSize')],
    [['meta.returned', 20]],
  );
  assert.deepEqual(
    [...pageCounts({ pageSize: 50, itemCount: 3 }, 'pageSize')],
    [
      ['pageSize', 50],
      ['itemCount', 3],
    ],
  );
  // Not counts: totals, sizes in bytes, ids, numbers two envelopes down, non-integers.
  assert.deepEqual([...pageCounts({ total: 5000, bytes: 8123, id: 7, count: 2.5 }, 'limit')], []);
  assert.deepEqual([...pageCounts({ a: { b: { count: 9 } } }, 'limit')], []);
});
