import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runScan, type ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { operationsFound } from './twins.ts';

/**
 * The scan's own privilege escalation must not turn into findings. Accounts in a FastAPI style: a user edits
 * itself at `PUT /users/{user_id}` (the JWT's `user_id` says who the caller is) and the update stores any field,
 * `role` included (a real mass assignment). `GET /admin/users` is the admin's directory with SSNs; the server
 * decides by the caller's role as it is stored now, so an identity the probe made an admin gets the directory.
 * Two servers: one where the role can be set back (the scan must restore it, confirmed by the server's state),
 * one where a role only ever goes up (the restore cannot work: the identity is marked elevated, the report says
 * so loudly, and what it reads afterwards is not judged as an ordinary user's view).
 */
const USER = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    username: { type: 'string' },
    email: { type: 'string' },
    full_name: { type: 'string' },
    role: { type: 'string' },
  },
};
const NOTE_IN = { type: 'object', properties: { title: { type: 'string' } } };
const NOTE = {
  type: 'object',
  properties: { id: { type: 'integer' }, owner: { type: 'integer' }, title: { type: 'string' } },
};
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'accounts', version: '1.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/users': {
      get: {
        operationId: 'list_users',
        responses: {
          '200': {
            description: 'users',
            content: { 'application/json': { schema: { type: 'array', items: USER } } },
          },
        },
      },
    },
    '/users/{user_id}': {
      parameters: [{ name: 'user_id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'get_user',
        responses: { '200': { description: 'a user', content: { 'application/json': { schema: USER } } } },
      },
      put: {
        operationId: 'update_user',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { email: { type: 'string', format: 'email' }, full_name: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'updated', content: { 'application/json': { schema: USER } } } },
      },
    },
    '/notes': {
      post: {
        operationId: 'create_note',
        requestBody: { required: true, content: { 'application/json': { schema: NOTE_IN } } },
        responses: { '201': { description: 'created', content: { 'application/json': { schema: NOTE } } } },
      },
    },
    '/notes/{note_id}': {
      parameters: [{ name: 'note_id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'get_note',
        responses: { '200': { description: 'a note', content: { 'application/json': { schema: NOTE } } } },
      },
      put: {
        operationId: 'update_note',
        requestBody: { required: true, content: { 'application/json': { schema: NOTE_IN } } },
        responses: { '200': { description: 'updated', content: { 'application/json': { schema: NOTE } } } },
      },
    },
    '/admin/users': {
      get: {
        operationId: 'admin_directory',
        tags: ['Admin'],
        description: 'Every user with personal data. Admin only.',
        responses: {
          '200': {
            description: 'the directory',
            content: { 'application/json': { schema: { type: 'array', items: { type: 'object' } } } },
          },
        },
      },
    },
  },
};

const jwt = (claims: Record<string, unknown>) =>
  `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2lnbmF0dXJl`;
const TOKENS: Record<string, string> = {
  root: jwt({ sub: 'root', user_id: 1, role: 'admin' }),
  alice: jwt({ sub: 'alice', user_id: 11, role: 'user' }),
  carol: jwt({ sub: 'carol', user_id: 12, role: 'user' }),
};
const IDS: Record<string, number> = { root: 1, alice: 11, carol: 12 };

interface Accounts extends TestServer {
  readonly users: Map<number, Record<string, unknown>>;
}

type Mode = 'restorable' | 'adminRestores' | 'oneWay';

/**
 * `restorable`: a user sets its own role either way. `adminRestores`: an admin's role is changed by the admin
 * (root, who may edit any account) only. `oneWay`: a role only goes up (`user` → `admin`), whoever asks.
 */
async function startAccounts(mode: Mode): Promise<Accounts> {
  const users = new Map<number, Record<string, unknown>>([
    [1, { id: 1, username: 'root', email: 'root@example.com', full_name: 'Root', role: 'admin' }],
    [11, { id: 11, username: 'alice', email: 'alice@example.com', full_name: 'Alice', role: 'user' }],
    [12, { id: 12, username: 'carol', email: 'carol@example.com', full_name: 'Carol', role: 'user' }],
  ]);
  const notes = new Map<number, Record<string, unknown>>();
  const server = await startServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const auth = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    const name = Object.keys(TOKENS).find((k) => TOKENS[k] === auth);
    if (name === undefined) return send(401, { detail: 'Not authenticated' });
    const caller = IDS[name];
    const path = (req.url ?? '').split('?')[0];
    if (path === '/users' && req.method === 'GET') {
      return send(
        200,
        [...users.values()].map((u) => ({ id: u.id, username: u.username })),
      );
    }
    if (path === '/admin/users' && req.method === 'GET') {
      // Decided by the role the caller has now, as stored.
      if (users.get(caller)?.role !== 'admin') return send(403, { detail: 'Admins only' });
      return send(
        200,
        [...users.values()].map((u, i) => ({ ...u, ssn: `078-05-11${20 + i}` })),
      );
    }
    if (path === '/notes' || path.startsWith('/notes/')) return notesRoute(req, res, caller, notes, path);
    const m = /^\/users\/(\d+)$/.exec(path);
    const user = m ? users.get(Number(m[1])) : undefined;
    if (!m || !user) return send(404, { detail: 'Not Found' });
    const root = mode === 'adminRestores' && caller === 1;
    if (Number(m[1]) !== caller && !root) return send(403, { detail: 'Not your account' });
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      if (req.method === 'GET') return send(200, user);
      if (req.method !== 'PUT') return send(405, { detail: 'Method Not Allowed' });
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw);
      } catch {
        return send(422, { detail: [{ msg: 'JSON decode error' }] });
      }
      for (const [k, v] of Object.entries(body)) {
        if (k === 'id' || k === 'username') continue;
        if (
          k === 'role' &&
          user.role === 'admin' &&
          (mode === 'oneWay' || (mode === 'adminRestores' && !root))
        ) {
          continue;
        }
        user[k] = v;
      }
      send(200, user);
    });
  });
  return { ...server, users };
}

