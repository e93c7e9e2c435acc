import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * Two leftovers session 15's measurement found only as API2 (no credentials) and API3 (hashes): a debug route that
 * dumps the process environment (as `NAME=value` lines) and every account with its password hash, and an internal
 * backup route of the first version (`/api/v1/internal/backup`, every account and post) beside the current v2.
 * They are API8 (a debug endpoint, configuration exposure) and API9 (an old internal route still served) too.
 *
 * Style: a Go-like forum (`{"error": {"code", "message"}}` errors, `Authorization: Bearer`, snake_case), base
 * `/api/v2`, one old route under `/api/v1`. The fixed twin serves no debug route (404, as in production) and
 * answers the old backup route 410 Gone.
 */
const bearer = [{ bearer: [] }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'forum', version: '2.3.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/api/v2/login': {
      post: {
        operationId: 'login',
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
        responses: { '200': { description: 'a token' }, '401': { description: 'refused' } },
      },
    },
    '/api/v2/posts': {
      get: { operationId: 'listPosts', security: bearer, responses: { '200': { description: 'posts' } } },
    },
    '/api/v2/debug/state': {
      get: { operationId: 'debugState', responses: { '200': { description: 'server state' } } },
    },
    '/api/v1/internal/backup': {
      get: { operationId: 'backupV1', responses: { '200': { description: 'a backup' } } },
    },
  },
};

const ACCOUNTS = [
  { username: 'otter', password: 'otter-pw-4410', role: 'member' },
  { username: 'heron', password: 'heron-pw-4410', role: 'member' },
  { username: 'moderator', password: 'moderator-pw-4410', role: 'admin' },
];
const ENV = [
  'PATH=/usr/local/bin:/usr/bin:/bin',
  'HOSTNAME=forum-7c9d',
  'HOME=/root',
  'LANG=C.UTF-8',
  'FORUM_PORT=8080',
  'FORUM_DB=/var/lib/forum.db',
  'FORUM_MODE=production',
  'GOMAXPROCS=2',
  'TZ=UTC',
];

function startForum(fixed: boolean): Promise<TwinTarget> {
  const tokens = new Map<string, (typeof ACCOUNTS)[number]>();
  const hash = (p: string) => `$2a$10$${Buffer.from(p).toString('base64').padEnd(53, 'Q')}`;
  const users = () =>
    ACCOUNTS.map((a, i) => ({ id: i + 1, username: a.username, password_hash: hash(a.password) }));
  return startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, payload: unknown) => sendJson(res, status, payload, GUARDED_JSON);
    const fail = (status: number, code: string, message: string) =>
      send(status, { error: { code, message } });
    const who = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (req.method === 'POST' && url.pathname === '/api/v2/login') {
      const a = ACCOUNTS.find((x) => x.username === b.username && x.password === b.password);
      if (!a) return fail(401, 'bad_login', 'wrong username or password');
      const t = randomBytes(20).toString('hex');
      tokens.set(t, a);
      return send(200, { token: t });
    }
    if (req.method === 'GET' && url.pathname === '/api/v2/debug/state') {
      if (fixed) return fail(404, 'not_found', 'no such route');
      return send(200, { env: ENV, users: users() });
    }
    if (req.method === 'GET' && url.pathname === '/api/v1/internal/backup') {
      if (fixed) return fail(410, 'gone', 'v1 was retired');
      return send(200, { users: users(), posts: [{ id: 1, title: 'welcome', author: 'moderator' }] });
    }
    if (req.method === 'GET' && url.pathname === '/api/v2/posts') {
      if (!who) return fail(401, 'unauthorized', 'token required');
      return send(200, { posts: [{ id: 1, title: 'welcome' }] });
    }
    return fail(404, 'not_found', 'no such route');
  });
}

const found = (r: ScanResult) =>
  [...new Set(r.findings.map((f) => `${f.rule.id} ${f.operation?.operationId ?? f.operation?.path}`))].sort();

describe('a debug dump and an old internal backup route', () => {
  let runs: TwinScans<TwinTarget>;
  before(async () => {
    const login = (a: (typeof ACCOUNTS)[number]) => ({
      name: a.username,
      login: { path: '/api/v2/login', body: { username: a.username, password: a.password } },
    });
    runs = await scanTwins(SPEC, startForum, {
      identities: [login(ACCOUNTS[0]), login(ACCOUNTS[1])],
      admin: login(ACCOUNTS[2]),
      checks: ['API8', 'API9'],
      ratePerSecond: 200,
    });
  });

  test('vulnerable: the debug dump is API8, the old internal backup API8 and API9', () => {
    const all = found(runs.vulnerable.result);
    for (const want of [
      'scan/api8-configuration-exposure debugState',
      'scan/api8-configuration-exposure backupV1',
      'scan/api9-deprecated-operation-served backupV1',
    ])
      assert.ok(all.includes(want), `${want}\n${all.join('\n')}`);
  });

  test('fixed: no finding', () => {
    assert.deepEqual(
      runs.fixed.result.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });
});
