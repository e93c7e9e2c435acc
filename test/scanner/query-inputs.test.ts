import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * An API whose every input is a query parameter (no request bodies), in the style of some FastAPI services:
 * members are created with `POST /members?name=&email=`, changed with `PUT /members/{id}?email=&is_admin=`
 * (the document itself declares `is_admin`; an update without any input is refused), and carry payment cards created with query parameters whose
 * values the server checks against the document's patterns and bounds (`expiry_year` `^20[2-9][0-9]$`, `cvv`
 * of 3 or 4 characters); a card's item parameter is `{cardId}`, its member `card_id`.
 *
 * Vulnerable: any caller reads and changes any member, reads any member's cards and changes any card, and a
 * member update stores `is_admin` and an
 * undeclared `role` from the query. Fixed twin: reads are the owner's only, and an update ignores both.
 */
const str = { type: 'string' } as const;
const q = (name: string, schema: object, required = false) => ({ name, in: 'query', required, schema });
const idParam = { name: 'id', in: 'path', required: true, schema: str };
const MEMBER = {
  type: 'object',
  properties: { id: str, name: str, email: str, is_admin: { type: 'boolean' }, role: str, owner: str },
};
const CARD = {
  type: 'object',
  properties: { card_id: str, member_id: str, last4: str, expiry_year: str, cardholder_name: str },
};
const PRODUCT = { type: 'object', properties: { product_id: str, name: str, stock: { type: 'integer' } } };
const ORDER = {
  type: 'object',
  properties: { order_id: str, member_id: str, product_id: str, quantity: { type: 'integer' } },
};
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'members', version: '1' },
  components: {
    securitySchemes: {
      key: { type: 'apiKey', in: 'header', name: 'x-user' },
      bearer: { type: 'http', scheme: 'bearer' },
    },
  },
  security: [{ key: [] }, { bearer: [] }],
  paths: {
    '/products': {
      get: {
        operationId: 'listProducts',
        security: [],
        responses: { '200': { description: 'the catalogue', ...json({ type: 'array', items: PRODUCT }) } },
      },
      post: {
        operationId: 'createProduct',
        parameters: [q('name', str, true)],
        responses: { '201': { description: 'created, with no stock yet', ...json(PRODUCT) } },
      },
    },
    '/products/{productId}': {
      get: {
        operationId: 'getProduct',
        security: [],
        parameters: [{ name: 'productId', in: 'path', required: true, schema: str }],
        responses: { '200': { description: 'a product', ...json(PRODUCT) } },
      },
    },
    '/login': {
      post: {
        operationId: 'login',
        security: [],
        parameters: [q('username', str, true), q('password', { type: 'string', format: 'password' }, true)],
        responses: {
          '200': { description: 'signed in', ...json({ type: 'object', properties: { access_token: str } }) },
          '401': { description: 'wrong user name or password' },
          '429': { description: 'too many failed logins' },
        },
      },
    },
    '/members': {
      post: {
        operationId: 'createMember',
        parameters: [q('name', str, true), q('email', { type: 'string', format: 'email' }, true)],
        responses: { '201': { description: 'created', ...json(MEMBER) } },
      },
    },
    '/members/{id}': {
      get: {
        operationId: 'getMember',
        parameters: [idParam],
        responses: { '200': { description: 'a member', ...json(MEMBER) } },
      },
      put: {
        operationId: 'updateMember',
        parameters: [idParam, q('email', str), q('is_admin', { type: 'boolean' })],
        responses: { '200': { description: 'changed', ...json(MEMBER) } },
      },
    },
    '/members/{id}/cards': {
      get: {
        operationId: 'listCards',
        parameters: [idParam],
        responses: { '200': { description: 'cards', ...json({ type: 'array', items: CARD }) } },
      },
      post: {
        operationId: 'createCard',
        parameters: [
          idParam,
          q('cardholder_name', str),
          q('card_number', { type: 'string', minLength: 13, maxLength: 19 }, true),
          q('cvv', { type: 'string', minLength: 3, maxLength: 4 }),
          q('expiry_month', { type: 'string', pattern: '^0[1-9]|1[0-2]$' }, true),
          q('expiry_year', { type: 'string', pattern: '^20[2-9][0-9]$' }, true),
        ],
        responses: { '201': { description: 'created', ...json(CARD) } },
      },
    },
    '/members/{id}/cards/{cardId}': {
      get: {
        operationId: 'getCard',
        parameters: [idParam, { name: 'cardId', in: 'path', required: true, schema: str }],
        responses: { '200': { description: 'a card', ...json(CARD) } },
      },
      put: {
        operationId: 'updateCard',
        parameters: [
          idParam,
          { name: 'cardId', in: 'path', required: true, schema: str },
          q('cardholder_name', str),
          q('is_default', { type: 'boolean' }),
        ],
        responses: { '200': { description: 'changed', ...json(CARD) } },
      },
    },
    '/members/{id}/orders': {
      get: {
        operationId: 'listOrders',
        parameters: [idParam],
        responses: { '200': { description: 'orders', ...json({ type: 'array', items: ORDER }) } },
      },
      post: {
        operationId: 'createOrder',
        description: 'At least one product: product_id_1 and quantity_1, product_id_2 and quantity_2...',
        parameters: [
          idParam,
          q('card_id', str, true),
          q('product_id_1', str),
          q('quantity_1', { type: 'integer', minimum: 1 }),
          q('is_admin', { type: 'boolean' }),
        ],
        responses: { '201': { description: 'created', ...json(ORDER) } },
      },
    },
    '/members/{id}/orders/{orderId}': {
      get: {
        operationId: 'getOrder',
        parameters: [idParam, { name: 'orderId', in: 'path', required: true, schema: str }],
        responses: { '200': { description: 'an order', ...json(ORDER) } },
      },
    },
  },
};

