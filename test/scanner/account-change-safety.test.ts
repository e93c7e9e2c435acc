import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';

/**
 * Discovery safety: a POST that changes an account is never sent by discovery, as a given identity or
 * anonymously. An Express-style API under `/api/v1` with a cookie session (`sid`) from `POST /api/v1/sessions`,
 * a member directory `GET /api/v1/users` (every member's id) and three account changes in three shapes:
 * `POST /api/v1/users/{id}/change-email` (a verb after the account), `POST /api/v1/accounts/{account_id}`
 * with an e-mail and a role in its body, and an RPC `POST /api/v1/grant-role {username, role}` (open to
 * anyone, as careless APIs have it). Beside them an ordinary action, `POST /api/v1/users/{id}/follow`, that
 * discovery sends only with --allow-destructive (it names a member the scan did not create). The server records
 * every request and applies none of the changes.
 */
const body = (properties: Record<string, unknown>) => ({
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const id = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'integer' } });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'members', version: '1' },
  components: { securitySchemes: { sid: { type: 'apiKey', in: 'cookie', name: 'sid' } } },
  security: [{ sid: [] }],
  paths: {
    '/api/v1/sessions': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: body({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: { '204': { description: 'signed in' } },
      },
    },
    '/api/v1/users': { get: { operationId: 'listUsers', responses: { '200': { description: 'users' } } } },
    '/api/v1/users/{id}/change-email': {
      post: {
        operationId: 'changeEmail',
        parameters: [id('id')],
        requestBody: body({ email: { type: 'string', format: 'email' } }),
        responses: { '200': { description: 'changed' } },
      },
    },
    '/api/v1/users/{id}/follow': {
      post: { operationId: 'follow', parameters: [id('id')], responses: { '200': { description: 'ok' } } },
    },
    '/api/v1/accounts/{account_id}': {
      post: {
        operationId: 'editAccount',
        parameters: [id('account_id')],
        requestBody: body({ email: { type: 'string' }, role: { type: 'string' } }),
        responses: { '200': { description: 'edited' } },
      },
    },
    '/api/v1/grant-role': {
      post: {
        operationId: 'grantRole',
        security: [],
        requestBody: body({ username: { type: 'string' }, role: { type: 'string' } }),
        responses: { '200': { description: 'granted' } },
      },
    },
  },
};

const USERS = [
  { id: 1, username: 'root', password: 'root-pw-3' },
  { id: 2, username: 'carol', password: 'carol-pw-5' },
  { id: 3, username: 'dave', password: 'dave-pw-8' },
];

type Run = { requests: string[]; result: ScanResult };

/** Scans the members' API with discovery only, recording every request the server received. */
async function scanMembers(allowDestructive: boolean, checks: string[]): Promise<Run> {
  const requests: string[] = [];
  const sessions = new Map<string, number>();
  const api = await startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(payload === undefined ? '' : JSON.stringify(payload));
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/v1/sessions') {
      const v = JSON.parse(text || '{}') as { username?: string; password?: string };
      const u = USERS.find((x) => x.username === v.username && x.password === v.password);
      if (!u) return send(401, { message: 'invalid credentials' });
      const sid = `sid${sessions.size}x${u.id}`;
      sessions.set(sid, u.id);
      return send(204, undefined, { 'set-cookie': `sid=${sid}; Path=/; HttpOnly` });
    }
    const sid = /(?:^|;\s*)sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1] ?? '';
    const who = sessions.get(sid);
    requests.push(`${req.method} ${path} ${who ?? 'anonymous'}`);
    if (path === '/api/v1/grant-role') return send(200, { message: 'granted' });
    if (who === undefined) return send(401, { message: 'sign in' });
    if (req.method === 'GET' && path === '/api/v1/users') {
      return send(
        200,
        USERS.map(({ id, username }) => ({ id, username })),
      );
    }
    if (req.method === 'POST' && /^\/api\/v1\/(users|accounts)\/\d+/.test(path)) {
      return send(200, { message: 'ok' });
    }
    return send(404, { message: 'not found' });
  });
  try {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { runScan } = await import('../../src/scanner/scan/runner.ts');
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-account-change-'));
    try {
      const spec = join(dir, 'spec.json');
      await writeFile(spec, JSON.stringify(SPEC));
      const login = (u: (typeof USERS)[number]) => ({
        name: u.username,
        login: { path: '/api/v1/sessions', body: { username: u.username, password: u.password } },
      });
      const result = await runScan({
        spec,
        target: api.url,
        identities: [login(USERS[1]), login(USERS[2])],
        admin: login(USERS[0]),
        checks,
        ratePerSecond: 200,
        allowDestructive,
      });
      return { requests, result };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await api.close();
  }
}

describe('discovery sends no POST that changes an account', () => {
  let plain: Run;
  let destructive: Run;
  before(async () => {
    plain = await scanMembers(false, ['API1']);
    destructive = await scanMembers(true, []);
  });

  test('no change-email, account edit or role grant, as an identity or anonymously, even with --allow-destructive', () => {
    for (const run of [plain, destructive]) {
      assert.ok(run.result.stats.requests > 0);
      const changes = run.requests.filter((r) => /change-email|\/accounts\/|grant-role/.test(r));
      assert.deepEqual(changes, []);
    }
  });

  test('an ordinary action below another user is not sent in a plain scan, and the matrix says why', () => {
    // The follow names a member the API gave out (the write guard: a write naming an object by its path goes only
    // to an object the scan created), so a plain scan leaves it, and says so on the operation.
    const follows = plain.requests.filter((r) => r.includes('/follow'));
    assert.deepEqual(follows, []);
    // Discovery's note on an operation is shown on every cell of it (coverage.ts: its `ids`).
    const cell = plain.result.coverage.matrix.find(
      (c) => c.check === 'API1' && c.operation === 'POST /api/v1/users/{id}/follow',
    );
    assert.ok(cell, JSON.stringify(plain.result.coverage.matrix));
    const said = [cell.reason, cell.ids, ...(cell.notes ?? [])].filter((x) => x !== undefined);
    assert.ok(
      said.some((x) =>
        /^not sent: a POST that names [23] by its path, which the scan did not create \(--allow-destructive sends it\)$/.test(
          x,
        ),
      ),
      said.join('\n'),
    );
  });

  test('with --allow-destructive the ordinary action is sent', () => {
    assert.ok(
      destructive.requests.some((r) => /^POST \/api\/v1\/users\/\d+\/follow 2$/.test(r)),
      `${destructive.requests.join('\n')}\n${JSON.stringify(destructive.result.warnings)}`,
    );
  });
});
