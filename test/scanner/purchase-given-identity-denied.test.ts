import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A Rails-style storefront (snake_case, `{"errors": {"field": ["can't be blank"]}}` with 422, bearer tokens from
 * `POST /api/v1/sessions`, sign-up at `POST /api/v1/registrations`, new accounts get 2000 cents of store credit).
 * An order (`POST /api/v1/orders {product_id, quantity, coupon_code}`) is paid from the caller's store credit; the
 * document's example coupon `SPRING25` is a real single-use coupon (25 % off, once per customer), and so is the
 * example gift card of `POST /api/v1/cart/gift_card {gift_card_code}`, which adds its value to the cart at once and
 * burns it. No DELETE of an order (nothing to cancel a purchase with).
 *
 * A plain scan must leave every given identity's credit, orders and coupon uses as seeded: no purchase as alice, bob
 * or the admin (deny by default; the scan's own accounts buy), and no documented coupon or gift card redeemed in
 * their names by any other write (the gift card route is sent without its example code). Vulnerable: any signed-in
 * user reads any order by id; fixed twin: one's own only. The BOLA is found on the seeded orders the list shows
 * (alice's 501, bob's 502). Without them it is not found today: the discovery makes no object as an account the scan
 * registered when a given identity's purchase is held back.
 */
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const ok = (description: string) => ({ description, content: { 'application/json': { schema: {} } } });
const invalid = { description: 'invalid', content: { 'application/json': { schema: {} } } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'storefront', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/v1/sessions': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: json({ email: { type: 'string', format: 'email' }, password: { type: 'string' } }, [
          'email',
          'password',
        ]),
        responses: { '201': ok('a token'), '401': { description: 'refused' } },
      },
    },
    '/api/v1/registrations': {
      post: {
        operationId: 'signUp',
        security: [],
        requestBody: json(
          {
            email: { type: 'string', format: 'email' },
            password: { type: 'string', minLength: 10 },
            full_name: { type: 'string' },
          },
          ['email', 'password'],
        ),
        responses: { '201': ok('the new account'), '422': invalid },
      },
    },
    '/api/v1/me': { get: { operationId: 'me', responses: { '200': ok('you, with your store credit') } } },
    '/api/v1/products': {
      get: { operationId: 'products', security: [], responses: { '200': ok('products') } },
    },
    '/api/v1/orders': {
      get: { operationId: 'myOrders', responses: { '200': ok('your orders') } },
      post: {
        operationId: 'placeOrder',
        requestBody: json(
          {
            product_id: { type: 'integer', example: 11 },
            quantity: { type: 'integer', minimum: 1, maximum: 5, example: 1 },
            coupon_code: { type: 'string', example: 'SPRING25' },
          },
          ['product_id', 'quantity'],
        ),
        responses: { '201': ok('the order, paid from store credit'), '422': invalid },
      },
    },
    '/api/v1/orders/{id}': {
      get: {
        operationId: 'order',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': ok('an order'), '404': { description: 'not found' } },
      },
    },
    '/api/v1/cart/gift_card': {
      post: {
        operationId: 'applyGiftCard',
        requestBody: json({ gift_card_code: { type: 'string', example: 'GC-4410-7731' } }, [
          'gift_card_code',
        ]),
        responses: { '200': ok('the cart with the card applied'), '422': invalid },
      },
    },
  },
};

interface Account {
  id: number;
  email: string;
  password: string;
  credit_cents: number;
  role: 'customer' | 'admin';
}
interface Order {
  id: number;
  account_id: number;
  product_id: number;
  quantity: number;
  total_cents: number;
  coupon_code: string | null;
}
type Store = TwinTarget & {
  accounts: Map<number, Account>;
  orders: Order[];
  couponUses: { code: string; account_id: number }[];
  giftCards: Map<string, { cents: number; used_by: number | null }>;
};

const SEEDED: Account[] = [
  { id: 1, email: 'alice@store.test', password: 'alice-secret-1', credit_cents: 5000, role: 'customer' },
  { id: 2, email: 'bob@store.test', password: 'bob-secret-22', credit_cents: 2500, role: 'customer' },
  { id: 3, email: 'root@store.test', password: 'root-secret-333', credit_cents: 0, role: 'admin' },
];
const PRICES: Record<number, number> = { 11: 900, 12: 1500 };

