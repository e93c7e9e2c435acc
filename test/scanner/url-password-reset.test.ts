import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { scanDocument } from './twins.ts';

/**
 * A FastAPI-style API whose inputs are all query parameters, POSTs included: a login
 * (`POST /auth/login?username=&password=`) and a GET that sets a password without proof
 * (`/auth/reset-password?username=&new_password=`). Discovery's reads and the credentials-in-URL probe (A's
 * password, then a wrong one) would each set the password of the account the query names. No GET that sets a
 * password is sent, by anyone.
 */
const q = (name: string) => ({ name, in: 'query', required: true, schema: { type: 'string' } });
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'inventory', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/auth/login': {
      post: {
        operationId: 'login',
        security: [],
        parameters: [q('username'), q('password')],
        responses: { '200': { description: 'a token' } },
      },
    },
    '/auth/reset-password': {
      get: {
        operationId: 'resetPassword',
        security: [],
        parameters: [q('username'), q('new_password')],
        responses: { '200': { description: 'reset' } },
      },
    },
    '/me': { get: { operationId: 'me', responses: { '200': { description: 'me' } } } },
  },
};

describe('the credentials-in-URL probe never sends a password reset', () => {
  const passwords = new Map([
    ['alice', 'alice-pw-12'],
    ['bob', 'bob-pw-34'],
  ]);
  const resets: string[] = [];
  let result: ScanResult;
  before(async () => {
    const tokens = new Map<string, string>();
    const api = await startServer(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      const user = url.searchParams.get('username') ?? '';
      if (url.pathname === '/auth/login') {
        if (passwords.get(user) !== url.searchParams.get('password'))
          return send(401, { detail: 'wrong credentials' });
        const t = randomBytes(16).toString('hex');
        tokens.set(t, user);
        return send(200, { access_token: t });
      }
      if (url.pathname === '/auth/reset-password') {
        resets.push(`${user} ${url.searchParams.get('new_password')}`);
        if (!passwords.has(user)) return send(404, { detail: 'no such user' });
        passwords.set(user, url.searchParams.get('new_password') ?? '');
        return send(200, { detail: 'password reset' });
      }
      const me = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (!me) return send(401, { detail: 'token required' });
      if (url.pathname === '/me') return send(200, { username: me });
      return send(404, { detail: 'not found' });
    });
    const identity = (name: string) => ({
      name,
      login: {
        path: `/auth/login?username=${name}&password=${passwords.get(name)}`,
        body: {},
        tokenPointer: '/access_token',
      },
    });
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: [identity('alice'), identity('bob')],
        checks: ['API2'],
        ratePerSecond: 200,
      });
    } finally {
      await api.close();
    }
  });

  test('alice and bob keep their passwords; no reset names them', () => {
    assert.ok(result.stats.requests > 0);
    assert.deepEqual([...passwords.values()], ['alice-pw-12', 'bob-pw-34'], resets.join('\n'));
    assert.deepEqual(
      resets.filter((r) => /^(alice|bob) /.test(r)),
      [],
    );
  });
});
