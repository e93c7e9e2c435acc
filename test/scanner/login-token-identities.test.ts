import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A tutoring platform in the style of an ASP.NET Core minimal API: PascalCase-free camelCase JSON, `POST
 * /api/account/login {email, password}` answering `{"accessToken": ...}`, `ProblemDetails` errors
 * (`{type, title, status}`), `GET /api/account/me` answering `{id, email, displayName}`. The given tutors use
 * long-lived personal access tokens (no login of theirs is configured) and there is no sign-up.
 *
 * Vulnerable: the login answers an unknown e-mail `404 {"title": "No account for that email"}` and a wrong
 * password `401 {"title": "Wrong password"}`. Fixed twin: `401 {"title": "Invalid credentials"}` to both.
 */
const TUTORS = [
  { token: 'pat-uma-8c1f0e', email: 'uma@tutors.test', password: 'Uma-teaches-maths-3', name: 'Uma' },
  { token: 'pat-ravi-2b77d4', email: 'ravi@tutors.test', password: 'Ravi-teaches-chem-8', name: 'Ravi' },
];

function startTutors(fixed: boolean) {
  const failed = new Map<string, number>();
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const problem = (status: number, title: string) =>
      sendJson(
        res,
        status,
        { type: 'https://tools.ietf.org/html/rfc9110', title, status },
        {
          'content-type': 'application/problem+json',
        },
      );
    if (req.method === 'POST' && url.pathname === '/api/account/login') {
      const b = await readJson(req);
      const t = TUTORS.find((x) => x.email === b?.email);
      if (t && t.password === b?.password)
        return sendJson(res, 200, { accessToken: randomBytes(16).toString('hex') });
      if (t) failed.set(t.email, (failed.get(t.email) ?? 0) + 1);
      if (fixed) return problem(401, 'Invalid credentials');
      return t ? problem(401, 'Wrong password') : problem(404, 'No account for that email');
    }
    const me = TUTORS.find((x) => `Bearer ${x.token}` === req.headers.authorization);
    if (!me) return problem(401, 'Unauthorized');
    if (req.method === 'GET' && url.pathname === '/api/account/me')
      return sendJson(res, 200, { id: TUTORS.indexOf(me) + 1, email: me.email, displayName: me.name });
    return problem(404, 'Not Found');
  }).then((s) => Object.assign(s, { failed }));
}

const SPEC = {
  openapi: '3.0.1',
  info: { title: 'tutors', version: '1.0' },
  components: { securitySchemes: { Bearer: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/api/account/login': {
      post: {
        operationId: 'Login',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { email: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'OK' } },
      },
    },
    '/api/account/me': {
      get: { operationId: 'Me', security: [{ Bearer: [] }], responses: { '200': { description: 'OK' } } },
    },
  },
};

const enumerations = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api2-user-enumeration').map((f) => f.operation?.operationId);

describe('token identities, no sign-up: the enumeration compares with A own e-mail read at /me', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const failed = {} as Record<'vulnerable' | 'fixed', Map<string, number>>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startTutors(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: TUTORS.map((t) => ({ name: t.name, bearer: t.token })),
          checks: ['API2'],
          ratePerSecond: 300,
        });
        failed[kind] = api.failed;
      } finally {
        await api.close();
      }
    }
  });

  test('vulnerable: the login tells an unknown e-mail from a wrong password', () => {
    assert.deepEqual(enumerations(runs.vulnerable), ['Login'], operationsFound(runs.vulnerable).join('\n'));
  });

  test('fixed twin: no enumeration', () => {
    assert.deepEqual(enumerations(runs.fixed), [], operationsFound(runs.fixed).join('\n'));
  });

  test('each given tutor had at most one failed login', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      for (const t of TUTORS) assert.ok((failed[kind].get(t.email) ?? 0) <= 1, `${kind} ${t.email}`);
  });
});