function startStore(fixed: boolean): Promise<Store> {
  const accounts = new Map(SEEDED.map((a) => [a.id, { ...a }]));
  const orders: Order[] = [
    { id: 501, account_id: 1, product_id: 12, quantity: 1, total_cents: 1500, coupon_code: null },
    { id: 502, account_id: 2, product_id: 11, quantity: 2, total_cents: 1800, coupon_code: null },
  ];
  const couponUses: { code: string; account_id: number }[] = [];
  const giftCards = new Map([['GC-4410-7731', { cents: 2500, used_by: null as number | null }]]);
  const tokens = new Map<string, number>();
  let nextAccount = 100;
  let nextOrder = 900;
  return startServer(async (req, res) => {
    const send = (status: number, body: unknown) => sendJson(res, status, body, GUARDED_JSON);
    const body = (await readJson(req)) ?? {};
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
    if (req.method === 'POST' && path === '/api/v1/sessions') {
      const a = [...accounts.values()].find((x) => x.email === body.email && x.password === body.password);
      if (!a) return send(401, { error: 'Invalid email or password' });
      const token = randomBytes(16).toString('hex');
      tokens.set(token, a.id);
      return send(201, { token, account_id: a.id });
    }
    if (req.method === 'POST' && path === '/api/v1/registrations') {
      const errors: Record<string, string[]> = {};
      if (typeof body.email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(body.email))
        errors.email = ['is invalid'];
      else if ([...accounts.values()].some((a) => a.email === body.email))
        errors.email = ['has already been taken'];
      if (typeof body.password !== 'string' || body.password.length < 10)
        errors.password = ['is too short (minimum is 10 characters)'];
      if (Object.keys(errors).length > 0 || accounts.size > 60) return send(422, { errors });
      const a: Account = {
        id: nextAccount++,
        email: String(body.email),
        password: String(body.password),
        credit_cents: 2000,
        role: 'customer',
      };
      accounts.set(a.id, a);
      return send(201, { id: a.id, email: a.email });
    }
    if (req.method === 'GET' && path === '/api/v1/products')
      return send(200, [
        { id: 11, name: 'Mug', price_cents: 900 },
        { id: 12, name: 'Tote', price_cents: 1500 },
      ]);
    const auth = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''));
    const me = accounts.get(tokens.get(auth?.[1] ?? '') ?? 0);
    if (!me) return send(401, { error: 'Not Authorized' });
    const view = (o: Order) => ({ ...o });
    if (req.method === 'GET' && path === '/api/v1/me')
      return send(200, { id: me.id, email: me.email, credit_cents: me.credit_cents });
    if (path === '/api/v1/orders') {
      if (req.method === 'GET') return send(200, orders.filter((o) => o.account_id === me.id).map(view));
      if (req.method !== 'POST') return send(405, { error: 'Method Not Allowed' });
      const price = PRICES[Number(body.product_id)];
      const quantity = Number(body.quantity);
      const errors: Record<string, string[]> = {};
      if (!price) errors.product_id = ["can't be blank"];
      if (!Number.isInteger(quantity) || quantity < 1 || quantity > 5)
        errors.quantity = ['is not included in the list'];
      let total = (price ?? 0) * quantity;
      const coupon =
        body.coupon_code === undefined || body.coupon_code === null ? null : String(body.coupon_code);
      if (coupon !== null) {
        if (coupon !== 'SPRING25') errors.coupon_code = ['is not valid'];
        else if (couponUses.some((u) => u.account_id === me.id))
          errors.coupon_code = ['has already been used'];
        else total = Math.round(total * 0.75);
      }
      if (Object.keys(errors).length > 0) return send(422, { errors });
      if (me.credit_cents < total) return send(422, { errors: { base: ['Not enough store credit'] } });
      if (orders.length > 300) return send(422, { errors: { base: ['Too many orders'] } });
      me.credit_cents -= total;
      if (coupon !== null) couponUses.push({ code: coupon, account_id: me.id });
      const o: Order = {
        id: nextOrder++,
        account_id: me.id,
        product_id: Number(body.product_id),
        quantity,
        total_cents: total,
        coupon_code: coupon,
      };
      orders.push(o);
      return send(201, view(o));
    }
    const m = /^\/api\/v1\/orders\/(\d+)$/.exec(path);
    if (req.method === 'GET' && m) {
      const o = orders.find((x) => x.id === Number(m[1]));
      if (!o || (fixed && o.account_id !== me.id)) return send(404, { status: 404, error: 'Not Found' });
      return send(200, view(o));
    }
    if (req.method === 'POST' && path === '/api/v1/cart/gift_card') {
      const card = giftCards.get(String(body.gift_card_code));
      if (!card || card.used_by !== null) return send(422, { errors: { gift_card_code: ['is not valid'] } });
      card.used_by = me.id;
      me.credit_cents += card.cents;
      return send(200, { items: [], gift_card_cents: card.cents });
    }
    return send(404, { status: 404, error: 'Not Found' });
  }).then((api) => Object.assign(api, { accounts, orders, couponUses, giftCards }));
}

describe('a plain scan buys and redeems nothing as a given identity', () => {
  let scans: TwinScans<Store>;
  before(async () => {
    const identity = (a: Account) => ({
      name: a.email.split('@')[0],
      login: { path: '/api/v1/sessions', body: { email: a.email, password: a.password } },
    });
    scans = await scanTwins(SPEC, startStore, {
      identities: [identity(SEEDED[0]), identity(SEEDED[1])],
      admin: identity(SEEDED[2]),
      ratePerSecond: 200,
    });
  });

  test("both twins: alice's, bob's and root's credit, orders, coupon uses and gift card as seeded", () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = scans[kind].api;
      for (const seeded of SEEDED)
        assert.equal(
          api.accounts.get(seeded.id)?.credit_cents,
          seeded.credit_cents,
          `${kind}: ${seeded.email}`,
        );
      assert.deepEqual(
        api.orders.filter((o) => o.account_id <= 3).map((o) => o.id),
        [501, 502],
        `${kind}: orders of the given identities`,
      );
      assert.deepEqual(
        api.couponUses.filter((u) => u.account_id <= 3),
        [],
        `${kind}: coupon uses of the given identities`,
      );
      const card = api.giftCards.get('GC-4410-7731');
      assert.ok(
        card?.used_by === null || (card?.used_by ?? 0) > 3,
        `${kind}: gift card used by ${card?.used_by}`,
      );
    }
  });

  test('the coverage says why the purchase was not sent as a given identity', () => {
    assert.match(
      JSON.stringify(scans.fixed.result.coverage),
      /not sent as (alice|bob|root): a purchase spends a given identity's money \(--allow-destructive sends it\)/,
    );
  });

  test("vulnerable: one account reads another's order; fixed twin: no authorization finding", () => {
    assert.ok(
      operationsFound(scans.vulnerable.result).some((f) => /^scan\/api1-bola-read order$/.test(f)),
      operationsFound(scans.vulnerable.result).join('\n'),
    );
    assert.deepEqual(
      operationsFound(scans.fixed.result).filter((f) => /api1|api5/.test(f)),
      [],
    );
  });
});
