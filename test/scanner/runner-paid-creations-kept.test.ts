import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { scanDocument } from './twins.ts';

/**
 * A climbing gym's members API (Koa style, `{error}` answers, an `X-Member-Key` header per member, no sign-up):
 * `POST /passes {kind}` ("Buys a day pass; its price is taken from the member's credit"), `POST /lessons {coach_id,
 * minutes}` (402 when the credit is short) and `POST /shop/vouchers {value_cents}` ("Purchases a voucher"). None of
 * their paths ends in a word of buying, but each spends the caller's credit: a plain scan must send none of them as
 * a given identity, by any check, and say so in the coverage; the members' credit stays as seeded.
 */
const json = (properties: Record<string, unknown>) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const item = (name: string) => ({
  get: {
    operationId: `get_${name}`,
    parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
    responses: { '200': { description: name } },
  },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'gym', version: '1' },
  components: { securitySchemes: { member: { type: 'apiKey', in: 'header', name: 'X-Member-Key' } } },
  security: [{ member: [] }],
  paths: {
    '/me': { get: { operationId: 'me', responses: { '200': { description: 'the member and its credit' } } } },
    '/passes': {
      get: { operationId: 'listPasses', responses: { '200': { description: 'passes' } } },
      post: {
        operationId: 'addPass',
        description: "Buys a day pass; its price is taken from the member's credit.",
        requestBody: json({ kind: { type: 'string', enum: ['day', 'evening'] } }),
        responses: { '201': { description: 'a pass' } },
      },
    },
    '/passes/{id}': item('pass'),
    '/lessons': {
      get: { operationId: 'listLessons', responses: { '200': { description: 'lessons' } } },
      post: {
        operationId: 'bookLesson',
        requestBody: json({
          coach_id: { type: 'integer' },
          minutes: { type: 'integer' },
          note: { type: 'string' },
        }),
        responses: { '201': { description: 'a lesson' }, '402': { description: 'not enough credit' } },
      },
    },
    '/lessons/{id}': item('lesson'),
    '/shop/vouchers': {
      post: {
        operationId: 'newVoucher',
        summary: 'Purchases a voucher for a friend, charged to your credit',
        requestBody: json({ value_cents: { type: 'integer' }, message: { type: 'string' } }),
        responses: { '201': { description: 'a voucher' } },
      },
    },
  },
};

const KEYS: Record<string, string> = { 'mk-lena-5521': 'lena', 'mk-arjun-0932': 'arjun' };

function startGym() {
  const credit = new Map([
    ['lena', 9000],
    ['arjun', 7000],
  ]);
  const spent: string[] = [];
  const things: { id: number; kind: string; owner: string }[] = [];
  return startServer(async (req, res) => {
    for await (const _ of req); // the body is not read: the price is the path's
    const reply = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const who = KEYS[String(req.headers['x-member-key'] ?? '')];
    if (!who) return reply(401, { error: 'member key required' });
    const path = new URL(req.url ?? '/', 'http://gym').pathname;
    if (req.method === 'GET' && path === '/me')
      return reply(200, { name: who, credit_cents: credit.get(who) });
    const price: Record<string, number> = { '/passes': 1500, '/lessons': 3000, '/shop/vouchers': 2000 };
    if (req.method === 'POST' && price[path] !== undefined) {
      const left = (credit.get(who) ?? 0) - (price[path] ?? 0);
      if (left < 0) return reply(402, { error: 'not enough credit' });
      credit.set(who, left);
      spent.push(`${who} ${path}`);
      const t = { id: things.length + 1, kind: path, owner: who };
      things.push(t);
      return reply(201, t);
    }
    const m = /^\/(passes|lessons)(?:\/(\d+))?$/.exec(path);
    if (req.method === 'GET' && m) {
      const mine = things.filter((t) => t.owner === who && t.kind === `/${m[1]}`);
      if (!m[2]) return reply(200, mine);
      const t = mine.find((x) => x.id === Number(m[2]));
      return t ? reply(200, t) : reply(404, { error: 'not found' });
    }
    return reply(404, { error: 'not found' });
  }).then((api) => Object.assign(api, { credit, spent }));
}

describe("creations paid from the caller's credit are never sent as a given identity", () => {
  let result: ScanResult;
  let api: Awaited<ReturnType<typeof startGym>>;
  before(async () => {
    api = await startGym();
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: Object.entries(KEYS).map(([key, name]) => ({ name, headers: { 'X-Member-Key': key } })),
        ratePerSecond: 200,
      });
    } finally {
      await api.close();
    }
  });

  test("nothing bought: lena's and arjun's credit as seeded", () => {
    assert.deepEqual(api.spent, []);
    assert.equal(api.credit.get('lena'), 9000);
    assert.equal(api.credit.get('arjun'), 7000);
  });

  test('the coverage says each was not sent: a purchase, or money moved', () => {
    for (const op of ['POST /passes', 'POST /lessons', 'POST /shop/vouchers'])
      assert.ok(
        result.coverage?.matrix.some(
          (c) =>
            c.operation === op &&
            /a purchase spends a given identity's money|it moves money, and a given identity's money is never moved/.test(
              `${c.reason ?? ''} ${(c.notes ?? []).join(' ')} ${c.ids ?? ''}`,
            ),
        ),
        `${op}: ${JSON.stringify(result.coverage?.matrix.filter((c) => c.operation === op))}`,
      );
  });
});
