import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * Accounts in a FastAPI style where a user edits itself at `PUT /users/{user_id}` (no `/users/me`): the JWT's
 * claims say which user the caller is (`user_id`). Vulnerable: the update stores any field of the body, `role`
 * included. Fixed twin: only `email` and `full_name`. Both refuse updates of another user (403), so only the
 * caller's own account can carry the probe; the scan may touch it because the token says it is the caller's
 * (`GET /users` lists every id to everyone, so the id is not one identity's alone).
 * Beside it, `GET /v1/users/{user_id}`, not marked `deprecated` but described as the legacy API: the vulnerable
 * API still serves it, the fixed twin answers 410 Gone.
 */
const USER = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    username: { type: 'string' },
    email: { type: 'string' },
    full_name: { type: 'string' },
    role: { type: 'string' },
  },
};
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'accounts', version: '1.2' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/v1/users/{user_id}': {
      get: {
        operationId: 'get_user_v1',
        tags: ['Users'],
        description: 'Legacy API: get a user by id (kept for old mobile clients).',
        parameters: [{ name: 'user_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a user', content: { 'application/json': { schema: USER } } } },
      },
    },
    '/users': {
      get: {
        operationId: 'list_users',
        responses: {
          '200': {
            description: 'users',
            content: { 'application/json': { schema: { type: 'array', items: USER } } },
          },
        },
      },
    },
    '/users/{user_id}': {
      parameters: [{ name: 'user_id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'get_user',
        responses: { '200': { description: 'a user', content: { 'application/json': { schema: USER } } } },
      },
      put: {
        operationId: 'update_user',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { email: { type: 'string', format: 'email' }, full_name: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'updated', content: { 'application/json': { schema: USER } } } },
      },
    },
  },
};

const jwt = (claims: Record<string, unknown>) =>
  `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2lnbmF0dXJl`;
const TOKENS = {
  alice: jwt({ sub: 'alice', user_id: 11, role: 'user' }),
  bob: jwt({ sub: 'bob', user_id: 12, role: 'user' }),
};

async function startAccounts(fixed: boolean): Promise<{ url: string; server: Server }> {
  const users = new Map<number, Record<string, unknown>>([
    [11, { id: 11, username: 'alice', email: 'alice@example.com', full_name: 'Alice', role: 'user' }],
    [12, { id: 12, username: 'bob', email: 'bob@example.com', full_name: 'Bob', role: 'user' }],
  ]);
  return startServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const auth = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    const caller = auth === TOKENS.alice ? 11 : auth === TOKENS.bob ? 12 : undefined;
    if (caller === undefined) return send(401, { detail: 'Not authenticated' });
    if ((req.url ?? '').split('?')[0] === '/users') {
      // The directory: every user's id, to every user (so no id is one identity's alone).
      return send(
        200,
        [...users.values()].map((u) => ({ id: u.id, username: u.username })),
      );
    }
    const legacy = /^\/v1\/users\/(\d+)$/.exec((req.url ?? '').split('?')[0]);
    if (legacy) {
      if (fixed) return send(410, { detail: 'Gone: use /users/{user_id}' });
      const u = users.get(Number(legacy[1]));
      return u && Number(legacy[1]) === caller ? send(200, u) : send(404, { detail: 'Not Found' });
    }
    const m = /^\/users\/(\d+)$/.exec((req.url ?? '').split('?')[0]);
    const user = m ? users.get(Number(m[1])) : undefined;
    if (!m || !user) return send(404, { detail: 'Not Found' });
    if (Number(m[1]) !== caller) return send(403, { detail: 'Not your account' });
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      if (req.method === 'GET') return send(200, user);
      if (req.method !== 'PUT') return send(405, { detail: 'Method Not Allowed' });
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw);
      } catch {
        return send(422, { detail: [{ msg: 'JSON decode error' }] });
      }
      for (const [k, v] of Object.entries(body)) {
        if (k === 'id' || k === 'username') continue;
        if (fixed && k !== 'email' && k !== 'full_name') continue;
        user[k] = v;
      }
      send(200, user);
    });
  });
}

describe("API3 on the caller's own account named by its id (`PUT /users/{user_id}`)", () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startAccounts, {
      identities: [
        { name: 'alice', bearer: TOKENS.alice },
        { name: 'bob', bearer: TOKENS.bob },
      ],
      checks: ['API3', 'API9'],
      ratePerSecond: 200,
    });
    results.vulnerable = scans.vulnerable.result;
    results.fixed = scans.fixed.result;
  });

  test('reports the role stored through the update of its own account', () => {
    assert.ok(
      operationsFound(results.vulnerable).includes('scan/api3-mass-assignment update_user'),
      operationsFound(results.vulnerable).join(', '),
    );
  });

  test('reports the legacy read as still served', () => {
    const f = results.vulnerable.findings.find((x) => x.rule.id === 'scan/api9-deprecated-operation-served');
    assert.equal(f?.operation?.operationId, 'get_user_v1');
    assert.match(f?.message ?? '', /described as legacy/);
  });

  test('finds no mass assignment and no legacy operation served on the fixed twin', () => {
    assert.deepEqual(
      operationsFound(results.fixed).filter((x) => /mass-assignment|deprecated/.test(x)),
      [],
    );
  });
});
