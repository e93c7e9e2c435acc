import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A hotel concierge API in a NestJS style (`{"statusCode", "message"}` errors, camelCase): guests register at
 * `POST /api/v2/auth/register {email, password, fullName}` and sign in at `POST /api/v2/auth/login {email,
 * password}` (`{accessToken}`), and read their own record at `GET /api/v2/me`. The document lists v2 only; the
 * mobile app of last year still signs in at `POST /api/v1/auth/login`, which the server keeps.
 *
 * Vulnerable: v2 answers 429 after five failed logins for one e-mail, v1 never limits anything. Fixed twin: both
 * versions share the limit. Both refuse passwords under ten characters and answer every failed login alike.
 */
const answer = {
  '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } },
};
const body = (properties: Record<string, object>) => ({
  required: true,
  content: {
    'application/json': {
      schema: { type: 'object', properties, required: Object.keys(properties) },
    },
  },
});
const str = { type: 'string' };
const SPEC = {
  openapi: '3.0.0',
  info: { title: 'concierge', version: '2.0.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/v2/auth/register': {
      post: {
        operationId: 'register',
        security: [],
        requestBody: body({ email: { type: 'string', format: 'email' }, password: str, fullName: str }),
        responses: { '201': answer['200'] },
      },
    },
    '/api/v2/auth/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: body({ email: { type: 'string', format: 'email' }, password: str }),
        responses: answer,
      },
    },
    '/api/v2/me': { get: { operationId: 'me', responses: answer } },
  },
};

interface Guest {
  id: number;
  email: string;
  password: string;
  fullName: string;
}

async function startConcierge(fixed: boolean) {
  const guests: Guest[] = [
    { id: 1, email: 'ada@hotel.example', password: 'Ada-suite-4410', fullName: 'Ada Vos' },
    { id: 2, email: 'ben@hotel.example', password: 'Ben-suite-9921', fullName: 'Ben Hol' },
  ];
  const tokens = new Map<string, Guest>();
  const failures = new Map<string, number>();
  let nextId = 50;
  const error = (res: Parameters<typeof sendJson>[0], statusCode: number, message: string) =>
    sendJson(res, statusCode, { statusCode, message });
  return startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/v2/auth/register') {
      const b = (await readJson(req)) ?? {};
      if (typeof b.email !== 'string' || typeof b.password !== 'string' || typeof b.fullName !== 'string')
        return error(res, 400, 'email, password and fullName are required');
      if (b.password.length < 10) return error(res, 400, 'password too short');
      if (guests.some((g) => g.email === b.email)) return error(res, 400, 'could not register');
      const g = { id: nextId++, email: b.email, password: b.password, fullName: b.fullName };
      guests.push(g);
      return sendJson(res, 201, { id: g.id, email: g.email });
    }
    if (req.method === 'POST' && (path === '/api/v2/auth/login' || path === '/api/v1/auth/login')) {
      const b = (await readJson(req)) ?? {};
      const key = String(b.email);
      const limited = fixed || path === '/api/v2/auth/login';
      if (limited && (failures.get(key) ?? 0) >= 5) return error(res, 429, 'Too many attempts');
      const g = guests.find((x) => x.email === b.email && x.password === b.password);
      if (!g) {
        failures.set(key, (failures.get(key) ?? 0) + 1);
        return error(res, 401, 'Invalid credentials');
      }
      const token = randomBytes(16).toString('hex');
      tokens.set(token, g);
      return sendJson(res, 200, { accessToken: token });
    }
    if (req.method === 'GET' && path === '/api/v2/me') {
      const g = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (!g) return error(res, 401, 'Unauthorized');
      return sendJson(res, 200, { id: g.id, email: g.email, fullName: g.fullName });
    }
    return error(res, 404, `Cannot ${req.method} ${path}`);
  });
}

describe('an older login beside the documented one, without its limit', () => {
  let scans: Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startConcierge>>>>>;
  before(async () => {
    const identity = (email: string, password: string) => ({
      name: email.split('@')[0],
      login: { path: '/api/v2/auth/login', body: { email, password } },
    });
    scans = await scanTwins(SPEC, startConcierge, {
      identities: [
        identity('ada@hotel.example', 'Ada-suite-4410'),
        identity('ben@hotel.example', 'Ben-suite-9921'),
      ],
      checks: ['API2'],
      ratePerSecond: 300,
    });
  });

  test('the vulnerable twin: no brute-force protection at /api/v1/auth/login, none reported at v2', () => {
    const all = scans.vulnerable.result.findings.map((f) => `${f.rule.id} ${f.message}`).join('\n');
    const brute = scans.vulnerable.result.findings.filter(
      (f) => f.rule.id === 'scan/api2-no-brute-force-protection',
    );
    assert.equal(brute.length, 1, all);
    assert.equal(brute[0].operation?.operationId, 'login');
    assert.match(brute[0].message, /at \/api\/v1\/auth\/login/);
  });

  test('the fixed twin: no finding at all', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
