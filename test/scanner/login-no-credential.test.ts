import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A gift-list service written the way many small Flask tutorials are: `POST /api/login {username, password}`
 * answers `200 {"success": true, "user": {...}}` and hands out NO credential at all (no token, no cookie); later
 * requests name the user in the path (`GET /api/users/{username}/gifts`), which the API trusts. Failures are
 * `{"success": false, "message": ...}`. Sign-up: `POST /api/register {username, email, password}` -> 201. In the
 * cookie variant the login answers the account record itself (`{"id": 1, "username": ...}`) and sets a session
 * cookie `gb` (a name that says nothing of a session), which the gift lists then require; in the text variant it
 * answers `200 text/plain` "Login successful. Welcome back, <name>!" and nothing else.
 *
 * Vulnerable: the login tells an unknown user (404 "user not found") from a wrong password (401 "incorrect
 * password"), never limits failed logins, the sign-up takes any password, and a seeded account `test` keeps
 * the password `test`.
 * Fixed twin: 401 "invalid username or password" to both, 429 after five failures for one user name in a
 * window (with Retry-After), the sign-up refuses passwords under 10 characters, and `test` has a strong password.
 * The password reset `POST /api/reset-password {username, code, new_password}` sets any password on the
 * vulnerable twin; the fixed twin wants a mailed code (five tries).
 */
interface Member {
  username: string;
  email: string;
  password: string;
  gifts: string[];
}
const SEED: Member[] = [
  { username: 'alice', email: 'alice@gifts.test', password: 'Alice-likes-tea-31', gifts: ['teapot'] },
  { username: 'bob', email: 'bob@gifts.test', password: 'Bob-likes-jazz-77', gifts: ['vinyl'] },
  { username: 'giftadmin', email: 'admin@gifts.test', password: 'Admin-keeps-lists-9', gifts: [] },
];

function startGifts(fixed: boolean, mode: 'json' | 'cookie' | 'text' = 'json') {
  const cookie = mode === 'cookie';
  const sessions = new Map<string, string>();
  const members = SEED.map((m) => ({ ...m, gifts: [...m.gifts] }));
  members.push({
    username: 'test',
    email: 'test@gifts.test',
    password: fixed ? 'Tq-93-long-and-random' : 'test',
    gifts: [],
  });
  const failures = new Map<string, number>();
  const view = (m: Member) => ({ username: m.username, email: m.email });
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/api/register') {
      const b = await readJson(req);
      const username = String(b?.username ?? '');
      const password = String(b?.password ?? '');
      if (!username || !password) return sendJson(res, 400, { success: false, message: 'missing fields' });
      if (fixed && password.length < 10)
        return sendJson(res, 400, { success: false, message: 'password too short' });
      if (members.some((m) => m.username === username))
        return sendJson(res, 400, { success: false, message: 'username taken' });
      const m = { username, email: String(b?.email ?? ''), password, gifts: [] };
      members.push(m);
      return sendJson(res, 201, { success: true, user: view(m) });
    }
    if (req.method === 'POST' && url.pathname === '/api/login') {
      const b = await readJson(req);
      const username = String(b?.username ?? '');
      const tries = failures.get(username) ?? 0;
      if (fixed && tries >= 5)
        return sendJson(
          res,
          429,
          { success: false, message: 'too many attempts' },
          {
            'content-type': 'application/json',
            'retry-after': '300',
          },
        );
      const m = members.find((x) => x.username === username);
      if (m && m.password === b?.password) {
        failures.delete(username);
        if (mode === 'text') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          return res.end(`Login successful. Welcome back, ${m.username}!`);
        }
        if (!cookie) return sendJson(res, 200, { success: true, user: view(m) });
        // The cookie variant: the account record at the top, the session in a cookie named like nothing.
        const sid = randomBytes(12).toString('hex');
        if (sessions.size < 1000) sessions.set(sid, m.username);
        return sendJson(
          res,
          200,
          { id: members.indexOf(m) + 1, ...view(m) },
          { 'content-type': 'application/json', 'set-cookie': `gb=${sid}; Path=/; HttpOnly` },
        );
      }
      if (failures.size < 1000) failures.set(username, tries + 1);
      if (fixed) return sendJson(res, 401, { success: false, message: 'invalid username or password' });
      return m
        ? sendJson(res, 401, { success: false, message: 'incorrect password' })
        : sendJson(res, 404, { success: false, message: 'user not found' });
    }
    if (req.method === 'POST' && url.pathname === '/api/reset-password') {
      const b = await readJson(req);
      const m = members.find((x) => x.username === b?.username);
      // Fixed: a reset needs the code mailed to the member (never mailed here, so never right), five tries.
      const key = `reset ${String(b?.username)}`;
      if (fixed && (failures.get(key) ?? 0) >= 5)
        return sendJson(res, 429, { success: false, message: 'too many attempts' });
      if (!m || (fixed && b?.code !== `never-${m.username}`)) {
        if (failures.size < 1000) failures.set(key, (failures.get(key) ?? 0) + 1);
        return sendJson(res, 400, { success: false, message: 'cannot reset' });
      }
      m.password = String(b?.new_password ?? '');
      return sendJson(res, 200, { success: true, message: 'password updated' });
    }
    const gifts = /^\/api\/users\/([^/]+)\/gifts$/.exec(url.pathname);
    if (req.method === 'GET' && gifts) {
      const sid = /(?:^|;\s*)gb=([0-9a-f]+)/.exec(String(req.headers.cookie ?? ''))?.[1];
      if (cookie && (sid === undefined || sessions.get(sid) !== decodeURIComponent(gifts[1])))
        return sendJson(res, 401, { success: false, message: 'log in first' });
      const m = members.find((x) => x.username === decodeURIComponent(gifts[1]));
      return m
        ? sendJson(res, 200, { success: true, gifts: m.gifts })
        : sendJson(res, 404, { success: false, message: 'user not found' });
    }
    return sendJson(res, 404, { success: false, message: 'not found' });
  }).then((s) => Object.assign(s, { members }));
}

