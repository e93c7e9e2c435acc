import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans } from './twins.ts';

/**
 * A savings co-op API in a Hapi-like style: opaque session tokens in `X-Coop-Session` (the login answers only
 * `{session_token}`, no user id), a public sign-up, the caller's own record at `GET /v1/account` and again by its
 * number at `GET /v1/user/{uid}` (anyone else's answers 403). Its own-record updates are `PUT /v1/account
 * {display_name}` and `PUT /v1/user/{uid} {display_name, bio}` (neither named "profile" or "me"); the vulnerable
 * twin copies every member of the body that names a column into the record (`tier`, `credit`, `is_admin`), the fixed
 * twin only the declared ones. `POST /v1/account/lookup {account_no}` is a read under the caller's own record: it
 * shows the display name of whichever member holds a co-op account number (the vulnerable twin its whole row, a
 * password hash too). Its document's example for the number is a placeholder (`"string"`, which no member holds);
 * real numbers are in the members' own reads (`CO-4411-0001`). `POST /v1/account/search {name}` is another read
 * there, answering 200 with its matches (none too); the vulnerable twin pastes the text into its SQL.
 * `POST /v1/members/find {display_name}` (example `"string"`) finds a member by name (the vulnerable twin answers
 * the whole row, its password hash too).
 *
 * A plain scan must leave alice, bob and root's rows as they were, whatever it finds.
 */
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const RECORD = {
  type: 'object',
  properties: {
    uid: { type: 'integer' },
    username: { type: 'string' },
    display_name: { type: 'string' },
    bio: { type: 'string' },
    tier: { type: 'string' },
    credit: { type: 'integer' },
    account_no: { type: 'string' },
  },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'co-op', version: '1' },
  components: { securitySchemes: { session: { type: 'apiKey', in: 'header', name: 'X-Coop-Session' } } },
  security: [{ session: [] }],
  paths: {
    '/v1/auth/register': {
      post: {
        operationId: 'register',
        security: [],
        requestBody: {
          required: true,
          ...json({
            type: 'object',
            required: ['username', 'password', 'display_name'],
            properties: {
              username: { type: 'string', minLength: 3 },
              password: { type: 'string', minLength: 8 },
              display_name: { type: 'string' },
            },
          }),
        },
        responses: { '201': { description: 'registered' }, '409': { description: 'taken' } },
      },
    },
    '/v1/auth/token': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          required: true,
          ...json({
            type: 'object',
            required: ['username', 'password'],
            properties: { username: { type: 'string' }, password: { type: 'string' } },
          }),
        },
        responses: { '200': { description: 'a session token' }, '401': { description: 'no' } },
      },
    },
    '/v1/account': {
      get: { operationId: 'myAccount', responses: { '200': { description: 'mine', ...json(RECORD) } } },
      put: {
        operationId: 'saveMyAccount',
        requestBody: {
          required: true,
          ...json({ type: 'object', properties: { display_name: { type: 'string' } } }),
        },
        responses: { '200': { description: 'saved' } },
      },
    },
    '/v1/user/{uid}': {
      parameters: [{ name: 'uid', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'memberRecord',
        responses: {
          '200': { description: 'the member', ...json(RECORD) },
          '403': { description: 'not yours' },
        },
      },
      put: {
        operationId: 'saveMemberRecord',
        requestBody: {
          required: true,
          ...json({
            type: 'object',
            properties: { display_name: { type: 'string' }, bio: { type: 'string' } },
          }),
        },
        responses: { '200': { description: 'saved' }, '403': { description: 'not yours' } },
      },
    },
    '/v1/account/search': {
      post: {
        operationId: 'searchAccounts',
        description: 'Members whose display name holds the text (to pick a payee).',
        requestBody: {
          required: true,
          ...json({ type: 'object', required: ['name'], properties: { name: { type: 'string' } } }),
        },
        responses: { '200': { description: 'the matches' } },
      },
    },
    '/v1/members/find': {
      post: {
        operationId: 'findMember',
        description: 'A member by display name (to invite them to a savings circle).',
        requestBody: {
          required: true,
          ...json({
            type: 'object',
            required: ['display_name'],
            properties: { display_name: { type: 'string', example: 'string' } },
          }),
        },
        responses: { '200': { description: 'the member' }, '404': { description: 'no such member' } },
      },
    },
    '/v1/account/lookup': {
      post: {
        operationId: 'lookupAccount',
        description: 'Whose is a co-op account number (before a transfer).',
        requestBody: {
          required: true,
          ...json({
            type: 'object',
            required: ['account_no'],
            properties: { account_no: { type: 'string', example: 'string' } },
          }),
        },
        responses: { '200': { description: 'its holder' }, '404': { description: 'no such account' } },
      },
    },
  },
};

