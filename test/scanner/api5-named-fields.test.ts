import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A team workspace in an Express style with hand-written checks: errors as `{"status": "error", "error": ...}`, a
 * public sign-up `POST /accounts {username, password}`, a login answering `{"status": "ok", "token"}`, the
 * admin's account list, and `POST /admin/accounts/{accountId}/promote {level}`. The handler also wants a
 * `reason`, which the document does not list: without it the answer is 400 "a reason is required". Vulnerable:
 * any signed-in account promotes any account. Fixed twin: the admin only (403 to the others).
 *
 * API5 promotes an account the scan registered, as alice; only the 400's message says what the body lacks.
 */
const failure = { description: 'error' };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'team workspace', version: '1' },
  components: { securitySchemes: { session: { type: 'http', scheme: 'bearer' } } },
  security: [{ session: [] }],
  paths: {
    '/accounts': {
      post: {
        operationId: 'signUp',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['username', 'password'],
                properties: { username: { type: 'string', maxLength: 40 }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '201': { description: 'account' }, '409': failure },
      },
    },
    '/accounts/login': {
      post: {
        operationId: 'logIn',
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
        responses: { '200': { description: 'session' }, '401': failure },
      },
    },
    '/admin/accounts': {
      get: { operationId: 'listAccounts', responses: { '200': { description: 'accounts' }, '403': failure } },
    },
    '/admin/accounts/{accountId}/promote': {
      post: {
        operationId: 'promote',
        parameters: [{ name: 'accountId', in: 'path', required: true, schema: { type: 'integer' } }],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['level'],
                properties: { level: { type: 'string', enum: ['member', 'lead', 'admin'] } },
              },
            },
          },
        },
        responses: { '200': { description: 'promoted' }, '400': failure, '403': failure },
      },
    },
  },
};

interface Account {
  id: number;
  username: string;
  password: string;
  level: 'member' | 'lead' | 'admin';
  reasons: string[];
}

function startWorkspace(fixed: boolean) {
  const accounts: Account[] = [
    { id: 1, username: 'owner', password: 'Owner-pw-61', level: 'admin', reasons: [] },
    { id: 2, username: 'alice', password: 'Alice-pw-61', level: 'member', reasons: [] },
    { id: 3, username: 'bob', password: 'Bob-pw-61', level: 'member', reasons: [] },
  ];
  const sessions = new Map<string, Account>();
  let next = 4;
  const shown = ({ password: _, reasons: __, ...a }: Account) => a;
  return startServer(async (req, res) => {
    const body = await readJson(req);
    const path = new URL(req.url ?? '/', 'http://team').pathname;
    const error = (status: number, text: string) => sendJson(res, status, { status: 'error', error: text });
    if (req.method === 'POST' && path === '/accounts') {
      const { username, password } = body ?? {};
      if (typeof username !== 'string' || typeof password !== 'string' || username === '')
        return error(400, 'username and password are required');
      if (accounts.some((a) => a.username === username)) return error(409, 'taken');
      const a: Account = {
        id: next++,
        username: username.slice(0, 40),
        password,
        level: 'member',
        reasons: [],
      };
      accounts.push(a);
      return sendJson(res, 201, { status: 'ok', account: shown(a) });
    }
    if (req.method === 'POST' && path === '/accounts/login') {
      const a = accounts.find((x) => x.username === body?.username && x.password === body?.password);
      if (!a) return error(401, 'wrong username or password');
      const session = randomBytes(12).toString('hex');
      sessions.set(session, a);
      return sendJson(res, 200, { status: 'ok', token: session });
    }
    const me = sessions.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!me) return error(401, 'sign in first');
    if (req.method === 'GET' && path === '/admin/accounts') {
      if (me.level !== 'admin') return error(403, 'admins only');
      return sendJson(res, 200, { status: 'ok', accounts: accounts.map(shown) });
    }
    const m = /^\/admin\/accounts\/(\d+)\/promote$/.exec(path);
    if (req.method === 'POST' && m) {
      if (fixed && me.level !== 'admin') return error(403, 'admins only');
      const target = accounts.find((a) => a.id === Number(m[1]));
      if (!target) return error(404, 'no such account');
      const level = body?.level;
      if (level !== 'member' && level !== 'lead' && level !== 'admin') return error(400, 'level is invalid');
      if (typeof body?.reason !== 'string' || body.reason === '') return error(400, 'a reason is required');
      target.level = level;
      target.reasons.push(body.reason);
      return sendJson(res, 200, { status: 'ok', account: shown(target) });
    }
    return error(404, 'not found');
  }).then((api) => Object.assign(api, { accounts }));
}

const login = (username: string, password: string) => ({
  name: username,
  login: { path: '/accounts/login', body: { username, password } },
});

describe('API5 adds a field the document does not list when the 400 answer names it', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startWorkspace>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startWorkspace, {
        identities: [login('alice', 'Alice-pw-61'), login('bob', 'Bob-pw-61')],
        admin: login('owner', 'Owner-pw-61'),
        ratePerSecond: 200,
        checks: ['API5'],
      }),
    );
  });

  test('vulnerable: the promotion by alice is found, naming the field the answer asked for', () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(found.includes('scan/api5-bfla promote'), found.join());
    const f = scans.vulnerable.result.findings.find((x) => x.operation?.operationId === 'promote');
    assert.match(f?.message ?? '', /with reason/);
  });

  test('the given accounts keep their levels; fixed twin: no finding', () => {
    for (const { api } of [scans.vulnerable, scans.fixed]) {
      const given = api.accounts.filter((a) => a.id <= 3).map((a) => `${a.username}:${a.level}`);
      assert.deepEqual(given, ['owner:admin', 'alice:member', 'bob:member']);
    }
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
