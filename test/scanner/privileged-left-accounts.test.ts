import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { scanDocument, scanTwins } from './twins.ts';

/**
 * A rowing club's crew planner in an axum-like style (`{"error": {"code", "message"}}` refusals) on a real SQLite
 * database (node:sqlite, in memory): anyone joins (`POST /api/join {email, password, display_name}`) and signs in
 * (`POST /api/session {email, password}` → `{"access_token"}`, Bearer); a member reads and deletes only its own
 * account, by its id, at Django REST-style routes: `GET /api/users/{userId}`, `DELETE /api/users/{userId}/delete/`.
 * Vulnerable: the join stores a `role` the client sends (API3's probe makes an admin). Fixed twin: it ignores it.
 * Review R1-2: the privileged account was left in place, and the accounts the probes left were named by a display
 * name six of them shared; R2-S3: the scan's own accounts were not deleted where the delete is `/{id}/delete/`.
 */
const json = (schema: object) => ({ 'application/json': { schema } });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'crew planner', version: '0.3.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/join': {
      post: {
        operationId: 'join',
        security: [],
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['email', 'password', 'display_name'],
            properties: {
              email: { type: 'string', format: 'email' },
              password: { type: 'string', minLength: 8 },
              display_name: { type: 'string' },
            },
          }),
        },
        responses: { '201': { description: 'joined' }, '409': { description: 'taken' } },
      },
    },
    '/api/session': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['email', 'password'],
            properties: { email: { type: 'string' }, password: { type: 'string' } },
          }),
        },
        responses: { '200': { description: 'a token' }, '401': { description: 'refused' } },
      },
    },
    '/api/users/{userId}': {
      parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'user', responses: { '200': { description: 'the member' } } },
    },
    '/api/users/{userId}/delete/': {
      parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'integer' } }],
      delete: {
        operationId: 'leaveClub',
        summary: 'Delete one’s own account',
        responses: { '204': { description: 'gone' } },
      },
    },
  },
};

const GIVEN = [
  { email: 'alice@crew.test', password: 'oars-alice-19', display_name: 'Alice' },
  { email: 'bob@crew.test', password: 'oars-bob-23', display_name: 'Bob' },
];

interface Club {
  readonly url: string;
  readonly server: Server;
  readonly db: DatabaseSync;
}

async function startClub(fixed: boolean): Promise<Club> {
  const db = new DatabaseSync(':memory:');
  db.exec(
    "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE, password TEXT, display_name TEXT, role TEXT DEFAULT 'rower')",
  );
  for (const g of GIVEN)
    db.prepare('INSERT INTO users (email, password, display_name) VALUES (?, ?, ?)').run(
      g.email,
      g.password,
      g.display_name,
    );
  const tokens = new Map<string, number>();
  const fail = (res: ServerResponse, status: number, code: string) =>
    sendJson(res, status, { error: { code, message: code.replace(/_/g, ' ') } }, GUARDED_JSON);
  const api = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/api/join') {
      const b = await readJson(req);
      if (
        typeof b?.email !== 'string' ||
        !/^[^@\s]+@[^@\s]+$/.test(b.email) ||
        typeof b.password !== 'string' ||
        b.password.length < 8 ||
        typeof b.display_name !== 'string'
      )
        return fail(res, 422, 'invalid_body');
      if (db.prepare('SELECT id FROM users WHERE email = ?').get(b.email))
        return fail(res, 409, 'email_taken');
      const role = !fixed && typeof b.role === 'string' ? b.role : 'rower';
      const r = db
        .prepare('INSERT INTO users (email, password, display_name, role) VALUES (?, ?, ?, ?)')
        .run(b.email, b.password, b.display_name, role);
      return sendJson(
        res,
        201,
        { id: Number(r.lastInsertRowid), email: b.email, display_name: b.display_name, role },
        GUARDED_JSON,
      );
    }
    if (req.method === 'POST' && url.pathname === '/api/session') {
      const b = await readJson(req);
      const u = db
        .prepare('SELECT id FROM users WHERE email = ? AND password = ?')
        .get(String(b?.email), String(b?.password)) as { id: number } | undefined;
      if (!u) return fail(res, 401, 'bad_credentials');
      const token = randomBytes(16).toString('hex');
      tokens.set(token, Number(u.id));
      return sendJson(res, 200, { access_token: token, token_type: 'bearer' }, GUARDED_JSON);
    }
    const bearer = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (req.method === 'POST' && url.pathname === '/api/logout') {
      tokens.delete(bearer);
      res.writeHead(204);
      return res.end();
    }
    const uid = tokens.get(bearer);
    if (uid === undefined || !db.prepare('SELECT id FROM users WHERE id = ?').get(uid))
      return fail(res, 401, 'unauthenticated');
    const m = /^\/api\/users\/(\d+)(\/delete\/)?$/.exec(url.pathname);
    if (!m) return fail(res, 404, 'no_route');
    const id = Number(m[1]);
    if (id !== uid) return fail(res, 403, 'not_yours');
    if (req.method === 'GET' && !m[2])
      return sendJson(
        res,
        200,
        db.prepare('SELECT id, email, display_name, role FROM users WHERE id = ?').get(id),
        GUARDED_JSON,
      );
    if (req.method === 'DELETE' && m[2]) {
      db.prepare('DELETE FROM users WHERE id = ?').run(id);
      res.writeHead(204);
      return res.end();
    }
    return fail(res, 405, 'method');
  });
  return { ...api, db };
}

