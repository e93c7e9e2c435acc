import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runScan, type ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';

/**
 * A FastAPI-style account API: `POST /api/auth/login` takes `{email, password}` as JSON and answers
 * `{access_token, token_type}` (opaque hex tokens), `GET /api/auth/login_via_url?email=&password=` does the same
 * from the query string, `GET /api/users/me` reads the caller's record with `Authorization: Bearer`.
 * Vulnerable: both logins check only that the e-mail exists, any password signs in (an unknown e-mail gets
 * 401). Fixed twin: the password is checked; a failed login is refused in a 200 (`success: false`) that still
 * sets a fresh `sid` cookie, as some frameworks do (no credential); after 5 failures for one e-mail, wrong
 * passwords get 429 with Retry-After for a second; the URL login is gone (404). A third server is the fixed
 * twin without the lock: its refusals (200 with a cookie) are failed logins, so no brute-force protection.
 */
const USERS = { 'alice@example.com': 'Alice-pw-7731', 'bob@example.com': 'Bob-pw-2209' } as const;
const TOKEN_SCHEMA = {
  type: 'object',
  properties: { access_token: { type: 'string' }, token_type: { type: 'string' } },
};
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'accounts', version: '0.1.0' },
  components: { securitySchemes: { HTTPBearer: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/api/auth/login': {
      post: {
        operationId: 'login_api_auth_login_post',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email', 'password'],
                properties: { email: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: {
          '200': { description: 'ok', content: { 'application/json': { schema: TOKEN_SCHEMA } } },
        },
      },
    },
    '/api/auth/login_via_url': {
      get: {
        operationId: 'login_via_url_api_auth_login_via_url_get',
        parameters: [
          { name: 'email', in: 'query', required: true, schema: { type: 'string' } },
          { name: 'password', in: 'query', required: true, schema: { type: 'string' } },
        ],
        responses: {
          '200': { description: 'ok', content: { 'application/json': { schema: TOKEN_SCHEMA } } },
        },
      },
    },
    '/api/users/me': {
      get: {
        operationId: 'me_api_users_me_get',
        security: [{ HTTPBearer: [] }],
        responses: {
          '200': {
            description: 'me',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { id: { type: 'integer' }, email: { type: 'string' } },
                },
              },
            },
          },
        },
      },
    },
  },
};

async function startAccounts(fixed: boolean, lockout = true): Promise<TestServer> {
  const sessions = new Map<string, string>();
  const failures = new Map<string, { count: number; at: number }>();
  const body = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let data = '';
      req.on('data', (c) => {
        data += c;
      });
      req.on('end', () => resolve(data));
    });
  const server = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(value));
    };
    const login = (email: unknown, password: unknown) => {
      const known = typeof email === 'string' && Object.hasOwn(USERS, email);
      const right = known && USERS[email as keyof typeof USERS] === password;
      if (!fixed) {
        if (!known) return send(401, { detail: 'Incorrect email or password' });
      } else if (!right) {
        const f = failures.get(String(email)) ?? { count: 0, at: 0 };
        if (lockout && f.count >= 5 && Date.now() - f.at < 1000)
          return send(429, { detail: 'Too many attempts' }, { 'retry-after': '1' });
        failures.set(String(email), { count: f.count + 1, at: Date.now() });
        return send(
          200,
          { success: false, message: 'Incorrect email or password' },
          { 'set-cookie': `sid=${randomBytes(12).toString('hex')}; Path=/; HttpOnly` },
        );
      }
      const token = randomBytes(16).toString('hex');
      sessions.set(token, email as string);
      send(200, { access_token: token, token_type: 'bearer' });
    };
    if (url.pathname === '/api/auth/login' && req.method === 'POST') {
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(await body(req));
      } catch {
        return send(422, { detail: 'invalid body' });
      }
      return login(json.email, json.password);
    }
    if (url.pathname === '/api/auth/login_via_url' && req.method === 'GET' && !fixed)
      return login(url.searchParams.get('email'), url.searchParams.get('password'));
    if (url.pathname === '/api/users/me' && req.method === 'GET') {
      const who = sessions.get(String(req.headers.authorization).replace(/^Bearer /, ''));
      if (!who) return send(401, { detail: 'Not authenticated' });
      return send(200, { id: who.startsWith('alice') ? 1 : 2, email: who, plan: 'pro' });
    }
    send(404, { detail: 'Not Found' });
  });
  return server;
}

const MINE = ['scan/api2-wrong-password-accepted', 'scan/api2-credentials-in-url'];

describe('API2: a login that accepts any password, and credentials in the URL', () => {
  const results = {} as Record<'vulnerable' | 'fixed' | 'unlocked', ScanResult>;
  const aliceAfter = {} as Record<'vulnerable' | 'fixed' | 'unlocked', number>;
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'portcullis-wrongpw-'));
    const spec = path.join(dir, 'spec.json');
    await writeFile(spec, JSON.stringify(SPEC));
    for (const kind of ['vulnerable', 'fixed', 'unlocked'] as const) {
      const api = await startAccounts(kind !== 'vulnerable', kind !== 'unlocked');
      try {
        results[kind] = await runScan({
          spec,
          target: api.url,
          identities: Object.entries(USERS).map(([email, password]) => ({
            name: email.split('@')[0],
            login: { path: '/api/auth/login', body: { email, password } },
          })),
          checks: ['API2'],
          ratePerSecond: 200,
        });
        // Alice can still log in afterwards (past the fixed twin's one-second lock).
        await new Promise((r) => setTimeout(r, 1100));
        const res = await fetch(`${api.url}/api/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'alice@example.com', password: USERS['alice@example.com'] }),
        });
        const json = (await res.json()) as { access_token?: string };
        aliceAfter[kind] = typeof json.access_token === 'string' ? res.status : 0;
      } finally {
        await api.close();
      }
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const found = (r: ScanResult) =>
    r.findings
      .filter((f) => MINE.includes(f.rule.id))
      .map((f) => `${f.rule.id} ${f.operation?.operationId}`)
      .sort();

  test('reports the wrong password on both logins and the credentials in the URL', () => {
    assert.deepEqual(found(results.vulnerable), [
      'scan/api2-credentials-in-url login_via_url_api_auth_login_via_url_get',
      'scan/api2-wrong-password-accepted login_api_auth_login_post',
      'scan/api2-wrong-password-accepted login_via_url_api_auth_login_via_url_get',
    ]);
    const f = results.vulnerable.findings.find((x) => x.rule.id === 'scan/api2-wrong-password-accepted');
    assert.equal(f?.rule.severity, 'critical');
  });

  test('nothing on the fixed twin, whose refused logins set a fresh cookie', () => {
    assert.ok(results.fixed.stats.requests > 0);
    assert.deepEqual(
      results.fixed.findings.map((f) => `${f.rule.id} ${f.operation?.operationId}`),
      [],
    );
  });

  test('alice can still log in afterwards', () => {
    assert.deepEqual(aliceAfter, { vulnerable: 200, fixed: 200, unlocked: 200 });
  });

  test('a refusal in a 200 with a fresh cookie is a failed login: twelve of them without a lock are reported', () => {
    assert.deepEqual(
      results.unlocked.findings.map((f) => `${f.rule.id} ${f.operation?.operationId}`),
      ['scan/api2-no-brute-force-protection login_api_auth_login_post'],
    );
  });
});
