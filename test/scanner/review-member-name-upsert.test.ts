import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * Review finding (session 15, R1 S3): a plain scan demotes a given identity in her own organisation through a
 * membership upsert that names people by user name. An inventory API with tenants (`Authorization: Token
 * t1.<payload>.<hmac>`, roles viewer < editor < owner): `POST /orgs/{orgId}/members {username, role}` adds a
 * user or, for one already a member, sets the role (owners only). Nothing here is vulnerable.
 * At d8182f5 the injection check's plain request went as alice `POST /orgs/1/members {"username": "alice",
 * "role": "viewer"}` (her own login name, the enum's first value): alice, owner of org 1, became a viewer; the
 * clean-up then took her membership for the scan's object and sent `DELETE /orgs/1/members/1` (refused only
 * because she was no longer an owner), and the report told the operator to remove it by hand. Discovery's guard
 * (f5d7d06) looks for person ids in discovery's own creations only.
 */
const KEY = 'review-tenants-key';
const sign = (uid: number) => {
  const p = Buffer.from(JSON.stringify({ uid })).toString('base64url');
  return `t1.${p}.${createHmac('sha256', KEY).update(p).digest('hex')}`;
};
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const ORG = { name: 'orgId', in: 'path', required: true, schema: { type: 'integer' } };
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'tenants', version: '2' },
  components: { securitySchemes: { t1: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ t1: [] }],
  paths: {
    '/auth/token': {
      post: {
        operationId: 'issueToken',
        security: [],
        requestBody: json({ username: { type: 'string' }, password: { type: 'string' } }, [
          'username',
          'password',
        ]),
        responses: { '200': { description: 'token' }, '401': { description: 'refused' } },
      },
    },
    '/orgs': { get: { operationId: 'myOrgs', responses: { '200': { description: "the caller's orgs" } } } },
    '/orgs/{orgId}/members': {
      parameters: [ORG],
      get: { operationId: 'listMembers', responses: { '200': { description: 'members' } } },
      post: {
        operationId: 'addMember',
        description: 'Owners only. Adds an existing user to the organisation with a role.',
        requestBody: json(
          { username: { type: 'string' }, role: { type: 'string', enum: ['viewer', 'editor', 'owner'] } },
          ['username', 'role'],
        ),
        responses: { '201': { description: 'added' }, '403': { description: 'not an owner' } },
      },
    },
    '/orgs/{orgId}/members/{userId}': {
      parameters: [ORG, { name: 'userId', in: 'path', required: true, schema: { type: 'integer' } }],
      delete: {
        operationId: 'removeMember',
        description: 'Owners only.',
        responses: { '204': { description: 'removed' } },
      },
    },
  },
};
const USERS = [
  { id: 1, username: 'alice', password: 'Alice-pw-1' },
  { id: 2, username: 'bob', password: 'Bob-pw-2' },
  { id: 3, username: 'root', password: 'Root-pw-3' },
];
const SEEDED = ['1:1:owner', '2:2:owner', '3:3:owner', '3:1:viewer', '3:2:editor'];

async function startTenants() {
  const roles = new Map(SEEDED.map((s) => [s.split(':').slice(0, 2).join(':'), s.split(':')[2]]));
  const rank: Record<string, number> = { viewer: 1, editor: 2, owner: 3 };
  const { url, server } = await startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/auth/token') {
      const u = USERS.find((x) => x.username === b.username && x.password === b.password);
      if (!u) return sendJson(res, 401, { error: 'bad credentials' });
      return sendJson(res, 200, { token: sign(u.id), token_type: 'T1' });
    }
    const tok = String(req.headers.authorization ?? '').replace(/^Token /, '');
    const me = USERS.find((u) => tok === sign(u.id));
    if (!me) return sendJson(res, 401, { error: 'token required' });
    if (req.method === 'GET' && path === '/orgs') {
      const orgs = [...roles]
        .filter(([k]) => k.endsWith(`:${me.id}`))
        .map(([k, role]) => ({ id: Number(k.split(':')[0]), role }));
      return sendJson(res, 200, { orgs });
    }
    const m = /^\/orgs\/(\d+)\/members(?:\/(\d+))?$/.exec(path);
    if (!m) return sendJson(res, 404, { error: 'no route' });
    const org = Number(m[1]);
    const mine = roles.get(`${org}:${me.id}`);
    if (!mine) return sendJson(res, 404, { error: 'no such org' });
    if (req.method === 'GET' && !m[2]) {
      const members = [...roles]
        .filter(([k]) => k.startsWith(`${org}:`))
        .map(([k, role]) => {
          const u = USERS.find((x) => x.id === Number(k.split(':')[1]));
          return { id: u?.id, username: u?.username, role };
        });
      return sendJson(res, 200, { members });
    }
    if (rank[mine] < rank.owner) return sendJson(res, 403, { error: 'needs owner' });
    if (req.method === 'POST' && !m[2]) {
      const u = USERS.find((x) => x.username === b.username);
      if (!u || typeof b.role !== 'string' || !(b.role in rank))
        return sendJson(res, 422, { error: 'username and role (viewer, editor, owner) required' });
      roles.set(`${org}:${u.id}`, b.role); // add, or set the role of a member already there
      return sendJson(res, 201, { org_id: org, user_id: u.id, role: b.role });
    }
    if (req.method === 'DELETE' && m[2]) {
      roles.delete(`${org}:${m[2]}`);
      res.writeHead(204).end();
      return;
    }
    return sendJson(res, 405, { error: 'method not allowed' });
  });
  return { url, server, roles };
}

const identity = (i: number) => ({
  name: USERS[i].username,
  login: {
    path: '/auth/token',
    body: { username: USERS[i].username, password: USERS[i].password },
    scheme: 'Token',
  },
});

describe("review: a plain scan changes no given identity's role through a membership upsert by user name", () => {
  let api: Awaited<ReturnType<typeof startTenants>>;
  let result: ScanResult;
  before(async () => {
    api = await startTenants();
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: [identity(0), identity(1)],
        admin: identity(2),
        ratePerSecond: 200,
      });
    } finally {
      api.server.close();
    }
  });

  test('every seeded membership is as seeded', () => {
    assert.ok(result);
    assert.deepEqual(
      [...api.roles].map(([k, r]) => `${k}:${r}`),
      SEEDED,
    );
  });

  test("the report tells no one to remove a given identity's membership by hand", () => {
    assert.doesNotMatch(JSON.stringify(result.warnings), /\/orgs\/\d+\/members\/[123]\b/);
  });
});
