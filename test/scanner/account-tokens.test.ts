import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { JSON_TYPE, readText, sendJson } from './small-api.ts';
import { operationsFound, scanDocument, scanTwins } from './twins.ts';

/**
 * A Gin-style accounts API (errors `{"error": "..."}` with their proper status, `201 {"message": ...}` and no id
 * on a sign-up) whose login takes an e-mail (`POST /api/accounts/session {email, password}`) while its sign-up
 * takes a user name, an e-mail and a password. Beside them: an older login by user name (`POST /api/v1/login`),
 * a password reset by GET (`/api/accounts/reset-password?username=&new_password=&token=`), a PIN sent for a
 * forgotten password (`POST /api/accounts/forgot {email}`) and a reset with that PIN
 * (`POST /api/accounts/reset-with-pin {email, pin, new_password}`, its documented example naming alice).
 *
 * Vulnerable: the session token is `base64url(name:md5(password):signing key)`, the same key in every token and
 * the password's hash in it; the older login hands a token to any user name it does not know; the GET reset
 * sets a password from the user name alone; PINs may be guessed without limit; any password of one character is
 * taken. Fixed twin: random opaque tokens kept on the server, the older login refuses unknown names, the GET
 * reset needs a token nobody has, five wrong PINs (or failed logins) for one account are answered 429 with
 * Retry-After, passwords under 10 characters are refused.
 */
const str = { type: 'string' } as const;
const email = { type: 'string', format: 'email' } as const;
const json = (properties: Record<string, object>, required: string[], example?: object) => ({
  required: true,
  content: {
    'application/json': {
      schema: { type: 'object', properties, required },
      ...(example ? { example } : {}),
    },
  },
});
const q = (name: string, required = true) => ({ name, in: 'query', required, schema: str });
const answers = {
  '200': { description: 'done' },
  '400': { description: 'refused' },
  '401': { description: 'not signed in' },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'storefront accounts', version: '3.1.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/accounts/signup': {
      post: {
        operationId: 'signUp',
        security: [],
        requestBody: json({ username: str, email, password: str }, ['username', 'email', 'password']),
        responses: { '201': { description: 'created' }, '409': { description: 'taken' } },
      },
    },
    '/api/accounts/session': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: json({ email, password: str }, ['email', 'password']),
        responses: answers,
      },
    },
    '/api/v1/login': {
      post: {
        operationId: 'legacyLogin',
        security: [],
        requestBody: json({ username: str, password: str }, ['username', 'password']),
        responses: answers,
      },
    },
    '/api/accounts/reset-password': {
      get: {
        operationId: 'resetPassword',
        security: [],
        parameters: [q('username'), q('new_password'), q('token', false)],
        responses: answers,
      },
    },
    '/api/accounts/forgot': {
      post: {
        operationId: 'forgotPassword',
        security: [],
        requestBody: json({ email }, ['email']),
        responses: { '202': { description: 'a PIN is sent if the account exists' } },
      },
    },
    '/api/accounts/reset-with-pin': {
      post: {
        operationId: 'resetWithPin',
        security: [],
        requestBody: json({ email, pin: str, new_password: str }, ['email', 'pin', 'new_password'], {
          email: 'alice@shop.example',
          pin: '000000',
          new_password: 'Welcome-2024',
        }),
        responses: answers,
      },
    },
    '/api/accounts/me': { get: { operationId: 'me', responses: answers } },
  },
};

interface Account {
  username: string;
  email: string;
  password: string;
  pin?: string;
}

interface AccountsApi extends TestServer {
  /** Can `name` still sign in with its password of the start? */
  passwordOf(name: string): string | undefined;
  /** Requests that named a given identity (alice or bob) at a reset, or guessed a PIN with their session. */
  readonly touched: string[];
}

const SIGNING_KEY = 'x7Qk-93Lm!vTz2Pa';
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

