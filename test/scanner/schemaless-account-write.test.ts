import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { scanTwins } from './twins.ts';

/**
 * A knitting circle in an Express-with-MySQL style: sign-up `POST /api/auth/register {username, email,
 * password}`, login `POST /api/auth/login {email, password}` (a bearer token), `GET /api/users/{id}` (the caller's
 * own record only) and `PATCH /api/users/{id}` whose body schema is a bare `type: object` (the fields are named
 * only in its description). The handler sets username, email and bio together (`UPDATE ... SET username=?,
 * email=?, bio=?`): a body without all three is a 500. Vulnerable: the PATCH checks no owner, so any member
 * rewrites anyone's account. Fixed twin: 403 for another member's account.
 */
const USER = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    username: { type: 'string' },
    email: { type: 'string' },
    bio: { type: 'string', nullable: true },
    created_at: { type: 'string' },
  },
};
const ok = (schema: unknown) => ({
  '200': { description: 'ok', content: { 'application/json': { schema } } },
});
const ID = [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'knitting circle', version: '1.4' },
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
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email', 'password'],
                properties: { email: { type: 'string', format: 'email' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: ok({ type: 'object', properties: { token: { type: 'string' }, id: { type: 'integer' } } }),
      },
    },
    '/api/users/{id}': {
      get: { operationId: 'get_user', parameters: ID, responses: ok(USER) },
      patch: {
        operationId: 'update_user',
        description: 'Update a profile: username, email and bio.',
        parameters: ID,
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
        responses: ok(USER),
      },
    },
  },
};

interface Member {
  id: number;
  username: string;
  email: string;
  password: string;
  bio: string | null;
  created_at: string;
}
interface Circle {
  readonly url: string;
  readonly server: Server;
  readonly users: Map<number, Member>;
}

async function startCircle(fixed: boolean): Promise<Circle> {
  const users = new Map<number, Member>();
  const add = (username: string, email: string, password: string) => {
    const id = users.size + 1;
    users.set(id, { id, username, email, password, bio: null, created_at: '2026-03-04' });
    return users.get(id)!;
  };
  add('alice', 'alice@example.com', 'Alice-pw-1');
  add('bob', 'bob@example.com', 'Bob-pw-1');
  const tokens = new Map<string, number>();
  const view = ({ password: _p, ...u }: Member) => u;
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
        return send(200, { token, id: user.id });
      }
      const caller = users.get(tokens.get(String(req.headers.authorization).replace(/^Bearer /, '')) ?? 0);
      if (!caller) return send(401, { error: 'unauthorized' });
      const m = /^\/api\/users\/(\d+)$/.exec(path);
      if (!m) return send(404, { error: 'not found' });
      const user = users.get(Number(m[1]));
      if (!user) return send(404, { error: 'user not found' });
      if (req.method === 'GET')
        return user.id === caller.id ? send(200, view(user)) : send(403, { error: 'forbidden' });
      if (req.method !== 'PATCH') return send(405, { error: 'method not allowed' });
      if (fixed && user.id !== caller.id) return send(403, { error: 'forbidden' });
      const { username, email, bio } = body;
      if (typeof username !== 'string' || typeof email !== 'string' || bio === undefined)
        return send(500, { error: "Column 'bio' cannot be null" });
      Object.assign(user, { username, email, bio });
      return send(200, view(user));
    });
  });
  return { url: api.url, server: api.server, users };
}

const GIVEN = [
  { id: 1, username: 'alice', email: 'alice@example.com', password: 'Alice-pw-1', bio: null },
  { id: 2, username: 'bob', email: 'bob@example.com', password: 'Bob-pw-1', bio: null },
];

describe('API1 write on an account update whose body schema names no field', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Circle }>;
  before(async () => {
    Object.assign(
      runs,
      await scanTwins(SPEC, startCircle, {
        identities: GIVEN.map((g) => ({
          name: g.username,
          login: { path: '/api/auth/login', body: { email: g.email, password: g.password } },
        })),
        checks: ['API1'],
        ratePerSecond: 400,
      }),
    );
  });

  test("B rewriting the scan's own account is found, judged by reading it back", () => {
    const found = runs.vulnerable.result.findings.filter((f) => f.rule.id === 'scan/api1-bola-write');
    assert.deepEqual(
      found.map((f) => f.operation?.operationId),
      ['update_user'],
      runs.vulnerable.result.findings.map((f) => `${f.rule.id} ${f.message}`).join('\n'),
    );
    assert.match(found[0].message, /registered by the scan/);
    // The victim's account still signs in as it did: only its bio carries the marker.
    const victim = [...runs.vulnerable.api.users.values()].find((u) => /^pcbola/.test(String(u.bio)));
    assert.ok(victim && /^pc/.test(victim.username) && victim.email.startsWith(victim.username));
  });

  test('the given identities are untouched', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      for (const g of GIVEN) {
        const u = runs[kind].api.users.get(g.id)!;
        assert.deepEqual(
          { id: u.id, username: u.username, email: u.email, password: u.password, bio: u.bio },
          g,
        );
      }
  });

  test('the fixed twin: no finding', () => {
    assert.deepEqual(
      runs.fixed.result.findings.map((f) => `${f.rule.id} ${f.message}`),
      [],
    );
  });
});
