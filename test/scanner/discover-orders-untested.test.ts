import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { scanDocument } from './twins.ts';

/**
 * A small shop (Flask style: `{"msg": ...}` errors, a bearer token from `POST /auth`, no sign-up): `GET /orders`
 * lists the caller's orders (none yet: the given users have bought nothing), `GET /orders/{order_id}` reads one.
 * Either there is no purchase route at all, or `POST /orders {product_id, quantity}` buys from the caller's credit,
 * which a plain scan never sends as a given identity. Either way the scan has no order to test API1 on: the coverage
 * must say the item read was not tested and why, not only that its requests were answered 404.
 */
const json = (properties: Record<string, unknown>) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const idParam = [{ name: 'order_id', in: 'path', required: true, schema: { type: 'integer' } }];
function spec(withPurchase: boolean) {
  return {
    openapi: '3.0.3',
    info: { title: 'shop', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      '/auth': {
        post: {
          operationId: 'auth',
          security: [],
          requestBody: json({ username: { type: 'string' }, password: { type: 'string' } }),
          responses: { '200': { description: 'a token' } },
        },
      },
      '/products': {
        get: { operationId: 'listProducts', responses: { '200': { description: 'products' } } },
      },
      '/orders': {
        get: { operationId: 'listOrders', responses: { '200': { description: "the caller's orders" } } },
        ...(withPurchase
          ? {
              post: {
                operationId: 'placeOrder',
                requestBody: json({ product_id: { type: 'integer' }, quantity: { type: 'integer' } }),
                responses: { '201': { description: 'the order' } },
              },
            }
          : {}),
      },
      '/orders/{order_id}': {
        get: {
          operationId: 'getOrder',
          parameters: idParam,
          responses: { '200': { description: 'an order' } },
        },
      },
    },
  };
}

const PEOPLE: Record<string, string> = { rosa: 'Rosa-shop-6620', yuki: 'Yuki-shop-1187' };

function startShop() {
  const tokens = new Map<string, string>();
  const bought: string[] = [];
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const reply = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const path = new URL(req.url ?? '/', 'http://shop').pathname;
    if (req.method === 'POST' && path === '/auth') {
      let b: Record<string, unknown> = {};
      try {
        b = JSON.parse(text);
      } catch {
        return reply(400, { msg: 'bad json' });
      }
      if (PEOPLE[String(b.username)] !== b.password) return reply(401, { msg: 'bad credentials' });
      const token = randomBytes(12).toString('hex');
      tokens.set(token, String(b.username));
      return reply(200, { access_token: token });
    }
    const who = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!who) return reply(401, { msg: 'missing token' });
    if (path === '/products') return reply(200, [{ id: 3, name: 'teapot', price: 24 }]);
    if (path === '/orders' && req.method === 'GET') return reply(200, []);
    if (path === '/orders' && req.method === 'POST') {
      bought.push(who);
      return reply(201, { id: 70 + bought.length, product_id: 3, quantity: 1 });
    }
    return reply(404, { msg: 'not found' });
  }).then((api) => Object.assign(api, { bought }));
}

describe('an order read the scan could not test: the coverage says why', () => {
  const runs = {} as Record<'noPurchase' | 'purchase', { result: ScanResult; bought: string[] }>;
  before(async () => {
    for (const kind of ['noPurchase', 'purchase'] as const) {
      const api = await startShop();
      try {
        const result = await scanDocument(spec(kind === 'purchase'), api.url, {
          identities: Object.entries(PEOPLE).map(([username, password]) => ({
            name: username,
            login: { path: '/auth', body: { username, password } },
          })),
          checks: ['API1'],
          ratePerSecond: 200,
        });
        runs[kind] = { result, bought: api.bought };
      } finally {
        await api.close();
      }
    }
  });

  const cell = (r: ScanResult) =>
    r.coverage?.matrix.find((c) => c.check === 'API1' && c.operation === 'GET /orders/{order_id}');

  test('no purchase route, no sign-up: not tested, the document has no creation of orders', () => {
    const c = cell(runs.noPurchase.result);
    assert.equal(c?.status, 'skipped', JSON.stringify(c));
    assert.match(
      String(c?.ids),
      /no value for order_id was confirmed .*; nor has the scan one of its own: the document has no creation there \(POST \/orders\) and no sign-up$/,
    );
  });

  test('a purchase route, no sign-up: not tested, no order bought as rosa or yuki, the note says why', () => {
    assert.deepEqual(runs.purchase.bought, []);
    const c = cell(runs.purchase.result);
    assert.equal(c?.status, 'skipped', JSON.stringify(c));
    assert.match(
      String(c?.ids),
      /; nor has the scan one of its own: POST \/orders is a purchase, never sent as a given identity in a plain scan \(--allow-destructive sends it once\), and the document has no sign-up for an account of the scan's own to buy one$/,
    );
  });
});
