import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * Review finding (session 15, R1 S1/S2b/S4): a plain scan buys as the given identities when the purchase is named by
 * the operation's own words and not by its path's last word. A rehearsal-studio API (bearer tokens from POST
 * /auth, errors `{"error": "..."}`, member credit in cents): `POST /giftcards {amount_cents}` is `buyGiftcard`,
 * "Buys a gift card paid from the member's credit", 402 documented; `POST /subscriptions {plan}` "Starts a
 * monthly subscription; the first month is charged to the member's card at once", 402 documented, and its
 * `DELETE /subscriptions/{id}` cancels at the end of the paid period without a refund. Nothing here is vulnerable.
 * `POST /quotes/{quoteId}/accept` places the order and charges the card (R1 S4): the quote is the scan's
 * own, the charge is the given identity's. At 97c9413 a plain scan bought 5 gift cards as alice (API6 repeating
 * what it took for a reward), started 6 paid subscriptions (discovery, API3, API8), reporting them "deleted", and
 * accepted its own quotes as alice and bob.
 */
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const SUB = {
  type: 'object',
  properties: { id: { type: 'integer' }, plan: { type: 'string' }, charged_cents: { type: 'integer' } },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'studio credit', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/auth': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: json({ email: { type: 'string' }, password: { type: 'string' } }, ['email', 'password']),
        responses: { '200': { description: 'a token' }, '401': { description: 'refused' } },
      },
    },
    '/me': {
      get: {
        operationId: 'me',
        responses: {
          '200': {
            description: 'the member',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { id: { type: 'integer' }, credit_cents: { type: 'integer' } },
                },
              },
            },
          },
        },
      },
    },
    '/giftcards': {
      post: {
        operationId: 'buyGiftcard',
        description: "Buys a gift card paid from the member's credit.",
        requestBody: json({ amount_cents: { type: 'integer', minimum: 500, maximum: 10000 } }, [
          'amount_cents',
        ]),
        responses: {
          '201': {
            description: 'the card',
            content: {
              'application/json': {
                schema: { type: 'object', properties: { id: { type: 'integer' }, code: { type: 'string' } } },
              },
            },
          },
          '402': { description: 'not enough credit' },
        },
      },
    },
    '/subscriptions': {
      post: {
        operationId: 'subscribe',
        description:
          "Starts a monthly subscription; the first month is charged to the member's card at once.",
        requestBody: json({ plan: { type: 'string', enum: ['basic', 'pro'] } }, ['plan']),
        responses: {
          '201': { description: 'subscribed', content: { 'application/json': { schema: SUB } } },
          '402': { description: 'card declined' },
        },
      },
    },
    '/products': {
      get: { operationId: 'listProducts', responses: { '200': { description: 'the products' } } },
    },
    '/quotes': {
      post: {
        operationId: 'requestQuote',
        summary: 'Ask for a price quote (nothing is charged)',
        requestBody: json({ product_id: { type: 'integer' }, qty: { type: 'integer', minimum: 1 } }, [
          'product_id',
          'qty',
        ]),
        responses: { '201': { description: 'the quote' } },
      },
    },
    '/quotes/{quoteId}': {
      parameters: [{ name: 'quoteId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'getQuote', responses: { '200': { description: 'the quote' } } },
      delete: { operationId: 'withdrawQuote', responses: { '204': { description: 'withdrawn' } } },
    },
    '/quotes/{quoteId}/accept': {
      parameters: [{ name: 'quoteId', in: 'path', required: true, schema: { type: 'integer' } }],
      post: {
        operationId: 'acceptQuote',
        description:
          "Accepts the quote: the order is placed and the member's card on file is charged the total.",
        responses: { '200': { description: 'accepted' }, '409': { description: 'already accepted' } },
      },
    },
    '/subscriptions/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'getSubscription',
        responses: { '200': { description: 'it', content: { 'application/json': { schema: SUB } } } },
      },
      delete: {
        operationId: 'cancelSubscription',
        description: 'Cancels at the end of the paid period (no refund).',
        responses: { '204': { description: 'cancelled' } },
      },
    },
  },
};

const USERS = [
  { id: 1, email: 'alice@studio.test', password: 'Alice-pw-1' },
  { id: 2, email: 'bob@studio.test', password: 'Bob-pw-2' },
  { id: 3, email: 'root@studio.test', password: 'Root-pw-3' },
];

