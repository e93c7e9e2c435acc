import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A shop's order API (Express-like, `X-Api-Key` per customer, issue 16 / R2's D2-D4). Staff enter the orders and
 * invoices: the document has no creation, so the scan owns none. Seeded: alice's orders 1 and 2, bob's 3, a
 * customer 77's order 4; invoices of alice, bob and customer 77. Writes name their order by the path with verbs
 * no list knows: `POST /orders/{id}` (an update, Stripe style), `POST /orders/{id}:cancel` (a custom method),
 * `/orders/{id}/stornieren`, `/orders/{id}/markAsPaid`, `/invoices/{id}/settle`; `POST /orders/cancel
 * {order_id}` by its body, which the server also takes as XML when sent XML (as Spring or JAX-RS pick a parser
 * by the content type). `POST /orders/{id}/notes` adds a note in a documented sub-collection
 * (`GET /orders/{id}/notes` lists them). The vulnerable twin lets anyone act on anyone's order and stores an
 * `owner` sent to the update; the fixed twin checks the owner everywhere (404 otherwise) and stores only status.
 */
const json = (description: string, schema: unknown = { type: 'object' }) => ({
  description,
  content: { 'application/json': { schema } },
});
const orderId = { name: 'order_id', in: 'path', required: true, schema: { type: 'integer' } };
const action = (operationId: string) => ({
  post: {
    operationId,
    parameters: [orderId],
    responses: { '200': json('done'), '404': { description: 'none' } },
  },
});
const statusBody = {
  required: true,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['status'],
        properties: { status: { type: 'string', enum: ['pending', 'cancelled'] } },
      },
    },
  },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'orders', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/api/v1/orders': {
      get: { operationId: 'myOrders', responses: { '200': json('your orders', { type: 'array' }) } },
    },
    '/api/v1/orders/{order_id}': {
      parameters: [orderId],
      get: {
        operationId: 'getOrder',
        responses: { '200': json('an order'), '404': { description: 'none' } },
      },
      put: { operationId: 'putOrder', requestBody: statusBody, responses: { '200': json('updated') } },
      post: { operationId: 'postOrder', requestBody: statusBody, responses: { '200': json('updated') } },
    },
    '/api/v1/orders/{order_id}:cancel': action('aipCancel'),
    '/api/v1/orders/{order_id}/stornieren': action('stornieren'),
    '/api/v1/orders/{order_id}/markAsPaid': action('markAsPaid'),
    '/api/v1/orders/{order_id}/notes': {
      parameters: [orderId],
      get: {
        operationId: 'listNotes',
        responses: { '200': json('notes', { type: 'array', items: { type: 'object' } }) },
      },
      post: {
        operationId: 'addNote',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
            },
          },
        },
        responses: { '201': json('added') },
      },
    },
    '/api/v1/orders/cancel': {
      post: {
        operationId: 'bodyCancel',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['order_id'],
                properties: { order_id: { type: 'integer' } },
              },
            },
          },
        },
        responses: { '200': json('cancelled'), '404': { description: 'none' } },
      },
    },
    '/api/v1/invoices/{invoice_id}': {
      get: {
        operationId: 'getInvoice',
        parameters: [{ ...orderId, name: 'invoice_id' }],
        responses: { '200': json('an invoice'), '404': { description: 'none' } },
      },
    },
    '/api/v1/invoices/{invoice_id}/settle': {
      post: {
        operationId: 'settle',
        parameters: [{ ...orderId, name: 'invoice_id' }],
        responses: { '200': json('settled'), '404': { description: 'none' } },
      },
    },
  },
};

const KEYS: Record<string, number> = { 'k-alice-5d1': 1, 'k-bob-9e2': 2 };

