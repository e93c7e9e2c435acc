import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A record between two parties (review R1-1, session 16): a marketplace (session tokens in `X-Auth-Token`, answers
 * in a HAL-like style) where alice's order 1003 was placed at bob's store 2. The document says an order is read by
 * "its customer or the store staff": bob, the store's owner (his own `GET /api/stores` lists store 2), reads it by
 * design, and "bob read alice's data" was a false positive. The payment details of the order are the customer's
 * alone; the vulnerable twin shows them to the store's staff too: that one is the finding.
 */
const tokenAuth = { token: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' } };
const orderParam = [{ name: 'orderId', in: 'path', required: true, schema: { type: 'integer' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'bike market', version: '1' },
  components: { securitySchemes: tokenAuth },
  security: [{ token: [] }],
  paths: {
    '/api/stores': {
      get: {
        operationId: 'myStores',
        summary: 'The stores the caller owns',
        responses: { '200': { description: 'stores' } },
      },
    },
    '/api/orders': {
      get: {
        operationId: 'myOrders',
        summary: 'The caller’s own orders',
        responses: { '200': { description: 'orders' } },
      },
    },
    '/api/orders/{orderId}': {
      parameters: orderParam,
      get: {
        operationId: 'getOrder',
        summary: 'One order (its customer or the store staff)',
        responses: { '200': { description: 'an order' }, '404': { description: 'no such order' } },
      },
    },
    '/api/orders/{orderId}/payment': {
      parameters: orderParam,
      get: {
        operationId: 'getPayment',
        summary: 'How an order was paid (its customer only)',
        responses: { '200': { description: 'the payment' }, '404': { description: 'no such order' } },
      },
    },
  },
};
const PEOPLE: Record<string, { id: number; name: string }> = {
  'tok-alice-5d1e': { id: 2, name: 'alice' },
  'tok-bob-93c0': { id: 3, name: 'bob' },
};
const STORES = [
  { id: 1, name: 'Carol’s cycles', ownerId: 9 },
  { id: 2, name: 'Bob’s bikes', ownerId: 3 },
];
const ORDERS = [
  {
    id: 1003,
    storeId: 2,
    customerId: 2,
    items: [{ productId: 201, quantity: 1, priceCents: 45900 }],
    shippingAddress: '12 Rose Lane, Bristol',
    status: 'PAID',
  },
];
const PAYMENTS: Record<number, unknown> = {
  1003: { orderId: 1003, method: 'card', cardLast4: '4242', billingAddress: '12 Rose Lane, Bristol' },
};

function startMarket(fixed: boolean) {
  return startServer((req, res) => {
    req.resume();
    const path = (req.url ?? '/').split('?')[0];
    const me = PEOPLE[String(req.headers['x-auth-token'] ?? '')];
    if (me === undefined) return sendJson(res, 401, { title: 'Unauthorized', status: 401 });
    if (req.method !== 'GET') return sendJson(res, 405, { title: 'Method Not Allowed', status: 405 });
    const hal = (body: unknown) => ({ _embedded: body });
    if (path === '/api/stores')
      return sendJson(res, 200, hal({ stores: STORES.filter((s) => s.ownerId === me.id) }));
    if (path === '/api/orders')
      return sendJson(res, 200, hal({ orders: ORDERS.filter((o) => o.customerId === me.id) }));
    const m = /^\/api\/orders\/(\d+)(\/payment)?$/.exec(path);
    const order = m ? ORDERS.find((o) => o.id === Number(m[1])) : undefined;
    if (order === undefined) return sendJson(res, 404, { title: 'Not Found', status: 404 });
    const customer = order.customerId === me.id;
    const staff = STORES.some((s) => s.id === order.storeId && s.ownerId === me.id);
    if (m?.[2]) {
      if (!customer && !(staff && !fixed)) return sendJson(res, 404, { title: 'Not Found', status: 404 });
      return sendJson(res, 200, PAYMENTS[order.id]);
    }
    if (!customer && !staff) return sendJson(res, 404, { title: 'Not Found', status: 404 });
    return sendJson(res, 200, order);
  });
}

describe('API1: a record between two parties (an order at the reader’s own store)', () => {
  let scans: Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startMarket>>>>>;
  before(async () => {
    scans = await scanTwins(SPEC, startMarket, {
      identities: [
        { name: 'alice', headers: { 'X-Auth-Token': 'tok-alice-5d1e' } },
        { name: 'bob', headers: { 'X-Auth-Token': 'tok-bob-93c0' } },
      ],
      ratePerSecond: 200,
      checks: ['API1'],
    });
  });

  test('vulnerable: the payment details the store’s staff should not see are found, the order is not', () => {
    assert.deepEqual(operationsFound(scans.vulnerable.result), ['scan/api1-bola-read getPayment']);
  });

  test('fixed twin: the store owner’s read of an order at his store is not reported', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