const jsonBody = (properties: Record<string, unknown>) => ({
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'gift lists', version: '1.0.0' },
  paths: {
    '/api/register': {
      post: {
        operationId: 'register',
        requestBody: jsonBody({
          username: { type: 'string' },
          email: { type: 'string' },
          password: { type: 'string' },
        }),
        responses: { '201': { description: 'registered' } },
      },
    },
    '/api/login': {
      post: {
        operationId: 'login',
        requestBody: jsonBody({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: { '200': { description: 'signed in' }, '401': { description: 'refused' } },
      },
    },
    '/api/reset-password': {
      post: {
        operationId: 'resetPassword',
        requestBody: jsonBody({
          username: { type: 'string' },
          code: { type: 'string' },
          new_password: { type: 'string' },
        }),
        responses: { '200': { description: 'updated' } },
      },
    },
    '/api/users/{username}/gifts': {
      get: {
        operationId: 'gifts',
        parameters: [{ name: 'username', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'gifts' } },
      },
    },
  },
};

const identity = (m: Member) => ({
  name: m.username,
  login: { path: '/api/login', body: { username: m.username, password: m.password } },
});

// The login rules; the json and text variants' logins hand out no session on both twins (the gift lists trust the
// path), which API2 reports on the login of each twin alike (`login-no-session`): not one of the rules here.
const found = (r: ScanResult) =>
  r.findings
    .filter((f) => f.rule.id.startsWith('scan/api2-') && !/without handing out any session/.test(f.message))
    .map((f) => `${f.rule.id} ${f.operation?.operationId}`)
    .sort();

describe('a login that answers {"success": true, "user": ...} with no credential is still a login', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const passwords = {} as Record<'vulnerable' | 'fixed', string[]>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startGifts(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: SEED.slice(0, 2).map(identity),
          admin: identity(SEED[2]),
          checks: ['API2'],
          ratePerSecond: 300,
        });
        passwords[kind] = api.members.slice(0, 3).map((m) => m.password);
      } finally {
        await api.close();
      }
    }
  });

  test('vulnerable: enumeration, no brute-force limit, weak passwords and the default account are found', () => {
    const got = found(runs.vulnerable);
    for (const want of [
      'scan/api2-user-enumeration login',
      'scan/api2-no-brute-force-protection login',
      'scan/api2-weak-password-policy register',
      'scan/api2-default-credentials login',
      'scan/api2-password-reset-without-proof resetPassword',
    ])
      assert.ok(got.includes(want), `${want} missing:\n${operationsFound(runs.vulnerable).join('\n')}`);
  });

  test('fixed twin: no finding of the login rules', () => {
    assert.deepEqual(found(runs.fixed), [], operationsFound(runs.fixed).join('\n'));
  });

  test("the given members' passwords are unchanged", () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        passwords[kind],
        SEED.map((m) => m.password),
        kind,
      );
  });
});