interface Member {
  id: string;
  name: string;
  email: string;
  is_admin: boolean;
  role: string;
  owner: string;
}
interface Card {
  cardholder_name: string;
  card_id: string;
  member_id: string;
  last4: string;
  expiry_year: string;
}

const CATALOGUE = [
  { product_id: randomUUID(), name: 'lamp', stock: 5 },
  { product_id: randomUUID(), name: 'chair', stock: 5 },
];

async function startMembers(fixed: boolean): Promise<{ url: string; server: Server; cards: () => number }> {
  const members = new Map<string, Member>();
  const cards = new Map<string, Card>();
  const tokens = new Map<string, string>();
  const products = CATALOGUE.map((p) => ({ ...p }));
  const orders = new Map<
    string,
    { order_id: string; member_id: string; product_id: string; quantity: number }
  >();
  const failures = new Map<string, number>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const bearer = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const user = String(req.headers['x-user'] ?? (bearer !== undefined ? (tokens.get(bearer) ?? '') : ''));
    const [, top, id, sub, cardId] = url.pathname.split('/');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const query = (name: string) => url.searchParams.get(name);
    if (req.method === 'POST' && url.pathname === '/login') {
      // A query-string login. The fixed twin locks an account after 5 failed logins in a row.
      const name = query('username') ?? '';
      const failed = failures.get(name) ?? 0;
      if (fixed && failed >= 5) return send(429, { detail: 'Too many failed logins' });
      if (!['alice', 'bob'].includes(name) || query('password') !== `pw-${name}`) {
        failures.set(name, failed + 1);
        return send(401, { detail: 'Incorrect username or password' });
      }
      failures.set(name, 0);
      const token = randomUUID();
      tokens.set(token, name);
      return send(200, { access_token: token, token_type: 'bearer' });
    }
    if (req.method === 'GET' && url.pathname === '/products') return send(200, products);
    if (req.method === 'GET' && top === 'products' && id) {
      const product = products.find((p) => p.product_id === id);
      return product ? send(200, product) : send(404, { detail: 'Product not found' });
    }
    if (user === '') return send(401, { detail: 'Not authenticated' });
    if (req.method === 'POST' && url.pathname === '/products') {
      const product = { product_id: randomUUID(), name: query('name') ?? 'x', stock: 0 };
      products.push(product);
      return send(201, product);
    }
    if (top !== 'members') return send(404, { detail: 'Not Found' });
    if (req.method === 'POST' && !id) {
      const name = query('name');
      const email = query('email');
      if (!name || !email) return send(422, { detail: 'name and email are required' });
      const m: Member = { id: randomUUID(), name, email, is_admin: false, role: 'user', owner: user };
      members.set(m.id, m);
      return send(201, m);
    }
    const m = members.get(id ?? '');
    if (!m) return send(404, { detail: 'Member not found' });
    const mine = m.owner === user;
    if (!sub) {
      if (req.method === 'GET') return fixed && !mine ? send(403, { detail: 'Forbidden' }) : send(200, m);
      if (req.method === 'PUT') {
        if (fixed && !mine) return send(403, { detail: 'Forbidden' });
        const email = query('email');
        // Like the API it is modelled on: an update without any input is refused.
        if (!email && query('is_admin') === null && query('role') === null) {
          return send(400, { detail: 'No update data provided' });
        }
        if (email) m.email = email;
        if (!fixed) {
          if (query('is_admin') !== null) m.is_admin = query('is_admin') === 'true';
          if (query('role') !== null) m.role = String(query('role'));
        }
        return send(200, m);
      }
      return send(405, { detail: 'Method Not Allowed' });
    }
    if (sub === 'orders') {
      if (fixed && !mine) return send(403, { detail: 'Forbidden' });
      if (req.method === 'POST' && !cardId) {
        // Like the API it is modelled on: the products are optional in the document, required by the code.
        if (query('is_admin') !== null) return send(400, { detail: 'Unexpected is_admin' });
        const card = cards.get(query('card_id') ?? '');
        if (!card || card.member_id !== m.id) return send(404, { detail: 'Card not found' });
        const product = query('product_id_1');
        if (!product) return send(400, { detail: 'No products specified for the order.' });
        const stocked = products.find((p) => p.product_id === product);
        if (!stocked) return send(404, { detail: 'Product not found' });
        if (stocked.stock < 1) return send(400, { detail: 'Insufficient stock' });
        const order = {
          order_id: randomUUID(),
          member_id: m.id,
          product_id: product,
          quantity: Number(query('quantity_1') ?? 1),
        };
        orders.set(order.order_id, order);
        return send(201, order);
      }
      if (req.method !== 'GET') return send(405, { detail: 'Method Not Allowed' });
      if (!cardId)
        return send(
          200,
          [...orders.values()].filter((o) => o.member_id === m.id),
        );
      const order = orders.get(cardId);
      return order && order.member_id === m.id ? send(200, order) : send(404, { detail: 'Order not found' });
    }
    if (sub !== 'cards') return send(404, { detail: 'Not Found' });
    if (fixed && !mine) return send(403, { detail: 'Forbidden' });
    if (req.method === 'POST' && !cardId) {
      const number = query('card_number') ?? '';
      const month = query('expiry_month') ?? '';
      const year = query('expiry_year') ?? '';
      const cvv = query('cvv');
      const badCvv = cvv !== null && (cvv.length < 3 || cvv.length > 4);
      if (badCvv || number.length < 13 || !/^0[1-9]|1[0-2]$/.test(month) || !/^20[2-9][0-9]$/.test(year)) {
        return send(422, { detail: [{ loc: ['query'], msg: 'string does not match the pattern' }] });
      }
      const card: Card = {
        card_id: randomUUID(),
        member_id: m.id,
        last4: number.slice(-4),
        expiry_year: year,
        cardholder_name: query('cardholder_name') ?? m.name,
      };
      cards.set(card.card_id, card);
      return send(201, card);
    }
    if (!cardId && req.method === 'GET')
      return send(
        200,
        [...cards.values()].filter((c) => c.member_id === m.id),
      );
    const card = cards.get(cardId ?? '');
    if (!card || card.member_id !== m.id) return send(404, { detail: 'Card not found' });
    if (req.method === 'GET') return send(200, card);
    if (req.method !== 'PUT') return send(405, { detail: 'Method Not Allowed' });
    const holder = query('cardholder_name');
    if (!holder && query('is_default') === null) return send(400, { detail: 'No update data provided' });
    if (holder) card.cardholder_name = holder;
    return send(200, card);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    cards: () => cards.size,
  };
}

