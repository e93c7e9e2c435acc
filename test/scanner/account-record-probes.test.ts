import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { scanTwins } from './twins.ts';

/**
 * A recipe club in an Express style: sign-up at `POST /api/auth/register {username, email, password}`, login at
 * `POST /api/auth/login {email, password}` (an opaque bearer token), `GET /api/users/me`, and the member's own
 * account at `GET/PATCH /api/users/{id}` (others get 403). The PATCH body schema is a bare `type: object`: its
 * fields are named only in the description. The PATCH takes a partial update of username, email, password and
 * bio on both twins (an e-mail change is the member's right); the vulnerable twin also stores `role`.
 * The scan must never change alice's or bob's login name, login e-mail, password or role through their own
 * accounts, and must find the stored role on an account of its own.
 */
const USER = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    username: { type: 'string' },
    email: { type: 'string' },
    role: { type: 'string' },
    bio: { type: 'string', nullable: true },
    created_at: { type: 'string' },
  },
};
const CREDENTIALS = {
  type: 'object',
  required: ['email', 'password'],
  properties: { email: { type: 'string', format: 'email' }, password: { type: 'string' } },
};
const ok = (schema: unknown) => ({
  '200': { description: 'ok', content: { 'application/json': { schema } } },
});
const ID = [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'recipe club', version: '2.1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/auth/register': {
      post: {
        operationId: 'register',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['username', 'email', 'password'],
                properties: {
                  username: { type: 'string' },
                  email: { type: 'string', format: 'email' },
                  password: { type: 'string' },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'created', content: { 'application/json': { schema: USER } } } },
      },
    },
    '/api/auth/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: { required: true, content: { 'application/json': { schema: CREDENTIALS } } },
        responses: ok({ type: 'object', properties: { token: { type: 'string' }, user: USER } }),
      },
    },
    '/api/users/me': { get: { operationId: 'me', responses: ok(USER) } },
    '/api/users/{id}': {
      get: { operationId: 'get_user', parameters: ID, responses: ok(USER) },
      patch: {
        operationId: 'update_user',
        description: 'Update your account: any of username, email, password and bio.',
        parameters: ID,
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
        responses: ok(USER),
      },
    },
  },
};

interface Account {
  id: number;
  username: string;
  email: string;
  password: string;
  role: string;
  bio: string | null;
  created_at: string;
}
interface Club {
  readonly url: string;
  readonly server: Server;
  readonly users: Map<number, Account>;
  /** Every PATCH: its path and body. */
  readonly patches: { path: string; body: Record<string, unknown> }[];
}

