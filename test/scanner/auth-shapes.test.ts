import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A user API in the style of small Express tutorials: `POST /users` registers, `POST /users/token` returns
 * `{jwt, user}`, a front-end login takes `GET /login?email=&password=` and redirects to the profile, and
 * `POST /users/{id}/validate-otp?token=` checks a one-time code; `GET /users/{id}` shows a user to itself (so
 * the scan can show the id its sign-up answered is its own account's: the code is guessed only for that id).
 *
 * Vulnerable: tokens are HS256 with the secret `SuperSecret`, the front-end login signs in from the query
 * string, and the code may be guessed without limit. Fixed twin: tokens are signed with a random 32-byte key,
 * the front-end login refuses credentials in the URL, and the login and the code lock after five failures.
 */
const str = { type: 'string' } as const;
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const USER = { type: 'object', properties: { name: str, email: str, password: str } };
const LOGIN = { type: 'object', required: ['email', 'password'], properties: { email: str, password: str } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'users', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/users': {
      post: {
        operationId: 'createUser',
        requestBody: json(USER),
        responses: { '200': { description: 'created' } },
      },
    },
    '/users/token': {
      post: {
        operationId: 'token',
        requestBody: json(LOGIN),
        responses: { '200': { description: 'a token' } },
      },
    },
    '/login': {
      get: {
        operationId: 'formLogin',
        parameters: [
          { name: 'email', in: 'query', required: true, schema: str },
          { name: 'password', in: 'query', required: true, schema: str },
        ],
        responses: { '302': { description: 'to the profile' } },
      },
    },
    '/users/{id}': {
      get: {
        operationId: 'getUser',
        security: [{ bearer: [] }],
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'the user' }, '403': { description: 'not yours' } },
      },
    },
    '/users/{id}/validate-otp': {
      post: {
        operationId: 'validateOtp',
        parameters: [
          { name: 'id', in: 'path', required: true, schema: { type: 'integer' } },
          { name: 'token', in: 'query', required: true, schema: str },
        ],
        responses: { '200': { description: 'a token' }, '401': { description: 'wrong code' } },
      },
    },
  },
};

function hs256(secret: Buffer | string, payload: object): string {
  const enc = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

async function startUsers(fixed: boolean): Promise<{ url: string; server: Server }> {
  const secret = fixed ? randomBytes(32) : 'SuperSecret';
  const users = [
    { id: 1, email: 'alice@example.com', password: 'pw-alice-1', name: 'alice' },
    { id: 2, email: 'bob@example.com', password: 'pw-bob-1', name: 'bob' },
  ];
  const failures = new Map<string, number>();
  /** The fixed twin locks a key after five failures. */
  const locked = (key: string) => fixed && (failures.get(key) ?? 0) >= 5;
  const fail = (key: string) => failures.set(key, (failures.get(key) ?? 0) + 1);
  return startServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(payload));
      };
      let body: Record<string, unknown> = {};
      try {
        body = raw ? JSON.parse(raw) : {};
      } catch {
        return send(400, { error: 'bad json' });
      }
      if (req.method === 'POST' && url.pathname === '/users') {
        const { email, password, name } = body;
        if (typeof email !== 'string' || typeof password !== 'string') return send(400, { error: 'missing' });
        if (fixed && password.length < 8) return send(400, { error: 'password too short' });
        if (users.some((u) => u.email === email)) return send(409, { error: 'taken' });
        const user = { id: users.length + 1, email, password, name: String(name ?? '') };
        users.push(user);
        return send(200, { id: user.id, email, name: user.name });
      }
      if (req.method === 'POST' && url.pathname === '/users/token') {
        const user = users.find((u) => u.email === body.email);
        if (locked(String(body.email))) return send(429, { error: 'too many attempts' });
        if (!user || user.password !== body.password) {
          fail(String(body.email));
          return send(401, { error: 'wrong email or password' });
        }
        return send(200, { jwt: hs256(secret, { id: user.id, iat: Math.floor(Date.now() / 1000) }) });
      }
      if (req.method === 'GET' && url.pathname === '/login') {
        if (fixed) return send(400, { error: 'sign in with POST /users/token' });
        const user = users.find((u) => u.email === url.searchParams.get('email'));
        const right = user !== undefined && user.password === url.searchParams.get('password');
        res.writeHead(302, { location: right ? `/profile?id=${user.id}` : '/?message=wrong password' });
        return res.end();
      }
      const item = /^\/users\/(\d+)$/.exec(url.pathname);
      if (req.method === 'GET' && item) {
        // Each user reads only itself: the scan's own account can show its id is its own.
        const jwt = (req.headers.authorization ?? '').replace(/^Bearer /, '');
        const [h, p, sig] = jwt.split('.');
        const good =
          sig !== undefined && hs256(secret, JSON.parse(Buffer.from(p, 'base64url').toString())) === jwt;
        const caller = good ? (JSON.parse(Buffer.from(p, 'base64url').toString()) as { id: number }).id : 0;
        if (!h || caller !== Number(item[1])) return send(403, { error: 'not yours' });
        const u = users.find((x) => x.id === caller);
        return u ? send(200, { id: u.id, email: u.email, name: u.name }) : send(404, { error: 'not found' });
      }
      const otp = /^\/users\/(\d+)\/validate-otp$/.exec(url.pathname);
      if (req.method === 'POST' && otp) {
        if (locked(`otp:${otp[1]}`)) return send(429, { error: 'too many attempts' });
        if (url.searchParams.get('token') === '493817') return send(200, { jwt: hs256(secret, { id: 1 }) });
        fail(`otp:${otp[1]}`);
        return send(401, { error: 'wrong code' });
      }
      send(404, { error: 'not found' });
    });
  });
}

describe('authentication shapes: credentials in URLs, a token-named OTP, a Pascal-case HMAC secret', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const RULES = [
    'scan/api2-credentials-in-url',
    'scan/api2-weak-hmac-secret',
    'scan/api2-no-brute-force-protection',
  ];
  before(async () => {
    const login = (name: string) => ({
      name,
      login: { path: '/users/token', body: { email: `${name}@example.com`, password: `pw-${name}-1` } },
    });
    const scans = await scanTwins(SPEC, startUsers, {
      identities: [login('alice'), login('bob')],
      checks: ['API2'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('a login from the query string is confirmed live, and the evidence holds no password', () => {
    const f = runs.vulnerable.findings.find((x) => x.rule.id === 'scan/api2-credentials-in-url');
    assert.equal(f?.operation?.operationId, 'formLogin');
    assert.doesNotMatch(JSON.stringify(f), /pw-alice-1/);
  });

  test('a guessable HS256 secret written in Pascal case is found', () => {
    assert.ok(runs.vulnerable.findings.some((x) => x.rule.id === 'scan/api2-weak-hmac-secret'));
  });

  test('a one-time code named token, on an OTP path, is guessed without limit', () => {
    const f = runs.vulnerable.findings.find(
      (x) =>
        x.rule.id === 'scan/api2-no-brute-force-protection' && x.operation?.operationId === 'validateOtp',
    );
    assert.match(f?.message ?? '', /wrong token values/);
  });

  test('the fixed twin has none of these findings', () => {
    assert.deepEqual(
      operationsFound(runs.fixed).filter((x) => RULES.includes(x.split(' ')[0])),
      [],
    );
  });
});
