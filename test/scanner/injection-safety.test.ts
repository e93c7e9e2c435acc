import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import { runScan } from '../../src/scanner/scan/index.ts';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { SCAN_TARGETS } from '../fixtures/scan-targets/index.ts';
import { startServer } from '../kit/server.ts';
import { scanDocument } from './twins.ts';

/**
 * The injection probes change only what the scan created. The helpdesk's `POST /admin/users/{user_id}/deactivate/`
 * is open to any user, and its listing gives out every user id (the scan's admin's too): probing `user_id` with
 * the ids the identities harvested deactivated the admin, after which every probe it sent (the command injection
 * of `POST /tickets/{id}/convert/`, reached only by the admin once API1 deleted the others' tickets) was refused.
 */
test('the injection probes deactivate no account and find the command injection behind the admin', async () => {
  const target = SCAN_TARGETS.find((t) => t.name === 'django-helpdesk');
  assert.ok(target);
  const api = await target.start({ fixed: false });
  try {
    const result = await runScan({
      spec: api.specFile,
      target: api.url,
      timeDelayMs: 300,
      identities: [target.identity('alice'), target.identity('bob')],
      admin: target.identity('admin'),
      checks: ['API1', 'API8'],
    });
    const deactivated = api.received
      .filter((r) => r.method === 'POST' && /^\/api\/v2\/admin\/users\/\d+\/deactivate\/$/.test(r.path))
      .map((r) => r.path);
    assert.deepEqual(deactivated, []);
    const found = result.findings.find((f) => f.rule.id === 'scan/api8-command-injection');
    assert.equal(found?.operation?.path, '/api/v2/tickets/{id}/convert/');
  } finally {
    await api.close();
  }
});

/**
 * A members' club in a Rails-like style, on a real SQLite database (node:sqlite): form-encoded bodies, a
 * session cookie from `POST /session`, a sign-up at `POST /members`, and two account changes whose inputs are
 * pasted into their UPDATE: `POST /members/{login}/password {current_password, password}` and
 * `POST /account/email {email}` (the session's own account). A database error is answered with its message.
 * Probed as alice, the e-mail change would change alice's e-mail; a tautology in the password change's WHERE
 * would give every member the probe's password. They are probed on the scan's own account only, with probes
 * that cannot reach another row. Fixed twin: bound parameters.
 */
