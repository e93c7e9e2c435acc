import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A PHP-like API behind a bearer token: `GET /api/view-user.php?id=` runs one script for any path suffix
 * (PATH_INFO), so `/api/view-user.php/admin` answers `{"error": "Missing ID"}` like `/api/view-user.php/anything`;
 * `GET /api/users` is documented, and a real undocumented `GET /api/users/admin` route sits beside it. The
 * `/api` folder also serves its `config.env` file to anyone (the login is at the root: no common base path).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'bank', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/login.php': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['username', 'password'],
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'token' }, '401': { description: 'wrong' } },
      },
    },
    '/api/view-user.php': {
      get: {
        operationId: 'viewUser',
        parameters: [{ name: 'id', in: 'query', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a user' } },
      },
    },
    '/api/users': {
      get: { operationId: 'listUsers', responses: { '200': { description: 'users' } } },
    },
  },
};

const USERS = [
  { username: 'alice', password: 'alice-pw-42', token: 't-alice', id: 1 },
  { username: 'bob', password: 'bob-pw-17', token: 't-bob', id: 2 },
];

function startBank({ withConfig = true, catchAll = false } = {}) {
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    if (req.method === 'POST' && path === '/login.php') {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text);
      } catch {
        return send(400, { error: 'bad JSON' });
      }
      const u = USERS.find((x) => x.username === body.username && x.password === body.password);
      return u ? send(200, { token: u.token }) : send(401, { error: 'Invalid credentials' });
    }
    if (path === '/api/config.env' && withConfig) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('DB_HOST=localhost\nDB_USER=root\nDB_PASSWORD=s3cret-db-pw\n');
    }
    if (
      catchAll &&
      path.startsWith('/api/') &&
      !path.startsWith('/api/view-user.php') &&
      path !== '/api/users'
    ) {
      return send(200, { status: 'ok' });
    }
    const user = USERS.find((u) => req.headers.authorization === `Bearer ${u.token}`);
    if (!user) return send(401, { error: 'Not logged in' });
    if (path === '/api/view-user.php' || path.startsWith('/api/view-user.php/')) {
      const id = Number(url.searchParams.get('id'));
      if (!url.searchParams.has('id')) return send(200, { error: 'Missing ID' });
      if (id !== user.id) return send(403, { error: 'Forbidden' });
      return send(200, { id: user.id, username: user.username });
    }
    if (path === '/api/users')
      return send(
        200,
        USERS.map((u) => ({ id: u.id, username: u.username })),
      );
    if (path === '/api/users/admin') {
      return send(200, {
        admins: [{ id: 1, username: 'alice', password_hash: '$2y$10$abcdefghijklmnopqrstuv' }],
      });
    }
    send(404, { error: 'Not found' });
  });
}

const identities = USERS.map((u) => ({
  name: u.username,
  login: {
    path: '/login.php',
    body: { username: u.username, password: u.password },
    tokenPointer: '/token',
  },
}));

async function scanBank(options: Parameters<typeof startBank>[0]): Promise<ScanResult> {
  const api = await startBank(options);
  try {
    return await scanDocument(SPEC, api.url, { identities, checks: ['API9'], ratePerSecond: 200 });
  } finally {
    api.server.close();
  }
}

const undocumented = (r: ScanResult) =>
  r.findings
    .filter((f) => f.rule.id === 'scan/api9-undocumented-endpoint')
    .map((f) => f.operation?.path)
    .sort();

describe('API9: a documented script answering any path suffix is no undocumented route', () => {
  let result: ScanResult;
  before(async () => {
    result = await scanBank({ withConfig: false });
  });

  test('the real /api/users/admin route is reported; /api/view-user.php/<anything> is not', () => {
    assert.deepEqual(undocumented(result), ['/api/users/admin']);
  });
});

describe('API9: configuration files below a documented folder', () => {
  test('/api/config.env with DB_PASSWORD is found, at critical', async () => {
    const result = await scanBank({ withConfig: true });
    assert.deepEqual(undocumented(result), ['/api/config.env', '/api/users/admin']);
    const f = result.findings.find((x) => x.operation?.path === '/api/config.env');
    assert.equal(f?.severity, 'critical');
  });

  test('a folder answering 200 to any file name: no configuration file reported', async () => {
    const result = await scanBank({ withConfig: false, catchAll: true });
    const files = undocumented(result).filter((p) =>
      /\.(env|json|yml|properties|config|sql|bak)$|\/\.env/.test(p ?? ''),
    );
    assert.deepEqual(files, []);
    // Nor version variants (`/api/v1/users` beside `/api/users`) nor siblings: the folder answers any name alike.
    assert.deepEqual(undocumented(result), []);
  });
});
