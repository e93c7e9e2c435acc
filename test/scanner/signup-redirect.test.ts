import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { scanDocument } from './twins.ts';

/**
 * A server-rendered site in the style of Laravel's web routes: forms posted to `POST /register` and `POST /login`,
 * answered by redirects (`302 Location: /login?status=registered` after a sign-up, `/home` after a sign-in, back to
 * `/login` after a failure), a `laravel_session` cookie, and one JSON page for a signed-in session (`GET /api/user`).
 * The scan must make an account of its own through such a sign-up (a redirect is its answer, no 2xx ever comes)
 * and run the login-guessing probe on it, never on a given member.
 *
 * Vulnerable: failed logins are never limited. Fixed twin: a user name is locked after five failures
 * (`/login?status=locked`).
 */
const form = (properties: Record<string, object>) => ({
  required: true,
  content: {
    'application/x-www-form-urlencoded': {
      schema: { type: 'object', required: Object.keys(properties), properties },
    },
  },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'pottery club', version: '1' },
  paths: {
    '/register': {
      post: {
        operationId: 'register',
        requestBody: form({
          name: { type: 'string' },
          email: { type: 'string' },
          password: { type: 'string' },
        }),
        responses: { '302': { description: 'to the login page' } },
      },
    },
    '/login': {
      post: {
        operationId: 'login',
        requestBody: form({ email: { type: 'string' }, password: { type: 'string' } }),
        responses: { '302': { description: 'home, or back to the login page' } },
      },
    },
    '/api/user': { get: { operationId: 'currentUser', responses: { '200': { description: 'the member' } } } },
  },
};

const SEED = [
  { name: 'Ines', email: 'ines@pottery.test', password: 'Ines-glazes-bowls-4' },
  { name: 'Pavel', email: 'pavel@pottery.test', password: 'Pavel-fires-kilns-8' },
];

function startClub(fixed: boolean) {
  const members = SEED.map((m) => ({ ...m }));
  const sessions = new Map<string, string>();
  const failures = new Map<string, number>();
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const url = new URL(req.url ?? '/', 'http://club');
    const go = (location: string, cookie?: string) => {
      res.writeHead(302, {
        location,
        ...(cookie ? { 'set-cookie': `laravel_session=${cookie}; path=/; httponly` } : {}),
      });
      res.end();
    };
    if (req.method === 'POST' && (url.pathname === '/register' || url.pathname === '/login')) {
      const f = new URLSearchParams(text);
      const email = f.get('email') ?? '';
      const password = f.get('password') ?? '';
      if (url.pathname === '/register') {
        const name = f.get('name') ?? '';
        if (name === '' || !/^[^@\s]+@[^@\s]+$/.test(email) || password.length < 8)
          return go('/register?error=invalid');
        if (members.some((m) => m.email === email)) return go('/register?error=taken');
        members.push({ name, email, password });
        return go('/login?status=registered');
      }
      if (fixed && (failures.get(email) ?? 0) >= 5) return go('/login?status=locked');
      const m = members.find((x) => x.email === email && x.password === password);
      if (!m) {
        failures.set(email, (failures.get(email) ?? 0) + 1);
        return go('/login');
      }
      const sid = randomBytes(16).toString('hex');
      sessions.set(sid, m.email);
      return go('/home', sid);
    }
    const sid = /(?:^|;\s*)laravel_session=(\w+)/.exec(String(req.headers.cookie ?? ''))?.[1];
    const who = sid ? sessions.get(sid) : undefined;
    if (req.method === 'GET' && url.pathname === '/api/user') {
      const m = members.find((x) => x.email === who);
      if (!m) return go('/login');
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ name: m.name, email: m.email }));
    }
    res.writeHead(404, { 'content-type': 'text/html' });
    res.end('<h1>Not Found</h1>');
  }).then((api) => Object.assign(api, { failures }));
}

describe('a sign-up answered by a redirect makes the scan an account of its own', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; failures: Map<string, number> }>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startClub(kind === 'fixed');
      try {
        const result = await scanDocument(SPEC, api.url, {
          identities: SEED.map((m) => ({
            name: m.name.toLowerCase(),
            login: {
              path: '/login',
              encoding: 'form' as const,
              body: { email: m.email, password: m.password },
            },
          })),
          checks: ['API2'],
          ratePerSecond: 300,
        });
        runs[kind] = { result, failures: api.failures };
      } finally {
        await api.close();
      }
    }
  });

  test('vulnerable: the guessing run goes to the scan’s own account and finds no limit', () => {
    const brute = runs.vulnerable.result.findings.filter(
      (f) => f.rule.id === 'scan/api2-no-brute-force-protection',
    );
    assert.equal(brute.length, 1, runs.vulnerable.result.findings.map((f) => f.rule.id).join('\n'));
    assert.match(brute[0].message, /an account the scan registered \(pc/, brute[0].message);
  });

  test('fixed twin: the lock is met, no finding', () => {
    assert.deepEqual(
      runs.fixed.result.findings.filter((f) => f.rule.id === 'scan/api2-no-brute-force-protection'),
      [],
    );
  });

  test('no given member took more than one failed login, and the accounts left are named', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      for (const m of SEED) assert.ok((runs[kind].failures.get(m.email) ?? 0) <= 1, `${kind} ${m.email}`);
      assert.ok(
        runs[kind].result.warnings.some((w) =>
          /accounts? the scan registered (was|were) left in place \(pc/.test(w),
        ),
        `${kind}: ${runs[kind].result.warnings.join('\n')}`,
      );
    }
  });
});
