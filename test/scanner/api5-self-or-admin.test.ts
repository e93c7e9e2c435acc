import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A book club's member API in the style of Fastify (errors as `{"statusCode", "error", "message"}`, opaque session
 * tokens from `POST /auth/sign-in` answering `{"token", "user": {"id", "username"}}`, a public sign-up). A member's
 * profile is changed with `PUT /members/{id}`, documented as "Update a member's profile (admins, or the member
 * itself)": any member may call it on its own profile, so it is no function of the admin. Vulnerable: any member
 * changes any member's profile. Fixed twin: only the member itself or an admin.
 *
 * API1 registers an account of the scan's own and has bob change it: an object-level flaw. API5 calls the same
 * operation as alice on another account the scan registered, because the prose says admins: that is the same flaw
 * seen from the function's side, and must not be reported again as API5. `PUT /members/{id}/role` (a role enum)
 * grants a privilege: it stays API5.
 */
const problem = { description: 'refused' };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'book club', version: '1' },
  components: { securitySchemes: { session: { type: 'http', scheme: 'bearer' } } },
  security: [{ session: [] }],
  paths: {
    '/auth/sign-up': {
      post: {
        operationId: 'signUp',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['username', 'password'],
                properties: {
                  username: { type: 'string', maxLength: 30 },
                  password: { type: 'string', maxLength: 100 },
                  display_name: { type: 'string', maxLength: 60 },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'member' }, '409': problem },
      },
    },
    '/auth/sign-in': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['username', 'password'],
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'session' }, '401': problem },
      },
    },
    '/members/{id}': {
      get: {
        operationId: 'getMember',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'member' }, '404': problem },
      },
      put: {
        operationId: 'updateMember',
        summary: "Update a member's profile (admins, or the member itself)",
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  display_name: { type: 'string', maxLength: 60 },
                  bio: { type: 'string', maxLength: 300 },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'member' }, '403': problem },
      },
    },
    '/members/{id}/role': {
      put: {
        operationId: 'setRole',
        summary: "Set a member's role (admins)",
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['role'],
                properties: { role: { type: 'string', enum: ['reader', 'moderator', 'admin'] } },
              },
            },
          },
        },
        responses: { '200': { description: 'member' }, '403': problem },
      },
    },
  },
};

interface Member {
  id: number;
  username: string;
  password: string;
  display_name: string;
  bio: string;
  role: 'reader' | 'moderator' | 'admin';
}

function startClub(fixed: boolean) {
  const members: Member[] = [
    { id: 1, username: 'chair', password: 'Chair-pw-31', display_name: 'Chair', bio: '', role: 'admin' },
    {
      id: 2,
      username: 'alice',
      password: 'Alice-pw-31',
      display_name: 'Alice',
      bio: 'crime novels',
      role: 'reader',
    },
    { id: 3, username: 'bob', password: 'Bob-pw-31', display_name: 'Bob', bio: 'poetry', role: 'reader' },
  ];
  const sessions = new Map<string, Member>();
  let next = 10;
  const shown = ({ password: _, ...m }: Member) => m;
  return startServer(async (req, res) => {
    const body = await readJson(req);
    const path = new URL(req.url ?? '/', 'http://club').pathname;
    const send = (status: number, value: unknown) => sendJson(res, status, value);
    const fail = (statusCode: number, error: string, message: string) =>
      send(statusCode, { statusCode, error, message });
    if (req.method === 'POST' && path === '/auth/sign-up') {
      const { username, password } = body ?? {};
      if (typeof username !== 'string' || typeof password !== 'string' || username === '')
        return fail(400, 'Bad Request', 'username and password are required');
      if (members.some((m) => m.username === username)) return fail(409, 'Conflict', 'username taken');
      const m: Member = {
        id: next++,
        username,
        password,
        display_name: typeof body?.display_name === 'string' ? body.display_name.slice(0, 60) : username,
        bio: '',
        role: 'reader',
      };
      members.push(m);
      return send(201, shown(m));
    }
    if (req.method === 'POST' && path === '/auth/sign-in') {
      const m = members.find((x) => x.username === body?.username && x.password === body?.password);
      if (!m) return fail(401, 'Unauthorized', 'wrong username or password');
      const token = randomBytes(16).toString('hex');
      sessions.set(token, m);
      return send(200, { token, user: { id: m.id, username: m.username } });
    }
    const me = sessions.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!me) return fail(401, 'Unauthorized', 'sign in first');
    const match = /^\/members\/(\d+)(\/role)?$/.exec(path);
    const member = match ? members.find((m) => m.id === Number(match[1])) : undefined;
    if (!match) return fail(404, 'Not Found', 'no route');
    if (!member) return fail(404, 'Not Found', 'no such member');
    if (req.method === 'GET' && !match[2]) return send(200, shown(member));
    if (req.method === 'PUT' && !match[2]) {
      if (fixed && me.id !== member.id && me.role !== 'admin')
        return fail(403, 'Forbidden', 'not your profile');
      if (typeof body?.display_name === 'string') member.display_name = body.display_name.slice(0, 60);
      if (typeof body?.bio === 'string') member.bio = body.bio.slice(0, 300);
      return send(200, shown(member));
    }
    if (req.method === 'PUT' && match[2]) {
      if (fixed && me.role !== 'admin') return fail(403, 'Forbidden', 'admins only');
      if (body?.role === 'reader' || body?.role === 'moderator' || body?.role === 'admin')
        member.role = body.role;
      return send(200, shown(member));
    }
    return fail(405, 'Method Not Allowed', 'no such method');
  }).then((api) => Object.assign(api, { members }));
}

const login = (username: string, password: string) => ({
  name: username,
  login: { path: '/auth/sign-in', body: { username, password } },
});

describe('API5 leaves to API1 a change that only its prose calls privileged', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startClub>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startClub, {
        identities: [login('alice', 'Alice-pw-31'), login('bob', 'Bob-pw-31')],
        admin: login('chair', 'Chair-pw-31'),
        ratePerSecond: 200,
        checks: ['API1', 'API5'],
      }),
    );
  });

  test('vulnerable: the profile update is API1 only; the role change stays API5', () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-write updateMember'), found.join());
    assert.ok(!found.includes('scan/api5-bfla updateMember'), found.join());
    assert.ok(found.includes('scan/api5-bfla setRole'), found.join());
  });

  test('the given members keep their profiles and roles; fixed twin: no API1 or API5 finding', () => {
    for (const { api } of [scans.vulnerable, scans.fixed]) {
      const given = api.members
        .filter((m) => m.id <= 3)
        .map((m) => `${m.username}:${m.display_name}:${m.role}`);
      assert.deepEqual(given, ['chair:Chair:admin', 'alice:Alice:reader', 'bob:Bob:reader']);
    }
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
