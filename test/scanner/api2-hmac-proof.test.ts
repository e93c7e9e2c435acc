import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * Review R1-H7: the weak-HMAC-secret finding shows a request made with a token the scan minted, not an unrelated
 * login. A darts league's API in a Fastify style (`{statusCode, error, message}`): `POST /auth {user, pass}`
 * answers `{token}` (HS256, `sub`, `iat`, `exp` in 15 minutes, a `jti`), `GET /me/scores` reads the caller's
 * own scores. Vulnerable: the key is `secret123`. Fixed twin: 32 random bytes. Both lock a name after five failed
 * logins.
 */
const answer = {
  '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'darts league', version: '1.0.0' },
  components: { securitySchemes: { jwt: { type: 'http', scheme: 'bearer' } } },
  security: [{ jwt: [] }],
  paths: {
    '/auth': {
      post: {
        operationId: 'auth',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { user: { type: 'string' }, pass: { type: 'string' } },
                required: ['user', 'pass'],
              },
            },
          },
        },
        responses: answer,
      },
    },
    '/me/scores': { get: { operationId: 'myScores', responses: answer } },
  },
};
const PLAYERS: Record<string, { password: string; scores: number[] }> = {
  kees: { password: 'Kees-180-double', scores: [180, 140, 100] },
  lien: { password: 'Lien-bull-77-ok', scores: [60, 81, 45] },
};
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function startLeague(fixed: boolean) {
  const key = fixed ? randomBytes(32) : Buffer.from('secret123');
  const failures = new Map<string, number>();
  const sign = (claims: object) => {
    const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
    return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
  };
  const verify = (token: string): Record<string, unknown> | undefined => {
    const [h, p, sig] = token.split('.');
    if (!h || !p || !sig) return undefined;
    try {
      if (JSON.parse(Buffer.from(h, 'base64url').toString('utf8')).alg !== 'HS256') return undefined;
      const want = createHmac('sha256', key).update(`${h}.${p}`).digest();
      const got = Buffer.from(sig, 'base64url');
      if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
      return typeof claims.exp === 'number' && claims.exp > Date.now() / 1000 ? claims : undefined;
    } catch {
      return undefined;
    }
  };
  const error = (res: Parameters<typeof sendJson>[0], statusCode: number, message: string) =>
    sendJson(res, statusCode, { statusCode, error: 'Error', message });
  return startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/auth') {
      const b = (await readJson(req)) ?? {};
      const name = String(b.user);
      if ((failures.get(name) ?? 0) >= 5) return error(res, 429, 'Too many attempts');
      const p = Object.hasOwn(PLAYERS, name) ? PLAYERS[name] : undefined;
      if (!p || p.password !== b.pass) {
        failures.set(name, (failures.get(name) ?? 0) + 1);
        return error(res, 401, 'Bad user or pass');
      }
      const now = Math.floor(Date.now() / 1000);
      return sendJson(res, 200, {
        token: sign({ sub: name, iat: now, exp: now + 900, jti: randomBytes(6).toString('hex') }),
      });
    }
    const claims = verify(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!claims) return error(res, 401, 'Missing or bad token');
    if (req.method === 'GET' && path === '/me/scores')
      return sendJson(res, 200, { player: claims.sub, scores: PLAYERS[String(claims.sub)]?.scores ?? [] });
    return error(res, 404, 'Not Found');
  });
}

describe('a guessed HMAC secret is shown with a token the scan minted', () => {
  let scans: Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startLeague>>>>>;
  before(async () => {
    const identity = (user: string) => ({
      name: user,
      login: { path: '/auth', body: { user, pass: PLAYERS[user].password } },
    });
    scans = await scanTwins(SPEC, startLeague, {
      identities: [identity('kees'), identity('lien')],
      checks: ['API2'],
      ratePerSecond: 300,
    });
  });

  test("the vulnerable twin: the finding's request is the own-scores read with the minted token", () => {
    const all = scans.vulnerable.result.findings.map((f) => `${f.rule.id} ${f.message}`).join('\n');
    const weak = scans.vulnerable.result.findings.filter((f) => f.rule.id === 'scan/api2-weak-hmac-secret');
    assert.equal(weak.length, 1, all);
    assert.match(
      weak[0].message,
      /A token the scan signed with it \(kees's claims, a fresh iat\) was taken at GET \/me\/scores \(200\)/,
    );
    const curl = String(weak[0].evidence?.curl);
    assert.match(curl, /\/me\/scores/);
    // The minted token works as kees: never printed, the curl line names it $TOKEN.
    assert.match(curl, /Authorization: Bearer '"\$TOKEN"/i);
    assert.doesNotMatch(JSON.stringify(weak[0]), /eyJ/);
    assert.doesNotMatch(JSON.stringify(weak[0]), /secret123/);
  });

  test('the fixed twin: no finding at all', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
