import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sessionResource } from './api2-sessions.ts';

test("sessionResource: a DELETE of these paths ends the caller's own session", () => {
  for (const path of [
    '/session',
    '/api/v1/session',
    '/api/v2/sessions/current',
    '/auth/token',
    '/users/sign_in',
    '/api/login/',
    '/sessions/me',
  ])
    assert.equal(sessionResource(path), true, path);
  for (const path of [
    '/api/v1/sessions/{id}',
    '/users/{id}',
    '/api/v1/session-logs',
    '/tokens/{token_id}',
    '/admin/sessions/purge',
    '/api/v1/users',
  ])
    assert.equal(sessionResource(path), false, path);
});
