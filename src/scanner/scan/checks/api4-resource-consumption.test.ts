import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApiDocument } from '../../../openapi/load.ts';
import type { ScanResponse } from '../client.ts';
import {
  cutPageItems,
  jsonPrefix,
  messageFlows,
  pageCounts,
  pageItems,
} from './api4-resource-consumption.ts';

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

test('a cut answer is closed at its last comma between array members, strings read as strings', () => {
  assert.deepEqual(jsonPrefix('[{"id":1},{"id":2},{"id'), [{ id: 1 }, { id: 2 }]);
  assert.deepEqual(jsonPrefix('{"total":3,"items":[{"a":"x,]}"},{"a":"y\\"],"},{"a":"z'), {
    total: 3,
    items: [{ a: 'x,]}' }, { a: 'y"],' }],
  });
  // A comma in an inner array cuts the element it is in: that element is kept, cut short.
  assert.deepEqual(jsonPrefix('[{"id":1},{"id":2,"roles":["a","b'), [{ id: 1 }, { id: 2, roles: ['a'] }]);
  assert.equal(jsonPrefix('{"id":1,"name":"no array'), undefined);
  assert.equal(jsonPrefix('[1'), undefined);
  assert.equal(jsonPrefix('not json, [1, 2'), undefined);
});

test('a cut answer: its page counted without its last element; not cut, or no JSON: nothing', () => {
  const items = Array.from({ length: 50 }, (_, i) => ({ id: i, name: `item ${i}` }));
  const full = JSON.stringify({ items, total: 5000 });
  const res = (text: string, extra: Partial<ScanResponse>): ScanResponse =>
    ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      text,
      json: undefined,
      durationMs: 1,
      sent: { method: 'GET', url: 'http://x/items' },
      ...extra,
    }) as ScanResponse;
  const cut = full.slice(0, full.indexOf('"item 31"'));
  assert.equal(cutPageItems(res(cut, { truncated: true })), 30);
  assert.equal(cutPageItems(res(cut, {})), undefined);
  assert.equal(cutPageItems(res(full, { json: JSON.parse(full) })), undefined);
  assert.equal(
    cutPageItems(res(cut, { truncated: true, headers: { 'content-type': 'text/html' } })),
    undefined,
  );
});

test('a cut answer is read in one pass: a quarter of a megabyte of brackets and quotes in well under a second', () => {
  const nasty = `[${'["\\",'.repeat(40_000)}`;
  const started = performance.now();
  jsonPrefix(nasty);
  jsonPrefix(`[${'{"a":[1,'.repeat(40_000)}`);
  assert.ok(performance.now() - started < 1000);
});

test('message flows: the sending step of a reset, a code or a link, not its verification nor any other reset', () => {
  const body = (props: string[]) => ({
    requestBody: {
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: Object.fromEntries(props.map((p) => [p, { type: 'string' }])),
          },
        },
      },
    },
    responses: { '200': { description: 'ok' } },
  });
  const spec = buildApiDocument('/messages.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 'messages', version: '1' },
    paths: {
      '/initiate_forgot_password': { post: body(['user_number']) },
      '/api/v1/auth/reset': { post: { summary: 'Request password reset', ...body(['email']) } },
      '/otp/send': { post: body(['phone']) },
      '/otp/verify': { post: body(['phone', 'otp']) },
      '/auth/password/reset/confirm': { post: body(['token', 'new_password']) },
      '/api/v1/tickets/reset': { post: { summary: 'Reset ticket counter', ...body([]) } },
      '/users/{id}/send-code': {
        post: {
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          ...body([]),
        },
      },
      '/auth/login': { post: body(['username', 'password']) },
    },
  });
  assert.deepEqual(
    messageFlows({ spec }).map((op) => op.path),
    ['/initiate_forgot_password', '/api/v1/auth/reset', '/otp/send'],
  );
});
