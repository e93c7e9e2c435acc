import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A members API in an Express-like style on a real SQLite database (node:sqlite, in memory), whose string inputs
 * are documented with formats the server never checks: the login's `email` (`format: email`) and `password`
 * (`format: password`), and a filter by e-mail (`GET /api/members?email=`, `format: email`: the members with that e-mail, a list).
 * Vulnerable: the e-mail is pasted into the statement, and a database error is answered with its message (500).
 * Fixed twin: the e-mail must be well-formed (400 otherwise) and is bound.
 */
const USERS = [
  { id: 1, email: 'ann@club.test', password: 'pw-ann-9041', name: 'Ann' },
  { id: 2, email: 'ben@club.test', password: 'pw-ben-3318', name: 'Ben' },
];

const email = { type: 'string', format: 'email' };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'members', version: '1.0.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/auth/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email', 'password'],
                properties: { email, password: { type: 'string', format: 'password' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' }, '401': { description: 'bad credentials' } },
      },
    },
    '/api/members': {
      get: {
        operationId: 'findMembers',
        parameters: [{ name: 'email', in: 'query', required: true, schema: email }],
        responses: { '200': { description: 'the members with that e-mail' } },
      },
    },
  },
};

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const WELL_FORMED = /^[^\s@'"]+@[^\s@'"]+\.[a-z]{2,}$/i;

async function startMembers(fixed: boolean): Promise<{ url: string; server: Server; db: DatabaseSync }> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, password_hash TEXT, name TEXT)');
  for (const u of USERS)
    db.prepare('INSERT INTO users VALUES (?, ?, ?, ?)').run(u.id, u.email, sha256(u.password), u.name);
  const tokens = new Map<string, number>();
  const send = (res: ServerResponse, status: number, body: unknown) =>
    sendJson(res, status, body, GUARDED_JSON);
  const api = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      if (req.method === 'POST' && url.pathname === '/api/auth/login') {
        const body = await readJson(req);
        const { email: mail, password } = body ?? {};
        if (typeof mail !== 'string' || typeof password !== 'string')
          return send(res, 400, { error: 'email and password are required' });
        if (fixed && !WELL_FORMED.test(mail))
          return send(res, 400, { error: 'email: not an e-mail address' });
        const row = (
          fixed
            ? db
                .prepare('SELECT id FROM users WHERE email = ? AND password_hash = ?')
                .get(mail, sha256(password))
            : db
                .prepare(
                  `SELECT id FROM users WHERE email = '${mail}' AND password_hash = '${sha256(password)}'`,
                )
                .get()
        ) as { id: number } | undefined;
        if (!row) return send(res, 401, { error: 'invalid credentials' });
        const token = randomBytes(16).toString('hex');
        tokens.set(token, row.id);
        return send(res, 200, { token });
      }
      const uid = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /i, ''));
      if (uid === undefined) return send(res, 401, { error: 'unauthorized' });
      if (req.method === 'GET' && url.pathname === '/api/members') {
        const mail = url.searchParams.get('email') ?? '';
        if (fixed && !WELL_FORMED.test(mail))
          return send(res, 400, { error: 'email: not an e-mail address' });
        const rows = fixed
          ? db.prepare('SELECT id, name FROM users WHERE email = ?').all(mail)
          : db.prepare(`SELECT id, name FROM users WHERE email = '${mail}'`).all();
        return send(res, 200, rows);
      }
      send(res, 404, { error: 'not found' });
    } catch (err) {
      send(res, 500, { error: (err as Error).message });
    }
  });
  return { ...api, db };
}

describe('inputs documented with a format (email, password) are probed for injection too', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: { db: DatabaseSync } }>;
  before(async () => {
    const login = (u: (typeof USERS)[number]) => ({
      name: u.name.toLowerCase(),
      login: { path: '/api/auth/login', body: { email: u.email, password: u.password } },
    });
    Object.assign(
      scans,
      await scanTwins(SPEC, startMembers, {
        identities: [login(USERS[0]), login(USERS[1])],
        checks: ['API8'],
        ratePerSecond: 200,
        timeDelayMs: 300,
      }),
    );
  });
  after(() => {
    for (const kind of ['vulnerable', 'fixed'] as const) scans[kind]?.api.db.close();
  });

  test('the login’s e-mail and the filter’s e-mail are SQL injection', () => {
    const sql = scans.vulnerable.result.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection');
    assert.deepEqual(
      sql.map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}`).sort(),
      ['findMembers email', 'login email'],
      operationsFound(scans.vulnerable.result).join('\n'),
    );
    for (const f of sql) assert.match(f.message, /database error/);
  });

  test('the fixed twin, which checks the format and binds the value, has no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
