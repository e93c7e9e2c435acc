import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A bike-repair kiosk API written like a small Go net/http service: HTTP Basic credentials on every request,
 * `GET /v1/login` checks them and answers `{"user": ..., "role": ...}`, errors are plain text
 * (`unauthorized\n`) with `WWW-Authenticate: Basic realm="kiosk"`. No sign-up, no body anywhere.
 *
 * Vulnerable: `GET /v1/login` answers an unknown user `404 no such user` and a wrong password
 * `401 wrong password`, and never limits failures.
 * Fixed twin: `401 unauthorized` to both, and after five failures for one user name `429 too many attempts`
 * with Retry-After.
 */
interface Clerk {
  user: string;
  password: string;
  role: string;
  jobs: string[];
}
const SEED: Clerk[] = [
  { user: 'mila', password: 'mila-fixes-brakes-8', role: 'clerk', jobs: ['brake pads'] },
  { user: 'otto', password: 'otto-trues-wheels-3', role: 'clerk', jobs: ['wheel true'] },
];
const basic = (c: Clerk) => `Basic ${Buffer.from(`${c.user}:${c.password}`).toString('base64')}`;

function startKiosk(fixed: boolean) {
  const clerks = SEED.map((c) => ({ ...c, jobs: [...c.jobs] }));
  const failures = new Map<string, number>();
  const text = (res: Parameters<typeof sendJson>[0], status: number, body: string, extra = {}) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...extra });
    res.end(`${body}\n`);
  };
  return startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^Basic\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''));
    const decoded = m ? Buffer.from(m[1], 'base64').toString() : '';
    const colon = decoded.indexOf(':');
    const user = colon > 0 ? decoded.slice(0, colon) : '';
    const password = colon > 0 ? decoded.slice(colon + 1) : '';
    const challenge = { 'www-authenticate': 'Basic realm="kiosk"' };
    if (!user) return text(res, 401, 'unauthorized', challenge);
    if (fixed && (failures.get(user) ?? 0) >= 5)
      return text(res, 429, 'too many attempts', { 'retry-after': '600' });
    const clerk = clerks.find((c) => c.user === user);
    if (!clerk || clerk.password !== password) {
      if (failures.size < 1000 || failures.has(user)) failures.set(user, (failures.get(user) ?? 0) + 1);
      if (fixed) return text(res, 401, 'unauthorized', challenge);
      return clerk ? text(res, 401, 'wrong password', challenge) : text(res, 404, 'no such user');
    }
    failures.delete(user);
    if (req.method === 'GET' && url.pathname === '/v1/login')
      return sendJson(res, 200, { user: clerk.user, role: clerk.role });
    if (req.method === 'GET' && url.pathname === '/v1/jobs') return sendJson(res, 200, { jobs: clerk.jobs });
    return text(res, 404, '404 page not found');
  });
}

const SPEC = {
  swagger: '2.0',
  info: { title: 'kiosk', version: '1.0' },
  basePath: '/',
  securityDefinitions: { basicAuth: { type: 'basic' } },
  security: [{ basicAuth: [] }],
  paths: {
    '/v1/login': { get: { operationId: 'login', responses: { '200': { description: 'who you are' } } } },
    '/v1/jobs': { get: { operationId: 'jobs', responses: { '200': { description: 'your repair jobs' } } } },
  },
};

const ruleOps = (r: ScanResult) =>
  r.findings
    .filter((f) =>
      /^scan\/api2-(user-enumeration|no-brute-force-protection|default-credentials)$/.test(f.rule.id),
    )
    .map((f) => `${f.rule.id} ${f.operation?.operationId}`)
    .sort();

describe('an HTTP Basic login (GET /v1/login, no body) gets the enumeration and guessing checks', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startKiosk(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: SEED.map((c) => ({ name: c.user, headers: { authorization: basic(c) } })),
          checks: ['API2'],
          ratePerSecond: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  test('vulnerable: user enumeration and no brute-force protection through the Authorization header', () => {
    assert.deepEqual(
      ruleOps(runs.vulnerable),
      ['scan/api2-no-brute-force-protection login', 'scan/api2-user-enumeration login'],
      operationsFound(runs.vulnerable).join('\n'),
    );
  });

  test('fixed twin: none of the login findings', () => {
    assert.deepEqual(ruleOps(runs.fixed), [], operationsFound(runs.fixed).join('\n'));
  });
});
