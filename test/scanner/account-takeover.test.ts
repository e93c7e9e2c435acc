import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { scanTwins } from './twins.ts';

/**
 * Passwords and sessions, in a Flask style: a JSON login that answers 200 either way (`{"status": "fail"}` on a
 * wrong password, the token under `auth.token` otherwise), a sign-up that answers a message and no id, opaque
 * tokens, `PUT /api/users/{username}/password` (an admin-style route that names the account), `POST
 * /api/me/password` and `POST /api/logout`. Vulnerable: anyone sets anyone's password by name; the caller's
 * own change needs no current password; logout forgets nothing. Fixed twin: the named account must be the
 * caller's, the current password is checked, logout ends the token.
 */
const json = (schema: unknown) => ({ required: true, content: { 'application/json': { schema } } });
const str = { type: 'string' };
const bearer = [{ token: [] }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'passwords and sessions', version: '1' },
  components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/api/login': {
      post: {
        operationId: 'login',
        requestBody: json({ type: 'object', properties: { username: str, password: str } }),
        responses: { '200': { description: 'a token, or a failure message' } },
      },
    },
    '/api/signup': {
      post: {
        operationId: 'signup',
        requestBody: json({ type: 'object', properties: { username: str, email: str, password: str } }),
        responses: { '201': { description: 'registered' } },
      },
    },
    '/api/me': {
      get: { operationId: 'me', security: bearer, responses: { '200': { description: 'own record' } } },
    },
    '/api/users/{username}/password': {
      put: {
        operationId: 'set_password',
        security: bearer,
        parameters: [{ name: 'username', in: 'path', required: true, schema: str }],
        requestBody: json({ type: 'object', properties: { password: str } }),
        responses: { '200': { description: 'changed' } },
      },
    },
    '/api/password': {
      post: {
        operationId: 'set_password_by_query',
        security: bearer,
        parameters: [{ name: 'username', in: 'query', required: true, schema: str }],
        requestBody: json({ type: 'object', properties: { new_password: str } }),
        responses: { '200': { description: 'changed' } },
      },
    },
    '/api/me/password': {
      post: {
        operationId: 'change_own_password',
        security: bearer,
        requestBody: json({ type: 'object', properties: { current_password: str, new_password: str } }),
        responses: { '200': { description: 'changed' } },
      },
    },
    '/api/logout': {
      post: { operationId: 'logout', security: bearer, responses: { '200': { description: 'logged out' } } },
    },
  },
};

interface Api {
  readonly url: string;
  readonly server: Server;
  readonly passwords: Map<string, string>;
  /** Who called the logout. */
  readonly loggedOut: string[];
  /** Live tokens and whose they are. */
  readonly tokens: Map<string, string>;
}

const ALICE = 'Alice-pw-1';
const BOB = 'Bob-pw-1';

/** `logoutAll`: the (fixed) logout ends every session of the account, not only the one it was called with. */
/** Slow answers, in milliseconds: the first two sign-ups, and a login for a user that does not exist. */
interface Slow {
  readonly signup: number;
  readonly unknownLogin: number;
}

