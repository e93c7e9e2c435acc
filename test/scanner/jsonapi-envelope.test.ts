import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readText } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A reading club's API in JSON:API style (`application/vnd.api+json`): every request body is a document
 * `{"data": {"type": ..., "attributes": {...}}}`, answers are resource objects, errors are
 * `{"errors": [{"status", "detail", "source": {"pointer": "/data/attributes/..."}}]}`, and a document of the wrong
 * `type` is refused with 409 before anything else. Members sign in at `POST /api/v2/sessions` (attributes
 * `handle`, `password`; the answer's `data.attributes.token` goes back as `Authorization: Bearer`), sign out with
 * `DELETE /api/v2/sessions/current`, read `GET /api/v2/me` and search the shelf with
 * `POST /api/v2/searches {"data": {"type": "searches", "attributes": {"phrase": ...}}}` (SQLite, node:sqlite).
 *
 * Vulnerable: an unknown handle gets 404 "no member with that handle" where a wrong password gets 422; signing out
 * answers 204 and leaves the token working; the login pastes the handle, the search the phrase into their SQL.
 * Fixed twin: 422 "handle or password is incorrect" to both, signing out ends the token, both values are bound.
 */
interface Member {
  id: string;
  handle: string;
  email: string;
  password: string;
}
const SEED: Member[] = [
  { id: '11', handle: 'marguerite', email: 'marguerite@quire.test', password: 'Quire-Marg-1984' },
  { id: '12', handle: 'tobias', email: 'tobias@quire.test', password: 'Quire-Tobi-2001' },
];
const MEDIA = 'application/vnd.api+json';

function send(res: ServerResponse, status: number, doc?: unknown): void {
  if (doc === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': MEDIA }).end(JSON.stringify(doc));
}
const error = (res: ServerResponse, status: number, detail: string, pointer?: string) =>
  send(res, status, {
    errors: [{ status: String(status), detail, ...(pointer ? { source: { pointer } } : {}) }],
  });

/** The attributes of a document of `type`, or undefined after answering the refusal. */
async function attributesOf(
  req: IncomingMessage,
  res: ServerResponse,
  type: string,
): Promise<Record<string, unknown> | undefined> {
  let doc: { data?: { type?: unknown; attributes?: Record<string, unknown> } };
  try {
    doc = JSON.parse(await readText(req));
  } catch {
    error(res, 400, 'the body is not a JSON:API document');
    return undefined;
  }
  if (doc?.data?.type !== type) {
    error(res, 409, `data.type must be ${type}`, '/data/type');
    return undefined;
  }
  const attributes = doc.data.attributes;
  if (attributes === null || typeof attributes !== 'object') {
    error(res, 422, 'attributes are missing', '/data/attributes');
    return undefined;
  }
  return attributes;
}

function startQuire(fixed: boolean): Promise<TestServer & { signups: string[] }> {
  const members = SEED.map((m) => ({ ...m }));
  const tokens = new Map<string, Member>();
  const signups: string[] = [];
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL)');
  db.exec('CREATE TABLE members (id INTEGER PRIMARY KEY, handle TEXT NOT NULL)');
  for (const m of members)
    db.prepare('INSERT INTO members (id, handle) VALUES (?, ?)').run(Number(m.id), m.handle);
  for (const t of ['The Rings of Saturn', 'Austerlitz', 'Vertigo'])
    db.prepare('INSERT INTO books (title) VALUES (?)').run(t);
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/api/v2/sessions') {
      const a = await attributesOf(req, res, 'sessions');
      if (!a) return;
      // The vulnerable twin looks the handle up with it pasted into the SQL.
      const handle = String(a.handle ?? '');
      let row: { id: unknown } | undefined;
      try {
        row = (
          fixed
            ? db.prepare('SELECT id FROM members WHERE handle = ?').get(handle)
            : db.prepare(`SELECT id FROM members WHERE handle = '${handle}'`).get()
        ) as { id: unknown } | undefined;
      } catch (e) {
        return error(res, 500, fixed ? 'sign-in failed' : (e as Error).message);
      }
      const m = members.find((x) => x.id === String(row?.id));
      if (!m && !fixed) return error(res, 404, 'no member with that handle', '/data/attributes/handle');
      if (!m || m.password !== a.password)
        return error(
          res,
          422,
          fixed ? 'handle or password is incorrect' : 'password is incorrect',
          '/data/attributes/password',
        );
      const token = randomBytes(20).toString('base64url');
      tokens.set(token, m);
      return send(res, 201, { data: { type: 'sessions', id: token.slice(0, 6), attributes: { token } } });
    }
    if (req.method === 'POST' && url.pathname === '/api/v2/members') {
      const a = await attributesOf(req, res, 'members');
      // What a sign-up sent with a member's token held (the attributes, or nothing past the type check).
      if (req.headers.authorization) signups.push(a === undefined ? '(refused)' : `${a.handle} ${a.email}`);
      if (!a) return;
      const handle = String(a.handle ?? '');
      const email = String(a.email ?? '');
      const password = String(a.password ?? '');
      if (!/^[\w.-]{3,40}$/.test(handle)) return error(res, 422, 'is invalid', '/data/attributes/handle');
      if (!/^[^@\s]+@[^@\s]+$/.test(email)) return error(res, 422, 'is invalid', '/data/attributes/email');
      if (password.length < 8) return error(res, 422, 'is too short', '/data/attributes/password');
      if (members.some((m) => m.handle === handle || m.email === email))
        return error(res, 422, 'has already been taken', '/data/attributes/handle');
      const m = { id: String(members.length + 11), handle, email, password };
      members.push(m);
      db.prepare('INSERT INTO members (id, handle) VALUES (?, ?)').run(Number(m.id), m.handle);
      return send(res, 201, { data: { type: 'members', id: m.id, attributes: { handle, email } } });
    }
    const token = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const me = token ? tokens.get(token) : undefined;
    if (!me) return error(res, 401, 'sign in first');
    if (req.method === 'DELETE' && url.pathname === '/api/v2/sessions/current') {
      if (fixed) tokens.delete(token!);
      return send(res, 204);
    }
    // A member changes its own e-mail or password (no current password asked: not this test's subject).
    const own = /^\/api\/v2\/members\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'PATCH' && own) {
      if (own[1] !== me.id) return error(res, 404, 'not found');
      const a = await attributesOf(req, res, 'members');
      if (!a) return;
      if (typeof a.email === 'string') me.email = a.email;
      if (typeof a.password === 'string') me.password = a.password;
      return send(res, 200, {
        data: { type: 'members', id: me.id, attributes: { handle: me.handle, email: me.email } },
      });
    }
    if (req.method === 'GET' && url.pathname === '/api/v2/me')
      return send(res, 200, {
        data: { type: 'members', id: me.id, attributes: { handle: me.handle, email: me.email } },
      });
    if (req.method === 'POST' && url.pathname === '/api/v2/searches') {
      const a = await attributesOf(req, res, 'searches');
      if (!a) return;
      const phrase = String(a.phrase ?? '');
      try {
        const rows = fixed
          ? db.prepare('SELECT id, title FROM books WHERE title LIKE ?').all(`%${phrase}%`)
          : db.prepare(`SELECT id, title FROM books WHERE title LIKE '%${phrase}%'`).all();
        return send(res, 200, {
          data: rows.map((r) => ({ type: 'books', id: String(r.id), attributes: { title: r.title } })),
        });
      } catch (e) {
        return error(res, 500, fixed ? 'search failed' : (e as Error).message);
      }
    }
    return error(res, 404, 'not found');
  }).then((s) => ({
    ...s,
    signups,
    close: async () => {
      await s.close();
      db.close();
    },
  }));
}

