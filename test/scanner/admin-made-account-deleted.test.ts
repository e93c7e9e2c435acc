import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A staff directory in the style of a small hapi app (`{"statusCode", "error", "message"}` errors, static
 * `Authorization: Token <key>` keys). Only an administrator may create accounts, with a role from a list that
 * includes `admin` (`POST /staff/accounts {login, password, role}`), and delete them (`DELETE
 * /staff/accounts/{account_id}`). API5 confirms that the admin's creation works by sending it as the admin, with
 * the privileged role: the account it makes is an administrator, and a plain scan must not leave it behind. The
 * clean-up deletes it as the admin, or, when the API refuses that (a second twin answers 409 to every delete),
 * the report warns that it was left. Nothing here is vulnerable: ordinary users are refused (403).
 */
const body = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'staff directory', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/staff/whoami': { get: { operationId: 'whoami', responses: { '200': { description: 'you' } } } },
    '/staff/accounts': {
      get: {
        operationId: 'accounts',
        responses: { '200': { description: 'all' }, '403': { description: 'no' } },
      },
      post: {
        operationId: 'createAccount',
        description: 'administrators only',
        requestBody: body(
          {
            login: { type: 'string' },
            password: { type: 'string', format: 'password' },
            role: { type: 'string', enum: ['staff', 'admin'] },
          },
          ['login', 'password', 'role'],
        ),
        responses: { '201': { description: 'made' }, '403': { description: 'administrators only' } },
      },
    },
    '/staff/accounts/{account_id}': {
      delete: {
        operationId: 'deleteAccount',
        parameters: [{ name: 'account_id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '204': { description: 'gone' },
          '403': { description: 'no' },
          '404': { description: 'none' },
          '409': { description: 'accounts are kept' },
        },
      },
    },
  },
};

interface Account {
  id: string;
  login: string;
  role: string;
}
const SEEDED: (Account & { key: string })[] = [
  { id: 'a-7c01', login: 'alice', role: 'staff', key: 'Token 3f9a-alice' },
  { id: 'a-7c02', login: 'bob', role: 'staff', key: 'Token 81d0-bob' },
  { id: 'a-7c03', login: 'chief', role: 'admin', key: 'Token c4e2-chief' },
];

function startDirectory(deletes: boolean) {
  const accounts: Account[] = SEEDED.map(({ id, login, role }) => ({ id, login, role }));
  const fail = (res: Parameters<typeof sendJson>[0], statusCode: number, error: string, message: string) =>
    sendJson(res, statusCode, { statusCode, error, message });
  const started = startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const path = (req.url ?? '/').split('?')[0];
    const me = SEEDED.find((u) => u.key === req.headers.authorization);
    if (!me || !accounts.some((a) => a.id === me.id)) return fail(res, 401, 'Unauthorized', 'Missing token');
    const view = (a: Account) => ({ id: a.id, login: a.login, role: a.role });
    if (req.method === 'GET' && path === '/staff/whoami') return sendJson(res, 200, view(me));
    if (path === '/staff/accounts') {
      if (me.role !== 'admin') return fail(res, 403, 'Forbidden', 'Administrators only');
      if (req.method === 'GET') return sendJson(res, 200, accounts.map(view));
      if (req.method === 'POST') {
        if (
          typeof b.login !== 'string' ||
          typeof b.password !== 'string' ||
          !['staff', 'admin'].includes(String(b.role))
        )
          return fail(res, 400, 'Bad Request', 'login, password and role');
        if (accounts.some((a) => a.login === b.login)) return fail(res, 409, 'Conflict', 'Taken');
        const a = { id: `a-${randomUUID().slice(0, 8)}`, login: b.login, role: String(b.role) };
        accounts.push(a);
        return sendJson(res, 201, view(a));
      }
    }
    const m = /^\/staff\/accounts\/([^/]+)$/.exec(path);
    if (m && req.method === 'DELETE') {
      if (me.role !== 'admin') return fail(res, 403, 'Forbidden', 'Administrators only');
      const i = accounts.findIndex((a) => a.id === decodeURIComponent(m[1]));
      if (i < 0) return fail(res, 404, 'Not Found', 'No such account');
      if (!deletes) return fail(res, 409, 'Conflict', 'Accounts are kept for the audit');
      accounts.splice(i, 1);
      res.writeHead(204).end();
      return;
    }
    return fail(res, 404, 'Not Found', 'Not Found');
  });
  return started.then((s) => ({ ...s, accounts }));
}

const identity = (i: number) => ({ name: SEEDED[i].login, headers: { Authorization: SEEDED[i].key } });
const seeded = () => SEEDED.map(({ id, login, role }) => ({ id, login, role }));

for (const deletes of [true, false]) {
  describe(`the account the admin's creation made is not left behind (${deletes ? 'deleted' : 'the API refuses deletes'})`, () => {
    let api: Awaited<ReturnType<typeof startDirectory>>;
    let result: ScanResult;
    before(async () => {
      api = await startDirectory(deletes);
      try {
        result = await scanDocument(SPEC, api.url, {
          identities: [identity(0), identity(1)],
          admin: identity(2),
          ratePerSecond: 200,
          checks: ['API5'],
        });
      } finally {
        api.server.close();
      }
    });

    test('API5 made an account as the admin (the check ran)', () => {
      assert.ok(
        result.coverage.matrix.some(
          (m) => m.check === 'API5' && m.operation === 'POST /staff/accounts' && m.requests > 0,
        ),
      );
    });

    if (deletes)
      test('every account is as seeded after the scan, and no note calls the deleted one left', () => {
        assert.deepEqual(api.accounts, seeded());
        assert.ok(
          result.notes.some((n) => /the account chief created deleted/.test(n)),
          result.notes.join('\n'),
        );
        assert.ok(!result.notes.some((n) => /left in place/.test(n)), result.notes.join('\n'));
      });
    else
      test('the account left in place is a warning of the report', () => {
        const left = api.accounts.filter((a) => !SEEDED.some((s) => s.id === a.id));
        assert.ok(left.length > 0, 'the admin made an account');
        assert.ok(
          result.warnings.some((w) => w.includes(left[0].id) && /left in place/.test(w)),
          result.warnings.join('\n'),
        );
      });
  });
}
