import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A sailing club's booking API in a Koa style (`{"error": {"code", "text"}}` errors, camelCase): members sign in at
 * `POST /api/v1/auth/signin {login, password}` and get an HS256 JWT (a random 32-byte key) under `data.jwt`; the
 * boats are at `GET /api/v1/boats`, the caller's own record at `GET /api/v1/me`. The install came with a
 * maintenance account, `superuser`, that nobody gave the scan.
 *
 * Vulnerable: `superuser` still has the password `secret`, and tokens live seven days. Fixed twin: `superuser`
 * has a long random password and tokens live fifteen minutes. Both answer 429 after five failed sign-ins for one
 * login name.
 */
const answer = {
  '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'regatta club', version: '1.0.0' },
  components: { securitySchemes: { jwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  security: [{ jwt: [] }],
  paths: {
    '/api/v1/auth/signin': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { login: { type: 'string' }, password: { type: 'string' } },
                required: ['login', 'password'],
              },
            },
          },
        },
        responses: answer,
      },
    },
    '/api/v1/boats': { get: { operationId: 'listBoats', responses: answer } },
    '/api/v1/me': { get: { operationId: 'me', responses: answer } },
  },
};

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function startClub(fixed: boolean) {
  const key = randomBytes(32);
  const members: Record<string, { id: number; password: string; role: string }> = {
    maren: { id: 1, password: 'Maren-jib-4410', role: 'member' },
    pieter: { id: 2, password: 'Pieter-keel-8823', role: 'member' },
    superuser: { id: 9, password: fixed ? randomBytes(18).toString('base64url') : 'secret', role: 'admin' },
  };
  const failures = new Map<string, number>();
  const lifetime = fixed ? 7 * 86_400 : 90 * 86_400;
  const sign = (claims: object) => {
    const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
    return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
  };
  const verify = (token: string): Record<string, unknown> | undefined => {
    const [h, p, sig] = token.split('.');
    if (!h || !p || !sig) return undefined;
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8') || '{}');
    if (header.alg !== 'HS256') return undefined;
    const want = createHmac('sha256', key).update(`${h}.${p}`).digest();
    const got = Buffer.from(sig, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    return typeof claims.exp === 'number' && claims.exp > Date.now() / 1000 ? claims : undefined;
  };
  const fail = (res: Parameters<typeof sendJson>[0], status: number, code: string, text: string) =>
    sendJson(res, status, { error: { code, text } });
  return startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/v1/auth/signin') {
      const body = (await readJson(req)) ?? {};
      const login = String(body.login);
      if ((failures.get(login) ?? 0) >= 5) return fail(res, 429, 'TOO_MANY', 'Too many attempts');
      const m = Object.hasOwn(members, login) ? members[login] : undefined;
      if (!m || m.password !== body.password) {
        failures.set(login, (failures.get(login) ?? 0) + 1);
        return fail(res, 401, 'BAD_LOGIN', 'Login or password is wrong');
      }
      const now = Math.floor(Date.now() / 1000);
      return sendJson(res, 200, {
        data: { jwt: sign({ sub: login, uid: m.id, role: m.role, iat: now, exp: now + lifetime }) },
      });
    }
    let claims: Record<string, unknown> | undefined;
    try {
      claims = verify(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    } catch {
      claims = undefined;
    }
    if (!claims) return fail(res, 401, 'NO_SESSION', 'Sign in first');
    if (req.method === 'GET' && path === '/api/v1/boats')
      return sendJson(res, 200, {
        data: [
          { id: 'b-1', name: 'Zephyr' },
          { id: 'b-2', name: 'Kestrel' },
        ],
      });
    if (req.method === 'GET' && path === '/api/v1/me')
      return sendJson(res, 200, { data: { uid: claims.uid, login: claims.sub, role: claims.role } });
    return fail(res, 404, 'NOT_FOUND', 'No such route');
  });
}

describe('an admin account with a common password, and tokens that live a week', () => {
  let scans: Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startClub>>>>>;
  before(async () => {
    const identity = (login: string, password: string) => ({
      name: login,
      login: { path: '/api/v1/auth/signin', body: { login, password }, tokenPointer: '/data/jwt' },
    });
    scans = await scanTwins(SPEC, startClub, {
      identities: [identity('maren', 'Maren-jib-4410'), identity('pieter', 'Pieter-keel-8823')],
      checks: ['API2'],
      ratePerSecond: 300,
    });
  });

  test('the vulnerable twin: superuser/secret signs in, and the token lives 7 days', () => {
    const all = scans.vulnerable.result.findings.map((f) => `${f.rule.id} ${f.message}`).join('\n');
    const defaults = scans.vulnerable.result.findings.filter(
      (f) => f.rule.id === 'scan/api2-default-credentials',
    );
    assert.equal(defaults.length, 1, all);
    assert.equal(defaults[0].operation?.operationId, 'signIn');
    assert.match(defaults[0].message, /default account superuser/);
    const lifetime = scans.vulnerable.result.findings.filter(
      (f) => f.rule.id === 'scan/api2-token-without-expiry',
    );
    assert.equal(lifetime.length, 1, all);
    assert.match(lifetime[0].message, /lives 90 days \(exp minus iat/);
    assert.equal(lifetime[0].severity, 'low');
  });

  test('the fixed twin: no finding at all', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