describe('an API that takes every input from the query string', () => {
  const runs: Record<'vulnerable' | 'fixed', { result: ScanResult; cards: number }> = {} as never;
  before(async () => {
    const scans = await scanTwins(SPEC, startMembers, {
      identities: [
        { name: 'alice', headers: { 'x-user': 'alice' } },
        { name: 'bob', headers: { 'x-user': 'bob' } },
      ],
      checks: ['API1', 'API3'],
      ratePerSecond: 200,
    });
    for (const kind of ['vulnerable', 'fixed'] as const) {
      runs[kind] = { result: scans[kind].result, cards: scans[kind].api.cards() };
    }
  });

  test('creates cards with values that meet the document’s patterns, then finds B reading A’s cards', () => {
    assert.ok(runs.vulnerable.cards >= 2, `cards created: ${runs.vulnerable.cards}`);
    assert.ok(
      operationsFound(runs.vulnerable.result).includes('scan/api1-bola-read listCards'),
      operationsFound(runs.vulnerable.result).join('\n'),
    );
    assert.ok(operationsFound(runs.vulnerable.result).includes('scan/api1-bola-read getMember'));
  });

  test('finds B changing A’s card and member, and adding a card to A’s member, through the query string', () => {
    const all = operationsFound(runs.vulnerable.result);
    assert.ok(all.includes('scan/api1-bola-write updateCard'), all.join('\n'));
    assert.ok(all.includes('scan/api1-bola-write createCard'), all.join('\n'));
    // An order (paid with a card) is a purchase: a plain scan places none as alice or bob, and this API has no
    // sign-up for an account of the scan's own, so the orders' BOLA is not reached without --allow-destructive.
    assert.ok(!all.includes('scan/api1-bola-read getOrder'), all.join('\n'));
    assert.match(
      JSON.stringify(runs.vulnerable.result.coverage),
      /not sent as (alice|bob): a purchase spends a given identity's money \(--allow-destructive sends it\)/,
    );
    // The write check's own update of another's member must not set is_admin on the way (API3 runs later).
    assert.ok(all.includes('scan/api1-bola-write updateMember'), all.join('\n'));
  });

  test('finds is_admin (declared) and role (undeclared) stored from the query of an update', () => {
    const f = runs.vulnerable.result.findings.find(
      (x) => x.rule.id === 'scan/api3-mass-assignment' && x.operation?.operationId === 'updateMember',
    );
    assert.ok(f, operationsFound(runs.vulnerable.result).join('\n'));
    assert.match(f.message, /is_admin \(privileged, declared\)/);
    assert.match(f.message, /role \(privileged\)/);
  });

  test('logs in through a query-string login, and tests it for brute force', async () => {
    const login = (name: string) => ({
      name,
      login: { path: `/login?username=${name}&password=pw-${name}`, body: {} },
    });
    const scans = await scanTwins(SPEC, startMembers, {
      identities: [login('alice'), login('bob')],
      checks: ['API2'],
      ratePerSecond: 200,
    });
    const vulnerable = scans.vulnerable.result;
    const fixed = scans.fixed.result;
    assert.ok(
      !vulnerable.warnings.some((w) => /no login:|no login password/.test(w)),
      `warnings: ${vulnerable.warnings.join(' | ')}`,
    );
    assert.deepEqual(operationsFound(vulnerable), ['scan/api2-no-brute-force-protection login']);
    assert.deepEqual(operationsFound(fixed), []);
  });

  test('finds nothing on the fixed twin', () => {
    assert.ok(runs.fixed.cards >= 2, `cards created: ${runs.fixed.cards}`);
    assert.deepEqual(operationsFound(runs.fixed.result), []);
  });
});