async function startStudio() {
  const credit = new Map([
    [1, 5000],
    [2, 7000],
    [3, 0],
  ]);
  const charges: string[] = [];
  const subs = new Map<
    number,
    { id: number; member: number; plan: string; charged_cents: number; status: string }
  >();
  const sessions = new Map<string, number>();
  const quotes = new Map<
    number,
    { id: number; member: number; product_id: number; qty: number; status: string }
  >();
  let nextId = 1;
  const { url, server } = await startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/auth') {
      const u = USERS.find((x) => x.email === b.email && x.password === b.password);
      if (!u) return sendJson(res, 401, { error: 'wrong email or password' });
      const token = randomBytes(16).toString('hex');
      sessions.set(token, u.id);
      return sendJson(res, 200, { token });
    }
    const me = sessions.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (me === undefined) return sendJson(res, 401, { error: 'sign in' });
    if (req.method === 'GET' && path === '/me')
      return sendJson(res, 200, { id: me, credit_cents: credit.get(me) });
    if (req.method === 'POST' && path === '/giftcards') {
      const amount = Number(b.amount_cents);
      if (!Number.isInteger(amount) || amount < 500 || amount > 10000)
        return sendJson(res, 422, { error: 'amount_cents 500-10000' });
      if ((credit.get(me) ?? 0) < amount) return sendJson(res, 402, { error: 'not enough credit' });
      credit.set(me, (credit.get(me) ?? 0) - amount);
      charges.push(`${me} giftcard ${amount}`);
      return sendJson(res, 201, { id: nextId++, code: `GIFT-${randomBytes(4).toString('hex')}` });
    }
    if (req.method === 'POST' && path === '/subscriptions') {
      const price = b.plan === 'basic' ? 900 : b.plan === 'pro' ? 2900 : 0;
      if (price === 0) return sendJson(res, 422, { error: 'plan: basic or pro' });
      charges.push(`${me} subscription ${price}`);
      const s = { id: nextId++, member: me, plan: String(b.plan), charged_cents: price, status: 'active' };
      subs.set(s.id, s);
      return sendJson(res, 201, { id: s.id, plan: s.plan, charged_cents: price });
    }
    if (req.method === 'GET' && path === '/products')
      return sendJson(res, 200, [{ id: 7, name: 'Rehearsal pack', price_cents: 4900 }]);
    if (req.method === 'POST' && path === '/quotes') {
      if (b.product_id !== 7 || !Number.isInteger(b.qty) || Number(b.qty) < 1)
        return sendJson(res, 422, { error: 'product_id and qty required' });
      const q = { id: nextId++, member: me, product_id: 7, qty: Number(b.qty), status: 'open' };
      quotes.set(q.id, q);
      return sendJson(res, 201, { ...q, total_cents: 4900 * q.qty });
    }
    const mq = /^\/quotes\/(\d+)(\/accept)?$/.exec(path);
    if (mq) {
      const q = quotes.get(Number(mq[1]));
      if (!q || q.member !== me) return sendJson(res, 404, { error: 'no such quote' });
      if (!mq[2] && req.method === 'GET') return sendJson(res, 200, q);
      if (q.status !== 'open') return sendJson(res, 409, { error: 'already accepted' });
      if (!mq[2] && req.method === 'DELETE') {
        quotes.delete(q.id);
        res.writeHead(204).end();
        return;
      }
      if (mq[2] && req.method === 'POST') {
        q.status = 'accepted';
        charges.push(`${me} quote ${4900 * q.qty}`);
        return sendJson(res, 200, q);
      }
    }
    const m = /^\/subscriptions\/(\d+)$/.exec(path);
    const s = m ? subs.get(Number(m[1])) : undefined;
    if (m && (!s || s.member !== me)) return sendJson(res, 404, { error: 'no such subscription' });
    if (s && req.method === 'GET')
      return sendJson(res, 200, { id: s.id, plan: s.plan, charged_cents: s.charged_cents });
    if (s && req.method === 'DELETE') {
      s.status = 'cancelled at period end'; // the charge stays
      res.writeHead(204).end();
      return;
    }
    return sendJson(res, 404, { error: 'not found' });
  });
  return { url, server, credit, charges };
}

const identity = (i: number) => ({
  name: USERS[i].email.split('@')[0],
  login: { path: '/auth', body: { email: USERS[i].email, password: USERS[i].password } },
});

describe('review: a plain scan buys nothing as a given identity when the document says the operation charges', () => {
  let studio: Awaited<ReturnType<typeof startStudio>>;
  let result: ScanResult;
  before(async () => {
    studio = await startStudio();
    try {
      result = await scanDocument(SPEC, studio.url, {
        identities: [identity(0), identity(1)],
        admin: identity(2),
        ratePerSecond: 200,
      });
    } finally {
      studio.server.close();
    }
  });

  test('no charge was made as alice, bob or root, and their credit is as seeded', () => {
    assert.ok(result);
    assert.deepEqual(studio.charges, []);
    assert.deepEqual(
      [...studio.credit],
      [
        [1, 5000],
        [2, 7000],
        [3, 0],
      ],
    );
  });
});
