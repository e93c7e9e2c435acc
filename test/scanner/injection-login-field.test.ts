import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * Injection probes never write a given identity's sign-in field on its own record. A small club roster: members sign
 * in with their e-mail (`POST /auth/sessions {email, password}` -> `{access_token}`), read `GET /roster/self` and
 * replace it with `PUT /roster/self {full_name, contact}`, where `contact` is the e-mail they sign in with (changing
 * it changes the login). No sign-up, so the probes of the update go to alice's own record. The vulnerable twin pastes
 * `full_name` into its SQL text (a lone quote answers 500 with the database's error); the fixed twin binds it.
 * Every write is logged: a given member's `contact` must never be anything but that member's own e-mail, while the
 * SQL injection in `full_name` is still found on the vulnerable twin only.
 */
const json = (properties: Record<string, unknown>, required: string[] = []) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const MEMBER = {
  type: 'object',
  properties: { member_no: { type: 'integer' }, full_name: { type: 'string' }, contact: { type: 'string' } },
};
const ok = (schema: object) => ({
  '200': { description: 'ok', content: { 'application/json': { schema } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'roster', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/auth/sessions': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: json({ email: { type: 'string' }, password: { type: 'string' } }, ['email', 'password']),
        responses: {
          ...ok({ type: 'object', properties: { access_token: { type: 'string' } } }),
          '401': { description: 'wrong' },
        },
      },
    },
    '/roster/self': {
      get: { operationId: 'readSelf', responses: ok(MEMBER) },
      put: {
        operationId: 'replaceSelf',
        requestBody: json({ full_name: { type: 'string' }, contact: { type: 'string' } }, [
          'full_name',
          'contact',
        ]),
        responses: { ...ok(MEMBER), '400': { description: 'invalid' } },
      },
    },
    '/fixtures': {
      get: { operationId: 'listFixtures', responses: ok({ type: 'array', items: { type: 'object' } }) },
    },
  },
};

interface Member {
  member_no: number;
  full_name: string;
  contact: string;
  password: string;
}
const SEEDED: readonly Member[] = [
  { member_no: 31, full_name: 'Alice Archer', contact: 'alice@roster.test', password: 'Al1ce-roster-pw' },
  { member_no: 32, full_name: 'Bob Bowman', contact: 'bob@roster.test', password: 'B0b-roster-pw' },
];

interface Roster extends TestServer {
  readonly members: Member[];
  /** `member_no contact` of every PUT a member sent (the contact it asked to store). */
  readonly writes: { member: number; contact: unknown }[];
}

async function startRoster(fixed: boolean): Promise<Roster> {
  const members = SEEDED.map((m) => ({ ...m }));
  const tokens = new Map<string, Member>();
  const writes: { member: number; contact: unknown }[] = [];
  const server = await startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const body = req.method === 'GET' ? {} : ((await readJson(req)) ?? {});
    if (path === '/auth/sessions' && req.method === 'POST') {
      const m = members.find((x) => x.contact === body.email && x.password === body.password);
      if (!m) return sendJson(res, 401, { detail: 'bad credentials' });
      const token = `rt${m.member_no}.${randomBytes(16).toString('hex')}`;
      tokens.set(token, m);
      return sendJson(res, 200, { access_token: token });
    }
    const me = tokens.get(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
    if (!me) return sendJson(res, 401, { detail: 'sign in' });
    const view = () => ({ member_no: me.member_no, full_name: me.full_name, contact: me.contact });
    if (path === '/roster/self' && req.method === 'GET') return sendJson(res, 200, view());
    if (path === '/roster/self' && req.method === 'PUT') {
      writes.push({ member: me.member_no, contact: body.contact });
      const { full_name, contact } = body;
      if (typeof full_name !== 'string' || typeof contact !== 'string' || full_name.length > 200)
        return sendJson(res, 400, { detail: 'full_name and contact are required' });
      // The flaw: `UPDATE members SET full_name = '<full_name>', contact = ? WHERE member_no = ?`.
      if (!fixed && full_name.replaceAll("''", '').includes("'"))
        return sendJson(res, 500, {
          detail: `sqlite3.OperationalError: near "${full_name.slice(0, 30)}": syntax error`,
        });
      me.full_name = full_name;
      me.contact = contact;
      return sendJson(res, 200, view());
    }
    if (path === '/fixtures' && req.method === 'GET') return sendJson(res, 200, [{ id: 1, vs: 'Riverside' }]);
    return sendJson(res, 404, { detail: 'not found' });
  });
  return { ...server, members, writes };
}

describe('injection probes leave a given identity’s sign-in e-mail alone on its own record', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Roster }>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startRoster(kind === 'fixed');
      try {
        const result = await scanDocument(SPEC, api.url, {
          identities: SEEDED.map((m) => ({
            name: m.contact.split('@')[0],
            login: { path: '/auth/sessions', body: { email: m.contact, password: m.password } },
          })),
          checks: ['API8'],
          ratePerSecond: 400,
          timeDelayMs: 300,
        });
        runs[kind] = { result, api };
      } finally {
        await api.close();
      }
    }
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: no write asked to store another contact on a given member's record`, () => {
      const { api } = runs[kind];
      assert.ok(api.writes.length > 0, 'the update was probed at all');
      const own = new Map(SEEDED.map((m) => [m.member_no, m.contact]));
      const changed = api.writes.filter((w) => w.contact !== undefined && w.contact !== own.get(w.member));
      assert.deepEqual(changed, []);
      assert.deepEqual(
        api.members.map((m) => [m.full_name, m.contact]),
        SEEDED.map((m) => [m.full_name, m.contact]),
      );
    });
  }

  test('the SQL injection in full_name is found on the vulnerable twin only', () => {
    const sql = (r: ScanResult) =>
      r.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection').map((f) => f.operation?.operationId);
    assert.deepEqual(sql(runs.vulnerable.result), ['replaceSelf']);
    assert.deepEqual(sql(runs.fixed.result), []);
  });
});
