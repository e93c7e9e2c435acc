import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A room-booking API in an Express-like style on a real SQLite database (node:sqlite, in memory): a JSON login by
 * e-mail handing out bearer tokens, the caller's profile and bookings. An account is locked for good after 2
 * failed logins (a wrong password for its e-mail): even its right password is refused then (423).
 * Vulnerable: the login pastes the e-mail into its statement (`WHERE email = '<email>' AND password_hash = ...`),
 * and a database error is answered with its message (500): a quote in `email` is a syntax error, and
 * `' OR '1'='1'--` in it with any password signs in as the first account. Fixed twin: the e-mail is bound.
 * No sign-up: the scan has no account of its own, so a login probe may only name users nobody has.
 */
const USERS = [
  { id: 1, email: 'alice@rooms.test', password: 'pw-alice-7731', name: 'Alice' },
  { id: 2, email: 'bob@rooms.test', password: 'pw-bob-5520', name: 'Bob' },
];
const LOCK_AFTER = 2;

const SPEC = {
  openapi: '3.0.3',
  info: { title: 'rooms', version: '2.3.0' },
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
                properties: { email: { type: 'string' }, password: { type: 'string' } },
                example: { email: 'alice@rooms.test', password: 'secret' },
              },
            },
          },
        },
        responses: {
          '200': { description: 'a token' },
          '401': { description: 'bad credentials' },
          '423': { description: 'account locked' },
        },
      },
    },
    '/api/me': {
      get: { operationId: 'me', responses: { '200': { description: 'the caller' } } },
    },
    '/api/bookings': {
      get: {
        operationId: 'myBookings',
        responses: {
          '200': {
            description: 'the caller’s bookings',
            content: {
              'application/json': {
                schema: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      id: { type: 'integer' },
                      room: { type: 'string' },
                      day: { type: 'string' },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Rooms {
  readonly url: string;
  readonly server: Server;
  readonly db: DatabaseSync;
  /** Every login attempt: the e-mail and password sent, and the status answered. */
  readonly logins: { email: unknown; password: unknown; status: number }[];
}

async function startRooms(fixed: boolean): Promise<Rooms> {
  const db = new DatabaseSync(':memory:');
  db.exec(
    'CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, password_hash TEXT, name TEXT, failures INTEGER)',
  );
  db.exec('CREATE TABLE bookings (id INTEGER PRIMARY KEY, user_id INTEGER, room TEXT, day TEXT)');
  for (const u of USERS)
    db.prepare('INSERT INTO users VALUES (?, ?, ?, ?, 0)').run(u.id, u.email, sha256(u.password), u.name);
  for (const [i, owner] of [1, 1, 2].entries())
    db.prepare('INSERT INTO bookings (user_id, room, day) VALUES (?, ?, ?)').run(
      owner,
      `R${i}`,
      '2025-02-01',
    );
  const tokens = new Map<string, number>();
  const logins: Rooms['logins'] = [];
  const send = (res: ServerResponse, status: number, body: unknown) =>
    sendJson(res, status, body, GUARDED_JSON);
  const api = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/api/auth/login') {
      const body = await readJson(req);
      const answer = (status: number, out: unknown) => {
        logins.push({ email: body?.email, password: body?.password, status });
        send(res, status, out);
      };
      const { email, password } = body ?? {};
      if (typeof email !== 'string' || typeof password !== 'string')
        return answer(400, { error: 'email and password are required' });
      const account = db.prepare('SELECT id, failures FROM users WHERE email = ?').get(email) as
        | { id: number; failures: number }
        | undefined;
      if (account && account.failures >= LOCK_AFTER) return answer(423, { error: 'account locked' });
      let row: { id: number } | undefined;
      try {
        row = fixed
          ? (db
              .prepare('SELECT id FROM users WHERE email = ? AND password_hash = ?')
              .get(email, sha256(password)) as { id: number } | undefined)
          : (db
              .prepare(
                `SELECT id FROM users WHERE email = '${email}' AND password_hash = '${sha256(password)}'`,
              )
              .get() as { id: number } | undefined);
      } catch (err) {
        return answer(500, { error: (err as Error).message });
      }
      if (!row) {
        if (account) db.prepare('UPDATE users SET failures = failures + 1 WHERE id = ?').run(account.id);
        return answer(401, { error: 'invalid credentials' });
      }
      const token = randomBytes(16).toString('hex');
      tokens.set(token, row.id);
      return answer(200, { token, expires_in: 3600 });
    }
    const uid = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /i, ''));
    if (uid === undefined) return send(res, 401, { error: 'unauthorized' });
    if (req.method === 'GET' && url.pathname === '/api/me')
      return send(res, 200, db.prepare('SELECT id, email, name FROM users WHERE id = ?').get(uid));
    if (req.method === 'GET' && url.pathname === '/api/bookings')
      return send(res, 200, db.prepare('SELECT id, room, day FROM bookings WHERE user_id = ?').all(uid));
    send(res, 404, { error: 'not found' });
  });
  return { ...api, db, logins };
}

describe('login injection probes name only users nobody has', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Rooms }>;
  before(async () => {
    const login = (u: (typeof USERS)[number]) => ({
      name: u.name.toLowerCase(),
      login: { path: '/api/auth/login', body: { email: u.email, password: u.password } },
    });
    Object.assign(
      scans,
      await scanTwins(SPEC, startRooms, {
        identities: [login(USERS[0]), login(USERS[1])],
        ratePerSecond: 200,
        timeDelayMs: 300,
      }),
    );
  });
  after(() => {
    for (const kind of ['vulnerable', 'fixed'] as const) scans[kind]?.api.db.close();
  });

  test('after a plain scan alice and bob still sign in, on both twins', async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { db } = scans[kind].api;
      const failures = db.prepare('SELECT email, failures FROM users ORDER BY id').all();
      for (const row of failures)
        assert.ok(Number(row.failures) < LOCK_AFTER, `${kind}: ${JSON.stringify(row)}`);
    }
  });

  test('no login request carried a given identity’s e-mail with anything but its own password, more than once', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      for (const u of USERS) {
        const naming = scans[kind].api.logins.filter(
          (l) => typeof l.email === 'string' && l.email.includes(u.email.split('@')[0]),
        );
        const others = naming.filter((l) => l.email !== u.email || l.password !== u.password);
        // At most the one failed login a scan allows a given identity (API2's, shared), and never a payload.
        assert.ok(others.length <= 1, `${kind} ${u.email}: ${JSON.stringify(others)}`);
        assert.deepEqual(
          naming.filter((l) => l.email !== u.email),
          [],
          kind,
        );
      }
    }
  });

  test('the login’s SQL injection is found, with a credential for a wrong password and a database error, on a name nobody has', () => {
    const sql = scans.vulnerable.result.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection');
    assert.deepEqual(
      sql.map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}`),
      ['login email'],
      operationsFound(scans.vulnerable.result).join('\n'),
    );
    assert.match(sql[0].message, /signed in/);
    assert.match(sql[0].message, /database error/);
    const payload = String(sql[0].evidence?.payload ?? '');
    assert.match(payload, /' OR '1'='1'/);
    for (const u of USERS) assert.ok(!payload.includes(u.email.split('@')[0]), payload);
  });

  test('the bypass is also named for what it does to authentication (API2), on the login; not on the fixed twin', () => {
    const auth = scans.vulnerable.result.findings.filter(
      (f) => f.rule.id === 'scan/api2-any-credentials-accepted' && f.evidence?.via === 'sql-injection',
    );
    assert.deepEqual(
      auth.map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}`),
      ['login email'],
    );
    assert.equal(auth[0].rule.owasp, 'API2:2023');
    assert.match(auth[0].message, /authentication bypass through SQL injection/);
    assert.ok(
      !scans.fixed.result.findings.some((f) => f.rule.id === 'scan/api2-any-credentials-accepted'),
      operationsFound(scans.fixed.result).join('\n'),
    );
  });

  test('the fixed twin, which binds the e-mail, has no finding but the missing rate limits both twins share', () => {
    // Neither twin limits requests (nor guesses at made-up users): those findings are true of both.
    const shared = ['scan/api2-no-brute-force-protection login', 'scan/api4-no-rate-limit me'];
    assert.deepEqual(operationsFound(scans.fixed.result), shared);
    assert.deepEqual(
      operationsFound(scans.vulnerable.result).filter((f) => shared.includes(f)),
      shared,
    );
  });
});

