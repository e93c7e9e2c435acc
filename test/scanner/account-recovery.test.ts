import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { before, describe, test } from 'node:test';
import { renderJson } from '../../src/scanner/report/json.ts';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { JSON_TYPE, readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A Koa-style accounts service whose callers hold API keys (`X-Api-Key`), and whose own accounts sign up and
 * sign in with every input in the query string of a POST (`POST /v1/accounts/register?login=&email=&passwd=`,
 * `POST /v1/accounts/login?login=&passwd=`): a success answers `200 {"success": true, "data": {...}}`, a
 * failure `200 {"success": false, "message": ...}`, never another status. A session token
 * (`data.session_token`) works as `Authorization: Bearer`. Beside them: an older form-encoded sign-in
 * (`POST /v1/legacy/signin` with `email`, `password`), a form-encoded password reset (`POST
 * /v1/accounts/password/reset` with `email`, `new_password`, `token`), and `DELETE /v1/me`.
 *
 * Vulnerable: any password of one character is taken at sign-up; failed logins are never limited; the legacy
 * sign-in takes any password for a known e-mail; the reset sets the password from the e-mail alone. Fixed twin:
 * passwords under 10 characters are refused (in a 200), five failed logins for one name or e-mail (known or
 * not) are answered 429 with Retry-After for a second on both sign-ins, the legacy sign-in checks the password,
 * and the reset needs the token the service would have mailed (none is valid here). Both delete the caller's
 * own account at `DELETE /v1/me`.
 */
const KEYS: Record<string, string> = { 'key-alice-5120': 'alice', 'key-bob-7730': 'bob' };
const str = { type: 'string' } as const;
const q = (name: string, schema: object = str) => ({ name, in: 'query', required: true, schema });
const ENVELOPE = {
  type: 'object',
  properties: { success: { type: 'boolean' }, message: str, data: { type: 'object' } },
};
const ok = {
  '200': { description: 'success or failure', content: { 'application/json': { schema: ENVELOPE } } },
};
const form = (properties: Record<string, object>, required: string[]) => ({
  required: true,
  content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', properties, required } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'accounts service', version: '2.4.0' },
  components: {
    securitySchemes: {
      apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
      session: { type: 'http', scheme: 'bearer' },
    },
  },
  security: [{ apiKey: [] }, { session: [] }],
  paths: {
    '/v1/accounts/login': {
      post: {
        operationId: 'loginAccount',
        security: [],
        parameters: [q('login'), q('passwd', { type: 'string', format: 'password' })],
        responses: ok,
      },
    },
    '/v1/accounts/register': {
      post: {
        operationId: 'registerAccount',
        security: [],
        parameters: [q('login'), q('email', { type: 'string', format: 'email' }), q('passwd')],
        responses: ok,
      },
    },
    '/v1/legacy/signin': {
      post: {
        operationId: 'legacySignin',
        security: [],
        requestBody: form({ email: { type: 'string', format: 'email' }, password: str }, [
          'email',
          'password',
        ]),
        responses: ok,
      },
    },
    '/v1/accounts/password/reset': {
      post: {
        operationId: 'resetPassword',
        security: [],
        requestBody: form({ email: { type: 'string', format: 'email' }, new_password: str, token: str }, [
          'email',
          'new_password',
        ]),
        responses: ok,
      },
    },
    '/v1/me': {
      get: { operationId: 'readMe', responses: ok },
      delete: { operationId: 'deleteMe', responses: ok },
    },
  },
};

interface Account {
  login: string;
  email: string;
  passwd: string;
}

interface AccountsApi extends TestServer {
  /** The accounts that exist now, by login name. */
  logins(): string[];
}

async function startAccounts(fixed: boolean): Promise<AccountsApi> {
  const accounts = new Map<string, Account>([
    ['alice', { login: 'alice', email: 'alice@corp.example', passwd: 'Alice-secret-881' }],
    ['bob', { login: 'bob', email: 'bob@corp.example', passwd: 'Bob-secret-302' }],
  ]);
  const sessions = new Map<string, string>();
  const failures = new Map<string, { count: number; at: number }>();
  const body = async (req: IncomingMessage) => new URLSearchParams(await readText(req));
  const byEmail = (email: string | null) => [...accounts.values()].find((a) => a.email === email);
  const server = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, value: unknown, headers: Record<string, string> = {}) =>
      sendJson(res, status, value, { ...JSON_TYPE, ...headers });
    const fail = (message: string) => send(200, { success: false, message });
    const signIn = (account: Account) => {
      const token = randomBytes(16).toString('hex');
      sessions.set(token, account.login);
      send(200, { success: true, data: { session_token: token, login: account.login } });
    };
    /** The fixed twin's limit: five failures for one name, then 429 for a second. */
    const limited = (name: string) => {
      const f = failures.get(name);
      if (!fixed || !f || f.count < 5 || Date.now() - f.at > 1000) return false;
      send(429, { success: false, message: 'Too many attempts' }, { 'retry-after': '1' });
      return true;
    };
    const failed = (name: string) => {
      const f = failures.get(name) ?? { count: 0, at: 0 };
      if (failures.size < 1000) failures.set(name, { count: f.count + 1, at: Date.now() });
    };
    const caller = () => {
      const key = req.headers['x-api-key'];
      if (typeof key === 'string' && KEYS[key]) return accounts.get(KEYS[key]);
      const login = sessions.get(String(req.headers.authorization).replace(/^Bearer /, ''));
      return login ? accounts.get(login) : undefined;
    };
    const p = url.searchParams;
    if (req.method === 'POST' && url.pathname === '/v1/accounts/register') {
      const [login, email, passwd] = [p.get('login'), p.get('email'), p.get('passwd')];
      if (!login || !email || !passwd) return fail('login, email and passwd are required');
      if (accounts.has(login) || byEmail(email)) return fail('that login or e-mail is taken');
      if (fixed && passwd.length < 10) return fail('the password needs at least 10 characters');
      accounts.set(login, { login, email, passwd });
      return send(200, { success: true, data: { login, email } });
    }
    if (req.method === 'POST' && url.pathname === '/v1/accounts/login') {
      const login = p.get('login') ?? '';
      if (limited(login)) return;
      const account = accounts.get(login);
      if (!account || account.passwd !== p.get('passwd')) {
        failed(login);
        return fail('invalid login or password');
      }
      return signIn(account);
    }
    if (req.method === 'POST' && url.pathname === '/v1/legacy/signin') {
      const f = await body(req);
      const email = f.get('email') ?? '';
      if (limited(email)) return;
      const account = byEmail(email);
      if (!account || (fixed && account.passwd !== f.get('password'))) {
        failed(email);
        return fail('invalid e-mail or password');
      }
      return signIn(account);
    }
    if (req.method === 'POST' && url.pathname === '/v1/accounts/password/reset') {
      const f = await body(req);
      const account = byEmail(f.get('email'));
      const password = f.get('new_password');
      if (!account || !password) return fail('unknown e-mail');
      if (fixed) return fail('the reset token is invalid or expired');
      account.passwd = password;
      return send(200, { success: true, message: 'password changed' });
    }
    if (url.pathname === '/v1/me') {
      const me = caller();
      if (!me) return send(401, { success: false, message: 'sign in first' });
      if (req.method === 'DELETE') {
        accounts.delete(me.login);
        for (const [token, login] of sessions) if (login === me.login) sessions.delete(token);
        return send(200, { success: true, message: 'account deleted' });
      }
      return send(200, { success: true, data: { login: me.login, email: me.email } });
    }
    send(404, { success: false, message: 'no such route' });
  });
  return Object.assign(server, { logins: () => [...accounts.keys()].sort() });
}