describe('account changes are probed for injection on an account of the scan’s own only', () => {
  const form = (props: Record<string, unknown>, required: string[]) => ({
    required: true,
    content: {
      'application/x-www-form-urlencoded': { schema: { type: 'object', required, properties: props } },
    },
  });
  const str = { type: 'string' };
  const SPEC = {
    openapi: '3.0.3',
    info: { title: 'club', version: '4.2' },
    components: { securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'club_session' } } },
    security: [{ session: [] }],
    paths: {
      '/session': {
        post: {
          operationId: 'signIn',
          security: [],
          requestBody: form({ login: str, password: { type: 'string', format: 'password' } }, [
            'login',
            'password',
          ]),
          responses: { '200': { description: 'signed in' } },
        },
      },
      '/members': {
        post: {
          operationId: 'join',
          security: [],
          requestBody: form(
            {
              login: str,
              email: { type: 'string', format: 'email' },
              password: { type: 'string', format: 'password' },
            },
            ['login', 'email', 'password'],
          ),
          responses: { '201': { description: 'joined' } },
        },
      },
      '/members/{login}': {
        get: {
          operationId: 'member',
          parameters: [{ name: 'login', in: 'path', required: true, schema: str }],
          responses: { '200': { description: 'a member' } },
        },
      },
      '/members/{login}/password': {
        post: {
          operationId: 'changePassword',
          parameters: [{ name: 'login', in: 'path', required: true, schema: str }],
          requestBody: form({ current_password: str, password: str }, ['current_password', 'password']),
          responses: { '200': { description: 'changed' } },
        },
      },
      '/account/email': {
        post: {
          operationId: 'changeEmail',
          requestBody: form({ email: str }, ['email']),
          responses: { '200': { description: 'changed' } },
        },
      },
      '/account': { get: { operationId: 'account', responses: { '200': { description: 'mine' } } } },
    },
  };
  const GIVEN = [
    { login: 'alice', email: 'alice@club.example', password: 'alice-Secret-1' },
    { login: 'bob', email: 'bob@club.example', password: 'bob-Secret-2' },
  ];

  async function startClub(fixed: boolean) {
    const db = new DatabaseSync(':memory:');
    db.exec('CREATE TABLE members (login TEXT PRIMARY KEY, email TEXT, password TEXT)');
    const insert = db.prepare('INSERT INTO members (login, email, password) VALUES (?, ?, ?)');
    for (const m of GIVEN) insert.run(m.login, m.email, m.password);
    const sessions = new Map<string, string>();
    const api = await startServer(async (req, res) => {
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, {
          'content-type': 'application/json',
          'x-content-type-options': 'nosniff',
          'cache-control': 'no-store',
          ...headers,
        });
        res.end(JSON.stringify(body));
      };
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const f = Object.fromEntries(new URLSearchParams(raw));
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname;
      try {
        if (req.method === 'POST' && path === '/session') {
          const row = db
            .prepare('SELECT login FROM members WHERE login = ? AND password = ?')
            .get(f.login ?? '', f.password ?? '');
          if (!row) return send(401, { error: 'invalid login or password' });
          const sid = randomBytes(12).toString('hex');
          sessions.set(sid, String(row.login));
          return send(200, { ok: true }, { 'set-cookie': `club_session=${sid}; HttpOnly; Path=/` });
        }
        if (req.method === 'POST' && path === '/members') {
          if (!f.login || !f.email || !f.password)
            return send(422, { error: 'login, email and password are required' });
          if (db.prepare('SELECT 1 FROM members WHERE login = ?').get(f.login))
            return send(422, { error: 'login taken' });
          insert.run(f.login, f.email, f.password);
          return send(201, { login: f.login });
        }
        const sid = /(?:^|;\s*)club_session=([^;]+)/.exec(String(req.headers.cookie ?? ''))?.[1];
        const me = sid ? sessions.get(sid) : undefined;
        if (!me) return send(401, { error: 'sign in first' });
        if (req.method === 'GET' && path === '/account')
          return send(200, db.prepare('SELECT login, email FROM members WHERE login = ?').get(me));
        const member = /^\/members\/([^/]+)$/.exec(path);
        if (req.method === 'GET' && member) {
          const row = db
            .prepare('SELECT login, email FROM members WHERE login = ?')
            .get(decodeURIComponent(member[1]));
          return row ? send(200, row) : send(404, { error: 'no such member' });
        }
        const pw = /^\/members\/([^/]+)\/password$/.exec(path);
        if (req.method === 'POST' && pw) {
          const login = decodeURIComponent(pw[1]);
          const { changes } = fixed
            ? db
                .prepare('UPDATE members SET password = ? WHERE login = ? AND password = ?')
                .run(f.password ?? '', login, f.current_password ?? '')
            : db
                .prepare(
                  `UPDATE members SET password = '${f.password}' WHERE login = '${login}' AND password = '${f.current_password}'`,
                )
                .run();
          return send(200, { changed: Number(changes) });
        }
        if (req.method === 'POST' && path === '/account/email') {
          if (fixed) db.prepare('UPDATE members SET email = ? WHERE login = ?').run(f.email ?? '', me);
          else db.prepare(`UPDATE members SET email = '${f.email}' WHERE login = '${me}'`).run();
          return send(200, { email: f.email });
        }
        return send(404, { error: 'not found' });
      } catch (err) {
        return send(500, { error: (err as Error).message });
      }
    });
    return { ...api, db };
  }

  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const after = {} as Record<'vulnerable' | 'fixed', { rows: unknown[]; logins: number[] }>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startClub(kind === 'fixed');
      try {
        results[kind] = await scanDocument(SPEC, api.url, {
          identities: GIVEN.map((m) => ({
            name: m.login,
            login: {
              path: '/session',
              body: { login: m.login, password: m.password },
              encoding: 'form' as const,
            },
          })),
          checks: ['API8'],
          ratePerSecond: 200,
          timeDelayMs: 300,
        });
        const logins: number[] = [];
        for (const m of GIVEN) {
          const res = await fetch(`${api.url}/session`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ login: m.login, password: m.password }).toString(),
          });
          logins.push(res.status);
        }
        after[kind] = {
          rows: api.db
            .prepare(
              "SELECT login, email, password FROM members WHERE login IN ('alice', 'bob') ORDER BY login",
            )
            .all(),
          logins,
        };
      } finally {
        await api.close();
        api.db.close();
      }
    }
  });

  const sql = (r: ScanResult) =>
    r.findings
      .filter((f) => f.rule.id === 'scan/api8-sql-injection')
      .map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}`)
      .sort();

  test('both account changes are found SQL-injectable, probed as the scan’s own account', () => {
    const found = sql(results.vulnerable);
    assert.ok(
      found.some((x) => x.startsWith('changeEmail ')),
      found.join(', '),
    );
    assert.ok(
      found.some((x) => x.startsWith('changePassword ')),
      found.join(', '),
    );
    for (const f of results.vulnerable.findings.filter((x) => x.rule.id === 'scan/api8-sql-injection'))
      assert.match(f.message, /as pci[0-9a-f]+\.$/);
  });

  test('alice and bob still sign in with their passwords, their e-mails and passwords unchanged, on both twins', () => {
    const expected = GIVEN.map((m) => ({ login: m.login, email: m.email, password: m.password }));
    for (const kind of ['vulnerable', 'fixed'] as const) {
      assert.deepEqual(after[kind].logins, [200, 200], kind);
      assert.deepEqual(
        after[kind].rows.map((r) => ({ ...(r as object) })),
        expected,
        kind,
      );
    }
  });

  test('the fixed twin has no finding', () => {
    assert.deepEqual(
      results.fixed.findings.map((f) => `${f.rule.id} ${f.operation?.operationId}`),
      [],
    );
  });
});