const PASSWORDS = { alice: 'alice-pw-0001', bob: 'bob-pw-00002', root: 'root-pw-00003' };
const IDENTITIES = {
  identities: [
    {
      name: 'alice',
      login: {
        path: '/v1/auth/token',
        header: 'X-Coop-Session',
        body: { username: 'alice', password: PASSWORDS.alice },
      },
    },
    {
      name: 'bob',
      login: {
        path: '/v1/auth/token',
        header: 'X-Coop-Session',
        body: { username: 'bob', password: PASSWORDS.bob },
      },
    },
  ],
  admin: {
    name: 'root',
    login: {
      path: '/v1/auth/token',
      header: 'X-Coop-Session',
      body: { username: 'root', password: PASSWORDS.root },
    },
  },
  ratePerSecond: 400,
};

interface Coop extends TestServer {
  /** The given members' rows as they are now. */
  seeded(): unknown[];
  /** Every request line the API got, with who sent it. */
  readonly log: string[];
}

/** A bcrypt hash's shape (the rows' own stand-ins, no real password's). */
const HASH = '$2b$12$Coop4411StandInHashForTestsOnlyAbCdEfGhIjKlMnOpQrSt';
const COLUMNS = new Set(['display_name', 'bio', 'tier', 'credit', 'is_admin', 'account_no']);

