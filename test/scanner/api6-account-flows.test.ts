import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * API6 repeats a business flow five times as A; an account change must never be one of them, whatever its
 * path says. A loyalty programme in an Express style (bearer tokens from `POST /api/login {email, password}`,
 * login by e-mail) with three flows by name: `POST /api/coupons/redeem {code}` (points, repeatable: the finding
 * that shows API6 ran), `POST /api/rewards/upgrade {email, role}` (the account named by e-mail gets a tier:
 * an account change through an RPC verb) and `POST /api/accounts/{account_id}/transfer {email}` (the account
 * passes to a new owner: its login e-mail changes). The API checks nothing on the last two, as careless APIs
 * have it. Repeated as alice with her own e-mail and id (the planner fills both from `GET /api/me`), they
 * give her the `gold` tier and another login e-mail: she could no longer sign in.
 */
const json = (properties: Record<string, unknown>) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'loyalty', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: json({ email: { type: 'string', format: 'email' }, password: { type: 'string' } }),
        responses: { '200': { description: 'a token' }, '401': { description: 'refused' } },
      },
    },
    '/api/me': { get: { operationId: 'me', responses: { '200': { description: 'the caller' } } } },
    '/api/coupons/redeem': {
      post: {
        operationId: 'redeemCoupon',
        requestBody: json({ code: { type: 'string', example: 'WELCOME10' } }),
        responses: { '200': { description: 'points added' } },
      },
    },
    '/api/rewards/upgrade': {
      post: {
        operationId: 'upgradeTier',
        requestBody: json({
          email: { type: 'string', format: 'email' },
          role: { type: 'string', enum: ['gold', 'platinum'] },
        }),
        responses: { '200': { description: 'upgraded' }, '404': { description: 'no such account' } },
      },
    },
    '/api/accounts/{account_id}/transfer': {
      post: {
        operationId: 'transferAccount',
        parameters: [{ name: 'account_id', in: 'path', required: true, schema: { type: 'integer' } }],
        requestBody: json({ email: { type: 'string', format: 'email' } }),
        responses: { '200': { description: 'transferred' }, '404': { description: 'no such account' } },
      },
    },
  },
};

interface Member {
  id: number;
  email: string;
  password: string;
  role: string;
  points: number;
}

const given = (): Member[] => [
  { id: 1, email: 'alice@loyal.test', password: 'alice-pw-71', role: 'member', points: 0 },
  { id: 2, email: 'bob@loyal.test', password: 'bob-pw-52', role: 'member', points: 0 },
  { id: 3, email: 'root@loyal.test', password: 'root-pw-93', role: 'admin', points: 0 },
];

describe('API6 never repeats an account change', () => {
  const members = given();
  const tokens = new Map<string, Member>();
  let url = '';
  let result: ScanResult;
  let close: () => Promise<void>;

  const login = async (email: string, password: string) => {
    const res = await fetch(`${url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    return res.status;
  };

  before(async () => {
    const api = await startServer(async (req, res) => {
      const text = await readText(req);
      const send = (status: number, payload: unknown) => sendJson(res, status, payload);
      let body: Record<string, unknown> = {};
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        return send(400, { error: 'bad JSON' });
      }
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'POST' && path === '/api/login') {
        const m = members.find((x) => x.email === body.email && x.password === body.password);
        if (!m) return send(401, { error: 'wrong e-mail or password' });
        const token = `lt${m.id}.${randomBytes(16).toString('hex')}`;
        tokens.set(token, m);
        return send(200, { token });
      }
      const who = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (!who) return send(401, { error: 'sign in' });
      if (req.method === 'GET' && path === '/api/me') {
        const { password: _, ...me } = who;
        return send(200, me);
      }
      if (req.method === 'POST' && path === '/api/coupons/redeem') {
        who.points += 10;
        return send(200, { points: who.points });
      }
      if (req.method === 'POST' && path === '/api/rewards/upgrade') {
        const m = members.find((x) => x.email === body.email);
        if (!m) return send(404, { error: 'no such account' });
        if (typeof body.role === 'string') m.role = body.role;
        return send(200, { email: m.email, role: m.role });
      }
      const transfer = /^\/api\/accounts\/(\d+)\/transfer$/.exec(path);
      if (req.method === 'POST' && transfer) {
        const m = members.find((x) => x.id === Number(transfer[1]));
        if (!m) return send(404, { error: 'no such account' });
        if (typeof body.email === 'string') m.email = body.email;
        return send(200, { id: m.id, email: m.email });
      }
      return send(404, { error: 'not found' });
    });
    url = api.url;
    close = api.close;
    const identity = (m: Member) => ({
      name: m.email.split('@')[0],
      login: { path: '/api/login', body: { email: m.email, password: m.password } },
    });
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: [identity(members[0]), identity(members[1])],
        admin: identity(members[2]),
        ratePerSecond: 200,
      });
    } catch (err) {
      await close();
      throw err;
    }
  });

  test('the repeatable coupon is reported: API6 ran', () => {
    const flows = result.findings.filter((f) => f.rule.id === 'scan/api6-repeatable-business-flow');
    assert.deepEqual(
      flows.map((f) => f.operation?.operationId),
      ['redeemCoupon'],
    );
  });

  test("alice's, bob's and root's e-mails and tiers are as they were", () => {
    const now = members.map(({ id, email, role }) => ({ id, email, role }));
    const before = given().map(({ id, email, role }) => ({ id, email, role }));
    assert.deepEqual(now, before);
  });

  test('alice, bob and root still sign in with their e-mails and passwords', async () => {
    try {
      for (const m of given()) assert.equal(await login(m.email, m.password), 200, m.email);
    } finally {
      await close();
    }
  });
});
