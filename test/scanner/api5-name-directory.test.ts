import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A research data-sharing portal in a Django REST-like style (`{"count", "results"}` pages, `{"detail"}` errors,
 * `POST /api/v1/auth/token/` answering `{"token"}`, sent as `Authorization: Token ...`). No admin account.
 * - `GET /api/v1/sharers/`: the users who agreed to share their data, by name only (`{id, username}`), to anyone
 *   signed in, on both twins: a directory of names is no function of an admin.
 * - `GET /api/v1/contacts/`: vulnerable, every user's e-mail and phone to anyone signed in; fixed twin, the
 *   caller's own contact only.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'data sharing', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/api/v1/auth/token/': {
      post: {
        operationId: 'token',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' }, '400': { description: 'no' } },
      },
    },
    '/api/v1/sharers/': {
      get: {
        operationId: 'sharers',
        description: 'Users who agreed to share their data. Requires authentication.',
        responses: { '200': { description: 'a page of users' } },
      },
    },
    '/api/v1/contacts/': {
      get: { operationId: 'contacts', responses: { '200': { description: 'a page of contacts' } } },
    },
  },
};

const USERS = [
  { id: 1, username: 'noor', password: 'Noor-pw-3301', email: 'noor@lab.test', phone: '+31 6 1000 0001' },
  { id: 2, username: 'taro', password: 'Taro-pw-3302', email: 'taro@lab.test', phone: '+31 6 1000 0002' },
];

function startPortal(fixed: boolean) {
  const tokens = new Map<string, number>();
  return startServer(async (req, res) => {
    const body = (await readJson(req)) ?? {};
    const path = new URL(req.url ?? '/', 'http://portal').pathname;
    if (req.method === 'POST' && path === '/api/v1/auth/token/') {
      const u = USERS.find((x) => x.username === body.username && x.password === body.password);
      if (!u)
        return sendJson(res, 400, { non_field_errors: ['Unable to log in with provided credentials.'] });
      const token = randomBytes(10).toString('hex');
      tokens.set(token, u.id);
      return sendJson(res, 200, { token });
    }
    const me = USERS.find(
      (u) => u.id === tokens.get(String(req.headers.authorization ?? '').replace(/^Token /, '')),
    );
    if (!me) return sendJson(res, 401, { detail: 'Authentication credentials were not provided.' });
    if (path === '/api/v1/sharers/') {
      const results = USERS.map(({ id, username }) => ({ id, username }));
      return sendJson(res, 200, { count: results.length, results });
    }
    if (path === '/api/v1/contacts/') {
      const results = USERS.filter((u) => !fixed || u.id === me.id).map(({ id, username, email, phone }) => ({
        id,
        username,
        email,
        phone,
      }));
      return sendJson(res, 200, { count: results.length, results });
    }
    return sendJson(res, 404, { detail: 'Not found.' });
  });
}

describe('API5: a list of other users’ names alone is no function of an admin', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startPortal>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startPortal, {
        identities: USERS.map((u) => ({
          name: u.username,
          login: {
            path: '/api/v1/auth/token/',
            body: { username: u.username, password: u.password },
            scheme: 'Token',
          },
        })),
        ratePerSecond: 200,
        checks: ['API5'],
      }),
    );
  });

  test('vulnerable: everyone’s contacts are API5; the sharers’ names are not', () => {
    assert.deepEqual(operationsFound(scans.vulnerable.result), ['scan/api5-bfla contacts']);
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