async function startApi(
  fixed: boolean,
  logoutAll = false,
  signupLimit = Number.POSITIVE_INFINITY,
  slow: Slow = { signup: 0, unknownLogin: 0 },
): Promise<Api> {
  let signups = 0;
  let slowSignups = 0;
  const passwords = new Map<string, string>([
    ['alice', ALICE],
    ['bob', BOB],
  ]);
  const emails = new Map<string, string>([
    ['alice', 'alice@example.com'],
    ['bob', 'bob@example.com'],
  ]);
  const tokens = new Map<string, string>();
  const loggedOut: string[] = [];
  const failures = new Map<string, number>();
  const server = await startServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', async () => {
      let body: Record<string, unknown> = {};
      try {
        body = raw === '' ? {} : JSON.parse(raw);
      } catch {
        return send(400, { status: 'fail', message: 'bad json' });
      }
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/api/login') {
        const name = String(body.username ?? '');
        if (!passwords.has(name) && slow.unknownLogin > 0) await sleep(slow.unknownLogin);
        if (fixed && (failures.get(name) ?? 0) >= 5)
          return send(429, { status: 'fail', message: 'Too many attempts, try again later' });
        if (!passwords.has(name) || passwords.get(name) !== body.password) {
          failures.set(name, (failures.get(name) ?? 0) + 1);
          return send(200, { status: 'fail', message: 'Username or password incorrect' });
        }
        // A JWT-shaped token (the API looks it up; the signature is random): without `exp` on the vulnerable
        // API, an hour on the fixed one.
        const now = Math.floor(Date.now() / 1000);
        const claims = { sub: name, iat: now, ...(fixed ? { exp: now + 3600 } : {}) };
        const token = [{ alg: 'HS256', typ: 'JWT' }, claims]
          .map((p) => Buffer.from(JSON.stringify(p)).toString('base64url'))
          .concat(randomBytes(32).toString('base64url'))
          .join('.');
        tokens.set(token, name);
        return send(200, { status: 'success', auth: { token } });
      }
      if (req.method === 'POST' && path === '/api/signup') {
        if (slowSignups++ < 2 && slow.signup > 0) await sleep(slow.signup);
        if (signups >= signupLimit) return send(429, { status: 'fail', message: 'Too many sign-ups' });
        const { username, email, password } = body as Record<string, string>;
        // Vulnerable: a name that exists is registered again, with the new password (an upsert).
        if (!username || !password || (fixed && (passwords.has(username) || password.length < 12)))
          return send(400, { status: 'fail', message: 'cannot register' });
        signups++;
        passwords.set(username, password);
        emails.set(username, email ?? '');
        return send(201, { status: 'success', message: 'Successfully registered' });
      }
      const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      const caller = tokens.get(token);
      if (caller === undefined) return send(401, { status: 'fail', message: 'Invalid token' });
      if (req.method === 'GET' && (path === '/api/me' || path === '/api/session'))
        return send(200, { username: caller, email: emails.get(caller) });
      if (req.method === 'POST' && path === '/api/logout') {
        loggedOut.push(caller);
        if (fixed) tokens.delete(token);
        if (fixed && logoutAll) for (const [k, n] of tokens) if (n === caller) tokens.delete(k);
        return send(200, { status: 'success', message: 'Logged out' });
      }
      if (req.method === 'POST' && path === '/api/me/password') {
        if (typeof body.new_password !== 'string' || body.new_password === '')
          return send(400, { status: 'fail', message: 'new_password required' });
        if (fixed && body.current_password !== passwords.get(caller))
          return send(403, { status: 'fail', message: 'Current password is wrong' });
        passwords.set(caller, body.new_password);
        return send(200, { status: 'success', message: 'Password changed' });
      }
      if (req.method === 'POST' && path === '/api/password') {
        const name = new URL(req.url ?? '', 'http://x').searchParams.get('username') ?? '';
        if (!passwords.has(name)) return send(404, { status: 'fail', message: 'no such user' });
        if (fixed) return send(403, { status: 'fail', message: 'Administrators only' });
        if (typeof body.new_password !== 'string' || body.new_password === '')
          return send(400, { status: 'fail', message: 'new_password required' });
        passwords.set(name, body.new_password);
        return send(200, { status: 'success', message: 'Password updated' });
      }
      const m = /^\/api\/users\/([^/]+)\/password$/.exec(path);
      if (req.method === 'PUT' && m) {
        const name = decodeURIComponent(m[1]);
        if (!passwords.has(name)) return send(404, { status: 'fail', message: 'no such user' });
        // Fixed: an administrator's route (no user here is one).
        if (fixed) return send(403, { status: 'fail', message: 'Administrators only' });
        if (typeof body.password !== 'string' || body.password === '')
          return send(400, { status: 'fail', message: 'password required' });
        passwords.set(name, body.password);
        return send(200, { status: 'success', message: 'Password updated' });
      }
      return send(404, { status: 'fail', message: 'not found' });
    });
  });
  return { url: server.url, server: server.server, passwords, loggedOut, tokens };
}

const found = (r: ScanResult) =>
  [...new Set(r.findings.map((f) => `${f.rule.id} ${f.operation?.operationId}`))].sort();

