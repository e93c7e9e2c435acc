import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * An undeclared `role` in a record that is no person's (`GET /api/clubs` → `{id, title, role: "owner"}`) is the
 * caller's own role in that club, shown to the caller: not another person's privilege internals (review R2,
 * session 13: `/data/*\/role` of `GET /v1/orgs` and `/role` of `POST /v1/orgs` were medium findings on a fixed
 * twin). A list of people that shows each person's role (`GET /api/users` → `{id, name, role}`) still is one.
 *
 * Style: `Authorization: Token <key>` from `POST /api/login {username, password}` → `{key}`, integer ids, lists
 * under `items`, creation answered 201 with the club and the caller's role in it, errors `{"detail": "..."}`. The
 * vulnerable twin's user list shows every user's role; the fixed twin's shows ids and names only. Both show the
 * caller's role in each of its clubs.
 */
const CLUB = {
  type: 'object',
  properties: { id: { type: 'integer' }, title: { type: 'string' } },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'clubs', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/api/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
                required: ['username', 'password'],
              },
            },
          },
        },
        responses: { '200': { description: 'a key' }, '400': { description: 'wrong' } },
      },
    },
    '/api/clubs': {
      get: {
        operationId: 'listClubs',
        responses: {
          '200': {
            description: 'your clubs',
            content: {
              'application/json': {
                schema: { type: 'object', properties: { items: { type: 'array', items: CLUB } } },
              },
            },
          },
        },
      },
      post: {
        operationId: 'createClub',
        requestBody: {
          content: {
            'application/json': {
              schema: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] },
            },
          },
        },
        responses: { '201': { description: 'the club', content: { 'application/json': { schema: CLUB } } } },
      },
    },
    '/api/clubs/{club_id}': {
      parameters: [{ name: 'club_id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'getClub',
        responses: { '200': { description: 'a club', content: { 'application/json': { schema: CLUB } } } },
      },
    },
    '/api/users': {
      get: {
        operationId: 'listUsers',
        responses: {
          '200': {
            description: 'users',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    items: {
                      type: 'array',
                      items: {
                        type: 'object',
                        properties: { id: { type: 'integer' }, name: { type: 'string' } },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

function startClubs(fixed: boolean): Promise<TwinTarget> {
  const users = [
    { id: 1, name: 'alice', role: 'user' },
    { id: 2, name: 'bob', role: 'user' },
    { id: 3, name: 'root', role: 'superuser' },
  ];
  const clubs = [
    { id: 10, title: 'chess', members: new Map([[1, 'owner']]) },
    { id: 11, title: 'go', members: new Map([[2, 'owner']]) },
  ];
  const keys = new Map<string, number>();
  let next = 20;
  const view = (c: (typeof clubs)[number], uid: number) => ({
    id: c.id,
    title: c.title,
    role: c.members.get(uid),
  });
  return startServer(async (req, res) => {
    const body = (await readJson(req)) ?? {};
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/api/login') {
      const u = users.find((x) => x.name === body.username && body.password === `${x.name}-pw`);
      if (!u) return sendJson(res, 400, { detail: 'wrong username or password' });
      const key = randomBytes(20).toString('hex');
      keys.set(key, u.id);
      return sendJson(res, 200, { key });
    }
    const uid = keys.get((req.headers.authorization ?? '').replace(/^Token /, ''));
    if (uid === undefined) return sendJson(res, 401, { detail: 'credentials were not provided' });
    if (url.pathname === '/api/users' && req.method === 'GET')
      return sendJson(res, 200, {
        items: users.map((u) =>
          fixed ? { id: u.id, name: u.name } : { id: u.id, name: u.name, role: u.role },
        ),
      });
    if (url.pathname === '/api/clubs' && req.method === 'GET')
      return sendJson(res, 200, { items: clubs.filter((c) => c.members.has(uid)).map((c) => view(c, uid)) });
    if (url.pathname === '/api/clubs' && req.method === 'POST') {
      if (typeof body.title !== 'string') return sendJson(res, 400, { detail: 'title is required' });
      const c = { id: next++, title: body.title, members: new Map([[uid, 'owner']]) };
      clubs.push(c);
      return sendJson(res, 201, view(c, uid));
    }
    const m = /^\/api\/clubs\/(\d+)$/.exec(url.pathname);
    const club = m ? clubs.find((c) => c.id === Number(m[1])) : undefined;
    if (req.method === 'GET' && club?.members.has(uid)) return sendJson(res, 200, view(club, uid));
    return sendJson(res, 404, { detail: 'not found' });
  });
}

const undeclared = (r: ScanResult) =>
  r.findings
    .filter((f) => f.rule.id === 'scan/api3-undeclared-response-fields')
    .map((f) => `${f.operation?.operationId}: ${f.message}`);

describe("API3: the caller's own role in a record that is no person's", () => {
  let runs: TwinScans<TwinTarget>;
  before(async () => {
    const login = (n: string) => ({
      name: n,
      login: { path: '/api/login', body: { username: n, password: `${n}-pw` }, scheme: 'Token' },
    });
    runs = await scanTwins(SPEC, startClubs, {
      identities: [login('alice'), login('bob')],
      checks: ['API3'],
      ratePerSecond: 100,
    });
  });

  test('fixed: no undeclared-field finding (the clubs show the caller its own role)', () => {
    assert.deepEqual(undeclared(runs.fixed.result), []);
  });

  test("vulnerable: every user's role in the user list is still reported, the clubs are not", () => {
    const found = undeclared(runs.vulnerable.result);
    assert.ok(
      found.some((m) => m.startsWith('listUsers:') && m.includes('role')),
      JSON.stringify(found),
    );
    assert.ok(!found.some((m) => /Club/.test(m.split(':')[0])), JSON.stringify(found));
  });
});
