import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * API6 reports a repeatable action for what repeating it gains, not for being a repeatable POST. A study-group
 * API in a Rails style (`POST /api/v1/sessions {email, password}` answering `{"data": {"access_token"}}`,
 * bearer tokens, groups a member creates and alone reads): `POST /api/v1/gift-cards/redeem {code}` adds 25
 * credits to the caller's balance; `POST /api/v1/groups/{group_id}/refresh-invite` replaces the group's invite
 * code with a new one (the old link stops working), as often as its owner likes, on both twins, by design.
 *
 * Vulnerable: the gift card can be redeemed again and again (the balance grows with every answer). Fixed twin:
 * a gift card once per account (409 afterwards). The invite refresh, five times in a row with a new code each
 * time, was reported as a sensitive business flow on a third-party API; it gains nothing and is reported on
 * neither twin.
 */
const json = (properties: Record<string, unknown>, required?: string[]) => ({
  required: true,
  content: {
    'application/json': { schema: { type: 'object', properties, ...(required ? { required } : {}) } },
  },
});
const answer = (description: string, properties: Record<string, unknown>) => ({
  description,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const GROUP = { id: { type: 'integer' }, name: { type: 'string' }, invite_code: { type: 'string' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'study groups', version: '1.4.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/v1/sessions': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: json({ email: { type: 'string', format: 'email' }, password: { type: 'string' } }),
        responses: { '200': { description: 'a token' }, '401': { description: 'refused' } },
      },
    },
    '/api/v1/me': {
      get: {
        operationId: 'me',
        responses: {
          '200': answer('the caller', {
            id: { type: 'integer' },
            email: { type: 'string' },
            credits: { type: 'integer' },
          }),
        },
      },
    },
    '/api/v1/groups': {
      post: {
        operationId: 'createGroup',
        requestBody: json({ name: { type: 'string', example: 'linear algebra' } }, ['name']),
        responses: { '201': answer('the new group', GROUP) },
      },
    },
    '/api/v1/groups/{group_id}': {
      get: {
        operationId: 'getGroup',
        parameters: [{ name: 'group_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': answer('the group', GROUP), '404': { description: 'no such group of yours' } },
      },
    },
    '/api/v1/groups/{group_id}/refresh-invite': {
      post: {
        operationId: 'refreshInvite',
        summary: 'Replace the invite code of one of your groups',
        parameters: [{ name: 'group_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: {
          '200': answer('the new code', { invite_code: { type: 'string' }, expires_at: { type: 'integer' } }),
          '404': { description: 'no such group of yours' },
        },
      },
    },
    '/api/v1/gift-cards/redeem': {
      post: {
        operationId: 'redeemGiftCard',
        requestBody: json({ code: { type: 'string', example: 'GIFT-25' } }, ['code']),
        responses: {
          '200': answer('credited', { credits: { type: 'integer' } }),
          '404': { description: 'unknown card' },
          '409': { description: 'already redeemed' },
        },
      },
    },
  },
};

interface Member {
  id: number;
  email: string;
  password: string;
  credits: number;
}
interface Group {
  id: number;
  owner: number;
  name: string;
  invite_code: string;
}

const given = (): Member[] => [
  { id: 11, email: 'ana@study.test', password: 'ana-pw-3141', credits: 0 },
  { id: 12, email: 'ben@study.test', password: 'ben-pw-2718', credits: 0 },
];

function startStudy(fixed: boolean) {
  const members = given();
  const tokens = new Map<string, Member>();
  const groups: Group[] = [];
  const redeemed = new Set<string>();
  const refreshes: string[] = [];
  let failures = 0;
  return startServer(async (req, res) => {
    const text = await readText(req);
    const send = (status: number, payload: unknown) =>
      sendJson(res, status, payload, { ...GUARDED_JSON, 'ratelimit-limit': '300' });
    let body: Record<string, unknown> = {};
    try {
      const parsed = text ? JSON.parse(text) : {};
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed;
    } catch {
      return send(400, { error: 'bad JSON' });
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/v1/sessions') {
      // Five failed sign-ins lock the sessions route out for the rest of the run (both twins).
      if (failures >= 5) return send(429, { error: 'too many failed sign-ins' });
      const m = members.find((x) => x.email === body.email && x.password === body.password);
      if (!m) {
        failures++;
        return send(401, { error: 'wrong e-mail or password' });
      }
      const token = randomBytes(18).toString('hex');
      tokens.set(token, m);
      return send(200, { data: { access_token: token } });
    }
    const who = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!who) return send(401, { error: 'sign in' });
    if (req.method === 'GET' && path === '/api/v1/me') {
      return send(200, { id: who.id, email: who.email, credits: who.credits });
    }
    if (req.method === 'POST' && path === '/api/v1/groups') {
      const name = body.name;
      if (typeof name !== 'string' || name === '' || name.length > 80 || Object.keys(body).length !== 1)
        return send(422, { error: 'name (a string of 1 to 80 characters) and nothing else' });
      if (groups.length >= 200) return send(429, { error: 'too many groups' });
      const g = {
        id: groups.length + 1,
        owner: who.id,
        name,
        invite_code: randomBytes(6).toString('hex'),
      };
      groups.push(g);
      return send(201, { id: g.id, name: g.name, invite_code: g.invite_code });
    }
    const item = /^\/api\/v1\/groups\/(\d+)(\/refresh-invite)?$/.exec(path);
    const group = item ? groups.find((g) => g.id === Number(item[1]) && g.owner === who.id) : undefined;
    if (item && !group) return send(404, { error: 'no such group of yours' });
    if (req.method === 'GET' && group && !item?.[2]) {
      return send(200, { id: group.id, name: group.name, invite_code: group.invite_code });
    }
    if (req.method === 'POST' && group && item?.[2]) {
      group.invite_code = randomBytes(6).toString('hex');
      refreshes.push(`${who.id}:${group.id}`);
      return send(200, { invite_code: group.invite_code, expires_at: Math.floor(Date.now() / 1000) + 86400 });
    }
    if (req.method === 'POST' && path === '/api/v1/gift-cards/redeem') {
      if (body.code !== 'GIFT-25') return send(404, { error: 'unknown card' });
      const key = `${who.id}:${body.code}`;
      if (fixed && redeemed.has(key)) return send(409, { error: 'this card was already redeemed' });
      redeemed.add(key);
      who.credits += 25;
      return send(200, { credits: who.credits });
    }
    return send(404, { error: 'no such route' });
  }).then((api) => Object.assign(api, { refreshes }));
}

describe('API6: a gift card redeemed again and again is reported, an invite code refreshed is not', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; refreshes: string[] }>;
  before(async () => {
    const identity = (m: Member) => ({
      name: m.email.split('@')[0]!,
      login: { path: '/api/v1/sessions', body: { email: m.email, password: m.password } },
    });
    const [ana, ben] = given();
    const scans = await scanTwins(SPEC, startStudy, {
      identities: [identity(ana!), identity(ben!)],
      ratePerSecond: 200,
    });
    for (const kind of ['vulnerable', 'fixed'] as const) {
      runs[kind] = { result: scans[kind].result, refreshes: scans[kind].api.refreshes };
    }
  });

  test('the gift card, with the balance its answers showed growing', () => {
    const { result } = runs.vulnerable;
    const flows = result.findings.filter((f) => f.rule.id === 'scan/api6-repeatable-business-flow');
    assert.deepEqual(
      flows.map((f) => f.operation?.operationId),
      ['redeemGiftCard'],
      operationsFound(result).join('\n'),
    );
    assert.match(flows[0]!.message, /it names a coupon or reward/);
    assert.match(flows[0]!.message, /credits went 25, 50, 75, 100, 125/);
  });

  test('the invite refresh was repeated five times (tested) and is not reported', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { result, refreshes } = runs[kind];
      assert.ok(refreshes.length >= 5, `${kind}: ${refreshes.length} refreshes`);
      assert.ok(!result.findings.some((f) => f.operation?.operationId === 'refreshInvite'), kind);
      const cell = result.coverage?.matrix.find(
        (c) => c.check === 'API6' && c.operation === 'POST /api/v1/groups/{group_id}/refresh-invite',
      );
      assert.equal(cell?.status, 'tested', kind);
    }
  });

  test('the fixed twin: no finding at all', () => {
    const { result } = runs.fixed;
    assert.deepEqual(operationsFound(result), [], result.findings.map((f) => f.message).join('\n'));
  });
});