async function startClub(fixed: boolean): Promise<Club> {
  const users = new Map<number, Account>();
  const add = (username: string, email: string, password: string) => {
    const id = users.size + 1;
    users.set(id, { id, username, email, password, role: 'member', bio: null, created_at: '2026-01-02' });
    return users.get(id)!;
  };
  add('alice', 'alice@example.com', 'Alice-pw-1');
  add('bob', 'bob@example.com', 'Bob-pw-1');
  const tokens = new Map<string, number>();
  const patches: Club['patches'] = [];
  const view = ({ password: _p, ...u }: Account) => u;
  const api = await startServer((req, res) => {
    const send = (status: number, body: unknown) => sendJson(res, status, body);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      let body: Record<string, unknown> = {};
      try {
        const parsed = JSON.parse(Buffer.concat(chunks).toString() || '{}');
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed;
      } catch {
        return send(400, { error: 'invalid JSON' });
      }
      if (req.method === 'POST' && path === '/api/auth/register') {
        const { username, email, password } = body;
        if (typeof username !== 'string' || typeof email !== 'string' || typeof password !== 'string')
          return send(400, { error: 'username, email and password are required' });
        if ([...users.values()].some((u) => u.email === email || u.username === username))
          return send(409, { error: 'already registered' });
        return send(201, view(add(username, email, password)));
      }
      if (req.method === 'POST' && path === '/api/auth/login') {
        const user = [...users.values()].find((u) => u.email === body.email && u.password === body.password);
        if (!user) return send(401, { error: 'invalid credentials' });
        const token = randomBytes(16).toString('hex');
        tokens.set(token, user.id);
        return send(200, { token, user: view(user) });
      }
      const caller = users.get(tokens.get(String(req.headers.authorization).replace(/^Bearer /, '')) ?? 0);
      if (!caller) return send(401, { error: 'unauthorized' });
      if (req.method === 'GET' && path === '/api/users/me') return send(200, view(caller));
      const m = /^\/api\/users\/(\d+)$/.exec(path);
      if (!m) return send(404, { error: 'not found' });
      const user = users.get(Number(m[1]));
      if (!user) return send(404, { error: 'user not found' });
      if (user.id !== caller.id) return send(403, { error: 'forbidden' });
      if (req.method === 'GET') return send(200, view(user));
      if (req.method !== 'PATCH') return send(405, { error: 'method not allowed' });
      patches.push({ path, body });
      const fields = fixed
        ? ['username', 'email', 'password', 'bio']
        : ['username', 'email', 'password', 'bio', 'role'];
      for (const k of fields) {
        const v = body[k];
        if (typeof v === 'string' || (k === 'bio' && v === null))
          (user as unknown as Record<string, unknown>)[k] = v;
      }
      return send(200, view(user));
    });
  });
  return { url: api.url, server: api.server, users, patches };
}

const GIVEN = [
  { id: 1, username: 'alice', email: 'alice@example.com', password: 'Alice-pw-1', role: 'member' },
  { id: 2, username: 'bob', email: 'bob@example.com', password: 'Bob-pw-1', role: 'member' },
];

describe("API3 on account records: the given identities' logins untouched, the flaw found on the scan's own", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Club }>;
  before(async () => {
    const scans = await scanTwins(SPEC, startClub, {
      identities: GIVEN.map((g) => ({
        name: g.username,
        login: { path: '/api/auth/login', body: { email: g.email, password: g.password } },
      })),
      ratePerSecond: 400,
    });
    Object.assign(runs, scans);
  });

  test("alice's and bob's user names, e-mails, passwords and roles are unchanged, and never sent changed", () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { users, patches } = runs[kind].api;
      for (const g of GIVEN) {
        const u = users.get(g.id)!;
        assert.deepEqual(
          { id: u.id, username: u.username, email: u.email, password: u.password, role: u.role },
          g,
          `${kind}: ${g.username}`,
        );
        for (const p of patches.filter((x) => x.path === `/api/users/${g.id}`)) {
          for (const k of ['username', 'email', 'password', 'role'] as const)
            assert.ok(
              !(k in p.body) || p.body[k] === g[k],
              `${kind}: a PATCH of ${g.username}'s account sent ${k}=${JSON.stringify(p.body[k])}`,
            );
        }
      }
    }
  });

  test("the stored role is found on the scan's own account", () => {
    const found = runs.vulnerable.result.findings.filter((f) => f.rule.id === 'scan/api3-mass-assignment');
    assert.deepEqual(
      found.map((f) => f.operation?.operationId),
      ['update_user'],
      found.map((f) => f.message).join('\n'),
    );
    const evidence = found[0].evidence as Record<string, unknown>;
    assert.match(String(evidence.identity), /^pc/);
    assert.match(found[0].message, /role/);
    // The scan's account was probed at its own record.
    const scanIds = [...runs.vulnerable.api.users.values()]
      .filter((u) => u.username.startsWith('pc'))
      .map((u) => u.id);
    assert.ok(runs.vulnerable.api.patches.some((p) => scanIds.some((id) => p.path === `/api/users/${id}`)));
  });

  test('the fixed twin: no mass assignment', () => {
    const found = runs.fixed.result.findings.filter((f) => /api3-mass/.test(f.rule.id));
    assert.deepEqual(
      found.map((f) => f.message),
      [],
    );
  });
});
