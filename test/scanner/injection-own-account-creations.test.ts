import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A public pinboard in a Koa-like style on a real SQLite database (node:sqlite, in memory): anyone signs up
 * (`POST /v2/signup {email, password}`) and signs in (`POST /v2/sessions` → `{"jwt": ...}`, sent as `Bearer`);
 * every caller's `GET /v2/pins` lists every pin (the board is public), a pin's author deletes it
 * (`DELETE /v2/pins/{pinId}`); no account can be deleted. The injection probes of `POST /v2/pins` go as the
 * scan's own account first (review R2-S1: on a RealWorld API 47 such articles stayed in the global feed, as that
 * account could not be deleted and nothing deleted what it made).
 * Vulnerable: the board's `?q=` search is pasted into its statement (a database error answered 500). Fixed twin:
 * bound. On both, no pin the scan made may stay.
 */
const json = (schema: object) => ({ 'application/json': { schema } });
const CREDS = {
  type: 'object',
  required: ['email', 'password'],
  properties: {
    email: { type: 'string', format: 'email' },
    password: { type: 'string', format: 'password' },
  },
};
const PIN = {
  type: 'object',
  properties: { pinId: { type: 'integer' }, caption: { type: 'string' }, note: { type: 'string' } },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'pinboard', version: '2.0.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/v2/signup': {
      post: {
        operationId: 'signUp',
        security: [],
        requestBody: { required: true, content: json(CREDS) },
        responses: { '201': { description: 'registered' } },
      },
    },
    '/v2/sessions': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: { required: true, content: json(CREDS) },
        responses: { '200': { description: 'a jwt' }, '401': { description: 'no' } },
      },
    },
    '/v2/pins': {
      get: {
        operationId: 'board',
        parameters: [{ name: 'q', in: 'query', schema: { type: 'string' } }],
        responses: { '200': { description: 'every pin', content: json({ type: 'array', items: PIN }) } },
      },
      post: {
        operationId: 'pin',
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['caption'],
            properties: { caption: { type: 'string' }, note: { type: 'string' } },
          }),
        },
        responses: { '201': { description: 'pinned', content: json(PIN) } },
      },
    },
    '/v2/pins/{pinId}': {
      parameters: [{ name: 'pinId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'onePin', responses: { '200': { description: 'a pin', content: json(PIN) } } },
      delete: { operationId: 'unpin', responses: { '204': { description: 'gone' } } },
    },
  },
};

const GIVEN = [
  { email: 'alice@pins.test', password: 'pins-alice-1' },
  { email: 'bob@pins.test', password: 'pins-bob-2' },
];

interface Board {
  readonly url: string;
  readonly server: Server;
  readonly db: DatabaseSync;
}

