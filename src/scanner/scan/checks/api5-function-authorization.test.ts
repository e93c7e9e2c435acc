import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Operation } from '../../../core/api-document.ts';
import { buildApiDocument } from '../../../openapi/load.ts';
import type { ScanResponse } from '../client.ts';
import {
  looksPrivileged,
  madeUpIdFor,
  notFoundAnswer,
  refusedIn200,
  sameAnswer,
} from './api5-function-authorization.ts';

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

  test('reads the app’s not-found: a 404, or a 2xx/4xx whose message says so; never a refusal', () => {
    assert.equal(notFoundAnswer(answer(404, { error: 'no such user' })), true);
    assert.equal(notFoundAnswer(answer(404, 'Not Found')), true);
    assert.equal(notFoundAnswer(answer(200, { status: 'fail', message: 'User not found' })), true);
    assert.equal(notFoundAnswer(answer(400, { detail: 'Member 7 does not exist' })), true);
    assert.equal(notFoundAnswer(answer(404, { detail: 'Administrators only' })), false);
    assert.equal(notFoundAnswer(answer(403, { detail: 'User not found' })), false);
    assert.equal(notFoundAnswer(answer(204, '')), false);
    assert.equal(notFoundAnswer(answer(400, { detail: 'id must be an integer' })), false);
  });

  test('compares answers with the values the requests carried and volatile members aside', () => {
    const a = answer(404, { error: 'no user 1912345678', path: '/u/1912345678', timestamp: '12:00:01' });
    const b = answer(404, { error: 'no user 1912345678', path: '/u/1912345678', timestamp: '12:00:02' });
    assert.equal(sameAnswer(a, b, ['1912345678']), true);
    assert.equal(sameAnswer(a, answer(403, a.json), ['1912345678']), false);
    assert.equal(sameAnswer(a, answer(404, { error: 'route not found', path: '/x' }), ['1912345678']), false);
    // Texts: the path each one named taken out.
    assert.equal(
      sameAnswer(answer(404, 'Cannot DELETE /a/pcx1'), answer(404, 'Cannot DELETE /b/pcx2'), [
        '/a/pcx1',
        '/b/pcx2',
      ]),
      true,
    );
  });

  test('makes up ids well-formed for the schema, or none', () => {
    assert.match(madeUpIdFor({ type: 'integer' })!, /^19\d{8}$/);
    assert.equal(madeUpIdFor({ type: 'integer', maximum: 1000 }), undefined);
    assert.match(madeUpIdFor({ type: 'string', format: 'uuid' })!, /^[0-9a-f]{8}-[0-9a-f]{4}-4/);
    assert.match(madeUpIdFor({ type: 'string' }, '550e8400-e29b-41d4-a716-446655440000')!, /^[0-9a-f-]{36}$/);
    assert.match(madeUpIdFor({ type: 'string' }, '42')!, /^19\d{8}$/);
    assert.match(madeUpIdFor({ type: 'string' })!, /^pcx[0-9a-f]{10}$/);
    assert.match(madeUpIdFor({ type: 'string', pattern: '^[0-9a-f]{24}$' })!, /^[0-9a-f]{24}$/);
    assert.equal(madeUpIdFor({ type: 'string', maxLength: 2 }), undefined);
  });
});