describe('account takeover and sessions on throwaway accounts (Flask-like API)', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Api>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startApi, {
        identities: [
          { name: 'alice', login: { path: '/api/login', body: { username: 'alice', password: ALICE } } },
          { name: 'bob', login: { path: '/api/login', body: { username: 'bob', password: BOB } } },
        ],
        checks: ['API1', 'API2'],
        ratePerSecond: 200,
      }),
    );
  });

  test('vulnerable: another user sets the throwaway account password by name (API1 account takeover)', () => {
    const f = scans.vulnerable.result.findings.find(
      (x) => x.rule.id === 'scan/api1-account-takeover' && x.operation?.operationId === 'set_password',
    );
    assert.ok(f, found(scans.vulnerable.result).join('\n'));
    assert.equal(f.rule.owasp, 'API1:2023');
    assert.equal(f.severity, 'critical');
    const curl = String(f.evidence?.curl);
    assert.match(curl, /^curl .*-X PUT .*\/api\/users\/pcv[0-9a-f]+\/password/);
    assert.doesNotMatch(curl, /Pc-[\w-]{16}-9a/, 'the new password is masked');
  });

  test('vulnerable: the own password changes without the current one (API2, medium)', () => {
    const f = scans.vulnerable.result.findings.find(
      (x) =>
        x.rule.id === 'scan/api2-password-change-without-current' &&
        x.operation?.operationId === 'change_own_password',
    );
    assert.ok(f, found(scans.vulnerable.result).join('\n'));
    assert.equal(f.severity, 'medium');
    assert.match(String(f.evidence?.curl), /-X POST .*\/api\/me\/password/);
    assert.doesNotMatch(String(f.evidence?.curl), /Pc-[\w-]{16}-9a/);
  });

  test('vulnerable: the session still works after logout (API2)', () => {
    const f = scans.vulnerable.result.findings.find((x) => x.rule.id === 'scan/api2-session-not-ended');
    assert.ok(f, found(scans.vulnerable.result).join('\n'));
    assert.equal(f.operation?.operationId, 'logout');
    assert.match(f.message, /GET \/api\/me/);
  });

  test('vulnerable: a JWT without exp (API2, low)', () => {
    const f = scans.vulnerable.result.findings.find((x) => x.rule.id === 'scan/api2-token-without-expiry');
    assert.ok(f, found(scans.vulnerable.result).join('\n'));
    assert.equal(f.severity, 'low');
    assert.deepEqual(f.evidence?.claims, ['sub', 'iat']);
  });

  test('vulnerable: the account named in the query string (?username=) gets a new password', () => {
    const f = scans.vulnerable.result.findings.find(
      (x) =>
        x.rule.id === 'scan/api1-account-takeover' && x.operation?.operationId === 'set_password_by_query',
    );
    assert.ok(f, found(scans.vulnerable.result).join('\n'));
    assert.match(String(f.evidence?.curl), /\/api\/password\?username=pcv[0-9a-f]+/);
  });

  test('vulnerable: the sign-up registers an existing name again with a new password (account takeover)', () => {
    const f = scans.vulnerable.result.findings.find(
      (x) => x.rule.id === 'scan/api1-account-takeover' && x.operation?.operationId === 'signup',
    );
    assert.ok(f, found(scans.vulnerable.result).join('\n'));
    assert.match(f.message, /registered an existing account's name again \(pcv[0-9a-f]+/);
  });

  test('the given identities keep their passwords', () => {
    for (const { api } of [scans.vulnerable, scans.fixed]) {
      assert.equal(api.passwords.get('alice'), ALICE);
      assert.equal(api.passwords.get('bob'), BOB);
    }
  });

  test('no check logs a given identity out (the fixed API would end its session for the rest of the scan)', () => {
    for (const { api } of [scans.vulnerable, scans.fixed]) {
      assert.ok(api.loggedOut.length > 0);
      assert.deepEqual(
        api.loggedOut.filter((n) => !/^pc[vas][0-9a-f]+$/.test(n)),
        [],
      );
    }
    // With A's session intact on the fixed twin, the altered-token probes had a reference read.
    assert.ok(
      !scans.fixed.result.coverage.checks
        .find((c) => c.check === 'API2')
        ?.untestedRules.some((r) => r.rule === 'scan/api2-invalid-token-accepted'),
    );
  });

  test('fixed twin (also a password policy and a login lockout): no finding at all', () => {
    assert.deepEqual(found(scans.fixed.result), []);
  });
});

