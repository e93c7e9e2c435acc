import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson } from './small-api.ts';
import { findingOn, headerIdentities, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A bicycle shop in FastAPI's style (`{"detail": ...}`, `X-Shop-Token`). An order is placed unpaid (`POST /api/orders
 * {items: [{product_id, quantity}], couponCode?}`: "Place an order; it waits for payment"; an unknown product or coupon
 * is refused 422) and paid by its own operation (`POST
 * /api/orders/{order_id}/pay`: "the card on file is charged", 402 documented); an unpaid order may be cancelled.
 *
 * Vulnerable twin: any customer reads any order. Fixed twin: its customer only. Review R1-4: "Place an order" made the
 * creation a purchase, never sent as a given identity, so no order was made and API1 never read one; the scan's
 * own account's order got a made-up productId inside items and a made-up couponCode. The payment stays a purchase.
 */
const orderParam = { name: 'order_id', in: 'path', required: true, schema: { type: 'integer' } };
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'bike shop', version: '0.4.0' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Shop-Token' } } },
  security: [{ token: [] }],
  paths: {
    '/api/products': {
      get: { operationId: 'products', responses: { '200': { description: 'the catalogue' } } },
    },
    '/api/orders': {
      get: { operationId: 'myOrders', responses: { '200': { description: "the customer's orders" } } },
      post: {
        operationId: 'placeOrder',
        summary: 'Place an order; it waits for payment',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['items'],
                properties: {
                  items: {
                    type: 'array',
                    items: {
                      type: 'object',
                      required: ['product_id', 'quantity'],
                      properties: {
                        product_id: { type: 'integer' },
                        quantity: { type: 'integer', minimum: 1 },
                      },
                    },
                  },
                  couponCode: { type: 'string' },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'placed, unpaid' } },
      },
    },
    '/api/orders/{order_id}': {
      get: {
        operationId: 'getOrder',
        parameters: [orderParam],
        responses: { '200': { description: 'order' } },
      },
      delete: {
        operationId: 'cancelOrder',
        summary: 'Cancel an unpaid order',
        parameters: [orderParam],
        responses: { '204': { description: 'cancelled' } },
      },
    },
    '/api/orders/{order_id}/pay': {
      post: {
        operationId: 'payOrder',
        summary: 'Pay for the order: the card on file is charged',
        parameters: [orderParam],
        responses: { '200': { description: 'paid' }, '402': { description: 'card declined' } },
      },
    },
  },
};

const TOKENS: Record<string, string> = { mara: 'bk-mara-61c0d2e9', joao: 'bk-joao-0f7ab344' };

interface Shop extends TwinTarget {
  readonly orders: Map<
    number,
    { id: number; customer: string; product_id: number; quantity: number; status: string }
  >;
  readonly charges: string[];
}

function startShop(fixed: boolean): Promise<Shop> {
  const orders: Shop['orders'] = new Map([
    [1, { id: 1, customer: 'mara', product_id: 101, quantity: 1, status: 'paid' }],
  ]);
  const charges: string[] = [];
  let next = 2;
  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = req.method === 'POST' ? ((await readJson(req)) ?? {}) : {};
    if (req.method !== 'POST') req.resume();
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const who = Object.keys(TOKENS).find((c) => req.headers['x-shop-token'] === TOKENS[c]);
    if (!who) return reply(res, 401, { detail: 'Not authenticated' });
    if (req.method === 'GET' && path === '/api/products')
      return reply(res, 200, [
        { id: 101, name: 'Brake pads', price: 1900 },
        { id: 102, name: 'Chain', price: 2400 },
      ]);
    if (path === '/api/orders' && req.method === 'GET')
      return reply(
        res,
        200,
        [...orders.values()].filter((o) => o.customer === who),
      );
    if (path === '/api/orders' && req.method === 'POST') {
      const items = Array.isArray(body.items) ? (body.items as Record<string, unknown>[]) : [];
      const bad = items.length === 0 || items.some((i) => ![101, 102].includes(i?.product_id as number));
      if (bad)
        return reply(res, 422, {
          detail: [{ loc: ['body', 'items', 0, 'product_id'], msg: 'unknown product', type: 'value_error' }],
        });
      if (body.couponCode !== undefined && body.couponCode !== 'SPRING10')
        return reply(res, 422, {
          detail: [{ loc: ['body', 'couponCode'], msg: 'Unknown coupon', type: 'value_error' }],
        });
      const o = {
        id: next++,
        customer: who,
        product_id: items[0].product_id as number,
        quantity: Number(items[0].quantity) || 1,
        status: 'awaiting_payment',
      };
      orders.set(o.id, o);
      return reply(res, 201, o);
    }
    const m = /^\/api\/orders\/(\d+)(\/pay)?$/.exec(path);
    const o = m ? orders.get(Number(m[1])) : undefined;
    if (!o || ((fixed || req.method !== 'GET') && o.customer !== who))
      return reply(res, 404, { detail: 'Not Found' });
    if (m?.[2] && req.method === 'POST') {
      charges.push(`${who} ${o.id}`);
      o.status = 'paid';
      return reply(res, 200, o);
    }
    if (req.method === 'GET') return reply(res, 200, o);
    if (req.method === 'DELETE') {
      if (o.status !== 'awaiting_payment')
        return reply(res, 409, { detail: 'paid orders are refunded, not cancelled' });
      orders.delete(o.id);
      res.writeHead(204);
      return res.end();
    }
    reply(res, 405, { detail: 'Method Not Allowed' });
  };
  return startServer((req, res) => void handle(req, res).catch(() => res.destroy())).then((s) => ({
    url: s.url,
    server: s.server,
    orders,
    charges,
  }));
}

describe('an order placed unpaid, paid by an operation of its own', { timeout: 300_000 }, () => {
  let runs: TwinScans<Shop>;
  before(async () => {
    runs = await scanTwins(SPEC, startShop, {
      identities: headerIdentities('X-Shop-Token', TOKENS),
      checks: ['API1'],
    });
  });

  test("vulnerable: the scan's orders are made, and another customer's read of one is found", () => {
    assert.ok(
      runs.vulnerable.result.stats.objectsCreated >= 1,
      JSON.stringify(runs.vulnerable.result.warnings),
    );
    assert.ok(findingOn(runs.vulnerable.result, 'scan/api1-bola-read', 'getOrder'));
  });

  test('fixed: no API1 finding', () => {
    assert.deepEqual(
      runs.fixed.result.findings.filter((f) => f.rule.id.startsWith('scan/api1-')).map((f) => f.rule.id),
      [],
    );
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: nothing paid, and only the seeded order is left`, () => {
      const { api, result } = runs[kind];
      assert.deepEqual(api.charges, []);
      assert.deepEqual([...api.orders.keys()], [1], result.notes.join('\n'));
    });
  }
});
