import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A recipe box in a Laravel-like style (`{"message": ..., "errors": {field: [...]}}` on 422, a `Bearer` token from
 * `POST /api/account/login`). Its sign-up, `POST /api/account/register`, asks the password twice
 * (`password_confirmation`) and answers the stored user.
 * - Vulnerable: the user is made from the whole body, so `is_admin` and `role` sent by the client are stored.
 * - Fixed twin: only the name, e-mail and password are taken.
 * `GET /api/account/me` shows the caller's own record; `DELETE /api/account/me` closes the account.
 */
const json = (properties: Record<string, unknown>) => ({
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'recipe box', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/account/register': {
      post: {
        operationId: 'register',
        security: [],
        requestBody: json({
          name: { type: 'string' },
          email: { type: 'string', format: 'email' },
          password: { type: 'string' },
          password_confirmation: { type: 'string' },
        }),
        responses: { '201': { description: 'the user' }, '422': { description: 'invalid' } },
      },
    },
    '/api/account/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: json({ email: { type: 'string' }, password: { type: 'string' } }),
        responses: { '200': { description: 'a token' }, '401': { description: 'no' } },
      },
    },
    '/api/account/me': {
      get: { operationId: 'me', responses: { '200': { description: 'the caller' } } },
      delete: { operationId: 'closeAccount', responses: { '204': { description: 'closed' } } },
    },
  },
};

interface User {
  id: number;
  name: string;
  email: string;
  password: string;
  is_admin: boolean;
  role: string;
}

const GIVEN: User[] = [
  { id: 1, name: 'Lou', email: 'lou@recipes.test', password: 'Lou-pw-5501', is_admin: false, role: 'cook' },
  { id: 2, name: 'Mei', email: 'mei@recipes.test', password: 'Mei-pw-5502', is_admin: false, role: 'cook' },
];

function startRecipes(fixed: boolean) {
  const users = new Map<number, User>(GIVEN.map((u) => [u.id, { ...u }]));
  const tokens = new Map<string, number>();
  let next = 20;
  const view = ({ password: _p, ...u }: User) => u;
  const api = startServer(async (req, res) => {
    const body = (await readJson(req)) ?? {};
    const path = new URL(req.url ?? '/', 'http://recipes').pathname;
    if (req.method === 'POST' && path === '/api/account/register') {
      if (
        typeof body.email !== 'string' ||
        typeof body.password !== 'string' ||
        typeof body.name !== 'string'
      )
        return sendJson(res, 422, {
          message: 'The given data was invalid.',
          errors: { email: ['required'] },
        });
      if (body.password !== body.password_confirmation)
        return sendJson(res, 422, {
          message: 'The given data was invalid.',
          errors: { password: ['The password confirmation does not match.'] },
        });
      if ([...users.values()].some((u) => u.email === body.email))
        return sendJson(res, 422, { message: 'The given data was invalid.', errors: { email: ['taken'] } });
      const base = { name: body.name, email: body.email, password: body.password };
      const u: User = {
        is_admin: false,
        role: 'cook',
        ...(fixed ? {} : (body as Partial<User>)),
        ...base,
        id: next++,
      };
      users.set(u.id, u);
      return sendJson(res, 201, { data: view(u) });
    }
    if (req.method === 'POST' && path === '/api/account/login') {
      const u = [...users.values()].find((x) => x.email === body.email && x.password === body.password);
      if (!u) return sendJson(res, 401, { message: 'These credentials do not match our records.' });
      const token = randomBytes(12).toString('hex');
      tokens.set(token, u.id);
      return sendJson(res, 200, { token });
    }
    const me = users.get(tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, '')) ?? -1);
    if (!me) return sendJson(res, 401, { message: 'Unauthenticated.' });
    if (path === '/api/account/me' && req.method === 'GET') return sendJson(res, 200, { data: view(me) });
    if (path === '/api/account/me' && req.method === 'DELETE') {
      users.delete(me.id);
      res.writeHead(204);
      return res.end();
    }
    return sendJson(res, 404, { message: 'Not Found' });
  });
  return api.then((a) => Object.assign(a, { users }));
}

const signIn = (u: User) => ({
  name: u.name,
  login: { path: '/api/account/login', body: { email: u.email, password: u.password } },
});

describe('API3: a sign-up that asks the password twice is probed for mass assignment', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startRecipes>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startRecipes, {
        identities: GIVEN.map(signIn),
        ratePerSecond: 200,
        checks: ['API3'],
      }),
    );
  });

  const massAssignment = (kind: 'vulnerable' | 'fixed') =>
    operationsFound(scans[kind].result).filter((f) => f.startsWith('scan/api3-mass-assignment'));

  test('vulnerable: the sign-up stores is_admin and role', () => {
    assert.deepEqual(massAssignment('vulnerable'), ['scan/api3-mass-assignment register']);
  });

  test('fixed twin: no mass assignment', () => {
    assert.deepEqual(massAssignment('fixed'), []);
  });

  test('the given cooks are unchanged, and every account the scan made is deleted or named', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { api, result } = scans[kind];
      for (const g of GIVEN) assert.deepEqual(api.users.get(g.id), g, `${kind}: ${g.name}`);
      const notes = result.notes.join('\n');
      for (const u of api.users.values())
        if (!GIVEN.some((g) => g.id === u.id))
          assert.ok(
            notes.includes(u.email.split('@')[0]) || notes.includes(u.name),
            `${kind}: ${u.email} left and not named`,
          );
    }
  });
});
