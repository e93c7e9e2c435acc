import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * Review R2 (session 13), miss (b): `PATCH /v1/orgs/{orgId} {name}` also stores an undeclared `plan` (free -> pro)
 * that the org's read shows. The scan creates its own orgs (POST /v1/orgs), so API3 probes the update on the org
 * bob's scan made: the probe must go there and find `plan`, and the note about the privilege fields it did not send
 * (the org's read does not show them) must say the object is one the scan created, not "bob's own record".
 *
 * Style: uuid ids, `{"data": [...]}` lists, errors `{"error": {"code", "message"}}`, Bearer sessions from
 * POST /v1/sessions, and a members collection whose POST either refuses an existing member (409) or, in the
 * second case, sets its role (an upsert).
 */
const UUID = { type: 'string', format: 'uuid' };
const ERR = { description: 'error' };
const NAME = {
  'application/json': {
    schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
  },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'orgs', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/v1/sessions': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { email: { type: 'string' }, password: { type: 'string' } },
                required: ['email', 'password'],
              },
            },
          },
        },
        responses: { '201': { description: 'a session' }, '401': ERR },
      },
    },
    '/v1/me': { get: { operationId: 'me', responses: { '200': { description: 'you' } } } },
    '/v1/orgs': {
      get: { operationId: 'listOrgs', responses: { '200': { description: 'your orgs' } } },
      post: {
        operationId: 'createOrg',
        requestBody: { content: NAME },
        responses: { '201': { description: 'the org' }, '422': ERR },
      },
    },
    '/v1/orgs/{orgId}': {
      parameters: [{ name: 'orgId', in: 'path', required: true, schema: UUID }],
      get: { operationId: 'getOrg', responses: { '200': { description: 'the org' }, '404': ERR } },
      patch: {
        operationId: 'updateOrg',
        requestBody: { content: NAME },
        responses: { '200': { description: 'the org' }, '403': ERR, '404': ERR },
      },
    },
    '/v1/orgs/{orgId}/members': {
      parameters: [{ name: 'orgId', in: 'path', required: true, schema: UUID }],
      get: { operationId: 'listMembers', responses: { '200': { description: 'members' }, '404': ERR } },
      post: {
        operationId: 'addMember',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { user_id: UUID, role: { type: 'string', enum: ['member', 'admin'] } },
                required: ['user_id', 'role'],
              },
            },
          },
        },
        responses: { '201': { description: 'the membership' }, '403': ERR, '409': ERR, '422': ERR },
      },
    },
  },
};

