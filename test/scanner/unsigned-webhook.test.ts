import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readText, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A marketplace that takes its moderation provider's word: `POST /api/hooks/moderation` (public, as providers call
 * it) with `{"event": "listing.approved", "data": {"listing_id": 7}}` publishes listing 7. The vulnerable twin acts
 * on any such event; the fixed twin first checks the `X-Moderateco-Signature` header, an HMAC of the raw body with
 * the provider's secret, and answers 400 without it. An unsigned event naming a listing the scan created, that turns
 * its `status` from `in_review` to `approved`, is API10's finding; alice's and bob's seeded listings are never named.
 *
 * Style: Laravel-like (`{data: ...}` resources, 201 creations, 422 `{message, errors: {field: [..]}}`, bearer tokens
 * from `POST /api/login {email, password}` answering `{token}`, integer ids, `{listing}` route parameters).
 */
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties, required } } },
});
const LISTING = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    title: { type: 'string' },
    status: { type: 'string', enum: ['in_review', 'approved', 'rejected'] },
  },
};
const data = (schema: unknown) => ({
  content: { 'application/json': { schema: { type: 'object', properties: { data: schema } } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'marketplace', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: json({ email: { type: 'string' }, password: { type: 'string' } }, ['email', 'password']),
        responses: { '200': { description: 'a token' }, '422': { description: 'wrong' } },
      },
    },
    '/api/listings': {
      get: {
        operationId: 'listListings',
        responses: { '200': { description: 'your listings', ...data({ type: 'array', items: LISTING }) } },
      },
      post: {
        operationId: 'createListing',
        requestBody: json({ title: { type: 'string', example: 'Oak desk' } }, ['title']),
        responses: {
          '201': { description: 'the listing', ...data(LISTING) },
          '422': { description: 'invalid' },
        },
      },
    },
    '/api/listings/{listing}': {
      get: {
        operationId: 'showListing',
        parameters: [{ name: 'listing', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a listing', ...data(LISTING) }, '404': { description: 'none' } },
      },
    },
    '/api/hooks/moderation': {
      post: {
        operationId: 'moderationHook',
        summary: "ModerateCo's verdicts",
        security: [],
        parameters: [
          { name: 'X-Moderateco-Signature', in: 'header', required: false, schema: { type: 'string' } },
        ],
        requestBody: json(
          {
            event: { type: 'string', enum: ['listing.flagged', 'listing.approved', 'listing.rejected'] },
            data: {
              type: 'object',
              properties: { listing_id: { type: 'integer' }, score: { type: 'number' } },
            },
          },
          ['event', 'data'],
        ),
        responses: { '200': { description: 'received' }, '400': { description: 'bad signature' } },
      },
    },
  },
};

interface Listing {
  id: number;
  owner: string;
  title: string;
  status: 'in_review' | 'approved' | 'rejected';
}

const USERS: Record<string, string> = { 'alice@market.test': 'alice-pw-1', 'bob@market.test': 'bob-pw-2' };

function startMarket(fixed: boolean): Promise<TwinTarget & { listings: Listing[] }> {
  const secret = randomBytes(16);
  const listings: Listing[] = [
    { id: 1, owner: 'alice@market.test', title: 'Vintage lamp', status: 'in_review' },
    { id: 2, owner: 'bob@market.test', title: 'Road bike', status: 'in_review' },
  ];
  const tokens = new Map<string, string>();
  return startServer(async (req, res) => {
    const raw = await readText(req);
    let body: Record<string, unknown> = {};
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      return sendJson(res, 400, { message: 'Malformed JSON.' }, GUARDED_JSON);
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const send = (status: number, payload: unknown) =>
      sendJson(res, status, payload, { ...GUARDED_JSON, 'ratelimit-limit': '60' });
    if (req.method === 'POST' && path === '/api/login') {
      if (typeof body.email !== 'string' || USERS[body.email] !== body.password)
        return send(422, {
          message: 'These credentials do not match our records.',
          errors: { email: ['failed'] },
        });
      const t = randomBytes(20).toString('hex');
      tokens.set(t, body.email);
      return send(200, { token: t });
    }
    if (req.method === 'POST' && path === '/api/hooks/moderation') {
      if (fixed) {
        const given = Buffer.from(String(req.headers['x-moderateco-signature'] ?? ''), 'hex');
        const want = createHmac('sha256', secret).update(raw).digest();
        if (given.length !== want.length || !timingSafeEqual(given, want))
          return send(400, { message: 'Invalid signature.' });
      }
      const d = (body.data ?? {}) as Record<string, unknown>;
      const l = listings.find((x) => x.id === Number(d.listing_id));
      if (l && body.event === 'listing.approved') l.status = 'approved';
      if (l && body.event === 'listing.rejected') l.status = 'rejected';
      return send(200, { received: true });
    }
    const who = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!who) return send(401, { message: 'Unauthenticated.' });
    const view = ({ owner: _, ...l }: Listing) => l;
    if (req.method === 'GET' && path === '/api/listings')
      return send(200, { data: listings.filter((l) => l.owner === who).map(view) });
    if (req.method === 'POST' && path === '/api/listings') {
      if (typeof body.title !== 'string' || listings.length > 100)
        return send(422, { message: 'The given data was invalid.', errors: { title: ['required'] } });
      const l: Listing = { id: listings.length + 1, owner: who, title: body.title, status: 'in_review' };
      listings.push(l);
      return send(201, { data: view(l) });
    }
    const m = /^\/api\/listings\/(\d+)$/.exec(path);
    const l = m ? listings.find((x) => x.id === Number(m[1]) && x.owner === who) : undefined;
    if (req.method === 'GET' && m)
      return l ? send(200, { data: view(l) }) : send(404, { message: 'Not found.' });
    return send(404, { message: 'Not found.' });
  }).then((api) => Object.assign(api, { listings }));
}

const found = (r: ScanResult) => r.findings.map((f) => `${f.rule.id}: ${f.message}`);

describe('a webhook that takes a third party event without its signature', () => {
  let runs: TwinScans<TwinTarget & { listings: Listing[] }>;
  before(async () => {
    const login = (email: string) => ({
      name: email.split('@')[0],
      login: { path: '/api/login', body: { email, password: USERS[email] } },
    });
    runs = await scanTwins(SPEC, startMarket, {
      identities: [login('alice@market.test'), login('bob@market.test')],
      checks: ['API10'],
      ratePerSecond: 200,
    });
  });

  test("vulnerable: an unsigned listing.approved publishes the scan's own listing", () => {
    const all = found(runs.vulnerable.result);
    assert.ok(
      all.some(
        (m) =>
          m.startsWith('scan/api10-unsigned-webhook: POST /api/hooks/moderation') &&
          /status "in_review" → "approved"/.test(m),
      ),
      JSON.stringify(all),
    );
  });

  test('fixed: no finding', () => {
    assert.deepEqual(found(runs.fixed.result), []);
  });

  test("alice's and bob's seeded listings are still in review on both twins", () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        runs[kind].api.listings.slice(0, 2).map((l) => `${l.id} ${l.status}`),
        ['1 in_review', '2 in_review'],
      );
  });
});
