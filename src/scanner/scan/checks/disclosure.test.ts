import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runtimeError } from './disclosure.ts';

describe('runtime exception messages', () => {
  test('5xx answers carrying an unhandled exception message', () => {
    for (const text of [
      '{"error":"division by zero"}',
      '{"detail":"\'NoneType\' object has no attribute \'id\'"}',
      '{"message":"Cannot read properties of undefined (reading \'units\')"}',
      'panic: runtime error: index out of range [3] with length 2',
      '{"error":"KeyError: \'qty\'"}',
      '{"error":"java.lang.NullPointerException"}',
      '{"error":"total is not defined"}',
    ])
      assert.ok(runtimeError({ status: 500, text }), text);
  });
  test('never 4xx, never a generic message', () => {
    assert.equal(runtimeError({ status: 400, text: '{"error":"qty is not defined"}' }), undefined);
    assert.equal(runtimeError({ status: 422, text: '{"detail":"division by zero"}' }), undefined);
    for (const text of [
      'Internal Server Error',
      '{"error":"Internal error"}',
      '{"detail":"Service unavailable"}',
    ])
      assert.equal(runtimeError({ status: 500, text }), undefined, text);
  });
});