describe('API2 on an API whose accounts sign up and in through the query string', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; logins: string[] }>;
  before(async () => {
    const scans = await scanTwins(SPEC, startAccounts, {
      identities: Object.entries(KEYS).map(([key, name]) => ({ name, headers: { 'x-api-key': key } })),
      checks: ['API2'],
      ratePerSecond: 200,
    });
    for (const kind of ['vulnerable', 'fixed'] as const)
      runs[kind] = { result: scans[kind].result, logins: scans[kind].api.logins() };
  });

  test('failed logins answered 200 {"success": false} without a limit are reported, on an account of the scan’s own', () => {
    const f = runs.vulnerable.result.findings.find(
      (x) => x.rule.id === 'scan/api2-no-brute-force-protection',
    );
    assert.equal(
      f?.operation?.operationId,
      'loginAccount',
      operationsFound(runs.vulnerable.result).join('\n'),
    );
    assert.match(f.message, /an account the scan registered \(pc[a-z]\w+\).*right password still signed in/);
  });

  test('a sign-up that takes its inputs as query parameters is probed for weak passwords', () => {
    assert.ok(
      operationsFound(runs.vulnerable.result).includes('scan/api2-weak-password-policy registerAccount'),
      operationsFound(runs.vulnerable.result).join('\n'),
    );
  });

  test('a documented login that takes any password is found with the scan’s own account', () => {
    assert.ok(
      operationsFound(runs.vulnerable.result).includes('scan/api2-wrong-password-accepted legacySignin'),
      operationsFound(runs.vulnerable.result).join('\n'),
    );
  });

  test('a password reset from the e-mail alone is reported, proven on the scan’s own account', () => {
    const f = runs.vulnerable.result.findings.find(
      (x) => x.rule.id === 'scan/api2-password-reset-without-proof',
    );
    assert.equal(
      f?.operation?.operationId,
      'resetPassword',
      operationsFound(runs.vulnerable.result).join('\n'),
    );
    assert.equal(f.rule.owasp, 'API2:2023');
  });

  test('nothing else on the vulnerable API', () => {
    assert.deepEqual(operationsFound(runs.vulnerable.result), [
      'scan/api2-no-brute-force-protection loginAccount',
      'scan/api2-password-reset-without-proof resetPassword',
      'scan/api2-weak-password-policy registerAccount',
      'scan/api2-wrong-password-accepted legacySignin',
    ]);
  });

  test('nothing on the fixed twin', () => {
    assert.deepEqual(operationsFound(runs.fixed.result), []);
  });

  test('the accounts the scan registered are deleted at the end, and the JSON report says so; alice and bob stay', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { result, logins } = runs[kind];
      assert.deepEqual(logins, ['alice', 'bob'], `${kind}: ${result.notes.join(' | ')}`);
      assert.ok(
        result.notes.some((n) => /^clean-up: pc\w+: deleted with DELETE \/v1\/me \(200, as itself\)/.test(n)),
        `${kind}: ${result.notes.join(' | ')}`,
      );
      const json = JSON.parse(renderJson(result)) as { notes?: string[] };
      assert.deepEqual(json.notes, result.notes);
    }
  });
});
