import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * Two path ids nothing gave out, one under the other: a bakery chain (Flask-like: 200 `{"msg": ...}` errors
 * on login, `{"error": ...}` elsewhere, a token under `auth.token`). `GET /shops/{shop_id}/orders/{order_no}`
 * (first in the document) reads an order of a shop; `GET /shops/{shop_id}` a shop's public page. Nothing lists
 * shops or orders, and placing an order answers 202 `{"msg": "queued"}` without a number. Seeded: shop 1 holds
 * alice's orders 1 and 2, shop 2 bob's order 3 (`customer_id`, the login's `user.id`).
 *
 * Vulnerable: any customer reads any order. Fixed twin: another customer's order is 404.
 * Discovery confirms shop ids on the shop page (small ids), then tries order numbers under a confirmed shop.
 */
const json = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
const shop = { name: 'shop_id', in: 'path', required: true, schema: { type: 'integer' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'bakery', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/shops/{shop_id}/orders/{order_no}': {
      get: {
        operationId: 'getOrder',
        parameters: [shop, { name: 'order_no', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': json('an order'), '404': { description: 'none' } },
      },
    },
    '/shops/{shop_id}/orders': {
      post: {
        operationId: 'placeOrder',
        parameters: [shop],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['item'],
                properties: { item: { type: 'string' }, quantity: { type: 'integer' } },
              },
            },
          },
        },
        responses: { '202': json('queued') },
      },
    },
    '/shops/{shop_id}': {
      get: {
        operationId: 'getShop',
        security: [],
        parameters: [shop],
        responses: { '200': json('a shop'), '404': { description: 'none' } },
      },
    },
    '/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': json('signed in') },
      },
    },
  },
};

const USERS = [
  { id: 1, username: 'alice', password: 'alice-pw-4411' },
  { id: 2, username: 'bob', password: 'bob-pw-9032' },
];
const SHOPS = [
  { id: 1, name: 'North Street', city: 'Leeds' },
  { id: 2, name: 'Harbour', city: 'Hull' },
];
const ORDERS = [
  {
    order_no: 1,
    shop_id: 1,
    customer_id: 1,
    item: 'sourdough',
    address: '4 Elm Row',
    phone: '0113 496 0001',
  },
  { order_no: 2, shop_id: 1, customer_id: 1, item: 'rye', address: '4 Elm Row', phone: '0113 496 0001' },
  { order_no: 3, shop_id: 2, customer_id: 2, item: 'bagels', address: '9 Dock St', phone: '01482 496 002' },
];

function startBakery(fixed: boolean) {
  const reads: string[] = [];
  return startServer(async (req, res) => {
    const raw = await readText(req);
    const send = (status: number, body: unknown) => sendJson(res, status, body);
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/login') {
      let body: { username?: unknown; password?: unknown } = {};
      try {
        body = JSON.parse(raw);
      } catch {
        // an empty body
      }
      const u = USERS.find((x) => x.username === body.username && x.password === body.password);
      if (!u) return send(200, { msg: 'bad username or password' });
      return send(200, { auth: { token: `t-${u.username}-77f3` }, user: { id: u.id, username: u.username } });
    }
    let m = /^\/shops\/(\d+)$/.exec(path);
    if (req.method === 'GET' && m) {
      const s = SHOPS.find((x) => x.id === Number(m?.[1]));
      return s ? send(200, s) : send(404, { error: 'no such shop' });
    }
    const token = /^Bearer t-(\w+)-77f3$/.exec(String(req.headers.authorization ?? ''));
    const caller = USERS.find((u) => u.username === token?.[1]);
    if (!caller) return send(401, { error: 'unauthorized' });
    m = /^\/shops\/(\d+)\/orders$/.exec(path);
    if (req.method === 'POST' && m) return send(202, { msg: 'queued' });
    m = /^\/shops\/(\d+)\/orders\/(\d+)$/.exec(path);
    if (req.method === 'GET' && m) {
      reads.push(`${caller.username} ${path}`);
      const o = ORDERS.find((x) => x.shop_id === Number(m?.[1]) && x.order_no === Number(m?.[2]));
      if (!o || (fixed && o.customer_id !== caller.id)) return send(404, { error: 'no such order' });
      return send(200, o);
    }
    return send(404, { error: 'not found' });
  }).then((api) => Object.assign(api, { reads }));
}

const identity = (u: (typeof USERS)[number]) => ({
  name: u.username,
  login: {
    path: '/login',
    body: { username: u.username, password: u.password },
    tokenPointer: '/auth/token',
  },
});

describe('two path ids nothing gave out: the shop confirmed first, the order tried under it', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startBakery, {
      identities: USERS.map(identity),
      checks: ['API1'],
      ratePerSecond: 300,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test("API1: one customer reads the other's order (a shop confirmed on its page, an order under it, owned by customer_id)", () => {
    const found = operationsFound(runs.vulnerable);
    assert.ok(found.includes('scan/api1-bola-read getOrder'), found.join('\n'));
  });

  test('the matrix says where both ids came from', () => {
    const cell = runs.vulnerable.coverage.matrix.find(
      (c) => c.check === 'API1' && c.operation === 'GET /shops/{shop_id}/orders/{order_no}',
    );
    assert.match(
      cell?.ids ?? '',
      /shop_id=[12] confirmed in discovery \(a small id tried: alice got a record/,
    );
    assert.match(
      cell?.ids ?? '',
      /order_no=[123] confirmed in discovery \(a small id tried under shop_id=[12]: \w+ got a record, 200; (alice|bob)'s by its owner member\)/,
    );
  });

  test('the fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