async function startAccounts(fixed: boolean): Promise<AccountsApi> {
  const accounts = new Map<string, Account>([
    ['alice', { username: 'alice', email: 'alice@shop.example', password: 'Alice-pass-7713' }],
    ['bob', { username: 'bob', email: 'bob@shop.example', password: 'Bob-pass-2209' }],
  ]);
  const given = new Set(['alice', 'bob']);
  const sessions = new Map<string, string>();
  const failures = new Map<string, number>();
  const touched: string[] = [];
  const read = (req: IncomingMessage) =>
    new Promise<Record<string, unknown>>((resolve) => {
      let data = '';
      req.on('data', (c) => {
        data += c;
      });
      req.on('end', () => {
        try {
          const v = JSON.parse(data || '{}');
          resolve(v !== null && typeof v === 'object' ? v : {});
        } catch {
          resolve({});
        }
      });
    });
  const byEmail = (e: unknown) => [...accounts.values()].find((a) => a.email === e);
  const tokenFor = (username: string, password: string) => {
    const token = fixed
      ? randomBytes(24).toString('base64url')
      : Buffer.from(`${username}:${md5(password)}:${SIGNING_KEY}`).toString('base64url');
    if (sessions.size < 10_000) sessions.set(token, username);
    return token;
  };
  /** The fixed twin's limit: five failures for one key, then 429. */
  const limited = (key: string) => fixed && (failures.get(key) ?? 0) >= 5;
  const failed = (key: string) => {
    if (failures.size < 1000) failures.set(key, (failures.get(key) ?? 0) + 1);
  };
  const server = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, value: unknown, headers: Record<string, string> = {}) =>
      sendJson(res, status, value, { ...JSON_TYPE, ...headers });
    const tooMany = () => send(429, { error: 'too many attempts' }, { 'retry-after': '30' });
    const caller = sessions.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    const route = `${req.method} ${url.pathname}`;
    if (route === 'POST /api/accounts/signup') {
      const b = await read(req);
      const [username, mail, password] = [b.username, b.email, b.password];
      if (typeof username !== 'string' || typeof mail !== 'string' || typeof password !== 'string')
        return send(400, { error: 'username, email and password are required' });
      if (accounts.has(username) || byEmail(mail)) return send(409, { error: 'username or email taken' });
      if (fixed && password.length < 10) return send(400, { error: 'password too short' });
      accounts.set(username, { username, email: mail, password });
      return send(201, { message: 'account created' });
    }
    if (route === 'POST /api/accounts/session') {
      const b = await read(req);
      if (limited(`login:${b.email}`)) return tooMany();
      const account = byEmail(b.email);
      if (!account || account.password !== b.password) {
        failed(`login:${b.email}`);
        return send(401, { error: 'invalid email or password' });
      }
      return send(200, { data: { token: tokenFor(account.username, account.password), expires_in: 3600 } });
    }
    if (route === 'POST /api/v1/login') {
      const b = await read(req);
      const username = String(b.username ?? '');
      if (limited(`login:${username}`)) return tooMany();
      const account = accounts.get(username);
      // The vulnerable twin checks the password of accounts it knows only: anyone else is let in.
      if ((account && account.password !== b.password) || (fixed && !account)) {
        failed(`login:${username}`);
        return send(401, { error: 'invalid username or password' });
      }
      return send(200, { data: { token: tokenFor(username, String(b.password ?? '')) } });
    }
    if (route === 'GET /api/accounts/reset-password') {
      const username = url.searchParams.get('username') ?? '';
      if (given.has(username)) touched.push(`${route} ${username}`);
      const account = accounts.get(username);
      const password = url.searchParams.get('new_password');
      if (!account || !password) return send(404, { error: 'no such account' });
      if (fixed) return send(400, { error: 'invalid or expired reset token' });
      account.password = password;
      return send(200, { message: 'password updated' });
    }
    if (route === 'POST /api/accounts/forgot') {
      const account = byEmail((await read(req)).email);
      if (account) account.pin = String(randomInt(0, 1_000_000)).padStart(6, '0');
      return send(202, { message: 'if the account exists, a PIN was sent to it' });
    }
    if (route === 'POST /api/accounts/reset-with-pin') {
      const b = await read(req);
      const account = byEmail(b.email);
      if (account && given.has(account.username)) touched.push(`${route} ${account.username}`);
      if (caller && given.has(caller)) touched.push(`${route} as ${caller}`);
      if (limited(`pin:${b.email}`)) return tooMany();
      if (!account || account.pin === undefined || account.pin !== b.pin) {
        failed(`pin:${b.email}`);
        return send(400, { error: 'invalid email or PIN' });
      }
      account.password = String(b.new_password);
      account.pin = undefined;
      return send(200, { message: 'password updated' });
    }
    if (route === 'GET /api/accounts/me') {
      if (!caller) return send(401, { error: 'sign in first' });
      const account = accounts.get(caller);
      return send(200, { username: caller, email: account?.email ?? null });
    }
    send(404, { error: 'no such route' });
  });
  return Object.assign(server, {
    passwordOf: (name: string) => accounts.get(name)?.password,
    touched,
  });
}