function startShop(fixed: boolean) {
  const orders: Record<number, Record<string, unknown>> = {
    1: { id: 1, owner: 1, item: 'mug', status: 'pending' },
    2: { id: 2, owner: 1, item: 'cap', status: 'pending' },
    3: { id: 3, owner: 2, item: 'mug', status: 'pending' },
    4: { id: 4, owner: 77, item: 'hat', status: 'pending' },
  };
  const invoices: Record<number, Record<string, unknown>> = {
    1: { id: 1, owner: 1, total: 100, state: 'open' },
    2: { id: 2, owner: 2, total: 250, state: 'open' },
    3: { id: 3, owner: 77, total: 990, state: 'open' },
  };
  const notes: { order: number; by: number; text: string }[] = [];
  const state = { orders, invoices };
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const uid = KEYS[String(req.headers['x-api-key'] ?? '')];
    if (uid === undefined) return send(401, { error: 'unauthorized' });
    const path = new URL(req.url ?? '/', 'http://shop').pathname.replace(/^\/api\/v1/, '');
    let body: Record<string, unknown> = {};
    if (/xml/.test(String(req.headers['content-type'] ?? ''))) {
      for (const m of text.matchAll(/<(\w+)>([^<]*)<\/\1>/g))
        body[m[1]] = /^\d+$/.test(m[2]) ? Number(m[2]) : m[2];
    } else if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        return send(400, { error: 'invalid JSON' });
      }
    }
    const mine = (o: Record<string, unknown> | undefined) => o !== undefined && (!fixed || o.owner === uid);
    if (req.method === 'GET' && path === '/orders')
      return send(
        200,
        Object.values(orders).filter((o) => o.owner === uid),
      );
    if (req.method === 'POST' && path === '/orders/cancel') {
      const o = orders[Number(body.order_id)];
      if (!mine(o)) return send(404, { error: 'not found' });
      o.status = 'cancelled';
      return send(200, o);
    }
    let m = /^\/orders\/(\d+)(?::(cancel)|\/(stornieren|markAsPaid|notes))?$/.exec(path);
    if (m) {
      const o = orders[Number(m[1])];
      if (!mine(o)) return send(404, { error: 'not found' });
      if (m[3] === 'notes') {
        if (req.method === 'GET')
          return send(
            200,
            notes.filter((n) => n.order === o.id && n.by === uid),
          );
        if (req.method === 'POST' && typeof body.text === 'string') {
          notes.push({ order: Number(o.id), by: uid, text: body.text.slice(0, 100) });
          return send(201, { order: o.id, text: body.text.slice(0, 100) });
        }
        return send(422, { error: 'text is required' });
      }
      if (req.method === 'GET' && !m[2] && !m[3]) return send(200, o);
      if (req.method !== 'POST' && req.method !== 'PUT') return send(405, { error: 'method not allowed' });
      if (m[2] || m[3]) {
        o.status = m[3] === 'markAsPaid' ? 'paid' : 'cancelled';
        return send(200, o);
      }
      if (body.status !== 'pending' && body.status !== 'cancelled')
        return send(422, { error: 'status must be pending or cancelled' });
      o.status = body.status;
      if (!fixed && 'owner' in body) o.owner = body.owner;
      if (!fixed && typeof body.item === 'string') o.item = body.item;
      return send(200, o);
    }
    m = /^\/invoices\/(\d+)(\/settle)?$/.exec(path);
    if (m) {
      const i = invoices[Number(m[1])];
      if (!mine(i)) return send(404, { error: 'not found' });
      if (req.method === 'GET' && !m[2]) return send(200, i);
      if (req.method === 'POST' && m[2]) {
        i.state = 'settled';
        return send(200, i);
      }
    }
    return send(404, { error: 'not found' });
  }).then((api) => Object.assign(api, { state, notes, seeded: JSON.stringify(state) }));
}

const identities = [
  { name: 'alice', headers: { 'X-Api-Key': 'k-alice-5d1' } },
  { name: 'bob', headers: { 'X-Api-Key': 'k-bob-9e2' } },
];

describe('writes that name an object by their path reach only objects the scan created, unless --allow-destructive', () => {
  const plain = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startShop>>>>>;
  const destructive = {} as typeof plain;
  before(async () => {
    Object.assign(plain, await scanTwins(SPEC, startShop, { identities, ratePerSecond: 300 }));
    Object.assign(
      destructive,
      await scanTwins(SPEC, startShop, { identities, ratePerSecond: 300, allowDestructive: true }),
    );
  });

  test('a plain scan leaves every seeded order and invoice byte-identical on both twins', () => {
    for (const { api } of [plain.vulnerable, plain.fixed]) {
      assert.equal(JSON.stringify(api.state), api.seeded);
    }
  });

  test('the matrix says why the POST update and the POST actions were not sent', () => {
    const reasons = plain.vulnerable.result.coverage.matrix
      .filter((c) => c.reason !== undefined)
      .map((c) => `${c.operation}: ${c.reason}`);
    for (const op of ['/orders/{order_id}:cancel', '/orders/{order_id}/stornieren', '/orders/{order_id}']) {
      assert.ok(
        reasons.some((r) => r.includes(`POST /api/v1${op}: not sent: a POST that names`)),
        `${op}\n${reasons.join('\n')}`,
      );
    }
  });

  test('a creation in a documented sub-collection still goes (a note on an order is no change of it)', () => {
    assert.ok(plain.vulnerable.api.notes.length > 0);
  });

  test('with --allow-destructive the writes go and the flaws are found on the vulnerable twin only', () => {
    const { api, result } = destructive.vulnerable;
    assert.notEqual(JSON.stringify(api.state), api.seeded);
    const found = operationsFound(result);
    assert.ok(
      found.some((f) => /^scan\/api(1|3|6)-.* (postOrder|aipCancel|stornieren|markAsPaid|settle)$/.test(f)),
      found.join('\n'),
    );
    const fixedFound = operationsFound(destructive.fixed.result).filter((f) =>
      /^scan\/api(1|3)-.* (postOrder|aipCancel|stornieren|markAsPaid|settle|bodyCancel)$/.test(f),
    );
    assert.deepEqual(fixedFound, []);
  });
});