/**
 * An OAuth2 password grant (`POST /oauth/token`, form-encoded `grant_type=password&username=&password=`) on the
 * same kind of database: `grant_type`'s value, `password`, names nobody, so the probes that carry that word go out;
 * the user name is pasted into the statement (vulnerable) or bound (fixed).
 */
const TOKEN_SPEC = {
  openapi: '3.0.3',
  info: { title: 'rooms oauth', version: '2.3.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/oauth/token': {
      post: {
        operationId: 'token',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                required: ['grant_type', 'username', 'password'],
                properties: {
                  grant_type: { type: 'string', enum: ['password'] },
                  username: { type: 'string' },
                  password: { type: 'string' },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' }, '400': { description: 'invalid_grant' } },
      },
    },
    '/api/me': { get: { operationId: 'me', responses: { '200': { description: 'the caller' } } } },
  },
};

async function startTokens(fixed: boolean): Promise<{ url: string; server: Server; db: DatabaseSync }> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT, password_hash TEXT)');
  db.prepare('INSERT INTO users VALUES (1, ?, ?)').run('alice', sha256('pw-alice-7731'));
  db.prepare('INSERT INTO users VALUES (2, ?, ?)').run('bob', sha256('pw-bob-5520'));
  const tokens = new Map<string, number>();
  const send = (res: ServerResponse, status: number, body: unknown) =>
    sendJson(res, status, body, GUARDED_JSON);
  const api = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/oauth/token') {
      const text = await readText(req);
      const form = new URLSearchParams(text);
      const [user, password] = [form.get('username') ?? '', form.get('password') ?? ''];
      if (form.get('grant_type') !== 'password') return send(res, 400, { error: 'unsupported_grant_type' });
      let row: { id: number } | undefined;
      try {
        row = (
          fixed
            ? db
                .prepare('SELECT id FROM users WHERE username = ? AND password_hash = ?')
                .get(user, sha256(password))
            : db
                .prepare(
                  `SELECT id FROM users WHERE username = '${user}' AND password_hash = '${sha256(password)}'`,
                )
                .get()
        ) as { id: number } | undefined;
      } catch (err) {
        return send(res, 500, { error: 'server_error', error_description: (err as Error).message });
      }
      if (!row) return send(res, 400, { error: 'invalid_grant' });
      const token = randomBytes(16).toString('hex');
      tokens.set(token, row.id);
      return send(res, 200, { access_token: token, token_type: 'bearer', expires_in: 3600 });
    }
    const uid = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /i, ''));
    if (uid === undefined) return send(res, 401, { error: 'unauthorized' });
    if (req.method === 'GET' && url.pathname === '/api/me') return send(res, 200, { id: uid });
    send(res, 404, { error: 'not found' });
  });
  return { ...api, db };
}

describe('a password grant is probed too: grant_type=password names nobody', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: { db: DatabaseSync } }>;
  before(async () => {
    const login = (username: string, password: string) => ({
      name: username,
      login: {
        path: '/oauth/token',
        encoding: 'form' as const,
        body: { grant_type: 'password', username, password },
      },
    });
    Object.assign(
      scans,
      await scanTwins(TOKEN_SPEC, startTokens, {
        identities: [login('alice', 'pw-alice-7731'), login('bob', 'pw-bob-5520')],
        checks: ['API8'],
        ratePerSecond: 200,
        timeDelayMs: 300,
      }),
    );
  });
  after(() => {
    for (const kind of ['vulnerable', 'fixed'] as const) scans[kind]?.api.db.close();
  });

  test('the grant’s user name is SQL injection (a bypass on a made-up user), the fixed twin has none', () => {
    const sql = scans.vulnerable.result.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection');
    assert.deepEqual(
      sql.map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}`),
      ['token username'],
      operationsFound(scans.vulnerable.result).join('\n'),
    );
    assert.match(sql[0].message, /login bypass: pc-nobody-/);
    assert.deepEqual(
      scans.fixed.result.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection'),
      [],
    );
  });
});
