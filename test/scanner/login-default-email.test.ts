import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A shipyard's crew API written like a Rails app with Devise: `POST /api/v2/users/sign_in` takes
 * `{"user": {"email", "password"}}` and answers `{"user": {...}, "jwt": ...}`; errors are `{"error": ...}`;
 * the given crew members use static API tokens (`X-User-Token`), so no login names a domain. `GET /api/v2/crew`
 * lists the crew with their `@shipyard.test` e-mails.
 *
 * Vulnerable: the seeded `admin@shipyard.test` still has the password `password`.
 * Fixed twin: that account has a long random password.
 */
const TOKENS: Record<string, string> = { 'tok-kai-51f0': 'kai', 'tok-lou-9e2a': 'lou' };

function startShipyard(fixed: boolean) {
  const accounts = [
    { email: 'kai@shipyard.test', password: 'Kai-welds-hulls-12' },
    { email: 'lou@shipyard.test', password: 'Lou-paints-decks-40' },
    { email: 'admin@shipyard.test', password: fixed ? randomBytes(12).toString('hex') : 'password' },
  ];
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/api/v2/users/sign_in') {
      const b = (await readJson(req))?.user as Record<string, unknown> | undefined;
      const a = accounts.find((x) => x.email === b?.email && x.password === b?.password);
      if (!a) return sendJson(res, 401, { error: 'Invalid Email or password.' });
      return sendJson(res, 200, { user: { email: a.email }, jwt: `jwt-${randomBytes(12).toString('hex')}` });
    }
    if (!TOKENS[String(req.headers['x-user-token'] ?? '')])
      return sendJson(res, 401, { error: 'You need to sign in or sign up before continuing.' });
    if (req.method === 'GET' && url.pathname === '/api/v2/crew')
      return sendJson(res, 200, { crew: accounts.slice(0, 2).map((a) => ({ email: a.email })) });
    return sendJson(res, 404, { error: 'Not Found' });
  });
}

const SPEC = {
  openapi: '3.0.3',
  info: { title: 'shipyard crew', version: 'v2' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-User-Token' } } },
  paths: {
    '/api/v2/users/sign_in': {
      post: {
        operationId: 'signIn',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  user: {
                    type: 'object',
                    properties: { email: { type: 'string', format: 'email' }, password: { type: 'string' } },
                  },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'signed in' } },
      },
    },
    '/api/v2/crew': {
      get: { operationId: 'crew', security: [{ token: [] }], responses: { '200': { description: 'crew' } } },
    },
  },
};

const defaults = (r: ScanResult) =>
  r.findings
    .filter((f) => f.rule.id === 'scan/api2-default-credentials')
    .map((f) => f.operation?.operationId);

describe('default credentials at an e-mail login, at the domain the answers show', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startShipyard(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: Object.entries(TOKENS).map(([token, name]) => ({
            name,
            headers: { 'x-user-token': token },
          })),
          checks: ['API2'],
          ratePerSecond: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  test('vulnerable: admin@shipyard.test / password signs in', () => {
    assert.deepEqual(defaults(runs.vulnerable), ['signIn'], operationsFound(runs.vulnerable).join('\n'));
    assert.match(
      runs.vulnerable.findings.find((f) => f.rule.id === 'scan/api2-default-credentials')!.message,
      /admin@shipyard\.test/,
    );
  });

  test('fixed twin: no default credentials', () => {
    assert.deepEqual(defaults(runs.fixed), [], operationsFound(runs.fixed).join('\n'));
  });
});
