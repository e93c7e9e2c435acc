import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { scanDocument } from './twins.ts';

/**
 * API5 registers an account of its own to try privileged changes on (`PATCH /users/{id}/role`). Its sign-up must
 * carry names of the scan's own: the documented example here is a given identity's name and the admin's e-mail,
 * and this sign-up, like some careless ones, updates the account whose e-mail exists (an upsert): a sampled
 * body would hand the admin's account a password the scan chose.
 */
const json = (properties: Record<string, unknown>, example?: Record<string, unknown>) => ({
  content: {
    'application/json': { schema: { type: 'object', properties, ...(example ? { example } : {}) } },
  },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'shop', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: json({ email: { type: 'string' }, password: { type: 'string' } }),
        responses: { '200': { description: 'a token' } },
      },
    },
    '/users': {
      post: {
        operationId: 'signUp',
        security: [],
        requestBody: json(
          { username: { type: 'string' }, email: { type: 'string' }, password: { type: 'string' } },
          { username: 'ada', email: 'root@shop.test', password: 'example-pw-1' },
        ),
        responses: { '201': { description: 'created' } },
      },
    },
    '/users/{id}/role': {
      patch: {
        operationId: 'setRole',
        summary: 'Admin only: change a role',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        requestBody: json({ role: { type: 'string', enum: ['user', 'admin'] } }),
        responses: { '200': { description: 'changed' } },
      },
    },
    '/admin/users': {
      get: { operationId: 'listUsers', responses: { '200': { description: 'users' } } },
    },
  },
};

interface User {
  id: number;
  username: string;
  email: string;
  password: string;
  role: string;
}

describe('API5 registers its account under names of its own', () => {
  const signUps: string[] = [];
  const users: User[] = [
    { id: 1, username: 'root', email: 'root@shop.test', password: 'root-pw-11', role: 'admin' },
    { id: 2, username: 'ada', email: 'ada@shop.test', password: 'ada-pw-22', role: 'user' },
    { id: 3, username: 'bo', email: 'bo@shop.test', password: 'bo-pw-33', role: 'user' },
  ];
  before(async () => {
    const tokens = new Map<string, User>();
    const api = await startServer(async (req, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      let v: Record<string, unknown> = {};
      try {
        v = text === '' ? {} : JSON.parse(text);
      } catch {
        return send(400, { error: 'invalid JSON' });
      }
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'POST' && path === '/login') {
        const u = users.find((x) => x.email === v.email && x.password === v.password);
        if (!u) return send(401, { error: 'invalid credentials' });
        const t = randomBytes(16).toString('hex');
        tokens.set(t, u);
        return send(200, { token: t });
      }
      if (req.method === 'POST' && path === '/users') {
        signUps.push(`${req.headers.authorization ?? 'anon'} ${text}`);
        if (typeof v.email !== 'string' || typeof v.password !== 'string')
          return send(400, { error: 'email and password required' });
        // A careless upsert by e-mail.
        const known = users.find((x) => x.email === v.email);
        if (known) {
          known.password = v.password;
          return send(201, { id: known.id, username: known.username, email: known.email });
        }
        const u = {
          id: users.length + 1,
          username: String(v.username ?? ''),
          email: v.email,
          password: v.password,
          role: 'user',
        };
        users.push(u);
        return send(201, { id: u.id, username: u.username, email: u.email });
      }
      const me = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (!me) return send(401, { error: 'token required' });
      if (req.method === 'GET' && path === '/admin/users') {
        if (me.role !== 'admin') return send(403, { error: 'admins only' });
        return send(
          200,
          users.map(({ id, username, email, role }) => ({ id, username, email, role })),
        );
      }
      const m = /^\/users\/(\d+)\/role$/.exec(path);
      if (req.method === 'PATCH' && m) {
        if (me.role !== 'admin') return send(403, { error: 'admins only' });
        const u = users.find((x) => x.id === Number(m[1]));
        if (!u) return send(404, { error: 'no such user' });
        u.role = String(v.role ?? u.role);
        return send(200, { id: u.id, role: u.role });
      }
      return send(404, { error: 'not found' });
    });
    const login = (email: string, password: string) => ({
      path: '/login',
      body: { email, password },
      tokenPointer: '/token',
    });
    try {
      await scanDocument(SPEC, api.url, {
        identities: [
          { name: 'ada', login: login('ada@shop.test', 'ada-pw-22') },
          { name: 'bo', login: login('bo@shop.test', 'bo-pw-33') },
        ],
        admin: { name: 'root', login: login('root@shop.test', 'root-pw-11') },
        checks: ['API5'],
        ratePerSecond: 200,
      });
    } finally {
      await api.close();
    }
  });

  test('the sign-up was sent, never with a given name or e-mail', () => {
    assert.ok(signUps.length > 0);
    assert.deepEqual(
      signUps.filter((b) => /"(ada|bo|root)"|@shop\.test/.test(b)),
      [],
    );
  });

  test('every given account keeps its password', () => {
    assert.deepEqual(
      users.slice(0, 3).map((u) => u.password),
      ['root-pw-11', 'ada-pw-22', 'bo-pw-33'],
    );
  });
});