async function startCoop(fixed: boolean, signup = true): Promise<Coop> {
  const db = new DatabaseSync(':memory:');
  db.exec(`CREATE TABLE users(uid INTEGER PRIMARY KEY, username TEXT UNIQUE, password TEXT, display_name TEXT,
      bio TEXT, tier TEXT, credit INTEGER, is_admin INTEGER, account_no TEXT UNIQUE, pw_hash TEXT);
    INSERT INTO users VALUES
      (1, 'alice', '${PASSWORDS.alice}', 'Alice A.', 'knits', 'basic', 40, 0, 'CO-4411-0001', '${HASH}1'),
      (2, 'bob', '${PASSWORDS.bob}', 'Bob B.', 'bikes', 'basic', 15, 0, 'CO-4411-0002', '${HASH}2'),
      (3, 'root', '${PASSWORDS.root}', 'Root', '', 'staff', 0, 1, 'CO-4411-0003', '${HASH}3');`);
  const sessions = new Map<string, number>();
  const log: string[] = [];
  const view = (uid: number) =>
    db
      .prepare('SELECT uid, username, display_name, bio, tier, credit, account_no FROM users WHERE uid = ?')
      .get(uid);
  const save = (uid: number, body: Record<string, unknown>, declared: readonly string[]) => {
    for (const [k, v] of Object.entries(body)) {
      if (!COLUMNS.has(k) || (fixed && !declared.includes(k))) continue;
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') continue;
      db.prepare(`UPDATE users SET ${k} = ? WHERE uid = ?`).run(typeof v === 'boolean' ? Number(v) : v, uid);
    }
  };
  const server = await startServer(async (req: IncomingMessage, res) => {
    const path = (req.url ?? '/').split('?')[0].replace(/\/$/, '');
    const body = req.method === 'GET' ? undefined : await readJson(req);
    const uid = sessions.get(String(req.headers['x-coop-session'] ?? ''));
    if (log.length < 20_000) log.push(`${uid ?? '-'} ${req.method} ${req.url} ${JSON.stringify(body ?? '')}`);
    if (signup && req.method === 'POST' && path === '/v1/auth/register') {
      const { username, password, display_name } = body ?? {};
      if (
        typeof username !== 'string' ||
        username.length < 3 ||
        typeof password !== 'string' ||
        password.length < 8
      )
        return sendJson(res, 400, {
          statusCode: 400,
          error: 'Bad Request',
          message: 'username and password',
        });
      if (db.prepare('SELECT 1 FROM users WHERE username = ?').get(username))
        return sendJson(res, 409, { statusCode: 409, error: 'Conflict', message: 'taken' });
      const n = Number((db.prepare('SELECT MAX(uid) AS m FROM users').get() as { m: number }).m) + 1;
      db.prepare(`INSERT INTO users VALUES (?, ?, ?, ?, '', 'basic', 0, 0, ?, '${HASH}0')`).run(
        n,
        username,
        password,
        String(display_name ?? username),
        `CO-4411-${String(n).padStart(4, '0')}`,
      );
      return sendJson(res, 201, { registered: username });
    }
    if (req.method === 'POST' && path === '/v1/auth/token') {
      const row = db
        .prepare('SELECT uid, password FROM users WHERE username = ?')
        .get(String(body?.username ?? '')) as { uid: number; password: string } | undefined;
      if (!row || row.password !== body?.password)
        return sendJson(res, 401, { statusCode: 401, error: 'Unauthorized', message: 'bad credentials' });
      const token = randomBytes(18).toString('hex');
      sessions.set(token, row.uid);
      return sendJson(res, 200, { session_token: token });
    }
    if (uid === undefined)
      return sendJson(res, 401, { statusCode: 401, error: 'Unauthorized', message: 'no session' });
    if (path === '/v1/account' && req.method === 'GET') return sendJson(res, 200, view(uid));
    if (path === '/v1/account' && req.method === 'PUT') {
      save(uid, body ?? {}, ['display_name']);
      return sendJson(res, 200, { saved: true });
    }
    const m = /^\/v1\/user\/([^/]+)$/.exec(path);
    if (m) {
      if (m[1] !== String(uid))
        return sendJson(res, 403, { statusCode: 403, error: 'Forbidden', message: 'not yours' });
      if (req.method === 'GET') return sendJson(res, 200, view(uid));
      if (req.method === 'PUT') {
        save(uid, body ?? {}, ['display_name', 'bio']);
        return sendJson(res, 200, { saved: true });
      }
    }
    if (path === '/v1/account/search' && req.method === 'POST') {
      const text = String(body?.name ?? '');
      try {
        // The flaw: the text pasted into the SQL text (node:sqlite's error answered as a 500).
        const matches = fixed
          ? db
              .prepare(`SELECT account_no, display_name FROM users WHERE display_name LIKE '%' || ? || '%'`)
              .all(text)
          : db
              .prepare(`SELECT account_no, display_name FROM users WHERE display_name LIKE '%${text}%'`)
              .all();
        return sendJson(res, 200, { matches });
      } catch {
        return sendJson(res, 500, {
          statusCode: 500,
          error: 'Internal Server Error',
          message: 'search failed',
        });
      }
    }
    if (path === '/v1/members/find' && req.method === 'POST') {
      // The flaw: the vulnerable twin answers the member's whole row, its password hash too.
      const row = db
        .prepare(
          fixed
            ? 'SELECT display_name FROM users WHERE display_name = ?'
            : 'SELECT uid, username, display_name, pw_hash FROM users WHERE display_name = ?',
        )
        .get(String(body?.display_name ?? ''));
      return row
        ? sendJson(res, 200, row)
        : sendJson(res, 404, { statusCode: 404, error: 'Not Found', message: 'no such member' });
    }
    if (path === '/v1/account/lookup' && req.method === 'POST') {
      // The flaw: the vulnerable twin answers the holder's whole row, its password hash too.
      const row = db
        .prepare(
          fixed
            ? 'SELECT account_no, display_name FROM users WHERE account_no = ?'
            : 'SELECT uid, username, display_name, account_no, pw_hash FROM users WHERE account_no = ?',
        )
        .get(String(body?.account_no ?? ''));
      return row
        ? sendJson(res, 200, row)
        : sendJson(res, 404, { statusCode: 404, error: 'Not Found', message: 'no such account' });
    }
    return sendJson(res, 404, { statusCode: 404, error: 'Not Found', message: 'no route' });
  });
  return {
    ...server,
    log,
    seeded: () => db.prepare('SELECT * FROM users WHERE uid <= 3 ORDER BY uid').all(),
  };
}

