import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, sendJson } from './small-api.ts';
import { headerIdentities, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * Session 16 set A (A2-3): `GET /api/users` listed every user with `admin: true|false` to anyone. The flag is declared
 * in the answer's schema, so the undeclared-field reading did not fire, and no member held contact data.
 *
 * Style: a Sinatra-style climbing club (`{"message": ...}` errors, `X-Club-Token` header). Both twins list the
 * members' public cards (user name and a grade) to anyone at `GET /api/routes/setters`; the vulnerable twin's
 * `GET /api/users` adds each account's `admin` flag, the fixed twin's lists the same names without it.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'climbing club', version: '1.4.0' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Club-Token' } } },
  paths: {
    '/api/users': {
      get: {
        operationId: 'listUsers',
        responses: {
          '200': {
            description: 'members',
            content: {
              'application/json': {
                schema: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: { username: { type: 'string' }, admin: { type: 'boolean' } },
                  },
                },
              },
            },
          },
        },
      },
    },
    '/api/routes/setters': {
      get: { operationId: 'listSetters', responses: { '200': { description: 'route setters' } } },
    },
    '/api/me': {
      get: {
        operationId: 'me',
        security: [{ token: [] }],
        responses: { '200': { description: 'the caller' } },
      },
    },
  },
};

const USERS = [
  { username: 'granite', admin: true, token: 'ct-granite-5e1' },
  { username: 'chalk', admin: false, token: 'ct-chalk-90b' },
  { username: 'crimp', admin: false, token: 'ct-crimp-4d2' },
];

function startClub(fixed: boolean): Promise<TwinTarget> {
  return startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: unknown) => sendJson(res, status, body, GUARDED_JSON);
    if (req.method !== 'GET') return send(405, { message: 'method not allowed' });
    if (url.pathname === '/api/users')
      return send(
        200,
        USERS.map((u) => (fixed ? { username: u.username } : { username: u.username, admin: u.admin })),
      );
    if (url.pathname === '/api/routes/setters')
      return send(200, { setters: USERS.map((u) => ({ username: u.username, grade: '6b' })) });
    if (url.pathname === '/api/me') {
      const who = USERS.find((u) => u.token === req.headers['x-club-token']);
      return who ? send(200, { username: who.username }) : send(401, { message: 'token required' });
    }
    return send(404, { message: 'not found' });
  });
}

describe('a list of accounts showing who is an admin, served to anyone', () => {
  let runs: TwinScans<TwinTarget>;
  before(async () => {
    runs = await scanTwins(SPEC, startClub, {
      identities: headerIdentities('X-Club-Token', { chalk: 'ct-chalk-90b', crimp: 'ct-crimp-4d2' }),
      checks: ['API3'],
      ratePerSecond: 200,
    });
  });

  test('vulnerable: GET /api/users is API3 (medium), the setters list is not', () => {
    const found = runs.vulnerable.result.findings.map(
      (f) => `${f.rule.id} ${f.operation?.operationId} ${f.severity}`,
    );
    assert.deepEqual(found, ['scan/api3-sensitive-data-exposure listUsers medium']);
  });

  test('fixed: no finding', () => {
    assert.deepEqual(
      runs.fixed.result.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });
});
