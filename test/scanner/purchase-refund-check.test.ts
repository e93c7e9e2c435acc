import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A Flask-RESTX-style shop (`{"message": ...}` errors, an `X-Customer-Key` header, camelCase money in cents): an
 * order (`POST /api/orders {sku, qty}`) is paid from the customer's store credit, and `DELETE /api/orders/{orderId}`
 * only hides it from the history (a soft delete: nothing is refunded). No sign-up. A plain scan never buys as a
 * given customer (deny by default: the coverage says why), so every credit stays as seeded and the authorization
 * checks work from the seeded order the list shows. With --allow-destructive it buys once as each and cancels at the
 * end; here the cancellation gives no money back, so the report must say whose money changed and by how much.
 * Vulnerable: any customer reads any order; fixed twin: one's own only.
 */
const ok = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
const orderId = { name: 'orderId', in: 'path', required: true, schema: { type: 'integer' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'till', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Customer-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/api/account': {
      get: { operationId: 'getAccount', responses: { '200': ok('the customer and their credit') } },
    },
    '/api/orders': {
      get: { operationId: 'listOrders', responses: { '200': ok('the customer’s orders') } },
      post: {
        operationId: 'placeOrder',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['sku', 'qty'],
                properties: {
                  sku: { type: 'string', enum: ['TEA-01', 'MUG-02'] },
                  qty: { type: 'integer', minimum: 1 },
                },
              },
            },
          },
        },
        responses: { '201': ok('the order, paid from store credit'), '402': ok('not enough credit') },
      },
    },
    '/api/orders/{orderId}': {
      get: { operationId: 'getOrder', parameters: [orderId], responses: { '200': ok('an order') } },
      delete: {
        operationId: 'cancelOrder',
        description: 'Hides the order from the history.',
        parameters: [orderId],
        responses: { '204': { description: 'hidden' } },
      },
    },
  },
};

const KEYS: Record<string, number> = { 'ck-ruth-6d1': 1, 'ck-sven-2b8': 2 };
const PRICES: Record<string, number> = { 'TEA-01': 450, 'MUG-02': 1200 };

function startTill(fixed: boolean) {
  const customers = new Map([
    [1, { id: 1, name: 'Ruth', creditCents: 5000 }],
    [2, { id: 2, name: 'Sven', creditCents: 2500 }],
  ]);
  const orders: {
    id: number;
    customer: number;
    sku: string;
    qty: number;
    totalCents: number;
    hidden: boolean;
  }[] = [{ id: 71, customer: 1, sku: 'TEA-01', qty: 2, totalCents: 900, hidden: false }];
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const me = customers.get(KEYS[String(req.headers['x-customer-key'] ?? '')] ?? 0);
    if (!me) return send(401, { message: 'The server could not verify that you are authorized' });
    const path = new URL(req.url ?? '/', 'http://till').pathname;
    if (req.method === 'GET' && path === '/api/account') return send(200, me);
    const view = (o: (typeof orders)[number]) => ({
      id: o.id,
      sku: o.sku,
      qty: o.qty,
      totalCents: o.totalCents,
    });
    if (path === '/api/orders') {
      if (req.method === 'GET')
        return send(200, orders.filter((o) => o.customer === me.id && !o.hidden).map(view));
      if (req.method !== 'POST') return send(405, { message: 'The method is not allowed' });
      let body: { sku?: unknown; qty?: unknown } = {};
      try {
        body = JSON.parse(text);
      } catch {
        return send(400, { message: 'Failed to decode JSON object' });
      }
      const price = PRICES[String(body.sku)];
      const qty = Number(body.qty);
      if (!price || !Number.isInteger(qty) || qty < 1 || qty > 10)
        return send(400, { message: 'Input payload validation failed' });
      if (me.creditCents < price * qty) return send(402, { message: 'Not enough store credit' });
      me.creditCents -= price * qty;
      const o = {
        id: 100 + orders.length,
        customer: me.id,
        sku: String(body.sku),
        qty,
        totalCents: price * qty,
        hidden: false,
      };
      orders.push(o);
      return send(201, view(o));
    }
    const m = /^\/api\/orders\/(\d+)$/.exec(path);
    const o = m ? orders.find((x) => x.id === Number(m[1])) : undefined;
    if (!o) return send(404, { message: 'Order not found' });
    if (req.method === 'GET')
      return fixed && o.customer !== me.id ? send(404, { message: 'Order not found' }) : send(200, view(o));
    if (req.method === 'DELETE') {
      if (o.customer !== me.id) return send(404, { message: 'Order not found' });
      o.hidden = true;
      return send(204);
    }
    return send(405, { message: 'The method is not allowed' });
  }).then((api) => Object.assign(api, { customers, orders }));
}

const IDENTITIES = [
  { name: 'ruth', headers: { 'X-Customer-Key': 'ck-ruth-6d1' } },
  { name: 'sven', headers: { 'X-Customer-Key': 'ck-sven-2b8' } },
];
const SEEDED: Record<number, number> = { 1: 5000, 2: 2500 };

describe('a plain scan never buys as a given customer', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startTill>>>>>;
  before(async () => {
    Object.assign(scans, await scanTwins(SPEC, startTill, { identities: IDENTITIES, ratePerSecond: 200 }));
  });

  test('both twins: every credit as seeded, no money warning, the purchase noted as not sent', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      for (const c of scans[kind].api.customers.values())
        assert.equal(c.creditCents, SEEDED[c.id], `${kind}: ${c.name}'s credit`);
      assert.deepEqual(
        scans[kind].api.orders.map((o) => o.id),
        [71],
        `${kind}: orders placed as a given customer`,
      );
      assert.ok(
        !scans[kind].result.warnings.some((w) => /money changed/.test(w)),
        scans[kind].result.warnings.join('\n'),
      );
      assert.match(
        JSON.stringify(scans[kind].result.coverage),
        /not sent as (ruth|sven): a purchase spends a given identity's money \(--allow-destructive sends it\)/,
      );
    }
  });

  test('vulnerable: one customer reads the other’s order; fixed twin: no authorization finding', () => {
    assert.ok(
      operationsFound(scans.vulnerable.result).some((f) => /^scan\/api1-bola-read getOrder$/.test(f)),
      operationsFound(scans.vulnerable.result).join('\n'),
    );
    assert.deepEqual(
      operationsFound(scans.fixed.result).filter((f) => /api1|api5/.test(f)),
      [],
    );
  });
});

describe('with --allow-destructive, a purchase the clean-up cannot refund is said with whose money changed', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startTill>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startTill, {
        identities: IDENTITIES,
        ratePerSecond: 200,
        allowDestructive: true,
      }),
    );
  });

  test('both twins: the warnings name each customer whose credit the purchase spent, with before and after', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const spent = [...scans[kind].api.customers.values()].filter((c) => c.creditCents !== SEEDED[c.id]);
      assert.ok(spent.length > 0, `${kind}: no credit was spent, nothing to say`);
      for (const c of spent) {
        // One purchase at most as each customer, even with --allow-destructive.
        const placed = scans[kind].api.orders.filter((o) => o.customer === c.id && o.id !== 71);
        assert.equal(placed.length, 1, `${kind}: ${c.name}'s orders ${JSON.stringify(placed)}`);
        const line = scans[kind].result.warnings.find((w) =>
          w.includes(`${c.name.toLowerCase()}'s money changed`),
        );
        assert.ok(line, `${kind}: ${scans[kind].result.warnings.join('\n')}`);
        assert.match(line, new RegExp(`creditCents ${SEEDED[c.id]} -> ${c.creditCents} at GET /api/account`));
      }
    }
  });
});
