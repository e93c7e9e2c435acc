import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanDocument, scanTwins } from './twins.ts';

/**
 * A bakery's loyalty API (Express style, `{message}` errors, camelCase): `POST /promotions/redeem {promoCode}`
 * adds loyalty points to the caller's card; the document's example `BAKE5` is a live promotion (5 points). The vulnerable twin
 * lets one account redeem it again and again; the fixed twin once per account (409). Sign-up `POST /auth/signup
 * {username, password}`, login `POST /auth/login` -> `{token}`, `GET /loyalty` -> `{owner, points}`.
 *
 * The code is never redeemed as a given identity (the runner leaves it out of their writes): API6 redeems it as an
 * account of the scan's own, twice, and reads its loyalty card. Without a sign-up, the coverage says why it was not run.
 */
const json = (properties: Record<string, unknown>, required: string[] = []) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const account = json({ username: { type: 'string' }, password: { type: 'string' } }, [
  'username',
  'password',
]);
function spec(withSignup: boolean) {
  return {
    openapi: '3.0.3',
    info: { title: 'bakery loyalty', version: '3' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      ...(withSignup
        ? {
            '/auth/signup': {
              post: {
                operationId: 'signUp',
                security: [],
                requestBody: account,
                responses: { '201': { description: 'account' } },
              },
            },
          }
        : {}),
      '/auth/login': {
        post: {
          operationId: 'logIn',
          security: [],
          requestBody: account,
          responses: { '200': { description: 'token' } },
        },
      },
      '/loyalty': {
        get: { operationId: 'getLoyalty', responses: { '200': { description: "the caller's points" } } },
      },
      '/promotions/redeem': {
        post: {
          operationId: 'redeemPromotion',
          summary: 'Redeem a promotion code for loyalty points',
          requestBody: json({ promoCode: { type: 'string', example: 'BAKE5' } }, ['promoCode']),
          responses: { '200': { description: 'redeemed' }, '409': { description: 'already redeemed' } },
        },
      },
    },
  };
}

const PEOPLE: Record<string, string> = { ines: 'Ines-bakery-4471', omar: 'Omar-bakery-2290' };

function startBakery(fixed: boolean) {
  const users = new Map<string, { password: string; points: number }>([
    ['ines', { password: PEOPLE.ines!, points: 40 }],
    ['omar', { password: PEOPLE.omar!, points: 25 }],
  ]);
  const tokens = new Map<string, string>();
  const redeemed: string[] = [];
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const reply = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    let b: Record<string, unknown> = {};
    try {
      b = text === '' ? {} : JSON.parse(text);
    } catch {
      return reply(400, { message: 'invalid JSON' });
    }
    const path = new URL(req.url ?? '/', 'http://bakery').pathname;
    if (req.method === 'POST' && path === '/auth/signup') {
      const name = String(b.username ?? '');
      if (!/^\w{3,40}$/.test(name) || typeof b.password !== 'string' || b.password.length < 8)
        return reply(400, { message: 'username and a password of 8 or more are required' });
      if (users.has(name)) return reply(409, { message: 'username taken' });
      users.set(name, { password: b.password, points: 0 });
      return reply(201, { username: name, points: 0 });
    }
    if (req.method === 'POST' && path === '/auth/login') {
      const u = users.get(String(b.username));
      if (!u || u.password !== b.password) return reply(401, { message: 'wrong username or password' });
      const token = randomBytes(16).toString('hex');
      tokens.set(token, String(b.username));
      return reply(200, { token });
    }
    const who = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    const me = who ? users.get(who) : undefined;
    if (!who || !me) return reply(401, { message: 'sign in first' });
    if (req.method === 'GET' && path === '/loyalty') return reply(200, { owner: who, points: me.points });
    if (req.method === 'POST' && path === '/promotions/redeem') {
      if (b.promoCode !== 'BAKE5') return reply(404, { message: 'no such promotion' });
      if (fixed && redeemed.includes(who)) return reply(409, { message: 'already redeemed' });
      redeemed.push(who);
      me.points += 5;
      return reply(200, { message: 'redeemed', added: 5 });
    }
    return reply(404, { message: 'not found' });
  }).then((api) => Object.assign(api, { users, redeemed }));
}

const identities = Object.entries(PEOPLE).map(([username, password]) => ({
  name: username,
  login: { path: '/auth/login', body: { username, password } },
}));

describe("a documented promotion code is redeemed twice as the scan's own account, never as a given one", () => {
  let scans: Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startBakery>>>>>;
  before(async () => {
    scans = await scanTwins(spec(true), startBakery, { identities, checks: ['API6'], ratePerSecond: 200 });
  });

  test("the vulnerable twin: the repeatable redemption is found, on the scan's own account", () => {
    const flows = scans.vulnerable.result.findings.filter(
      (f) => f.rule.id === 'scan/api6-repeatable-business-flow',
    );
    assert.deepEqual(
      flows.map((f) => f.operation?.operationId),
      ['redeemPromotion'],
      JSON.stringify(scans.vulnerable.result.coverage?.matrix.filter((c) => c.check === 'API6')),
    );
    assert.match(
      flows[0]!.message,
      /redeemed the document's promoCode twice for the scan's own account pcc[0-9a-f]+/,
    );
    assert.match(flows[0]!.message, /points went 0, 5 after one, 10 after 2/);
  });

  test('the fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });

  test('both twins: ines and omar never redeemed it, their points as seeded', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { api } = scans[kind];
      assert.deepEqual(
        api.redeemed.filter((w) => w in PEOPLE),
        [],
        kind,
      );
      assert.equal(api.users.get('ines')?.points, 40, kind);
      assert.equal(api.users.get('omar')?.points, 25, kind);
      assert.ok(
        api.redeemed.some((w) => w.startsWith('pcc')),
        `${kind}: ${api.redeemed.join(', ')}`,
      );
    }
  });
});

describe('without a sign-up, the coverage says why the redemption was not tested', () => {
  let result: ScanResult;
  let redeemed: string[];
  before(async () => {
    const api = await startBakery(false);
    try {
      result = await scanDocument(spec(false), api.url, { identities, checks: ['API6'], ratePerSecond: 200 });
      redeemed = api.redeemed;
    } finally {
      await api.close();
    }
  });

  test('nothing redeemed, no finding, the reason noted on the operation', () => {
    assert.deepEqual(redeemed, []);
    assert.deepEqual(operationsFound(result), []);
    const cell = result.coverage?.matrix.find(
      (c) => c.check === 'API6' && c.operation === 'POST /promotions/redeem',
    );
    assert.equal(cell?.status, 'skipped', JSON.stringify(cell));
    assert.match(
      JSON.stringify(cell),
      /not run: its request carries the document's promoCode, never redeemed in a given identity's name, and the scan could not make an account of its own to redeem it as \(no sign-up in the document\)/,
    );
  });
});