describe('a login that answers the account record and keeps its session in a cookie named like nothing', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const passwords = {} as Record<'vulnerable' | 'fixed', string[]>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startGifts(kind === 'fixed', 'cookie');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: SEED.slice(0, 2).map(identity),
          admin: identity(SEED[2]),
          checks: ['API2'],
          ratePerSecond: 300,
        });
        passwords[kind] = api.members.slice(0, 3).map((m) => m.password);
      } finally {
        await api.close();
      }
    }
  });

  test('vulnerable: enumeration, no brute-force limit, weak passwords and the default account are found', () => {
    const got = found(runs.vulnerable);
    for (const want of [
      'scan/api2-user-enumeration login',
      'scan/api2-no-brute-force-protection login',
      'scan/api2-weak-password-policy register',
      'scan/api2-default-credentials login',
      'scan/api2-password-reset-without-proof resetPassword',
    ])
      assert.ok(got.includes(want), `${want} missing:\n${operationsFound(runs.vulnerable).join('\n')}`);
  });

  test('fixed twin: no finding of the login rules', () => {
    assert.deepEqual(found(runs.fixed), [], operationsFound(runs.fixed).join('\n'));
  });

  test("the given members' passwords are unchanged", () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        passwords[kind],
        SEED.map((m) => m.password),
        kind,
      );
  });
});

describe('a login that answers 200 text/plain "Login successful" and hands out nothing', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const passwords = {} as Record<'vulnerable' | 'fixed', string[]>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startGifts(kind === 'fixed', 'text');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: SEED.slice(0, 2).map(identity),
          admin: identity(SEED[2]),
          checks: ['API2'],
          ratePerSecond: 300,
        });
        passwords[kind] = api.members.slice(0, 3).map((m) => m.password);
      } finally {
        await api.close();
      }
    }
  });

  test('vulnerable: enumeration, no brute-force limit, weak passwords and the default account are found', () => {
    const got = found(runs.vulnerable);
    for (const want of [
      'scan/api2-user-enumeration login',
      'scan/api2-no-brute-force-protection login',
      'scan/api2-weak-password-policy register',
      'scan/api2-default-credentials login',
      'scan/api2-password-reset-without-proof resetPassword',
    ])
      assert.ok(got.includes(want), `${want} missing:\n${operationsFound(runs.vulnerable).join('\n')}`);
  });

  test('fixed twin: no finding of the login rules', () => {
    assert.deepEqual(found(runs.fixed), [], operationsFound(runs.fixed).join('\n'));
  });

  test("the given members' passwords are unchanged", () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        passwords[kind],
        SEED.map((m) => m.password),
        kind,
      );
  });
});

test('a login answer holding a credential under an unknown name stops the scan, naming it', async () => {
  // Alice's right password gets the session reference, anyone else 401: only the reference's name is unknown.
  const api = await startServer(async (req, res) => {
    const b = await readJson(req);
    if (b?.username !== SEED[0].username || b?.password !== SEED[0].password)
      return sendJson(res, 401, { success: false, message: 'invalid username or password' });
    return sendJson(res, 200, { success: true, data: { sessionRef: 'a1b2c3d4e5f6a7b8c9d0' } });
  });
  try {
    await assert.rejects(
      scanDocument(SPEC, api.url, { identities: [identity(SEED[0])], checks: ['API2'] }),
      (err: Error & { code?: string }) =>
        err.code === 'ERR_SCAN_LOGIN' && /\/data\/sessionRef looks like one/.test(err.message),
    );
  } finally {
    await api.close();
  }
});
