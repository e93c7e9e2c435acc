import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { access } from '../../../test/kit/access-events.ts';
import { operation, spec } from '../../../test/kit/operation.ts';
import type { Operation } from '../../core/api-document.ts';
import { createDiscovery, discoveryDefaults } from './discovery.ts';

function undeclared(path: string, method = 'GET', status = 404) {
  return access(0, {
    'url.path': path,
    'http.request.method': method,
    'http.route': undefined,
    'portcullis.operation_id': undefined,
    'portcullis.decision': 'undeclared_route',
    'http.response.status_code': status,
  });
}

// biome-ignore lint/suspicious/noExplicitAny: walking a generated document in assertions
type Doc = { openapi: string; paths: Record<string, Record<string, any>> };

const ops: Operation[] = [
  { ...operation('getOrder'), path: '/orders/{orderId}' },
  { ...operation('listOrders'), path: '/orders' },
  { ...operation('legacyExport'), path: '/export', deprecated: true },
];

describe('API discovery', () => {
  test('learns endpoints with ids templated and counts their statuses', () => {
    const d = createDiscovery(discoveryDefaults);
    for (const id of [1, 2, 3])
      d.observe(
        access(0, { 'url.path': `/orders/${id}`, 'portcullis.path_params': { orderId: String(id) } }),
      );
    d.observe(undeclared('/internal/users/42/export'));
    d.observe(undeclared('/internal/users/43/export', 'GET', 200));
    const eps = d.endpoints('shop').map((e) => [e.method, e.path, e.declared, e.requests, e.statuses]);
    assert.deepEqual(eps, [
      ['GET', '/orders/{orderId}', true, 3, { '200': 3 }],
      ['GET', '/internal/users/{id}/export', false, 2, { '404': 1, '200': 1 }],
    ]);
  });

  test('reports shadow, zombie and unused endpoints against the declared spec', () => {
    const d = createDiscovery(discoveryDefaults);
    d.observe(access(0, { 'url.path': '/orders/9' }));
    d.observe(
      access(0, {
        'url.path': '/export',
        'http.route': '/export',
        'portcullis.operation_id': 'legacyExport',
      }),
    );
    d.observe(undeclared('/v0/debug/5f1d7c0e9b1e8a3d2c4b6a79'));
    const r = d.drift('shop', spec(ops));
    assert.deepEqual(
      r.shadow.map((e) => `${e.method} ${e.path}`),
      ['GET /v0/debug/{hex}'],
    );
    assert.deepEqual(
      r.zombie.map((z) => [z.operationId, z.requests]),
      [['legacyExport', 1]],
    );
    assert.deepEqual(
      r.unused.map((u) => u.operationId),
      ['listOrders'],
    );
  });

  test('learns JSON shapes with required members, formats and nested arrays', () => {
    const d = createDiscovery(discoveryDefaults);
    const ep = { api: 'shop', method: 'GET', path: '/orders/{orderId}', declared: true };
    d.observeBody(
      ep,
      'response',
      {
        id: 1,
        total: 9.5,
        email: 'a@example.com',
        items: [{ sku: 'x', qty: 1 }],
        at: '2026-01-01T00:00:00Z',
      },
      200,
    );
    d.observeBody(
      ep,
      'response',
      { id: 2, total: 3, email: 'b@example.com', items: [], note: null, at: '2026-01-02T10:00:00Z' },
      200,
    );
    d.observe(access(0, { 'url.path': '/orders/1' }));
    const doc = d.toOpenApi({ api: 'shop' }) as Doc;
    assert.equal(doc.openapi, '3.1.0');
    const schema = doc.paths['/orders/{orderId}'].get.responses['200'].content['application/json'].schema;
    assert.deepEqual(schema, {
      type: 'object',
      properties: {
        id: { type: 'integer' },
        total: { type: 'number' },
        email: { type: 'string', format: 'email' },
        items: {
          type: 'array',
          items: {
            type: 'object',
            properties: { sku: { type: 'string' }, qty: { type: 'integer' } },
            required: ['sku', 'qty'],
          },
        },
        at: { type: 'string', format: 'date-time' },
        note: { type: 'null' },
      },
      required: ['id', 'total', 'email', 'items', 'at'],
    });
  });

  test('exports undeclared endpoints as OpenAPI operations with typed path parameters', () => {
    const d = createDiscovery(discoveryDefaults);
    d.observe(undeclared('/internal/users/42', 'DELETE'));
    d.observeBody({ api: 'shop', method: 'DELETE', path: '/internal/users/42', declared: false }, 'request', {
      reason: 'x',
    });
    const doc = d.toOpenApi({ onlyUndeclared: true }) as Doc;
    const operation = doc.paths['/internal/users/{id}'].delete;
    assert.deepEqual(operation.parameters, [
      { name: 'id', in: 'path', required: true, schema: { type: 'integer' } },
    ]);
    assert.deepEqual(operation.requestBody.content['application/json'].schema, {
      type: 'object',
      properties: { reason: { type: 'string' } },
      required: ['reason'],
    });
    assert.equal(operation['x-portcullis-observed'].declared, false);
  });

  test('keeps at most maxEndpoints endpoints and counts the overflow', () => {
    const d = createDiscovery({ ...discoveryDefaults, maxEndpoints: 10 });
    for (let i = 0; i < 30; i++) d.observe(undeclared(`/probe${i}`));
    assert.equal(d.endpoints().length, 10);
    assert.equal(d.overflow(), 20);
  });

  test('bounds the properties and depth learned from a hostile body', () => {
    const d = createDiscovery({ ...discoveryDefaults, maxShapeProperties: 5, maxShapeDepth: 3 });
    const wide = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i]));
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { d: deep };
    const ep = { api: 'shop', method: 'POST', path: '/x', declared: false };
    d.observeBody(ep, 'request', wide);
    d.observeBody(ep, 'request', deep);
    const doc = d.toOpenApi() as Doc;
    const schema = doc.paths['/x'].post.requestBody.content['application/json'].schema;
    assert.equal(Object.keys(schema.properties).length, 5);
    assert.equal(JSON.stringify(schema).split('"d"').length - 1 <= 3, true);
  });
});
