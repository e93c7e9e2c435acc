import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A staff area whose promotion route names the account only by a verb and an untyped string id:
 * `POST /api/staff/promote/{id}` (the document says `type: string`; the ids are numbers the sign-up answers). The
 * vulnerable twin promotes anyone's account for any caller, no credentials needed (API5); the fixed twin wants
 * the staff token (403). The scan must fill `{id}` with an account it registered itself (the sign-up answered
 * `{"user": {"id": 4}}`), not with a made-up string (answered 404 on both twins, so nothing was found before),
 * and never with a seeded account's id: alice, bob and the admin keep their roles.
 *
 * Style: hapi/Boom-like (`{statusCode, error, message}` errors, 200 for creations, `{user: {...}}` records, a
 * `/api` prefix with a `staff` namespace, bearer tokens from `POST /api/login {username, password}`).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'club', version: '2' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/signup': {
      post: {
        operationId: 'signup',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
                required: ['username', 'password'],
              },
            },
          },
        },
        responses: { '200': { description: 'the new account' } },
      },
    },
    '/api/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
                required: ['username', 'password'],
              },
            },
          },
        },
        responses: { '200': { description: 'a token' } },
      },
    },
    '/api/users/{id}': {
      get: {
        operationId: 'showUser',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'your account' } },
      },
    },
    '/api/staff/users/{id}': {
      get: {
        operationId: 'staffUser',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'an account' } },
      },
      delete: {
        operationId: 'staffDeleteUser',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '204': { description: 'deleted' } },
      },
    },
    '/api/staff/promote/{id}': {
      post: {
        operationId: 'promote',
        summary: 'Make an account staff',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'promoted' } },
      },
    },
  },
};

interface Account {
  id: number;
  username: string;
  password: string;
  role: 'member' | 'staff';
}

function startClub(fixed: boolean): Promise<TwinTarget & { accounts: Account[] }> {
  const accounts: Account[] = [
    { id: 1, username: 'root', password: 'root-pw-0', role: 'staff' },
    { id: 2, username: 'alice', password: 'alice-pw-1', role: 'member' },
    { id: 3, username: 'bob', password: 'bob-pw-2', role: 'member' },
  ];
  const tokens = new Map<string, Account>();
  const boom = (statusCode: number, error: string, message: string) => ({ statusCode, error, message });
  return startServer(async (req, res) => {
    const raw = await readText(req);
    let body: Record<string, unknown> = {};
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      return sendJson(res, 400, boom(400, 'Bad Request', 'Invalid request payload JSON format'));
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const view = (a: Account) => ({ user: { id: a.id, username: a.username, role: a.role } });
    if (req.method === 'POST' && path === '/api/signup') {
      const { username, password } = body;
      if (typeof username !== 'string' || typeof password !== 'string' || password.length < 8)
        return sendJson(res, 400, boom(400, 'Bad Request', '"password" length must be at least 8'));
      if (accounts.some((a) => a.username === username) || accounts.length > 60)
        return sendJson(res, 409, boom(409, 'Conflict', 'username taken'));
      const a: Account = { id: accounts.length + 1, username, password, role: 'member' };
      accounts.push(a);
      return sendJson(res, 200, view(a));
    }
    if (req.method === 'POST' && path === '/api/login') {
      const a = accounts.find((x) => x.username === body.username && x.password === body.password);
      if (!a) return sendJson(res, 401, boom(401, 'Unauthorized', 'Invalid username or password'));
      const t = randomBytes(16).toString('hex');
      tokens.set(t, a);
      return sendJson(res, 200, { token: t });
    }
    const me = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    const own = /^\/api\/users\/([^/]+)$/.exec(path);
    if (own && req.method === 'GET') {
      if (!me) return sendJson(res, 401, boom(401, 'Unauthorized', 'Missing authentication'));
      if (String(me.id) !== own[1]) return sendJson(res, 403, boom(403, 'Forbidden', 'not your account'));
      return sendJson(res, 200, view(me));
    }
    const m = /^\/api\/staff\/(users|promote)\/([^/]+)$/.exec(path);
    if (!m) return sendJson(res, 404, boom(404, 'Not Found', 'Not Found'));
    const target = accounts.find((a) => String(a.id) === decodeURIComponent(m[2]));
    if (m[1] === 'users' && req.method === 'GET') {
      if (me?.role !== 'staff') return sendJson(res, 403, boom(403, 'Forbidden', 'staff only'));
      return target
        ? sendJson(res, 200, view(target))
        : sendJson(res, 404, boom(404, 'Not Found', 'no account'));
    }
    if (m[1] === 'users' && req.method === 'DELETE') {
      if (me?.role !== 'staff') return sendJson(res, 403, boom(403, 'Forbidden', 'staff only'));
      if (!target) return sendJson(res, 404, boom(404, 'Not Found', 'no account'));
      accounts.splice(accounts.indexOf(target), 1);
      res.writeHead(204).end();
      return;
    }
    if (m[1] === 'promote' && req.method === 'POST') {
      if (fixed && me?.role !== 'staff') return sendJson(res, 403, boom(403, 'Forbidden', 'staff only'));
      if (!target) return sendJson(res, 404, boom(404, 'Not Found', 'no account'));
      target.role = 'staff';
      return sendJson(res, 200, { promoted: true, ...view(target) });
    }
    return sendJson(res, 404, boom(404, 'Not Found', 'Not Found'));
  }).then((api) => Object.assign(api, { accounts }));
}

const found = (r: ScanResult) =>
  r.findings.map((f) => `${f.rule.id} ${f.operation?.operationId}: ${f.message}`);

describe('an acting route after a verb: the id of an account the scan registered', () => {
  let runs: TwinScans<TwinTarget & { accounts: Account[] }>;
  before(async () => {
    const login = (username: string, password: string) => ({
      name: username,
      login: { path: '/api/login', body: { username, password } },
    });
    runs = await scanTwins(SPEC, startClub, {
      identities: [login('alice', 'alice-pw-1'), login('bob', 'bob-pw-2')],
      admin: login('root', 'root-pw-0'),
      checks: ['API1', 'API5'],
      ratePerSecond: 200,
    });
  });

  test('vulnerable: a plain member (or nobody) promotes an account (API5)', () => {
    const all = found(runs.vulnerable.result);
    assert.ok(
      all.some((m) => /^scan\/api5-[\w-]+ promote:/.test(m)),
      JSON.stringify(all),
    );
  });

  test('fixed: no finding', () => {
    assert.deepEqual(found(runs.fixed.result), []);
  });

  test("the seeded accounts keep their roles; only the scan's own were promoted", () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { accounts } = runs[kind].api;
      assert.deepEqual(
        accounts.slice(0, 3).map((a) => `${a.username} ${a.role}`),
        ['root staff', 'alice member', 'bob member'],
        kind,
      );
    }
  });
});
