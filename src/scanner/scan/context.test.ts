import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redact } from './context.ts';

test('masks JWTs, secret JSON members and secret assignments in evidence text', () => {
  assert.equal(redact('{"token":"abc","name":"x"}'), '{"token":"[redacted]","name":"x"}');
  assert.equal(redact('{"passwordHash":"5e88"}'), '{"passwordHash":"[redacted]"}');
  assert.equal(redact('JWT_SECRET=secret\nDATABASE_URL=x'), 'JWT_SECRET=[redacted]\nDATABASE_URL=x');
  assert.equal(redact('Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig'), 'Bearer [redacted JWT]');
  assert.equal(redact('{"title":"plain text"}'), '{"title":"plain text"}');
});
