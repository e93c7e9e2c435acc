import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A login that hands the caller its own API key beside its session (`{accessToken, apiKey}`) gives the caller its
 * credential: that is what a login is for, not a leak of a secret (review R2, session 13: `{token, api_key}` was
 * reported high as a secret and medium as an undeclared field).
 *
 * Style: camelCase members, `POST /auth/token {login, passphrase}` answering 200 `{accessToken, expiresIn, apiKey}`
 * (the key undeclared in the answer's schema), a Bearer session or an `X-Api-Key` header, sign-up at `POST
 * /accounts` answering 201 `{id, login, apiKey}`, errors `{"problem": "..."}`. The fixed twin hands each caller its
 * own key, which the API takes as that caller's credential. The vulnerable twin hands every caller the same
 * partner key of the server's own (the key of its payment provider): a secret that is no caller's, still reported.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'keys', version: '1' },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer' },
      key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
    },
  },
  security: [{ bearer: [] }, { key: [] }],
  paths: {
    '/auth/token': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { login: { type: 'string' }, passphrase: { type: 'string' } },
                required: ['login', 'passphrase'],
              },
            },
          },
        },
        responses: {
          '200': {
            description: 'a session',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { accessToken: { type: 'string' }, expiresIn: { type: 'integer' } },
                },
              },
            },
          },
          '401': { description: 'wrong' },
        },
      },
    },
    '/accounts': {
      post: {
        operationId: 'signUp',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  login: { type: 'string' },
                  passphrase: { type: 'string', minLength: 12 },
                  displayName: { type: 'string' },
                },
                required: ['login', 'passphrase'],
              },
            },
          },
        },
        responses: { '201': { description: 'the account' }, '409': { description: 'taken' } },
      },
    },
    '/profile': { get: { operationId: 'profile', responses: { '200': { description: 'you' } } } },
  },
};

interface Account {
  id: string;
  login: string;
  passphrase: string;
  displayName: string;
  apiKey: string;
}

function startKeys(fixed: boolean): Promise<TwinTarget> {
  const partnerKey = `pk_live_${randomBytes(16).toString('hex')}`;
  const accounts: Account[] = ['alice', 'bob'].map((n) => ({
    id: randomUUID(),
    login: n,
    passphrase: `${n}-passphrase-1`,
    displayName: n,
    apiKey: `ak_${randomBytes(16).toString('hex')}`,
  }));
  const sessions = new Map<string, Account>();
  // What the login and sign-up hand out: the caller's own key, or (vulnerable) the server's partner key.
  const handed = (a: Account) => (fixed ? a.apiKey : partnerKey);
  return startServer(async (req, res) => {
    const body = (await readJson(req)) ?? {};
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'POST' && path === '/auth/token') {
      const a = accounts.find((x) => x.login === body.login && x.passphrase === body.passphrase);
      if (!a) return sendJson(res, 401, { problem: 'wrong login or passphrase' });
      const token = randomBytes(24).toString('base64url');
      sessions.set(token, a);
      return sendJson(res, 200, { accessToken: token, expiresIn: 3600, apiKey: handed(a) });
    }
    if (req.method === 'POST' && path === '/accounts') {
      const { login, passphrase, displayName } = body;
      if (typeof login !== 'string' || typeof passphrase !== 'string' || passphrase.length < 12)
        return sendJson(res, 422, { problem: 'login and a passphrase of 12 or more' });
      if (accounts.some((a) => a.login === login)) return sendJson(res, 409, { problem: 'taken' });
      const a: Account = {
        id: randomUUID(),
        login,
        passphrase,
        displayName: typeof displayName === 'string' ? displayName : login,
        apiKey: `ak_${randomBytes(16).toString('hex')}`,
      };
      accounts.push(a);
      return sendJson(res, 201, { id: a.id, login: a.login, apiKey: handed(a) });
    }
    const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const key = req.headers['x-api-key'];
    const me = sessions.get(bearer) ?? accounts.find((a) => typeof key === 'string' && a.apiKey === key);
    if (!me) return sendJson(res, 401, { problem: 'sign in' });
    if (req.method === 'GET' && path === '/profile')
      return sendJson(res, 200, { id: me.id, login: me.login, displayName: me.displayName });
    return sendJson(res, 404, { problem: 'no such route' });
  });
}

const LEAKS = ['scan/api3-sensitive-data-exposure', 'scan/api3-undeclared-response-fields'];
const leaksOf = (r: ScanResult) =>
  r.findings
    .filter((f) => LEAKS.includes(f.rule.id) && /auth\/token|accounts/.test(f.message))
    .map((f) => f.message);

describe("a login's answer that hands the caller its own API key", () => {
  let runs: TwinScans<TwinTarget>;
  before(async () => {
    const login = (n: string) => ({
      name: n,
      login: { path: '/auth/token', body: { login: n, passphrase: `${n}-passphrase-1` } },
    });
    runs = await scanTwins(SPEC, startKeys, {
      identities: [login('alice'), login('bob')],
      checks: ['API2', 'API3'],
      ratePerSecond: 100,
    });
  });
  test('fixed: each caller its own key is no secret leaked', () => {
    assert.deepEqual(leaksOf(runs.fixed.result), []);
  });

  test("vulnerable: the server's own key handed to every caller is still reported", () => {
    const found = leaksOf(runs.vulnerable.result);
    assert.ok(
      found.some((m) => m.includes('POST /auth/token') && m.includes('/apiKey')),
      JSON.stringify(found),
    );
  });
});
