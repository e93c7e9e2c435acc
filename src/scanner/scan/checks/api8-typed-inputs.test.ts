import assert from 'node:assert/strict';
import { test } from 'node:test';
import { typedKind, wrongQueryValue } from './api8-typed-inputs.ts';

test('the kinds a wrong value can be told from: numbers, booleans, dates, uuids; not enums or free text', () => {
  assert.equal(typedKind({ type: 'integer' }), 'number');
  assert.equal(typedKind({ type: ['number', 'null'] }), 'number');
  assert.equal(typedKind({ type: 'boolean' }), 'boolean');
  assert.equal(typedKind({ type: 'string', format: 'date-time' }), 'date');
  assert.equal(typedKind({ type: 'string', format: 'uuid' }), 'uuid');
  assert.equal(typedKind({ type: 'string' }), undefined);
  assert.equal(typedKind({ type: 'integer', enum: [1, 2] }), undefined);
  assert.equal(typedKind({ type: 'string', format: 'email' }), undefined);
});

test('each kind gets a word no parser of it reads', () => {
  for (const kind of ['number', 'boolean', 'date', 'uuid'] as const) {
    const v = wrongQueryValue(kind);
    assert.ok(Number.isNaN(Number(v)) && !/^(true|false)$/.test(v) && Number.isNaN(Date.parse(v)), v);
  }
});
