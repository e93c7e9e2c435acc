import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A second-hand bookshop written like a plain PHP site: `session_start()` on every page, so EVERY answer to a
 * visitor without a session sets `PHPSESSID`, a failed login included. `POST /login.php` (form) redirects:
 * `302 Location: account.php` on success (the session regenerated and signed in), `302 Location:
 * login.php?error=...` on failure. `POST /register.php` redirects to `login.php?registered=1`.
 * `GET /account.php` answers JSON for a signed-in session, else redirects to the login page.
 *
 * Vulnerable: the error names the cause (`?error=unknown+user` / `?error=wrong+password`), failures are never
 * limited, and any password is taken at registration.
 * Fixed twin: `?error=invalid+login` for both, `?error=locked` after five failures for a user name, and
 * registration refuses passwords under 10 characters (`?error=weak+password`).
 * The page variant answers 200 with the page itself instead of each redirect: the login form again with the
 * error, or the account page.
 */
const SEED = [
  { username: 'mara', password: 'Mara-reads-poems-71' },
  { username: 'theo', password: 'Theo-sells-atlases-5' },
];

function startShop(fixed: boolean, pages = false) {
  const users = SEED.map((u) => ({ ...u }));
  const sessions = new Map<string, string | null>();
  const failures = new Map<string, number>();
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const sid = /(?:^|;\s*)PHPSESSID=(\w+)/.exec(String(req.headers.cookie ?? ''))?.[1];
    const known = sid !== undefined && sessions.has(sid);
    const headers: Record<string, string> = {};
    const newSession = (user: string | null) => {
      const id = randomBytes(13).toString('hex');
      if (sessions.size < 5000) sessions.set(id, user);
      headers['set-cookie'] = `PHPSESSID=${id}; path=/`;
    };
    if (!known) newSession(null);
    const redirect = (to: string) => {
      if (pages) {
        // The page variant: no redirect, the page itself (the login form again with its error, or the account).
        const [page, query] = to.split('?');
        const error = new URLSearchParams(query ?? '').get('error');
        const form =
          '<form method="post"><input name="username"><input type="password" name="password"></form>';
        const body =
          page === 'account.php'
            ? '<h1>Your account</h1><p>Credit: 12</p>'
            : `<h1>${page === 'register.php' ? 'Register' : 'Log in'}</h1>${error ? `<p class="error">${error}</p>` : ''}${form}`;
        res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=UTF-8' });
        return res.end(`<!doctype html><html><body>${body}</body></html>`);
      }
      res.writeHead(302, { ...headers, location: to, 'content-type': 'text/html; charset=UTF-8' });
      res.end('');
    };
    if (req.method === 'POST' && url.pathname === '/register.php') {
      const form = new URLSearchParams(await readText(req));
      const username = form.get('username') ?? '';
      const password = form.get('password') ?? '';
      if (!username || users.some((u) => u.username === username))
        return redirect('register.php?error=taken');
      if (fixed && password.length < 10) return redirect('register.php?error=weak+password');
      users.push({ username, password });
      return redirect('login.php?registered=1');
    }
    if (req.method === 'POST' && url.pathname === '/login.php') {
      const form = new URLSearchParams(await readText(req));
      const username = form.get('username') ?? '';
      if (fixed && (failures.get(username) ?? 0) >= 5) return redirect('login.php?error=locked');
      const user = users.find((u) => u.username === username);
      if (user && user.password === form.get('password')) {
        newSession(username);
        return redirect('account.php');
      }
      if (failures.size < 1000 || failures.has(username))
        failures.set(username, (failures.get(username) ?? 0) + 1);
      if (fixed) return redirect('login.php?error=invalid+login');
      return redirect(user ? 'login.php?error=wrong+password' : 'login.php?error=unknown+user');
    }
    const who = sid !== undefined ? sessions.get(sid) : undefined;
    if (req.method === 'GET' && url.pathname === '/account.php') {
      if (!who) return redirect('login.php');
      return sendJson(
        res,
        200,
        { user: who, credit: 12 },
        { 'content-type': 'application/json', ...headers },
      );
    }
    res.writeHead(404, { ...headers, 'content-type': 'text/html' });
    res.end('<h1>Not Found</h1>');
  });
}

const form = (properties: Record<string, unknown>) => ({
  content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', properties } } },
});
const SPEC = {
  openapi: '3.0.0',
  info: { title: 'bookshop', version: '1' },
  paths: {
    '/register.php': {
      post: {
        operationId: 'register',
        requestBody: form({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: { '302': { description: 'to the login page' } },
      },
    },
    '/login.php': {
      post: {
        operationId: 'login',
        requestBody: form({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: { '302': { description: 'to the account, or back with an error' } },
      },
    },
    '/account.php': { get: { operationId: 'account', responses: { '200': { description: 'the account' } } } },
  },
};

const api2 = (r: ScanResult) =>
  r.findings
    .filter((f) =>
      /^scan\/api2-(user-enumeration|no-brute-force-protection|weak-password-policy)$/.test(f.rule.id),
    )
    .map((f) => `${f.rule.id} ${f.operation?.operationId}`)
    .sort();

describe('a PHP login whose every answer sets PHPSESSID: a sign-in is the redirect to another page', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startShop(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: SEED.map((u) => ({
            name: u.username,
            login: { path: '/login.php', encoding: 'form' as const, body: u },
          })),
          checks: ['API2'],
          ratePerSecond: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  test('vulnerable: enumeration by the error in the redirect, no brute-force limit, a weak password taken', () => {
    assert.deepEqual(
      api2(runs.vulnerable),
      [
        'scan/api2-no-brute-force-protection login',
        'scan/api2-user-enumeration login',
        'scan/api2-weak-password-policy register',
      ],
      operationsFound(runs.vulnerable).join('\n'),
    );
  });

  test('fixed twin: none of them', () => {
    assert.deepEqual(api2(runs.fixed), [], operationsFound(runs.fixed).join('\n'));
  });
});

describe('the same site answering pages, not redirects: a page that still asks for a password is a failed login', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startShop(kind === 'fixed', true);
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: SEED.map((u) => ({
            name: u.username,
            login: { path: '/login.php', encoding: 'form' as const, body: u },
          })),
          checks: ['API2'],
          ratePerSecond: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  test('vulnerable: enumeration by the error on the page, no brute-force limit, a weak password taken', () => {
    assert.deepEqual(
      api2(runs.vulnerable),
      [
        'scan/api2-no-brute-force-protection login',
        'scan/api2-user-enumeration login',
        // Here the sign-up answers pages too: a taken name gets the form again, a new one the login page.
        'scan/api2-user-enumeration register',
        'scan/api2-weak-password-policy register',
      ],
      operationsFound(runs.vulnerable).join('\n'),
    );
  });

  test('fixed twin: none of them', () => {
    assert.deepEqual(api2(runs.fixed), [], operationsFound(runs.fixed).join('\n'));
  });
});
