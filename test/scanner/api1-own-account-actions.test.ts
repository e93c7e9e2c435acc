import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A bakery's pre-order API in a Sinatra-like style (errors as `{"error": "..."}`, a public sign-up `POST /signup
 * {username, password}`, `POST /login` answering `{"auth_token"}`). `POST /orders {pastry, quantity}` places an
 * order (a purchase: a plain scan places none as a given identity), `GET /orders/{id}` shows it to its customer, and
 * `POST /orders/{id}/cancel` cancels it. Vulnerable: any customer cancels any order. Fixed twin: its customer only
 * (404 otherwise). Alice and bob each have a seeded order, which nothing may cancel.
 *
 * With no order of a given identity's own that the scan may act on, the scan signs up an account of its own, places
 * an order as that account, and has bob cancel it: that account's view of its order changing is the finding.
 */
const failure = { description: 'error' };
const credentials = {
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['username', 'password'],
        properties: {
          username: { type: 'string', maxLength: 40 },
          password: { type: 'string', maxLength: 80 },
        },
      },
    },
  },
};
const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'bakery pre-orders', version: '1' },
  components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
  security: [{ token: [] }],
  paths: {
    '/signup': {
      post: {
        operationId: 'signUp',
        security: [],
        requestBody: credentials,
        responses: { '201': { description: 'ok' } },
      },
    },
    '/login': {
      post: {
        operationId: 'logIn',
        security: [],
        requestBody: credentials,
        responses: { '200': { description: 'ok' } },
      },
    },
    '/orders': {
      post: {
        operationId: 'placeOrder',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['pastry', 'quantity'],
                properties: {
                  pastry: { type: 'string', enum: ['croissant', 'brioche', 'kouign-amann'] },
                  quantity: { type: 'integer', minimum: 1, maximum: 12 },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'order' }, '400': failure },
      },
    },
    '/orders/{id}': {
      get: {
        operationId: 'getOrder',
        parameters: idParam,
        responses: { '200': { description: 'order' }, '404': failure },
      },
    },
    '/orders/{id}/cancel': {
      post: {
        operationId: 'cancelOrder',
        parameters: idParam,
        responses: { '200': { description: 'cancelled' }, '404': failure },
      },
    },
  },
};

interface Order {
  id: number;
  customer: string;
  pastry: string;
  quantity: number;
  status: 'placed' | 'cancelled';
  total_cents: number;
}

function startBakery(fixed: boolean) {
  const users = new Map([
    ['alice', 'Alice-pw-72'],
    ['bob', 'Bob-pw-72'],
  ]);
  const tokens = new Map<string, string>();
  const orders: Order[] = [
    { id: 1, customer: 'alice', pastry: 'brioche', quantity: 2, status: 'placed', total_cents: 640 },
    { id: 2, customer: 'bob', pastry: 'croissant', quantity: 6, status: 'placed', total_cents: 1260 },
  ];
  let next = 3;
  return startServer(async (req, res) => {
    const body = await readJson(req);
    const path = new URL(req.url ?? '/', 'http://bakery').pathname;
    const error = (status: number, text: string) => sendJson(res, status, { error: text });
    if (req.method === 'POST' && path === '/signup') {
      const { username, password } = body ?? {};
      if (
        typeof username !== 'string' ||
        typeof password !== 'string' ||
        username === '' ||
        password.length < 8
      )
        return error(400, 'username and a password of 8 characters are required');
      if (users.has(username)) return error(409, 'username taken');
      users.set(username, password);
      return sendJson(res, 201, { username });
    }
    if (req.method === 'POST' && path === '/login') {
      const name = String(body?.username ?? '');
      if (!users.has(name) || users.get(name) !== body?.password) return error(401, 'invalid credentials');
      const token = randomBytes(12).toString('hex');
      tokens.set(token, name);
      return sendJson(res, 200, { auth_token: token });
    }
    const who = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!who) return error(401, 'not logged in');
    if (req.method === 'POST' && path === '/orders') {
      const prices: Record<string, number> = { croissant: 210, brioche: 320, 'kouign-amann': 450 };
      const price = prices[String(body?.pastry)];
      const quantity = body?.quantity;
      if (!price || typeof quantity !== 'number' || quantity < 1 || quantity > 12)
        return error(400, 'bad order');
      const order: Order = {
        id: next++,
        customer: who,
        pastry: String(body?.pastry),
        quantity,
        status: 'placed',
        total_cents: price * quantity,
      };
      orders.push(order);
      return sendJson(res, 201, order);
    }
    const m = /^\/orders\/(\d+)(\/cancel)?$/.exec(path);
    const order = m ? orders.find((o) => o.id === Number(m[1])) : undefined;
    if (!m || !order) return error(404, 'not found');
    if (req.method === 'GET' && !m[2])
      return order.customer === who ? sendJson(res, 200, order) : error(404, 'not found');
    if (req.method === 'POST' && m[2]) {
      if (fixed && order.customer !== who) return error(404, 'not found');
      order.status = 'cancelled';
      return sendJson(res, 200, { id: order.id, status: order.status });
    }
    return error(405, 'method not allowed');
  }).then((api) => Object.assign(api, { orders }));
}

const login = (username: string, password: string) => ({
  name: username,
  login: { path: '/login', body: { username, password } },
});

describe("API1 tries an action by path id on an object of the scan's own account where no given identity has one", () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startBakery>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startBakery, {
        identities: [login('alice', 'Alice-pw-72'), login('bob', 'Bob-pw-72')],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test("vulnerable: bob cancels the order of the scan's own account", () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-write cancelOrder'), found.join());
    const f = scans.vulnerable.result.findings.find((x) => x.operation?.operationId === 'cancelOrder');
    assert.match(f?.message ?? '', /scan's own account/);
  });

  test('fixed twin: no finding; the seeded orders stay placed and no order was placed as alice or bob', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
    for (const { api } of [scans.vulnerable, scans.fixed]) {
      assert.deepEqual(
        api.orders
          .filter((o) => o.customer === 'alice' || o.customer === 'bob')
          .map((o) => `${o.id}:${o.status}`),
        ['1:placed', '2:placed'],
      );
    }
  });
});