function startOrgs(opts: { fixed: boolean; upsert: boolean }) {
  const users = ['alice', 'bob'].map((name) => ({ id: randomUUID(), name, email: `${name}@acme.test` }));
  const orgs = users.map((u) => ({ id: randomUUID(), name: `${u.name}'s org`, plan: 'free' }));
  const members = new Map<string, Map<string, string>>(
    orgs.map((o, i) => [o.id, new Map([[users[i].id, 'owner']])]),
  );
  const sessions = new Map<string, string>();
  const err = (res: Parameters<typeof sendJson>[0], status: number, code: string) =>
    sendJson(res, status, { error: { code, message: code.replace('_', ' ') } });
  const view = (o: (typeof orgs)[number]) => ({ id: o.id, name: o.name, plan: o.plan });
  return startServer(async (req, res) => {
    const body = (await readJson(req)) ?? {};
    const url = new URL(req.url ?? '/', 'http://x');
    const seg = url.pathname.split('/').filter(Boolean);
    if (req.method === 'POST' && url.pathname === '/v1/sessions') {
      const u = users.find((x) => x.email === body.email && body.password === `pw-${x.name}`);
      if (!u) return err(res, 401, 'invalid_credentials');
      const token = randomUUID();
      sessions.set(token, u.id);
      return sendJson(res, 201, { token, user: u });
    }
    const me = users.find(
      (u) => u.id === sessions.get((req.headers.authorization ?? '').replace('Bearer ', '')),
    );
    if (!me) return err(res, 401, 'unauthenticated');
    if (req.method === 'GET' && url.pathname === '/v1/me') return sendJson(res, 200, me);
    if (url.pathname === '/v1/orgs') {
      if (req.method === 'GET')
        return sendJson(res, 200, { data: orgs.filter((o) => members.get(o.id)?.has(me.id)).map(view) });
      if (req.method !== 'POST') return err(res, 405, 'method_not_allowed');
      if (typeof body.name !== 'string' || body.name === '') return err(res, 422, 'invalid');
      const o = { id: randomUUID(), name: body.name, plan: 'free' };
      orgs.push(o);
      members.set(o.id, new Map([[me.id, 'owner']]));
      return sendJson(res, 201, view(o));
    }
    const org = seg[0] === 'v1' && seg[1] === 'orgs' ? orgs.find((o) => o.id === seg[2]) : undefined;
    const list = org ? members.get(org.id) : undefined;
    if (!org || !list?.has(me.id)) return err(res, 404, 'not_found');
    const manager = ['owner', 'admin'].includes(list.get(me.id) ?? '');
    if (seg.length === 3 && req.method === 'GET') return sendJson(res, 200, view(org));
    if (seg.length === 3 && req.method === 'PATCH') {
      if (!manager) return err(res, 403, 'forbidden');
      if (typeof body.name === 'string' && body.name !== '') org.name = body.name;
      if (!opts.fixed && 'plan' in body) org.plan = String(body.plan); // the flaw: an undeclared, shown field
      return sendJson(res, 200, view(org));
    }
    if (seg[3] !== 'members' || seg.length !== 4) return err(res, 404, 'not_found');
    if (req.method === 'GET')
      return sendJson(res, 200, { data: [...list].map(([user_id, role]) => ({ user_id, role })) });
    if (!manager) return err(res, 403, 'forbidden');
    const { user_id, role } = body;
    if (
      typeof user_id !== 'string' ||
      !users.some((u) => u.id === user_id) ||
      !['member', 'admin'].includes(String(role))
    )
      return err(res, 422, 'invalid');
    if (!opts.upsert && list.has(user_id)) return err(res, 409, 'already_member');
    list.set(user_id, String(role));
    return sendJson(res, 201, { org_id: org.id, user_id, role });
  });
}

async function scan(opts: { fixed: boolean; upsert: boolean }): Promise<ScanResult> {
  const server = await startOrgs(opts);
  try {
    const login = (name: string) => ({
      name,
      login: { path: '/v1/sessions', body: { email: `${name}@acme.test`, password: `pw-${name}` } },
    });
    return await scanDocument(SPEC, server.url, {
      identities: [login('alice'), login('bob')],
      checks: ['API3'],
      ratePerSecond: 100,
    });
  } finally {
    await server.close();
  }
}

const planFound = (r: ScanResult) =>
  r.findings.filter(
    (f) =>
      f.rule.id === 'scan/api3-mass-assignment' &&
      f.operation?.operationId === 'updateOrg' &&
      /plan/.test(f.message),
  );

describe('API3 on an org the scan created, written as a given identity', () => {
  test('vulnerable (409 on an existing member): plan found; the unsent fields noted as on an object the scan created', async () => {
    const r = await scan({ fixed: false, upsert: false });
    assert.equal(planFound(r).length, 1, JSON.stringify(r.findings.map((f) => f.message)));
    const notes = JSON.stringify(r);
    assert.ok(!notes.includes("bob's own record (a given identity's)"), 'the org is no own record of bob');
    assert.ok(/an object the scan created, as bob \(a given identity\)/.test(notes));
  });

  test('fixed twin: no plan finding', async () => {
    const r = await scan({ fixed: true, upsert: false });
    assert.deepEqual(planFound(r), []);
  });

  test('vulnerable, members an upsert: plan found too', async () => {
    const r = await scan({ fixed: false, upsert: true });
    assert.equal(planFound(r).length, 1, JSON.stringify(r.findings.map((f) => f.message)));
  });
});