/** The twins scanned with `spec`: their findings, and the given members' rows before and after each scan. */
function coopScans(signup: boolean) {
  const spec = signup
    ? SPEC
    : {
        ...SPEC,
        paths: Object.fromEntries(Object.entries(SPEC.paths).filter(([p]) => p !== '/v1/auth/register')),
      };
  const out = {
    seeded: [] as unknown[],
    after: {} as Record<string, unknown[]>,
    runs: {} as TwinScans<Coop>,
  };
  before(async () => {
    const probe = await startCoop(false, signup);
    out.seeded = probe.seeded();
    probe.server.close();
    out.runs = await scanTwins(
      spec,
      async (fixed) => {
        const api = await startCoop(fixed, signup);
        const close = api.server.close.bind(api.server);
        // Read the rows as the scan leaves them, before the server goes.
        api.server.close = ((cb?: (err?: Error) => void) => {
          out.after[fixed ? 'fixed' : 'vulnerable'] = api.seeded();
          return close(cb);
        }) as typeof api.server.close;
        return api;
      },
      IDENTITIES,
    );
  });
  return out;
}

for (const signup of [true, false])
  describe(`co-op own-record updates (PUT /v1/account, PUT /v1/user/{uid}) and a read-like POST lookup, ${signup ? "with a sign-up (probed on an account of the scan's own)" : "without a sign-up (probed on a given identity's record, read first and set back)"}`, () => {
    const scans = coopScans(signup);
    const found = (kind: 'vulnerable' | 'fixed', rule: string, op: string) =>
      scans.runs[kind].result.findings.filter((f) => f.rule.id === rule && f.operation?.operationId === op);
    const explain = (kind: 'vulnerable' | 'fixed') =>
      [
        ...scans.runs[kind].result.findings.map(
          (f) => `${f.rule.id} ${f.operation?.operationId}: ${f.message}`,
        ),
        ...scans.runs[kind].result.coverage.matrix
          .filter((c) => /\/v1\/(account|user|members)/.test(c.operation) && (c.reason || c.notes))
          .filter((c) => !/no request of this check applies|passive rules read/.test(c.reason ?? ''))
          .map(
            (c) =>
              `cell ${c.check} ${c.operation} ${c.status}: ${c.reason ?? ''} ${(c.notes ?? []).join(' | ')}`,
          ),
      ].join('\n');

    test("a plain scan leaves the given members' rows as they were, on both twins", () => {
      assert.deepEqual(scans.after.vulnerable, scans.seeded);
      assert.deepEqual(scans.after.fixed, scans.seeded);
    });

    test('mass assignment is found at PUT /v1/account and PUT /v1/user/{uid} on the vulnerable twin', () => {
      assert.equal(
        found('vulnerable', 'scan/api3-mass-assignment', 'saveMyAccount').length,
        1,
        explain('vulnerable'),
      );
      assert.equal(
        found('vulnerable', 'scan/api3-mass-assignment', 'saveMemberRecord').length,
        1,
        explain('vulnerable'),
      );
    });

    test('the fixed twin: no mass assignment', () => {
      const all = scans.runs.fixed.result.findings.filter((f) => f.rule.id === 'scan/api3-mass-assignment');
      assert.deepEqual(
        all.map((f) => f.operation?.operationId),
        [],
        explain('fixed'),
      );
    });

    test('the lookup is sent as a read with a real account number: its answer shows a password hash (vulnerable only)', () => {
      const hash = found('vulnerable', 'scan/api3-sensitive-data-exposure', 'lookupAccount');
      assert.equal(hash.length, 1, explain('vulnerable'));
      assert.match(hash[0].message, /pw_hash/);
      assert.deepEqual(found('fixed', 'scan/api3-sensitive-data-exposure', 'lookupAccount'), []);
    });

    test('the member finder is asked for a display name the API gave out, not its placeholder: a hash (vulnerable only)', () => {
      const hash = found('vulnerable', 'scan/api3-sensitive-data-exposure', 'findMember');
      assert.equal(hash.length, 1, explain('vulnerable'));
      assert.match(hash[0].message, /pw_hash/);
      assert.deepEqual(found('fixed', 'scan/api3-sensitive-data-exposure', 'findMember'), []);
    });

    test('the search is a read: its SQL injection is found on the vulnerable twin only', () => {
      assert.equal(
        found('vulnerable', 'scan/api8-sql-injection', 'searchAccounts').length,
        1,
        explain('vulnerable'),
      );
      assert.deepEqual(found('fixed', 'scan/api8-sql-injection', 'searchAccounts'), []);
    });

    test('scans stay under 60 s', () => {
      for (const kind of ['vulnerable', 'fixed'] as const)
        assert.ok(
          scans.runs[kind].result.stats.durationMs < 60_000,
          `${kind}: ${scans.runs[kind].result.stats.durationMs} ms`,
        );
    });
  });
