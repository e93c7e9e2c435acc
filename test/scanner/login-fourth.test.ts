import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A ferry company's API written like a PHP back office grown over the years: four logins, each form-encoded
 * (`login.php`, `app/login.php`, `agent/login.php`, `kiosk/login.php`), each answering
 * `{"ok": 1, "sid": ...}` or `{"ok": 0, "err": ...}` with status 200, sessions in `X-Sid`.
 *
 * A fifth, `GET /legacy/login.php?login=&pass=`, takes its fields in the query string.
 *
 * Every login locks a user name after three failures (`{"ok": 0, "err": "locked"}`), on both twins, except
 * the vulnerable twin's fourth, the kiosk login, and its legacy GET login, which never limit anything.
 */
const SEED = [
  { login: 'wren', pass: 'Wren-sails-north-4' },
  { login: 'tern', pass: 'Tern-sails-south-6' },
];
const LOGINS = ['/login.php', '/app/login.php', '/agent/login.php', '/kiosk/login.php'];

function startFerry(fixed: boolean) {
  const failures = new Map<string, number>();
  const sessions = new Map<string, string>();
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const legacy = req.method === 'GET' && url.pathname === '/legacy/login.php';
    if ((req.method === 'POST' && LOGINS.includes(url.pathname)) || legacy) {
      const form = legacy ? url.searchParams : new URLSearchParams(await readText(req));
      const login = form.get('login') ?? '';
      const limited = fixed || (url.pathname !== '/kiosk/login.php' && !legacy);
      const key = `${url.pathname} ${login}`;
      if (limited && (failures.get(key) ?? 0) >= 3) return sendJson(res, 200, { ok: 0, err: 'locked' });
      const user = SEED.find((u) => u.login === login && u.pass === form.get('pass'));
      if (!user) {
        if (failures.size < 1000 || failures.has(key)) failures.set(key, (failures.get(key) ?? 0) + 1);
        return sendJson(res, 200, { ok: 0, err: 'bad login or pass' });
      }
      const sid = randomBytes(12).toString('hex');
      sessions.set(sid, user.login);
      return sendJson(res, 200, { ok: 1, sid });
    }
    const who = sessions.get(String(req.headers['x-sid'] ?? ''));
    if (!who) return sendJson(res, 200, { ok: 0, err: 'not logged in' });
    if (req.method === 'GET' && url.pathname === '/bookings.php')
      return sendJson(res, 200, { ok: 1, bookings: [{ who, crossing: 'north' }] });
    return sendJson(res, 404, { ok: 0, err: 'no such page' });
  });
}

const form = {
  content: {
    'application/x-www-form-urlencoded': {
      schema: { type: 'object', properties: { login: { type: 'string' }, pass: { type: 'string' } } },
    },
  },
};
const SPEC = {
  openapi: '3.0.0',
  info: { title: 'ferry office', version: '7' },
  paths: {
    ...Object.fromEntries(
      LOGINS.map((path, i) => [
        path,
        {
          post: {
            operationId: ['webLogin', 'appLogin', 'agentLogin', 'kioskLogin'][i],
            requestBody: form,
            responses: { '200': { description: 'ok or err' } },
          },
        },
      ]),
    ),
    '/legacy/login.php': {
      get: {
        operationId: 'legacyLogin',
        parameters: [
          { name: 'login', in: 'query', schema: { type: 'string' } },
          { name: 'pass', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'ok or err' } },
      },
    },
    '/bookings.php': { get: { operationId: 'bookings', responses: { '200': { description: 'bookings' } } } },
  },
};

const bruteForce = (r: ScanResult) =>
  r.findings
    .filter((f) => f.rule.id === 'scan/api2-no-brute-force-protection')
    .map((f) => f.operation?.operationId)
    .sort();

describe('the guessing run reaches every documented login, not only the first three', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startFerry(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: SEED.map((u) => ({
            name: u.login,
            login: {
              path: '/login.php',
              encoding: 'form' as const,
              body: { login: u.login, pass: u.pass },
              tokenPointer: '/sid',
              header: 'x-sid',
            },
          })),
          checks: ['API2'],
          ratePerSecond: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  test('vulnerable: the fourth login (the kiosk) and the legacy GET login have no brute-force protection', () => {
    assert.deepEqual(
      bruteForce(runs.vulnerable),
      ['kioskLogin', 'legacyLogin'],
      operationsFound(runs.vulnerable).join('\n'),
    );
  });

  test('fixed twin: every login locks, no finding', () => {
    assert.deepEqual(bruteForce(runs.fixed), [], operationsFound(runs.fixed).join('\n'));
  });
});