describe('API2 on accounts that sign in by e-mail, with tokens that carry secrets', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: AccountsApi }>;
  before(async () => {
    const identity = (name: string, password: string) => ({
      name,
      login: { path: '/api/accounts/session', body: { email: `${name}@shop.example`, password } },
    });
    Object.assign(
      runs,
      await scanTwins(SPEC, startAccounts, {
        identities: [identity('alice', 'Alice-pass-7713'), identity('bob', 'Bob-pass-2209')],
        checks: ['API2'],
        ratePerSecond: 200,
      }),
    );
  });

  const found = () => operationsFound(runs.vulnerable.result);

  test('an account of the scan’s own is registered with a user name and signs in with its e-mail', () => {
    const coverage = JSON.stringify(runs.vulnerable.result.coverage);
    assert.doesNotMatch(coverage, /no account could be registered and signed in/);
    assert.ok(
      runs.vulnerable.result.findings.some((f) => /pc[a-z]\w+/.test(f.message)),
      found().join('\n'),
    );
  });

  test('the signing key every token carries is reported, and not shown', () => {
    const f = runs.vulnerable.result.findings.find((x) => x.rule.id === 'scan/api2-secret-in-token');
    assert.ok(f, found().join('\n'));
    assert.ok(
      runs.vulnerable.result.findings.some(
        (x) => x.rule.id === 'scan/api2-secret-in-token' && x.evidence?.kind === 'signing-secret',
      ),
      found().join('\n'),
    );
    assert.doesNotMatch(JSON.stringify(runs.vulnerable.result.findings), /x7Qk-93Lm/);
  });

  test('the password hash in the token is proven with accounts of the scan’s own', () => {
    const f = runs.vulnerable.result.findings.find(
      (x) => x.rule.id === 'scan/api2-secret-in-token' && x.evidence?.kind === 'password-hash',
    );
    assert.ok(f, found().join('\n'));
    assert.match(f.message, /same password/);
    assert.doesNotMatch(JSON.stringify(f), /Alice-pass|Bob-pass/);
  });

  test('a login that hands a working token to a user name nobody has is reported once', () => {
    assert.ok(found().includes('scan/api2-any-credentials-accepted legacyLogin'), found().join('\n'));
    assert.ok(!found().includes('scan/api2-wrong-password-accepted legacyLogin'), found().join('\n'));
    assert.ok(!found().includes('scan/api2-no-brute-force-protection legacyLogin'), found().join('\n'));
  });

  test('the GET password reset is proven on the scan’s own account, and on no one else', () => {
    assert.ok(found().includes('scan/api2-password-reset-without-proof resetPassword'), found().join('\n'));
  });

  test('PIN guessing goes to the scan’s own account and is reported', () => {
    const f = runs.vulnerable.result.findings.find(
      (x) => x.rule.id === 'scan/api2-no-brute-force-protection' && x.evidence?.field === 'pin',
    );
    assert.equal(f?.operation?.operationId, 'resetWithPin', found().join('\n'));
    assert.match(f.message, /for an account the scan registered \(pc[a-z]\w+\)/);
  });

  test('alice and bob keep their passwords, and no reset or PIN guess named them', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { api } = runs[kind];
      assert.equal(api.passwordOf('alice'), 'Alice-pass-7713', kind);
      assert.equal(api.passwordOf('bob'), 'Bob-pass-2209', kind);
      assert.deepEqual(api.touched, [], kind);
    }
  });

  test('nothing on the fixed twin', () => {
    assert.deepEqual(operationsFound(runs.fixed.result), []);
  });
});

/**
 * A login that checks nothing (`POST /login {username, password}` hands a token to any name, with any password),
 * and `GET /me` for the token's holder. Both flaws one answer shows — a wrong password for alice and a name nobody
 * has both let in — are one finding: any credentials accepted, not also a wrong password accepted or a guessing run.
 */
describe('a login that lets anyone in is reported once', () => {
  let result: ScanResult;
  const LOGIN_SPEC = {
    openapi: '3.0.3',
    info: { title: 'notes', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      '/login': {
        post: {
          operationId: 'login',
          security: [],
          requestBody: json({ username: str, password: str }, ['username', 'password']),
          responses: answers,
        },
      },
      '/me': { get: { operationId: 'me', responses: answers } },
    },
  };
  before(async () => {
    const sessions = new Map<string, string>();
    const api = await startServer(async (req, res) => {
      const raw = await readText(req);
      const send = (status: number, value: unknown) => sendJson(res, status, value);
      if (req.method === 'POST' && req.url === '/login') {
        const token = randomBytes(16).toString('hex');
        sessions.set(token, String(JSON.parse(raw || '{}').username));
        return send(200, { token });
      }
      const me = sessions.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (req.url === '/me') return me ? send(200, { username: me }) : send(401, { error: 'sign in' });
      send(404, { error: 'no such route' });
    });
    try {
      const identity = (name: string) => ({
        name,
        login: { path: '/login', body: { username: name, password: `${name}-pw-1234` } },
      });
      result = await scanDocument(LOGIN_SPEC, api.url, {
        identities: [identity('alice'), identity('bob')],
        checks: ['API2'],
        ratePerSecond: 200,
      });
    } finally {
      await api.close();
    }
  });

  test('any credentials accepted, and neither a wrong password accepted nor a guessing run on the same login', () => {
    assert.deepEqual(operationsFound(result), ['scan/api2-any-credentials-accepted login']);
  });
});
