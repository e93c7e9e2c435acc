import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A community board in a Starlette-like style (`{"detail"}` errors, `POST /auth/login` answering `{"access_token"}`).
 * - `GET /admin/stats`: counts and the process uptime, a float that changes on every call. Vulnerable: any signed-in
 *   user gets it; fixed twin: the admin only (403).
 * - `GET /admin/console`: an HTML page with a greeting and the counts. Vulnerable: anyone, signed in or not; fixed
 *   twin: the admin only (403 HTML).
 * - `GET /board/data`: the public board, every post with its author, a `generated_at` time that changes on every
 *   call and whether the caller is signed in; anonymous callers get the posts too, on both twins: no function of the
 *   admin.
 * - `GET /{page}`: an HTML shell for any other path (a single-page app), alike for everyone.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'community board', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/auth/login': {
      post: {
        operationId: 'login',
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
        responses: { '200': { description: 'token' }, '401': { description: 'no' } },
      },
    },
    '/admin/stats': { get: { operationId: 'stats', responses: { '200': { description: 'counts' } } } },
    '/admin/console': {
      get: {
        operationId: 'console',
        responses: {
          '200': { description: 'page', content: { 'text/html': { schema: { type: 'string' } } } },
        },
      },
    },
    '/board/data': { get: { operationId: 'boardData', responses: { '200': { description: 'posts' } } } },
    '/help': {
      get: {
        operationId: 'help',
        responses: {
          '200': { description: 'page', content: { 'text/html': { schema: { type: 'string' } } } },
        },
      },
    },
  },
};

const USERS: Record<string, { password: string; admin: boolean }> = {
  root: { password: 'Root-pw-19', admin: true },
  alice: { password: 'Alice-pw-19', admin: false },
  bob: { password: 'Bob-pw-19', admin: false },
};
const POSTS = [
  { id: 1, author: 'alice', text: 'Lost cat near the bakery' },
  { id: 2, author: 'bob', text: 'Free firewood, bring a bag' },
  { id: 3, author: 'root', text: 'Board rules updated' },
];

function startBoard(fixed: boolean) {
  const tokens = new Map<string, string>();
  const started = performance.now();
  const html = (res: import('node:http').ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><body>${body}</body></html>`);
  };
  return startServer(async (req, res) => {
    const body = await readJson(req);
    const path = new URL(req.url ?? '/', 'http://board').pathname;
    if (req.method === 'POST' && path === '/auth/login') {
      const u = USERS[String(body?.username)];
      if (!u || u.password !== body?.password)
        return sendJson(res, 401, { detail: 'Incorrect username or password' });
      const token = randomBytes(12).toString('hex');
      tokens.set(token, String(body?.username));
      return sendJson(res, 200, { access_token: token, token_type: 'bearer' });
    }
    const who = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    const isAdmin = who !== undefined && USERS[who].admin;
    if (req.method !== 'GET') return sendJson(res, 405, { detail: 'Method Not Allowed' });
    if (path === '/board/data')
      return sendJson(res, 200, {
        signed_in: who !== undefined,
        generated_at: new Date().toISOString(),
        posts: POSTS,
      });
    if (path === '/admin/console') {
      if (fixed && !isAdmin) return html(res, 403, '<h1>403 Forbidden</h1>');
      return html(
        res,
        200,
        `<h1>Board console</h1><p>Welcome, ${who ?? 'guest'}.</p><table><tr><td>Users</td><td>3</td></tr><tr><td>Posts</td><td>${POSTS.length}</td></tr><tr><td>Reports pending</td><td>0</td></tr></table><a href="/admin/console/purge">Purge spam</a>`,
      );
    }
    if (path === '/admin/stats') {
      if (!who) return sendJson(res, 401, { detail: 'Not authenticated' });
      if (fixed && !isAdmin) return sendJson(res, 403, { detail: 'Admins only' });
      return sendJson(res, 200, {
        users: 3,
        posts: POSTS.length,
        reports_pending: 0,
        uptime_seconds: (performance.now() - started) / 1000,
      });
    }
    return html(res, 200, '<div id="app">Loading the board...</div><script src="/static/app.js"></script>');
  });
}

const login = (username: string) => ({
  name: username,
  login: { path: '/auth/login', body: { username, password: USERS[username].password } },
});

describe('API5 compares answers without what changes on every call, and an open admin page is API5', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startBoard>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startBoard, {
        identities: [login('alice'), login('bob')],
        admin: login('root'),
        ratePerSecond: 200,
        checks: ['API5'],
      }),
    );
  });

  test('vulnerable: the stats with a changing uptime and the open console are API5; the public board is not', () => {
    assert.deepEqual(operationsFound(scans.vulnerable.result), [
      'scan/api5-bfla console',
      'scan/api5-bfla stats',
    ]);
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