const document = (type: string, attributes: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: {
    [MEDIA]: {
      schema: {
        type: 'object',
        required: ['data'],
        properties: {
          data: {
            type: 'object',
            required: ['type', 'attributes'],
            properties: {
              type: { type: 'string', enum: [type] },
              attributes: { type: 'object', required, properties: attributes },
            },
          },
        },
      },
    },
  },
});
const resource = (attributes: Record<string, unknown>) => ({
  content: {
    [MEDIA]: {
      schema: {
        type: 'object',
        properties: {
          data: {
            type: 'object',
            properties: {
              type: { type: 'string' },
              id: { type: 'string' },
              attributes: { type: 'object', properties: attributes },
            },
          },
        },
      },
    },
  },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'quire', version: '2.4.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/v2/sessions': {
      post: {
        operationId: 'createSession',
        security: [],
        requestBody: document(
          'sessions',
          { handle: { type: 'string' }, password: { type: 'string', format: 'password' } },
          ['handle', 'password'],
        ),
        responses: {
          '201': { description: 'signed in', ...resource({ token: { type: 'string' } }) },
          '422': { description: 'refused' },
        },
      },
    },
    '/api/v2/sessions/current': {
      delete: { operationId: 'destroySession', responses: { '204': { description: 'signed out' } } },
    },
    '/api/v2/members': {
      post: {
        operationId: 'createMember',
        security: [],
        requestBody: document(
          'members',
          {
            handle: { type: 'string' },
            email: { type: 'string', format: 'email' },
            password: { type: 'string', format: 'password', minLength: 8 },
          },
          ['handle', 'email', 'password'],
        ),
        responses: { '201': { description: 'joined' }, '422': { description: 'invalid' } },
      },
    },
    '/api/v2/members/{id}': {
      patch: {
        operationId: 'updateMember',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: document(
          'members',
          { email: { type: 'string', format: 'email' }, password: { type: 'string', format: 'password' } },
          [],
        ),
        responses: { '200': { description: 'updated' } },
      },
    },
    '/api/v2/me': {
      get: {
        operationId: 'showMe',
        responses: {
          '200': {
            description: 'me',
            ...resource({ handle: { type: 'string' }, email: { type: 'string' } }),
          },
        },
      },
    },
    '/api/v2/searches': {
      post: {
        operationId: 'createSearch',
        requestBody: document('searches', { phrase: { type: 'string', example: 'Saturn' } }, ['phrase']),
        responses: { '200': { description: 'books' } },
      },
    },
  },
};

