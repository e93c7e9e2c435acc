import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, sendJson } from './small-api.ts';
import { scanTwins } from './twins.ts';

/**
 * A lending library in a FastAPI style with two API versions side by side: a user's record is read at
 * `GET /api/v1/users/{user_id}` and updated at `PUT /api/v2/users/{user_id}` (body `{name, email, is_admin}`,
 * `is_admin` declared with a default of false); there is no GET at the update's own path and no sign-up. The
 * JWT's claims say which user the caller is; both routes refuse another user's id (403). Vulnerable: the update
 * stores `is_admin`, which only its answer shows (the read does not). Fixed twin: it ignores it. The probe must start from the record read at the other version's
 * path, find the stored flag, and leave alice's and bob's records as they were.
 */
const USER = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    email: { type: 'string' },
  },
};
const PARAM = [{ name: 'user_id', in: 'path', required: true, schema: { type: 'integer' } }];
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'lending library', version: '2.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/v1/users/{user_id}': {
      get: {
        operationId: 'read_user',
        parameters: PARAM,
        responses: { '200': { description: 'a user', content: { 'application/json': { schema: USER } } } },
      },
    },
    '/api/v2/users/{user_id}': {
      put: {
        operationId: 'update_user',
        parameters: PARAM,
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['name', 'email'],
                properties: {
                  name: { type: 'string' },
                  email: { type: 'string' },
                  is_admin: { type: 'boolean', default: false },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'updated', content: { 'application/json': { schema: {} } } } },
      },
    },
  },
};

const jwt = (claims: Record<string, unknown>) =>
  `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${createHash('sha256').update(JSON.stringify(claims)).digest('base64url')}`;
const TOKENS = { alice: jwt({ sub: 'alice', user_id: 7 }), bob: jwt({ sub: 'bob', user_id: 8 }) };
const START = [
  { id: 7, name: 'Alice', email: 'alice@example.com', is_admin: false },
  { id: 8, name: 'Bob', email: 'bob@example.com', is_admin: false },
];

interface Library {
  readonly url: string;
  readonly server: Server;
  readonly users: Map<number, Record<string, unknown>>;
}

async function startLibrary(fixed: boolean): Promise<Library> {
  const users = new Map<number, Record<string, unknown>>(START.map((u) => [u.id, { ...u }]));
  const api = await startServer((req, res) => {
    const send = (status: number, body: unknown) => sendJson(res, status, body, GUARDED_JSON);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const auth = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      const caller = auth === TOKENS.alice ? 7 : auth === TOKENS.bob ? 8 : undefined;
      if (caller === undefined) return send(401, { detail: 'Not authenticated' });
      const m = /^\/api\/(v1|v2)\/users\/(\d+)$/.exec((req.url ?? '').split('?')[0]);
      const user = m ? users.get(Number(m[2])) : undefined;
      if (!m || !user) return send(404, { detail: 'Not Found' });
      if (Number(m[2]) !== caller) return send(403, { detail: 'Not your account' });
      // The read shows no is_admin: only the update's answer does.
      const { is_admin: _flag, ...shown } = user;
      if (m[1] === 'v1')
        return req.method === 'GET' ? send(200, shown) : send(405, { detail: 'Method Not Allowed' });
      if (req.method !== 'PUT') return send(405, { detail: 'Method Not Allowed' });
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString());
      } catch {
        return send(422, { detail: [{ msg: 'JSON decode error' }] });
      }
      // Typed as a FastAPI model: a flag must be a boolean (null is refused).
      if (
        typeof body.name !== 'string' ||
        typeof body.email !== 'string' ||
        (body.is_admin !== undefined && typeof body.is_admin !== 'boolean')
      )
        return send(422, { detail: [{ msg: 'Field required' }] });
      user.name = body.name;
      user.email = body.email;
      if (!fixed) user.is_admin = body.is_admin === true;
      send(200, user);
    });
  });
  return { url: api.url, server: api.server, users };
}

describe('API3 on an account update whose record is read at another documented path', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Library }>;
  before(async () => {
    Object.assign(
      runs,
      await scanTwins(SPEC, startLibrary, {
        identities: [
          { name: 'alice', bearer: TOKENS.alice },
          { name: 'bob', bearer: TOKENS.bob },
        ],
        ratePerSecond: 400,
      }),
    );
  });

  test('is_admin stored through the update is found', () => {
    const found = runs.vulnerable.result.findings.filter((f) => f.rule.id === 'scan/api3-mass-assignment');
    assert.deepEqual(
      found.map((f) => f.operation?.operationId),
      ['update_user'],
      runs.vulnerable.result.findings.map((f) => `${f.rule.id} ${f.message}`).join('\n'),
    );
    assert.match(found[0].message, /is_admin/);
  });

  test("alice's and bob's records are as they were, and the set-back is confirmed", () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const warnings = runs[kind].result.warnings;
      assert.ok(!warnings.some((w) => /ELEVATED/.test(w)), warnings.join('\n'));
      assert.deepEqual([...runs[kind].api.users.values()], START, `${kind}: ${warnings.join('; ')}`);
    }
  });

  test('the fixed twin: no finding', () => {
    assert.deepEqual(
      runs.fixed.result.findings.map((f) => `${f.rule.id} ${f.message}`),
      [],
    );
  });
});
