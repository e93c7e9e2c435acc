import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fragmentKind } from './injection.ts';

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
