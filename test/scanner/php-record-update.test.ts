import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readText, sendJson } from './small-api.ts';
import { scanTwins } from './twins.ts';

/**
 * A PHP-style members API on SQLite, as mysqli answers: every column a string (`"balance": "75.00"`), the
 * caller's record read whole at `GET /api/v1/profile` and updated at `PUT /api/v1/profile` from whatever members
 * the JSON body has (`UPDATE members SET col = '...'`), answering `{"updated": true}` and nothing of the record.
 * An unknown member fails the whole statement with a PHP fatal error (500). The same record is also read and
 * written at `/api/v1/account`: the caller's own record at a path that names none, probed as the profile is once
 * the identity has read it there (read first, set back), so no identity is left privileged.
 *
 * Vulnerable: the update takes any column (`role`, `balance`). Fixed: only `email` and `full_name`.
 */
const record = (props: Record<string, { type: string }>) => ({
  content: { 'application/json': { schema: { type: 'object', properties: props } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'members', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/v1/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: record({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: { '200': { description: 'a token' } },
      },
    },
    '/api/v1/profile': {
      get: { operationId: 'profile', responses: { '200': { description: 'my record' } } },
      put: {
        operationId: 'updateProfile',
        requestBody: record({ email: { type: 'string' }, full_name: { type: 'string' } }),
        responses: { '200': { description: 'updated' } },
      },
    },
    '/api/v1/account': {
      get: { operationId: 'account', responses: { '200': { description: 'my record' } } },
      put: {
        operationId: 'updateAccount',
        requestBody: record({ email: { type: 'string' }, full_name: { type: 'string' } }),
        responses: { '200': { description: 'updated' } },
      },
    },
  },
};

const USERS = [
  { username: 'alice', password: 'Alice-members-31' },
  { username: 'bob', password: 'Bob-members-47' },
  { username: 'root', password: 'Root-members-59' },
];
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

function startMembers(fixed: boolean) {
  const db = new DatabaseSync(':memory:');
  db.exec(`CREATE TABLE members (id INTEGER PRIMARY KEY, username TEXT UNIQUE, email TEXT, full_name TEXT,
    role TEXT DEFAULT 'member', balance REAL DEFAULT 0)`);
  const add = db.prepare(
    'INSERT INTO members (username, email, full_name, role, balance) VALUES (?, ?, ?, ?, ?)',
  );
  for (const u of USERS)
    add.run(
      u.username,
      `${u.username}@members.test`,
      u.username.toUpperCase(),
      u.username === 'root' ? 'admin' : 'member',
      75,
    );
  const hashes = new Map(USERS.map((u) => [u.username, sha1(u.password)]));
  const tokens = new Map<string, number>();
  const rowOf = (id: number) => {
    const r = db.prepare('SELECT * FROM members WHERE id = ?').get(id) as Record<string, string | number>;
    return Object.fromEntries(
      Object.entries(r).map(([k, v]) => [k, k === 'balance' ? Number(v).toFixed(2) : String(v)]),
    );
  };
  return startServer(async (req, res) => {
    const text = await readText(req);
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: unknown) => sendJson(res, status, body, GUARDED_JSON);
    if (req.method === 'POST' && path === '/api/v1/login') {
      let b: Record<string, unknown> = {};
      try {
        b = JSON.parse(text);
      } catch {}
      if (hashes.get(String(b.username)) !== sha1(String(b.password)))
        return send(401, { error: 'Invalid credentials' });
      const { id } = db.prepare('SELECT id FROM members WHERE username = ?').get(String(b.username)) as {
        id: number;
      };
      const token = randomBytes(12).toString('hex');
      tokens.set(token, id);
      return send(200, { token });
    }
    const uid = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (uid === undefined) return send(401, { error: 'Unauthorized' });
    if (req.method === 'GET' && (path === '/api/v1/profile' || path === '/api/v1/account'))
      return send(200, rowOf(uid));
    if (req.method === 'PUT' && (path === '/api/v1/profile' || path === '/api/v1/account')) {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text);
      } catch {
        return send(400, { error: 'Bad JSON' });
      }
      const sets = Object.entries(body)
        .filter(([k]) => !fixed || k === 'email' || k === 'full_name')
        .filter(([k]) => /^\w+$/.test(k))
        .map(([k, v]) => `${k} = '${String(v).replace(/'/g, "''")}'`);
      if (sets.length === 0) return send(200, { updated: false });
      try {
        db.exec(`UPDATE members SET ${sets.join(', ')} WHERE id = ${uid}`);
      } catch (e) {
        res.writeHead(500, { 'content-type': 'text/html' });
        return res.end(
          `<br />\n<b>Fatal error</b>:  Uncaught mysqli_sql_exception: ${(e as Error).message} in /var/www/html/profile.php:18`,
        );
      }
      return send(200, { updated: true });
    }
    return send(404, { error: 'Not found' });
  }).then((api) => Object.assign(api, { rowOf }));
}

const identityOf = (u: (typeof USERS)[number]) => ({
  name: u.username,
  login: {
    path: '/api/v1/login',
    body: { username: u.username, password: u.password },
    tokenPointer: '/token',
  },
});

describe('mass assignment on a PHP-style update of the own record (every column a string, unknown columns fail)', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; after: Record<string, string>[] }>;
  before(async () => {
    const twins = await scanTwins(SPEC, startMembers, {
      identities: USERS.slice(0, 2).map(identityOf),
      admin: identityOf(USERS[2]),
      checks: ['API3'],
      ratePerSecond: 200,
    });
    for (const kind of ['vulnerable', 'fixed'] as const)
      scans[kind] = { result: twins[kind].result, after: [1, 2].map((id) => twins[kind].api.rowOf(id)) };
  });

  test('vulnerable: PUT /api/v1/profile and PUT /api/v1/account store undeclared fields, found', () => {
    const f = scans.vulnerable.result.findings.filter((x) => x.rule.id === 'scan/api3-mass-assignment');
    assert.deepEqual(
      f.map((x) => x.operation?.operationId).sort(),
      ['updateAccount', 'updateProfile'],
      scans.vulnerable.result.findings.map((x) => x.message).join('\n'),
    );
    assert.match(f[0].message, /balance|role/);
  });

  test('the fixed twin: no mass-assignment finding', () => {
    const f = scans.fixed.result.findings.filter((x) => x.rule.id === 'scan/api3-mass-assignment');
    assert.deepEqual(f, []);
  });

  test('both: the identities keep their records, and no identity is said to be left privileged', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      for (const [i, row] of scans[kind].after.entries()) {
        assert.equal(row.role, 'member', `${kind} ${USERS[i].username}`);
        assert.equal(row.balance, '75.00', `${kind} ${USERS[i].username}`);
        assert.equal(row.email, `${USERS[i].username}@members.test`);
        assert.equal(row.full_name, USERS[i].username.toUpperCase());
      }
      const warnings = scans[kind].result.warnings.filter((w) => /ELEVATED|could not be set back/.test(w));
      assert.deepEqual(warnings, [], kind);
    }
  });
});
