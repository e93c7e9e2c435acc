import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * An Express-style reading circle: logins by user name (`POST /api/auth/login {username, password}` answering
 * `{token}`), a sign-up (`POST /api/auth/register {username, email, password}`), the caller's own record at
 * `GET /api/me` (which shows the caller's e-mail), and a forgot-password request (`POST /api/auth/password/forgot {email}`) that would mail a reset
 * link to the account. The server records every e-mail address a reset was asked for.
 *
 * Vulnerable: the reset answers an unknown address `404 {"error": "No account uses that e-mail"}` and a known one
 * `200 {"message": "Reset link sent"}` (user enumeration). Fixed twin: `200` with the same text for both. The
 * `closed` variant has no sign-up (the route is neither documented nor served).
 */
const str = { type: 'string' } as const;
const json = (properties: Record<string, object>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties, required } } },
});
const answer = {
  '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } },
};

function spec(withSignup: boolean) {
  return {
    openapi: '3.0.3',
    info: { title: 'reading circle', version: '1.2.0' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      '/api/auth/login': {
        post: {
          operationId: 'login',
          security: [],
          requestBody: json({ username: str, password: str }, ['username', 'password']),
          responses: answer,
        },
      },
      ...(withSignup
        ? {
            '/api/auth/register': {
              post: {
                operationId: 'register',
                security: [],
                requestBody: json(
                  { username: str, email: { type: 'string', format: 'email' }, password: str },
                  ['username', 'email', 'password'],
                ),
                responses: { '201': answer['200'] },
              },
            },
          }
        : {}),
      '/api/auth/password/forgot': {
        post: {
          operationId: 'forgotPassword',
          security: [],
          requestBody: json(
            { email: { type: 'string', format: 'email', example: 'reader@circle.example' } },
            ['email'],
          ),
          responses: answer,
        },
      },
      '/api/me': { get: { operationId: 'readMe', responses: answer } },
    },
  };
}

interface Member {
  id: number;
  username: string;
  email: string;
  password: string;
}

const SEED: Member[] = [
  { id: 1, username: 'alice', email: 'alice@circle.example', password: 'Alice-4471-rc' },
  { id: 2, username: 'bob', email: 'bob@circle.example', password: 'Bob-8830-rc' },
];

async function startCircle(fixed: boolean, withSignup: boolean) {
  const members = SEED.map((m) => ({ ...m }));
  const tokens = new Map<string, Member>();
  /** Every address a reset was asked for, in order. */
  const resets: unknown[] = [];
  let nextId = 10;
  const server = await startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Record<string, unknown> = {};
    try {
      body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
    } catch {
      return send(400, { error: 'Malformed JSON' });
    }
    if (body === null || typeof body !== 'object') body = {};
    const path = (req.url ?? '/').split('?')[0];
    const caller = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (req.method === 'POST' && path === '/api/auth/login') {
      const m = members.find((x) => x.username === body.username && x.password === body.password);
      if (!m) return send(401, { error: 'Invalid user name or password' });
      const token = randomBytes(16).toString('hex');
      tokens.set(token, m);
      return send(200, { token });
    }
    if (req.method === 'POST' && path === '/api/auth/register' && withSignup) {
      const { username, email, password } = body;
      if (typeof username !== 'string' || typeof email !== 'string' || typeof password !== 'string')
        return send(400, { error: 'username, email and password are required' });
      if (members.some((x) => x.username === username || x.email === email))
        return send(409, { error: 'Already registered' });
      const m = { id: nextId++, username, email, password };
      members.push(m);
      return send(201, { id: m.id, username });
    }
    if (req.method === 'POST' && path === '/api/auth/password/forgot') {
      resets.push(body.email);
      const known = members.some((x) => x.email === body.email);
      if (fixed || known) return send(200, { message: 'If the account exists, a reset link was sent' });
      return send(404, { error: 'No account uses that e-mail' });
    }
    if (req.method === 'GET' && path === '/api/me') {
      if (!caller) return send(401, { error: 'Sign in first' });
      return send(200, { id: caller.id, username: caller.username, email: caller.email });
    }
    return send(404, { error: 'Not found' });
  });
  return { ...server, members, resets };
}

describe('password reset enumeration names only an account of the scan own', () => {
  const runs: Record<string, { result: ScanResult; resets: unknown[] }> = {};
  before(async () => {
    const identity = (m: Member) => ({
      name: m.username,
      login: { path: '/api/auth/login', body: { username: m.username, password: m.password } },
    });
    for (const [kind, fixed, withSignup] of [
      ['vulnerable', false, true],
      ['fixed', true, true],
      ['closed', false, false],
    ] as const) {
      const api = await startCircle(fixed, withSignup);
      try {
        const result = await scanDocument(spec(withSignup), api.url, {
          identities: [identity(SEED[0]), identity(SEED[1])],
          ratePerSecond: 300,
        });
        runs[kind] = { result, resets: api.resets };
      } finally {
        await api.close();
      }
    }
  });

  const enumeration = (r: ScanResult) =>
    r.findings.filter(
      (f) => f.rule.id === 'scan/api2-user-enumeration' && f.operation?.operationId === 'forgotPassword',
    );

  test('after a plain scan, no reset request named a given identity', () => {
    for (const kind of ['vulnerable', 'fixed', 'closed']) {
      const named = runs[kind].resets.filter((e) => SEED.some((m) => m.email === e || m.username === e));
      assert.deepEqual(named, [], `${kind}: resets asked for ${JSON.stringify(runs[kind].resets)}`);
    }
  });

  test('the enumeration is found with an account the scan registered, and not on the fixed twin', () => {
    const found = enumeration(runs.vulnerable.result);
    assert.equal(found.length, 1, JSON.stringify(runs.vulnerable.resets));
    assert.match(found[0].message, /account the scan registered, pc\w+/);
    assert.ok(
      runs.vulnerable.resets.some((e) => typeof e === 'string' && /^pc\w+@example\.com$/.test(e)),
      JSON.stringify(runs.vulnerable.resets),
    );
    assert.deepEqual(enumeration(runs.fixed.result), []);
  });

  test('without a sign-up nothing is sent for an identity, and the report says the reset was not judged', () => {
    assert.deepEqual(enumeration(runs.closed.result), []);
    const api2 = runs.closed.result.coverage.checks.find((c) => c.check === 'API2');
    const reasons = (api2?.untestedRules ?? []).map((u) => u.reason).join(' | ');
    const cell = runs.closed.result.coverage.matrix.find(
      (c) => c.check === 'API2' && c.operation === 'POST /api/auth/password/forgot',
    );
    assert.match(
      `${reasons} | ${cell?.reason ?? ''} | ${(cell?.notes ?? []).join(' | ')}`,
      /real reset message/,
    );
  });
});
