import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Operation } from '../../../core/api-document.ts';
import type { ScanResponse } from '../client.ts';
import { looksPrivileged, refusedIn200 } from './api5-function-authorization.ts';

function answer(status: number, json: unknown): ScanResponse {
  const text = typeof json === 'string' ? json : JSON.stringify(json);
  return {
    status,
    headers: {},
    text,
    json: typeof json === 'string' ? undefined : json,
    durationMs: 1,
    sent: { method: 'GET', url: 'x' },
  };
}

function operation(path: string, summary?: string, tags: string[] = []): Operation {
  return {
    id: path,
    hasDeclaredId: false,
    method: 'GET',
    path,
    ...(summary ? { summary } : {}),
    tags,
    deprecated: false,
    parameters: [],
    requestBody: undefined,
    responses: {},
    security: undefined,
    extensions: {},
    pointer: '',
  };
}

describe('API5 judgement', () => {
  test('reads a 200 that says no as a refusal', () => {
    assert.equal(
      refusedIn200(answer(200, { status: 'fail', message: 'Only administrators can list users.' })),
      true,
    );
    assert.equal(refusedIn200(answer(200, { success: false })), true);
    assert.equal(refusedIn200(answer(200, { detail: 'Not enough permissions' })), true);
    assert.equal(refusedIn200(answer(200, 'Forbidden')), true);
    assert.equal(refusedIn200(answer(200, { status: 'success', users: [] })), false);
    assert.equal(refusedIn200(answer(200, [{ message: 'permission to land granted' }])), false);
  });

  test('takes a summary that says admin as privileged, beside path, tag and marker', () => {
    assert.equal(looksPrivileged(operation('/api/users', 'All users (admin)')), true);
    assert.equal(looksPrivileged(operation('/v2/admin/users')), true);
    assert.equal(looksPrivileged(operation('/users', undefined, ['admin'])), true);
    assert.equal(looksPrivileged(operation('/api/boards', 'My boards')), false);
  });
});
