import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HttpMethod, Operation } from '../../../core/api-document.ts';
import { fragmentKind, readsOnly } from './injection.ts';

function operation(method: HttpMethod, path: string, summary?: string): Operation {
  return {
    id: `${method} ${path}`,
    hasDeclaredId: false,
    method,
    path,
    ...(summary ? { summary } : {}),
    tags: [],
    deprecated: false,
    parameters: [],
    requestBody: undefined,
    responses: {},
    security: undefined,
    extensions: {},
    pointer: '',
  };
}

test('only reads get conditions that hold: GETs that do not act, POST searches; anything unsure is a write', () => {
  for (const [method, path, summary] of [
    ['GET', '/orders', undefined],
    ['GET', '/report.cgi', undefined],
    ['POST', '/orders/search', undefined],
    ['POST', '/api/_search', undefined],
    ['POST', '/stock/query', undefined],
    ['POST', '/catalogue/items', 'Search the catalogue'],
  ] as const)
    assert.equal(readsOnly(operation(method, path, summary)), true, `${method} ${path}`);
  for (const [method, path, summary] of [
    ['POST', '/orders/bulk-cancel', undefined],
    ['POST', '/admin/users/deactivate', undefined],
    ['POST', '/stock/select', undefined],
    ['POST', '/orders/search', 'Finds the matching orders and cancels them'],
    ['POST', '/orders/search/{id}', undefined],
    ['PUT', '/orders/search', undefined],
    ['PATCH', '/users/query', undefined],
    ['GET', '/reservations/{id}/cancel', undefined],
    ['POST', '/users', 'Search for a user name and create it'],
  ] as const)
    assert.equal(readsOnly(operation(method, path, summary)), false, `${method} ${path}`);
});

test('SQL fragment inputs are told by name or by description, conditions apart from orderings', () => {
  for (const name of [
    'where',
    'sql_where',
    'where_clause',
    'filter',
    'q',
    'query',
    'criteria',
    'body.filter',
  ])
    assert.equal(fragmentKind(name, ''), 'condition', name);
  for (const name of ['order', 'order_by', 'orderBy', 'sort', 'sort_by', 'ordering', 'group_by'])
    assert.equal(fragmentKind(name, ''), 'order', name);
  assert.equal(fragmentKind('scope', 'A SQL condition on the stock table'), 'condition');
  assert.equal(fragmentKind('expr', 'appended to the WHERE clause'), 'condition');
  assert.equal(fragmentKind('rank', 'the column to sort by'), 'order');
  // Ordinary words in prose and ordinary names are no fragment.
  for (const [name, prose] of [
    ['name', 'where the user lives'],
    ['title', ''],
    ['nowhere', ''],
    ['email', 'a filter for spam is applied'],
  ])
    assert.equal(fragmentKind(name, prose), undefined, name);
});
