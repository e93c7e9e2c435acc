import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanTwins } from './twins.ts';

/**
 * A gift shop in the JSend style of a small Slim/PHP app (`{"status": "success", "data": ...}`, `{"status":
 * "fail"}`), with static `X-Api-Key` keys and each identity's `user_id` given as a param. Buying is a creation,
 * `POST /shop/v1/users/{user_id}/purchases {sku, qty}`, that takes the price from the user's store credit; a
 * purchase is cancelled (and refunded) by `DELETE .../purchases/{purchase_id}`. A plain scan buys nothing as a
 * given identity (session 14; before, once each, cancelled at the end) and must leave every credit as seeded; the
 * authorization checks work from the seeded purchases the lists show. Vulnerable: any purchase to anyone signed
 * in; fixed twin: one's own only.
 */
const body = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const uid = { name: 'user_id', in: 'path', required: true, schema: { type: 'integer' } };
const pid = { name: 'purchase_id', in: 'path', required: true, schema: { type: 'integer' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'gift shop', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/shop/v1/users/{user_id}/credit': {
      get: { operationId: 'credit', parameters: [uid], responses: { '200': { description: 'credit' } } },
    },
    '/shop/v1/users/{user_id}/purchases': {
      get: { operationId: 'purchases', parameters: [uid], responses: { '200': { description: 'list' } } },
      post: {
        operationId: 'buy',
        parameters: [uid],
        requestBody: body(
          { sku: { type: 'string', enum: ['MUG-01', 'CARD-07'] }, qty: { type: 'integer', minimum: 1 } },
          ['sku', 'qty'],
        ),
        responses: { '201': { description: 'bought' }, '400': { description: 'refused' } },
      },
    },
    '/shop/v1/users/{user_id}/purchases/{purchase_id}': {
      get: { operationId: 'purchase', parameters: [uid, pid], responses: { '200': { description: 'one' } } },
      delete: {
        operationId: 'cancel',
        parameters: [uid, pid],
        responses: { '204': { description: 'cancelled' }, '404': { description: 'none' } },
      },
    },
  },
};

const KEYS: Record<string, number> = { 'k-alice-5d1e90': 31, 'k-bob-77a2c4': 46, 'k-admin-0c93fe': 50 };
const PRICES: Record<string, number> = { 'MUG-01': 1400, 'CARD-07': 350 };
const seededCredit = () =>
  new Map([
    [31, 5000],
    [46, 2000],
    [50, 0],
  ]);
interface Purchase {
  id: number;
  user: number;
  sku: string;
  qty: number;
  cents: number;
  live: boolean;
}

function startShop(fixed: boolean) {
  const credit = seededCredit();
  const bought: Purchase[] = [
    { id: 901, user: 31, sku: 'MUG-01', qty: 1, cents: 1400, live: true },
    { id: 902, user: 46, sku: 'CARD-07', qty: 2, cents: 700, live: true },
  ];
  let next = 903;
  const started = startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const path = (req.url ?? '/').split('?')[0];
    const me = KEYS[String(req.headers['x-api-key'] ?? '')];
    if (me === undefined) return sendJson(res, 401, { status: 'fail', data: { key: 'missing or unknown' } });
    const m = /^\/shop\/v1\/users\/(\d+)\/(credit|purchases)(?:\/(\d+))?$/.exec(path);
    if (!m) return sendJson(res, 404, { status: 'fail', data: { route: 'none' } });
    const user = Number(m[1]);
    const own = user === me || me === 50;
    if (m[2] === 'credit' && req.method === 'GET' && m[3] === undefined) {
      if (!own) return sendJson(res, 403, { status: 'fail', data: { user: 'not yours' } });
      return sendJson(res, 200, { status: 'success', data: { credit: (credit.get(user) ?? 0) / 100 } });
    }
    if (m[2] !== 'purchases') return sendJson(res, 404, { status: 'fail', data: { route: 'none' } });
    const view = (p: Purchase) => ({
      id: p.id,
      sku: p.sku,
      qty: p.qty,
      charged: p.cents / 100,
      live: p.live,
    });
    if (m[3] === undefined) {
      if (!own) return sendJson(res, 403, { status: 'fail', data: { user: 'not yours' } });
      if (req.method === 'GET')
        return sendJson(res, 200, {
          status: 'success',
          data: bought.filter((p) => p.user === user).map(view),
        });
      if (req.method === 'POST') {
        const price = PRICES[String(b.sku)];
        const qty = Number(b.qty);
        if (price === undefined || !Number.isInteger(qty) || qty < 1 || qty > 10)
          return sendJson(res, 400, { status: 'fail', data: { sku: 'unknown sku or qty' } });
        const cents = price * qty;
        if (cents > (credit.get(user) ?? 0))
          return sendJson(res, 400, { status: 'fail', data: { credit: 'low' } });
        credit.set(user, (credit.get(user) ?? 0) - cents);
        const p = { id: next++, user, sku: String(b.sku), qty, cents, live: true };
        bought.push(p);
        return sendJson(res, 201, { status: 'success', data: view(p) });
      }
      return sendJson(res, 405, { status: 'fail', data: { method: 'not allowed' } });
    }
    const p = bought.find((x) => x.id === Number(m[3]) && x.user === user);
    if (!p) return sendJson(res, 404, { status: 'fail', data: { purchase: 'none' } });
    if (fixed && !own) return sendJson(res, 403, { status: 'fail', data: { user: 'not yours' } });
    if (req.method === 'GET') return sendJson(res, 200, { status: 'success', data: view(p) });
    if (req.method === 'DELETE') {
      if (!own) return sendJson(res, 403, { status: 'fail', data: { user: 'not yours' } });
      if (!p.live) return sendJson(res, 404, { status: 'fail', data: { purchase: 'cancelled already' } });
      p.live = false;
      credit.set(user, (credit.get(user) ?? 0) + p.cents);
      res.writeHead(204).end();
      return;
    }
    return sendJson(res, 405, { status: 'fail', data: { method: 'not allowed' } });
  });
  return started.then((s) => ({ ...s, credit, bought }));
}

const identity = (name: string, key: string, id: number) => ({
  name,
  headers: { 'X-Api-Key': key },
  params: { user_id: String(id) },
});

describe('a plain scan leaves the given identities’ store credit as seeded', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startShop>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startShop, {
        identities: [identity('alice', 'k-alice-5d1e90', 31), identity('bob', 'k-bob-77a2c4', 46)],
        admin: identity('admin', 'k-admin-0c93fe', 50),
        ratePerSecond: 200,
      }),
    );
  });

  test('every credit as seeded and no purchase left live beyond the seeded ones (both twins)', () => {
    for (const twin of [scans.vulnerable, scans.fixed]) {
      assert.deepEqual([...twin.api.credit], [...seededCredit()]);
      assert.deepEqual(
        twin.api.bought.filter((p) => p.live).map((p) => p.id),
        [901, 902],
      );
      // Not even bought and cancelled: no purchase beyond the seeded ones at all.
      assert.deepEqual(
        twin.api.bought.map((p) => p.id),
        [901, 902],
      );
    }
  });

  test("vulnerable: one user reads the other's purchase", () => {
    const f = scans.vulnerable.result.findings.find((x) => x.rule.id === 'scan/api1-bola-read');
    assert.ok(f, scans.vulnerable.result.findings.map((x) => x.rule.id).join());
  });

  test('fixed twin: no authorization finding', () => {
    assert.deepEqual(
      scans.fixed.result.findings.filter((x) => /api1|api5/.test(x.rule.id)).map((x) => x.message),
      [],
    );
  });
});
