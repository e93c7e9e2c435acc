import assert from 'node:assert/strict';
import { test } from 'node:test';
import { caseVariant } from './admin-variant.ts';

test("the admin's name with its first letter's case flipped", () => {
  assert.equal(caseVariant('admin'), 'Admin');
  assert.equal(caseVariant('Root'), 'root');
  assert.equal(caseVariant('_ops1'), '_Ops1');
  assert.equal(caseVariant('1234'), undefined);
});
