import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A Gin-style tool library: Bearer tokens from `POST /api/login`, a password reset that takes the new password
 * with the e-mail (`POST /api/password/reset {email, new_password}`, documented before the sign-up), a sign-up
 * `POST /api/signup {username, email, password}`, and a role change `PATCH /api/admin/users/{id}/role`.
 *
 * Vulnerable: any member may change any account's role (API5). Fixed twin: members get 403 there.
 * The reset is no sign-up: API5 registers its account through `/api/signup` and never sends the reset
 * (before, it took the reset for the sign-up, got 404 for an e-mail nobody has, and tested nothing).
 */
const str = { type: 'string' };
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'tool library', version: '1.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/password/reset': {
      post: {
        operationId: 'resetPassword',
        security: [],
        requestBody: json({ email: { type: 'string', format: 'email' }, new_password: str }, [
          'email',
          'new_password',
        ]),
        responses: { '200': { description: 'reset' }, '404': { description: 'no such account' } },
      },
    },
    '/api/signup': {
      post: {
        operationId: 'signup',
        security: [],
        requestBody: json({ username: str, email: { type: 'string', format: 'email' }, password: str }, [
          'username',
          'email',
          'password',
        ]),
        responses: { '201': { description: 'created' } },
      },
    },
    '/api/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: json({ username: str, password: str }, ['username', 'password']),
        responses: { '200': { description: 'token' } },
      },
    },
    '/api/admin/users': {
      get: { operationId: 'listUsers', responses: { '200': { description: 'users' } } },
    },
    '/api/admin/users/{id}/role': {
      patch: {
        operationId: 'setRole',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        requestBody: json({ role: { type: 'string', enum: ['member', 'admin'] } }, ['role']),
        responses: { '200': { description: 'changed' } },
      },
    },
  },
};

interface Member {
  id: number;
  username: string;
  email: string;
  password: string;
  role: string;
}

const SEED: readonly Member[] = [
  { id: 1, username: 'keeper', email: 'keeper@tools.example', password: 'Keep-3391-lib', role: 'admin' },
  { id: 2, username: 'wren', email: 'wren@tools.example', password: 'Wren-7712-lib', role: 'member' },
  { id: 3, username: 'yusuf', email: 'yusuf@tools.example', password: 'Yusuf-5521-lib', role: 'member' },
];

function startLibrary(fixed: boolean) {
  const members = SEED.map((m) => ({ ...m }));
  const tokens = new Map<string, Member>();
  const resets: string[] = [];
  const server = startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, payload: unknown) => sendJson(res, status, payload, GUARDED_JSON);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    } catch {
      return send(400, { error: 'invalid JSON' });
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/password/reset') {
      resets.push(String(body.email));
      const m = members.find((x) => x.email === body.email);
      if (!m) return send(404, { error: 'no such account' });
      return send(200, { message: 'a confirmation link was sent' });
    }
    if (req.method === 'POST' && path === '/api/signup') {
      const { username, email, password } = body;
      if (typeof username !== 'string' || typeof email !== 'string' || typeof password !== 'string')
        return send(400, { error: 'username, email and password are required' });
      if (members.some((m) => m.username === username || m.email === email))
        return send(409, { error: 'taken' });
      if (members.length > 200) return send(429, { error: 'too many' });
      const m = { id: members.length + 1, username, email, password, role: 'member' };
      members.push(m);
      return send(201, { id: m.id, username: m.username });
    }
    if (req.method === 'POST' && path === '/api/login') {
      const m = members.find((x) => x.username === body.username && x.password === body.password);
      if (!m) return send(401, { error: 'invalid credentials' });
      const token = `tl.${m.id}.${Math.random().toString(36).slice(2, 12)}`;
      if (tokens.size < 2000) tokens.set(token, m);
      return send(200, { token });
    }
    const me = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!me) return send(401, { error: 'unauthorized' });
    if (req.method === 'GET' && path === '/api/admin/users') {
      if (me.role !== 'admin') return send(403, { error: 'admins only' });
      return send(
        200,
        members.map((m) => ({ id: m.id, username: m.username, role: m.role })),
      );
    }
    const role = /^\/api\/admin\/users\/(\d+)\/role$/.exec(path);
    if (req.method === 'PATCH' && role) {
      if (fixed && me.role !== 'admin') return send(403, { error: 'admins only' });
      const m = members.find((x) => x.id === Number(role[1]));
      if (!m) return send(404, { error: 'no such member' });
      if (body.role !== 'member' && body.role !== 'admin') return send(400, { error: 'bad role' });
      m.role = body.role;
      return send(200, { id: m.id, role: m.role });
    }
    return send(404, { error: 'not found' });
  });
  return server.then((s) => Object.assign(s, { members, resets }));
}

describe('a password reset that takes the new password is no sign-up', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const resets = {} as Record<'vulnerable' | 'fixed', string[]>;
  const seeded = {} as Record<'vulnerable' | 'fixed', Member[]>;
  before(async () => {
    const login = (m: Member) => ({
      name: m.username,
      login: { path: '/api/login', body: { username: m.username, password: m.password } },
    });
    const scans = await scanTwins(SPEC, startLibrary, {
      identities: [login(SEED[1]), login(SEED[2])],
      admin: login(SEED[0]),
      checks: ['API5'],
      ratePerSecond: 200,
    });
    for (const kind of ['vulnerable', 'fixed'] as const) {
      runs[kind] = scans[kind].result;
      resets[kind] = scans[kind].api.resets;
      seeded[kind] = scans[kind].api.members.slice(0, 3);
    }
  });

  test("a member changes the role of the scan's own account, registered through the sign-up: API5", () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api5-bfla' && x.operation?.operationId === 'setRole',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /on an account the scan registered \(pcf[0-9a-f]+\)/);
  });

  test('API5 never sends the reset, and the given accounts keep their roles', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      assert.deepEqual(resets[kind], [], kind);
      assert.deepEqual(
        seeded[kind].map((m) => `${m.username}:${m.role}`),
        ['keeper:admin', 'wren:member', 'yusuf:member'],
      );
    }
  });

  test('the fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
