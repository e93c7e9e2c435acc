import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Operation } from '../../../core/api-document.ts';
import { buildApiDocument } from '../../../openapi/load.ts';
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

  test('with the document, takes a description that says admin as privileged', () => {
    const spec = buildApiDocument('/shop.yaml', '3.1', {
      openapi: '3.1.0',
      info: { title: 'shop', version: '1' },
      paths: {
        '/products/{id}': {
          delete: {
            operationId: 'deleteProduct',
            description: 'Deletes a product. Administrators only.',
            parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
            responses: { '204': { description: 'gone' } },
          },
          get: {
            operationId: 'getProduct',
            description: 'A product of the catalogue.',
            parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
            responses: { '200': { description: 'a product' } },
          },
        },
      },
    });
    const op = (id: string) => spec.operations.find((o) => o.id === id)!;
    assert.equal(looksPrivileged(op('deleteProduct'), spec), true);
    assert.equal(looksPrivileged(op('deleteProduct')), false);
    assert.equal(looksPrivileged(op('getProduct'), spec), false);
  });
});
