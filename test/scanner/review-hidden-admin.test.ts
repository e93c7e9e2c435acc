import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * Review finding (session 13, R): the scan leaves an account of its own as a platform admin, unreported.
 *
 * A small account API (JSON sign-up at POST /v1/users answering 202 with no token, POST /v1/sessions for a
 * token, GET /v1/me showing only {id, email, name}, PATCH /v1/me {name}, GET /v1/admin/audit for admins). The
 * vulnerable PATCH /v1/me also stores an undeclared `is_admin` that no read shows. There is no delete of an
 * account. At d59a5d7 API3 probes PATCH /v1/me as an account of the scan's own with is_admin: true (and role,
 * isAdmin...), reads /v1/me back, sees nothing change (the field is not shown), so it neither reports the
 * escalation (GET /v1/admin/audit, refused before, now answers that account) nor sets the fields back nor retires
 * the account (retireIfElevated compares shown fields only): a later check reuses it as an ordinary account and
 * the clean-up leaves it in place as an admin, the report naming it only as "left in place". Marked todo until a
 * blind set-back (ordinary values for every privileged field sent and not shown) or an admin-read check lands.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'accounts', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/v1/users': {
      post: {
        operationId: 'signUp',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  email: { type: 'string', format: 'email' },
                  password: { type: 'string', minLength: 10 },
                  name: { type: 'string' },
                },
                required: ['email', 'password', 'name'],
              },
            },
          },
        },
        responses: { '202': { description: 'check your inbox' }, '422': { description: 'invalid' } },
      },
    },
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
        responses: { '201': { description: 'a session' }, '401': { description: 'wrong' } },
      },
    },
    '/v1/me': {
      get: { operationId: 'me', responses: { '200': { description: 'you' } } },
      patch: {
        operationId: 'updateMe',
        requestBody: {
          content: {
            'application/json': { schema: { type: 'object', properties: { name: { type: 'string' } } } },
          },
        },
        responses: { '200': { description: 'you' } },
      },
    },
    '/v1/admin/audit': { get: { operationId: 'audit', responses: { '200': { description: 'users' } } } },
  },
};

interface User {
  id: string;
  email: string;
  name: string;
  password: string;
  isAdmin: boolean;
}

describe('review: no account of the scan is left an admin', () => {
  // `strictRole`: the PATCH refuses (422) a role outside member/admin, so a set-back of every field at once with
  // role: user is refused and only a field-by-field set-back puts is_admin back.
  for (const [vulnerable, strictRole] of [
    [true, false],
    [false, false],
    [true, true],
  ])
    test(`every account but the seeded admin is ordinary after a plain scan (${vulnerable ? 'vulnerable' : 'fixed twin'}${strictRole ? ', roles checked' : ''})`, async () => {
      const users: User[] = ['alice', 'bob', 'root'].map((n) => ({
        id: randomUUID(),
        email: `${n}@acme.test`,
        name: n,
        password: `pw-${n}-long-enough`,
        isAdmin: n === 'root',
      }));
      const sessions = new Map<string, User>();
      const pub = (u: User) => ({ id: u.id, email: u.email, name: u.name });
      const server = await startServer(async (req, res) => {
        const body = (await readJson(req)) ?? {};
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        if (req.method === 'POST' && path === '/v1/users') {
          const { email, password, name } = body;
          if (
            typeof email !== 'string' ||
            !email.includes('@') ||
            typeof password !== 'string' ||
            password.length < 10
          )
            return sendJson(res, 422, { error: { code: 'invalid', message: 'invalid' } });
          if (typeof name === 'string' && !users.some((u) => u.email === email))
            users.push({ id: randomUUID(), email, name, password, isAdmin: false });
          return sendJson(res, 202, { message: 'check your inbox' });
        }
        if (req.method === 'POST' && path === '/v1/sessions') {
          const u = users.find((x) => x.email === body.email && x.password === body.password);
          if (!u) return sendJson(res, 401, { error: { code: 'invalid_credentials', message: 'wrong' } });
          const token = randomUUID();
          sessions.set(token, u);
          return sendJson(res, 201, { token });
        }
        const me = sessions.get((req.headers.authorization ?? '').replace('Bearer ', ''));
        if (!me) return sendJson(res, 401, { error: { code: 'unauthenticated', message: 'sign in' } });
        if (path === '/v1/me' && req.method === 'GET') return sendJson(res, 200, pub(me));
        if (path === '/v1/me' && req.method === 'PATCH') {
          if (typeof body.name === 'string') me.name = body.name;
          if (strictRole && 'role' in body && !['member', 'admin'].includes(String(body.role)))
            return sendJson(res, 422, { error: { code: 'invalid', message: 'role' } });
          // The flaw: an undeclared, unshown field (the fixed twin ignores it).
          if (vulnerable && 'is_admin' in body) me.isAdmin = body.is_admin === true;
          return sendJson(res, 200, pub(me));
        }
        if (path === '/v1/admin/audit' && req.method === 'GET') {
          if (!me.isAdmin)
            return sendJson(res, 403, { error: { code: 'forbidden', message: 'admins only' } });
          return sendJson(res, 200, { data: users.map((u) => ({ ...pub(u), is_admin: u.isAdmin })) });
        }
        return sendJson(res, 404, { error: { code: 'not_found', message: 'no such route' } });
      });
      try {
        const login = (n: string) => ({
          name: n,
          login: { path: '/v1/sessions', body: { email: `${n}@acme.test`, password: `pw-${n}-long-enough` } },
        });
        const result = await scanDocument(SPEC, server.url, {
          identities: [login('alice'), login('bob')],
          admin: login('root'),
          checks: ['API3'],
          ratePerSecond: 100,
        });
        assert.deepEqual(
          users.filter((u) => u.isAdmin).map((u) => u.email),
          ['root@acme.test'],
        );
        // The escalation no read shows is seen through the admin-only read that answers the account after it.
        const escalations = result.findings.filter(
          (f) => f.rule.id === 'scan/api3-mass-assignment' && f.message.includes('/v1/admin/audit'),
        );
        assert.equal(
          escalations.length,
          vulnerable ? 1 : 0,
          JSON.stringify(result.findings.map((f) => f.message)),
        );
      } finally {
        await server.close();
      }
    });
});
