/**
 * API discovery learns the JSON shapes of bodies that pass through the gateway: the request bodies that
 * request validation parsed and the responses that response protection parsed, on allowed requests only.
 * The runtime builds the monitor and admin API as `portcullis serve` does.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startProxy, type TestProxy } from '../harness.ts';

const ADMIN_TOKEN = 'discovery-bodies-token-0123456789';

const order = {
  type: 'object',
  properties: {
    item: { type: 'string' },
    qty: { type: 'integer', minimum: 1 },
    note: { type: 'string' },
  },
  required: ['item', 'qty'],
};

const spec = {
  openapi: '3.1.0',
  security: [],
  info: { title: 'Shop', version: '1' },
  paths: {
    '/orders': {
      post: {
        operationId: 'createOrder',
        requestBody: { required: true, content: { 'application/json': { schema: order } } },
        responses: {
          '201': {
            description: 'created',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { id: { type: 'string', format: 'uuid' }, created: { type: 'string' } },
                },
              },
            },
          },
        },
      },
    },
  },
};

/** Answers every order with an id, a timestamp and a member the spec does not declare. */
async function upstream(req: IncomingMessage, res: ServerResponse) {
  for await (const _ of req);
  const body = JSON.stringify({
    id: '0b6c5e8e-8c1a-4a55-9d0e-3f7f0f8a1b2c',
    created: '2026-11-29T10:00:00Z',
    internalCost: 3,
  });
  res.writeHead(201, { 'content-type': 'application/json', 'content-length': String(body.length) });
  res.end(body);
}

describe('discovery learns body shapes from traffic', () => {
  let gw: TestProxy;
  const admin = (path: string) =>
    fetch(gw.adminUrl + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const post = (body: unknown) =>
    fetch(`${gw.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  before(async () => {
    gw = await startProxy({
      upstream,
      spec,
      api: { name: 'shop', policies: { validateRequest: {}, protectResponse: {} } },
      config: {
        admin: { token: ADMIN_TOKEN },
        monitor: {
          events: { store: 'sqlite', sqlite: { path: ':memory:', worker: false }, flushIntervalMs: 20 },
        },
      },
      runtime: { events: undefined },
    });
  });
  after(() => gw.close());

  test('exports the learned request and response schemas of a declared operation', async () => {
    assert.equal((await post({ item: 'book', qty: 2 })).status, 201);
    assert.equal((await post({ item: 'pen', qty: 1, note: 'gift' })).status, 201);
    // Refused by validation: an attacker's body must not teach discovery anything.
    assert.equal((await post({ item: 'x', qty: 0, injected: { $ne: 1 } })).status, 400);

    interface Schema {
      properties: Record<string, { type?: string; format?: string }>;
      required?: string[];
    }
    type Content = { content: Record<string, { schema: Schema }> };
    const doc = (await (await admin('/api/discovery/openapi?api=shop')).json()) as {
      paths: Record<string, Record<string, { requestBody: Content; responses: Record<string, Content> }>>;
    };
    const op = doc.paths['/orders']?.post;
    assert.ok(op, JSON.stringify(doc.paths));
    const request = op.requestBody.content['application/json'].schema;
    assert.deepEqual(Object.keys(request.properties).sort(), ['item', 'note', 'qty']);
    assert.deepEqual(request.required?.sort(), ['item', 'qty']);
    assert.equal(request.properties.qty.type, 'integer');
    assert.equal(request.properties.injected, undefined);

    // The response as the client got it: the undeclared member was stripped by response protection.
    const response = op.responses['201'].content['application/json'].schema;
    assert.deepEqual(Object.keys(response.properties).sort(), ['created', 'id']);
    assert.equal(response.properties.id.format, 'uuid');
    assert.equal(response.properties.created.format, 'date-time');
  });
});