async function startBoard(fixed: boolean): Promise<Board> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE, password TEXT)');
  db.exec('CREATE TABLE pins (id INTEGER PRIMARY KEY, author INTEGER, caption TEXT, note TEXT)');
  for (const g of GIVEN)
    db.prepare('INSERT INTO users (email, password) VALUES (?, ?)').run(g.email, g.password);
  db.prepare('INSERT INTO pins (author, caption, note) VALUES (1, ?, ?)').run('alice’s first pin', 'hello');
  db.prepare('INSERT INTO pins (author, caption, note) VALUES (2, ?, ?)').run('bob’s first pin', 'hi');
  const sessions = new Map<string, number>();
  const send = (res: ServerResponse, status: number, body?: unknown) => {
    if (body !== undefined) return sendJson(res, status, body, GUARDED_JSON);
    res.writeHead(status);
    res.end();
  };
  const pinOf = (r: { id: number; caption: string; note: string }) => ({
    pinId: Number(r.id),
    caption: r.caption,
    note: r.note,
  });
  const api = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && (url.pathname === '/v2/signup' || url.pathname === '/v2/sessions')) {
      const b = await readJson(req);
      if (
        typeof b?.email !== 'string' ||
        typeof b?.password !== 'string' ||
        !/^[^@\s']+@[^@\s']+$/.test(b.email)
      )
        return send(res, 422, { errors: ['email and password'] });
      if (url.pathname === '/v2/signup') {
        if (db.prepare('SELECT id FROM users WHERE email = ?').get(b.email))
          return send(res, 409, { errors: ['taken'] });
        const r = db.prepare('INSERT INTO users (email, password) VALUES (?, ?)').run(b.email, b.password);
        return send(res, 201, { id: Number(r.lastInsertRowid), email: b.email });
      }
      const u = db
        .prepare('SELECT id FROM users WHERE email = ? AND password = ?')
        .get(b.email, b.password) as { id: number } | undefined;
      if (!u) return send(res, 401, { errors: ['no'] });
      const jwt = randomBytes(18).toString('base64url');
      sessions.set(jwt, Number(u.id));
      return send(res, 200, { jwt });
    }
    const uid = sessions.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (uid === undefined) return send(res, 401, { errors: ['sign in'] });
    if (url.pathname === '/v2/pins' && req.method === 'GET') {
      const q = url.searchParams.get('q') ?? '';
      try {
        const rows = fixed
          ? db.prepare('SELECT * FROM pins WHERE caption LIKE ?').all(`%${q}%`)
          : db.prepare(`SELECT * FROM pins WHERE caption LIKE '%${q}%'`).all();
        return send(res, 200, (rows as never[]).map(pinOf));
      } catch (err) {
        return send(res, 500, { errors: [(err as Error).message] });
      }
    }
    if (url.pathname === '/v2/pins' && req.method === 'POST') {
      const b = await readJson(req);
      if (typeof b?.caption !== 'string' || b.caption === '') return send(res, 422, { errors: ['caption'] });
      const note = typeof b.note === 'string' ? b.note : '';
      const r = db
        .prepare('INSERT INTO pins (author, caption, note) VALUES (?, ?, ?)')
        .run(uid, b.caption, note);
      return send(res, 201, { pinId: Number(r.lastInsertRowid), caption: b.caption, note });
    }
    const m = /^\/v2\/pins\/(\d+)$/.exec(url.pathname);
    if (m) {
      const row = db.prepare('SELECT * FROM pins WHERE id = ?').get(Number(m[1])) as
        | { id: number; author: number; caption: string; note: string }
        | undefined;
      if (!row) return send(res, 404, { errors: ['no such pin'] });
      if (req.method === 'GET') return send(res, 200, pinOf(row));
      if (req.method === 'DELETE') {
        if (Number(row.author) !== uid) return send(res, 403, { errors: ['not yours'] });
        db.prepare('DELETE FROM pins WHERE id = ?').run(row.id);
        return send(res, 204);
      }
    }
    send(res, 404, { errors: ['no route'] });
  });
  return { ...api, db };
}

describe('what the injection probes make as the scan’s own account is deleted too', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Board }>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startBoard, {
        identities: GIVEN.map((g) => ({
          name: g.email.split('@')[0],
          login: { path: '/v2/sessions', body: { ...g } },
        })),
        checks: ['API8'],
        ratePerSecond: 200,
        timeDelayMs: 300,
      }),
    );
  });
  after(() => {
    for (const kind of ['vulnerable', 'fixed'] as const) scans[kind]?.api.db.close();
  });

  test('the probes of the pin creation went as an account the scan registered', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { db } = scans[kind].api;
      const own = db.prepare('SELECT COUNT(*) AS n FROM users WHERE id > 2').get() as { n: number };
      assert.ok(Number(own.n) >= 1, kind);
      assert.match(
        JSON.stringify(scans[kind].result.coverage),
        /POST \/v2\/pins created \d+ objects? as pc/,
        kind,
      );
    }
  });

  test('no pin but the two seeded ones stays on the board after the scan, on either twin', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const rows = scans[kind].api.db.prepare('SELECT id, author, caption FROM pins ORDER BY id').all();
      assert.deepEqual(
        rows.map((r) => r.caption),
        ['alice’s first pin', 'bob’s first pin'],
        `${kind}: ${JSON.stringify(rows.slice(0, 5))} (${rows.length})`,
      );
    }
  });

  test('the search’s SQL injection is found on the vulnerable twin only', () => {
    assert.ok(
      operationsFound(scans.vulnerable.result).includes('scan/api8-sql-injection board'),
      operationsFound(scans.vulnerable.result).join('\n'),
    );
    assert.ok(!operationsFound(scans.fixed.result).includes('scan/api8-sql-injection board'));
  });

  test('no warning says the scan’s account left pins in place', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        scans[kind].result.warnings.filter((w) => /v2\/pins/.test(w)),
        [],
        kind,
      );
  });
});