const identity = (m: Member) => ({
  name: m.handle,
  login: {
    path: '/api/v2/sessions',
    body: { data: { type: 'sessions', attributes: { handle: m.handle, password: m.password } } },
  },
});

const RULES = ['scan/api2-user-enumeration', 'scan/api2-session-not-ended', 'scan/api8-sql-injection'];
const found = (r: ScanResult) =>
  [
    ...new Set(
      r.findings
        .filter((f) => RULES.includes(f.rule.id))
        .map((f) => `${f.rule.id} ${f.operation?.operationId}`),
    ),
  ].sort();

describe('JSON:API bodies: fields inside data.attributes are read and written there', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const after = {} as Record<'vulnerable' | 'fixed', number[]>;
  const signups = {} as Record<'vulnerable' | 'fixed', string[]>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startQuire(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: SEED.map(identity),
          checks: ['API2', 'API8'],
          ratePerSecond: 300,
        });
        signups[kind] = api.signups;
        // The given members' passwords still sign them in after the scan.
        after[kind] = [];
        for (const m of SEED) {
          const res = await fetch(`${api.url}/api/v2/sessions`, {
            method: 'POST',
            headers: { 'content-type': MEDIA },
            body: JSON.stringify(identity(m).login.body),
          });
          after[kind].push(res.status);
        }
      } finally {
        await api.close();
      }
    }
  });

  test('vulnerable: the login tells members apart, its handle and the search phrase reach SQL', () => {
    assert.deepEqual(
      found(runs.vulnerable).filter((f) => !f.startsWith('scan/api2-session-not-ended')),
      [
        // The sign-up's "has already been taken" tells too, once the login does (read since the scan's own
        // account signs up through data.attributes).
        'scan/api2-user-enumeration createMember',
        'scan/api2-user-enumeration createSession',
        'scan/api8-sql-injection createSearch',
        'scan/api8-sql-injection createSession',
      ],
      operationsFound(runs.vulnerable).join('\n'),
    );
  });

  // The DELETE of the session goes for a session of the scan's own account (signed up through data.attributes):
  // the runner lets a logout through for an account the scan registered, never for a given identity.
  test('vulnerable: signing out with DELETE keeps the token', () => {
    assert.ok(found(runs.vulnerable).includes('scan/api2-session-not-ended destroySession'));
  });

  test('fixed twin: none of these', () => {
    assert.deepEqual(found(runs.fixed), [], operationsFound(runs.fixed).join('\n'));
  });

  test('the injection probes went into the attributes, not the resource type', () => {
    const sql = runs.vulnerable.findings.find((f) => f.rule.id === 'scan/api8-sql-injection');
    assert.match(JSON.stringify(sql?.evidence ?? sql?.message), /phrase/);
  });

  test("no injection probe of the sign-up (its password in data.attributes) goes with a member's token", () => {
    // Discovery's creation still goes as each member, but with a name, an e-mail and a password of the scan's own
    // (`pcd<hex>`: setsPassword and withOwnAccount read the envelope). The probes are sent anonymously.
    for (const kind of ['vulnerable', 'fixed'] as const)
      for (const sent of signups[kind])
        assert.match(
          sent,
          /^(\(refused\)|pcd[0-9a-f]{10} pcd[0-9a-f]{10}@example\.com)$/,
          `${kind}: ${sent}`,
        );
  });

  // setsPassword reads the envelope now; what still goes with a member's token: discovery's creation of a member
  // (any sign-up beside an item route is one, flat ones too) and other checks' probes the API refuses by type.
  test("no sign-up at all goes with a member's token", {
    todo: "discovery creates a member as each member; other checks' refused probes go with a member's token",
  }, () => {
    assert.deepEqual([...signups.vulnerable, ...signups.fixed], []);
  });

  test("the given members' passwords are unchanged", () => {
    assert.deepEqual(after, { vulnerable: [201, 201], fixed: [201, 201] });
  });
});