/** Notes: each user creates and edits its own (only `title` is stored). */
function notesRoute(
  req: IncomingMessage,
  res: ServerResponse,
  caller: number,
  notes: Map<number, Record<string, unknown>>,
  path: string,
): void {
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  let raw = '';
  req.on('data', (c) => {
    raw += c;
  });
  req.on('end', () => {
    let body: Record<string, unknown> = {};
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      return send(422, { detail: 'bad JSON' });
    }
    if (path === '/notes' && req.method === 'POST') {
      const note = { id: notes.size + 100, owner: caller, title: String(body.title ?? '') };
      notes.set(note.id, note);
      return send(201, note);
    }
    const note = notes.get(Number(path.split('/')[2]));
    if (!note || note.owner !== caller) return send(404, { detail: 'Not Found' });
    if (req.method === 'GET') return send(200, note);
    if (req.method !== 'PUT') return send(405, { detail: 'Method Not Allowed' });
    if (typeof body.title === 'string') note.title = body.title;
    send(200, note);
  });
}

async function scan(api: Accounts, dir: string): Promise<ScanResult> {
  const spec = path.join(dir, 'spec.json');
  await writeFile(spec, JSON.stringify(SPEC));
  return runScan({
    spec,
    target: api.url,
    identities: [
      { name: 'alice', bearer: TOKENS.alice },
      { name: 'carol', bearer: TOKENS.carol },
    ],
    admin: { name: 'root', bearer: TOKENS.root },
    ratePerSecond: 300,
  });
}

describe("the scan's own escalation of an identity (mass assignment of `role` on its own account)", () => {
  let dir = '';
  const apis = {} as Record<Mode, Accounts>;
  const results = {} as Record<Mode, ScanResult>;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'portcullis-escalation-'));
    for (const kind of ['restorable', 'adminRestores', 'oneWay'] as const) {
      apis[kind] = await startAccounts(kind);
      results[kind] = await scan(apis[kind], dir);
    }
  });
  after(async () => {
    for (const api of Object.values(apis)) await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('reports the mass assignment on both servers', () => {
    for (const r of Object.values(results)) {
      assert.ok(
        operationsFound(r).includes('scan/api3-mass-assignment update_user'),
        operationsFound(r).join(', '),
      );
    }
  });

  test('restores the role it set, confirmed by the server state, and warns of nothing', () => {
    for (const kind of ['restorable', 'adminRestores'] as const) {
      const roles = [...apis[kind].users.values()].map((u) => `${u.username}:${u.role}`);
      assert.deepEqual(roles, ['root:admin', 'alice:user', 'carol:user'], kind);
      assert.ok(
        !results[kind].warnings.some((w) => /elevat|admin/i.test(w)),
        `${kind}: ${results[kind].warnings.join('\n')}`,
      );
    }
  });

  test('never reports the admin directory as shown to an ordinary identity', () => {
    for (const r of Object.values(results)) {
      const directory = r.findings.filter((f) => f.operation?.operationId === 'admin_directory');
      assert.deepEqual(
        directory.map((f) => `${f.rule.id}: ${f.message}`),
        [],
      );
    }
  });

  test('when the role cannot be set back, warns loudly and names the identity', () => {
    const roles = [...apis.oneWay.users.values()].filter((u) => u.role === 'admin').map((u) => u.username);
    assert.equal(roles.length, 2, `the one-way server keeps the escalation: ${roles.join(', ')}`);
    const elevated = roles.find((n) => n !== 'root');
    const warning = results.oneWay.warnings.find((w) => /elevated|privilege/i.test(w));
    assert.ok(warning, results.oneWay.warnings.join('\n'));
    assert.match(warning, new RegExp(`\\b${elevated}\\b`));
  });
});