describe('logout without a sign-up: B logs out a second session of its own, and keeps its first', () => {
  const { '/api/signup': _signup, ...paths } = SPEC.paths;
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Api>>>;
  before(async () => {
    Object.assign(
      scans,
      // The fixed twin's logout ends every session of the account: B's own must be renewed.
      await scanTwins({ ...SPEC, paths }, (fixed) => startApi(fixed, true), {
        identities: [
          { name: 'alice', login: { path: '/api/login', body: { username: 'alice', password: ALICE } } },
          { name: 'bob', login: { path: '/api/login', body: { username: 'bob', password: BOB } } },
        ],
        checks: ['API2'],
        ratePerSecond: 200,
      }),
    );
  });

  test('vulnerable: the second session still reads bob after its logout', () => {
    const f = scans.vulnerable.result.findings.find((x) => x.rule.id === 'scan/api2-session-not-ended');
    assert.ok(f, found(scans.vulnerable.result).join('\n'));
    assert.match(f.message, /identity bob, on a second session/);
    assert.deepEqual(scans.vulnerable.api.loggedOut, ['bob']);
  });

  test('fixed twin: no finding, and bob holds a live session again after the probe', () => {
    assert.deepEqual(
      found(scans.fixed.result).filter((f) => /session-not-ended/.test(f)),
      [],
    );
    assert.deepEqual(scans.fixed.api.loggedOut, ['bob']);
    assert.ok([...scans.fixed.api.tokens.values()].includes('bob'));
  });
});

describe('two sign-ups in all: API2 reuses the account API1 registered and left', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Api>>>;
  before(async () => {
    Object.assign(
      scans,
      // API1's two sign-ups take 3 s each and API2's unknown-user logins 0.6 s each, with 7 s per check:
      // API1's time is up when API2 reuses its account (API2 must send through its own context). API2's own
      // budget leaves room for a loaded machine (4 s ran out there before the password change was tried).
      await scanTwins(SPEC, (fixed) => startApi(fixed, false, 2, { signup: 3000, unknownLogin: 600 }), {
        checkTimeoutMs: 7000,
        identities: [
          { name: 'alice', login: { path: '/api/login', body: { username: 'alice', password: ALICE } } },
          { name: 'bob', login: { path: '/api/login', body: { username: 'bob', password: BOB } } },
        ],
        checks: ['API1', 'API2'],
        ratePerSecond: 200,
      }),
    );
  });

  test('no check failed (the reused account is used within the running check)', () => {
    assert.deepEqual(scans.vulnerable.result.errors, []);
    assert.deepEqual(scans.fixed.result.errors, []);
  });

  test('vulnerable: the password change and the logout are still tested on a throwaway account', () => {
    const f = found(scans.vulnerable.result);
    assert.ok(f.includes('scan/api2-password-change-without-current change_own_password'), f.join('\n'));
    const logout = scans.vulnerable.result.findings.find((x) => x.rule.id === 'scan/api2-session-not-ended');
    assert.match(String(logout?.message), /pc[va][0-9a-f]+, registered by the scan/);
    assert.deepEqual(
      scans.vulnerable.api.loggedOut.filter((n) => !/^pc[va][0-9a-f]+$/.test(n)),
      [],
    );
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(found(scans.fixed.result), []);
  });
});

describe('the own read is a plain secured GET ranked below reads the account cannot name', () => {
  // `/api/session` shows the caller; three id-named account reads come first by rank, but the sign-up answers
  // no id, so the scan has no value for them: they must not use up the candidates.
  const { '/api/me': me, ...rest } = SPEC.paths;
  const idRead = (operationId: string) => ({
    get: {
      operationId,
      security: bearer,
      parameters: [{ name: 'user_id', in: 'path', required: true, schema: { type: 'integer' } }],
      responses: { '200': { description: 'a user' } },
    },
  });
  const paths = {
    ...rest,
    '/api/users/{user_id}': idRead('get_user'),
    '/api/profiles/{user_id}': idRead('get_profile'),
    '/api/accounts/{user_id}': idRead('get_account'),
    '/api/session': { get: { ...me.get, operationId: 'session' } },
  };
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Api>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins({ ...SPEC, paths }, startApi, {
        identities: [
          { name: 'alice', login: { path: '/api/login', body: { username: 'alice', password: ALICE } } },
          { name: 'bob', login: { path: '/api/login', body: { username: 'bob', password: BOB } } },
        ],
        checks: ['API2'],
        ratePerSecond: 200,
      }),
    );
  });

  test('vulnerable: the logout is judged at GET /api/session', () => {
    const f = scans.vulnerable.result.findings.find((x) => x.rule.id === 'scan/api2-session-not-ended');
    assert.match(String(f?.message), /GET \/api\/session/, found(scans.vulnerable.result).join('\n'));
  });
});
