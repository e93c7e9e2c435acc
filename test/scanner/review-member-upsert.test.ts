import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * Review finding (session 13, R): a plain scan demotes the given identities in their own workspaces.
 *
 * A multi-tenant API (uuid ids, Bearer sessions from POST /v1/sessions, errors `{"error":{"code","message"}}`)
 * whose `POST /v1/orgs/{orgId}/members {user_id, role}` adds a member or, for someone already a member, sets
 * their role (an upsert, as many membership APIs do). Each user owns one seeded workspace; there is no way to
 * create a workspace. Nothing here is vulnerable: only owners and admins manage members, and an owner cannot
 * be removed.
 *
 * At d59a5d7 discovery's plain creation sends, as alice, `POST /v1/orgs/<alice's workspace>/members
 * {"user_id": "<alice's own id>", "role": "member"}` (the first enum value, the caller's id from /v1/me), which
 * turns alice from owner into member of her own workspace, and bob the same in his: both lose the ownership of
 * their real data, and nothing sets it back. The "created" member is then the scan's object, so bob's API1
 * delete probe goes to `DELETE /v1/orgs/<alice's workspace>/members/<alice's id>` (refused here; an API that lets
 * members remove members would have removed alice). Discovery now sends no creation whose body names a given
 * identity's person id in a parent the scan did not make, and takes no id the list showed before the POST for
 * a creation of its own.
 */
const UUID = { type: 'string', format: 'uuid' };
const ERR = { description: 'error' };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'workspaces', version: '1' },
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
                properties: { email: { type: 'string', format: 'email' }, password: { type: 'string' } },
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
      get: { operationId: 'listOrgs', responses: { '200': { description: 'your workspaces' } } },
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
        responses: { '201': { description: 'the membership' }, '403': ERR, '404': ERR, '422': ERR },
      },
    },
    '/v1/orgs/{orgId}/members/{userId}': {
      parameters: [
        { name: 'orgId', in: 'path', required: true, schema: UUID },
        { name: 'userId', in: 'path', required: true, schema: UUID },
      ],
      delete: { operationId: 'removeMember', responses: { '204': { description: 'removed' }, '403': ERR } },
    },
  },
};

function startWorkspaces(upsert = true) {
  const users = ['alice', 'bob'].map((name) => ({ id: randomUUID(), name, email: `${name}@acme.test` }));
  const orgs = users.map((u) => ({ id: randomUUID(), name: `${u.name}'s workspace` }));
  const members = new Map<string, Map<string, string>>(
    orgs.map((o, i) => [o.id, new Map([[users[i].id, 'owner']])]),
  );
  const sessions = new Map<string, string>();
  const err = (res: Parameters<typeof sendJson>[0], status: number, code: string) =>
    sendJson(res, status, { error: { code, message: code.replace('_', ' ') } });
  return {
    users,
    orgs,
    members,
    start: () =>
      startServer(async (req, res) => {
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
        if (req.method === 'GET' && url.pathname === '/v1/orgs')
          return sendJson(res, 200, { data: orgs.filter((o) => members.get(o.id)?.has(me.id)) });
        const list =
          seg[0] === 'v1' && seg[1] === 'orgs' && seg[3] === 'members' ? members.get(seg[2]) : undefined;
        if (!list?.has(me.id)) return err(res, 404, 'not_found');
        if (seg.length === 4 && req.method === 'GET')
          return sendJson(res, 200, { data: [...list].map(([user_id, role]) => ({ user_id, role })) });
        if (!['owner', 'admin'].includes(list.get(me.id) ?? '')) return err(res, 403, 'forbidden');
        if (seg.length === 4 && req.method === 'POST') {
          const { user_id, role } = body;
          if (
            typeof user_id !== 'string' ||
            !users.some((u) => u.id === user_id) ||
            !['member', 'admin'].includes(String(role))
          )
            return err(res, 422, 'invalid');
          if (!upsert && list.has(user_id)) return err(res, 409, 'already_member');
          list.set(user_id, String(role)); // an upsert: an existing member's role is set
          return sendJson(res, 201, { org_id: seg[2], user_id, role });
        }
        if (seg.length === 5 && req.method === 'DELETE') {
          if (!list.has(seg[4])) return err(res, 404, 'not_found');
          if (list.get(seg[4]) === 'owner') return err(res, 409, 'last_owner');
          list.delete(seg[4]);
          res.writeHead(204);
          return res.end();
        }
        return err(res, 404, 'not_found');
      }),
  };
}

describe('review: a plain scan keeps the given identities owners of their own workspaces', () => {
  test('no membership of a given identity is changed', async () => {
    const api = startWorkspaces();
    const server = await api.start();
    try {
      const login = (name: string) => ({
        name,
        login: { path: '/v1/sessions', body: { email: `${name}@acme.test`, password: `pw-${name}` } },
      });
      await scanDocument(SPEC, server.url, {
        identities: [login('alice'), login('bob')],
        checks: ['API1'],
        ratePerSecond: 100,
      });
      for (const [i, org] of api.orgs.entries())
        assert.deepEqual([...(api.members.get(org.id) ?? [])], [[api.users[i].id, 'owner']], org.name);
    } finally {
      await server.close();
    }
  });

  /*
   * The same API refusing an existing member (409), so discovery's upsert changes nothing: at d59a5d7 (and at
   * 72d1c67) API1's owner-field probe (ownershipFields, api1-bola.ts) then sends, as alice, POST
   * /v1/orgs/<alice's seeded workspace>/members {"user_id": "<bob's id>", "role": "member"}: bob becomes a member
   * of alice's real workspace and stays one (nothing removes him), and it is reported as a critical
   * scan/api1-bola-write ("alice created an object in bob's name ... by setting user_id"), although adding a member
   * by id is what the owner's operation is for. Bob, now a member, then edits a project there and that is a second
   * critical api1-bola-write: both false positives on an API with no flaw.
   */
  test("no one is added to a given identity's workspace, and nothing is reported", async () => {
    const api = startWorkspaces(false);
    const server = await api.start();
    try {
      const login = (name: string) => ({
        name,
        login: { path: '/v1/sessions', body: { email: `${name}@acme.test`, password: `pw-${name}` } },
      });
      const result = await scanDocument(SPEC, server.url, {
        identities: [login('alice'), login('bob')],
        checks: ['API1'],
        ratePerSecond: 100,
      });
      for (const [i, org] of api.orgs.entries())
        assert.deepEqual([...(api.members.get(org.id) ?? [])], [[api.users[i].id, 'owner']], org.name);
      assert.deepEqual(
        result.findings.map((f) => f.message),
        [],
      );
    } finally {
      await server.close();
    }
  });
});