describe('privileged accounts the probes left are deleted, and the others are named by how they sign in', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Club }>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startClub, {
        identities: GIVEN.map((g) => ({
          name: g.display_name.toLowerCase(),
          login: { path: '/api/session', body: { email: g.email, password: g.password } },
        })),
        checks: ['API3', 'API8'],
        ratePerSecond: 200,
        timeDelayMs: 300,
      }),
    );
  });
  after(() => {
    for (const kind of ['vulnerable', 'fixed'] as const) scans[kind]?.api.db.close();
  });

  test('the join storing a role is found, and no account with a role but rower stays', () => {
    assert.ok(
      scans.vulnerable.result.findings.some(
        (f) => f.rule.id === 'scan/api3-mass-assignment' && f.operation?.operationId === 'join',
      ),
      scans.vulnerable.result.findings.map((f) => `${f.rule.id} ${f.operation?.operationId}`).join('\n'),
    );
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const rows = scans[kind].api.db.prepare("SELECT email, role FROM users WHERE role <> 'rower'").all();
      assert.deepEqual(rows, [], kind);
    }
  });

  test('the accounts the scan registered are deleted at /users/{id}/delete/', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const notes = scans[kind].result.notes.join('\n');
      assert.match(notes, /deleted with DELETE \/api\/users\/\d+\/delete\//, kind);
    }
  });

  test('every account left is named by its e-mail, one name each, as many as stay', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { db } = scans[kind].api;
      const left = (
        db.prepare("SELECT email FROM users WHERE email NOT LIKE '%@crew.test'").all() as {
          email: string;
        }[]
      ).map((r) => r.email);
      const notes = scans[kind].result.notes.join('\n');
      for (const email of left)
        assert.ok(notes.includes(JSON.stringify(email)), `${kind}: ${email}\n${notes}`);
      if (left.length > 0) {
        const warning = scans[kind].result.warnings.find((w) =>
          /other accounts? the scan's probes registered/.test(w),
        );
        assert.ok(warning, kind);
        assert.match(warning, new RegExp(`^cleanup: ${left.length} other account`), `${kind}: ${warning}`);
      }
    }
  });
});

/**
 * The same club with no delete of an account (R1-10): the scan's own accounts stay, and what they made is a warning;
 * a logout (`POST /api/logout`, 204) makes nothing and is not counted.
 */
describe('a logout is no object the scan’s accounts made', () => {
  const paths: Record<string, unknown> = { ...SPEC.paths };
  delete paths['/api/users/{userId}/delete/'];
  const NO_DELETE = {
    ...SPEC,
    paths: {
      ...paths,
      '/api/logout': { post: { operationId: 'signOut', responses: { '204': { description: 'bye' } } } },
    },
  };
  let result: ScanResult;
  let club: Club;
  before(async () => {
    club = await startClub(true);
    try {
      result = await scanDocument(NO_DELETE, club.url, {
        identities: GIVEN.map((g) => ({
          name: g.display_name.toLowerCase(),
          login: { path: '/api/session', body: { email: g.email, password: g.password } },
        })),
        checks: ['API2'],
        ratePerSecond: 200,
      });
    } finally {
      club.server.close();
    }
  });
  after(() => club?.db.close());

  test('the accounts left are said, and no warning counts a logout as something they made', () => {
    assert.ok(
      result.warnings.some((w) => /the document has no delete of one's own account/.test(w)),
      result.warnings.join('\n'),
    );
    assert.deepEqual(
      result.warnings.filter((w) => /POST \/api\/logout/.test(w)),
      [],
    );
  });
});
