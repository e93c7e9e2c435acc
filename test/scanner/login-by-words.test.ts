import assert from 'node:assert/strict';
import type { Server, ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { headerIdentities, operationsFound, scanTwins } from './twins.ts';

/**
 * A climbing gym's front desk in a plain-handler style, on a real SQLite database (node:sqlite, in memory): members
 * are known by an `X-Desk-Key` header; the door check `POST /desk/turnstile {email, pwd}` is a login by its words
 * only (summary "Turnstile", the body "a member signs in with their credentials", the answer "welcome, or not"):
 * nothing in its path or id says login, and its body holds a password. It signs nobody up and changes no account.
 * Vulnerable: the e-mail is pasted into the statement, and a database error is answered 200 with its text (as
 * Flask's `{"msg": str(e)}`). Fixed twin: the e-mail is bound.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'front desk', version: '0.9.1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Desk-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/desk/turnstile': {
      post: {
        operationId: 'turnstile',
        summary: 'Turnstile',
        security: [],
        requestBody: {
          description: 'a member signs in with their credentials',
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email', 'pwd'],
                properties: { email: { type: 'string' }, pwd: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'welcome, or not' } },
      },
    },
    '/desk/walls': {
      get: { operationId: 'walls', responses: { '200': { description: 'the walls open today' } } },
    },
  },
};

const MEMBERS = [
  { email: 'alice@gym.test', pwd: 'chalk-alice-41' },
  { email: 'bob@gym.test', pwd: 'chalk-bob-77' },
];

async function startDesk(fixed: boolean): Promise<{ url: string; server: Server; db: DatabaseSync }> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE members (id INTEGER PRIMARY KEY, email TEXT, pwd TEXT)');
  for (const m of MEMBERS) db.prepare('INSERT INTO members (email, pwd) VALUES (?, ?)').run(m.email, m.pwd);
  const send = (res: ServerResponse, status: number, body: unknown) =>
    sendJson(res, status, body, GUARDED_JSON);
  const api = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/desk/turnstile') {
      const body = await readJson(req);
      if (typeof body?.email !== 'string' || typeof body?.pwd !== 'string')
        return send(res, 400, { msg: 'email and pwd, please' });
      try {
        const row = fixed
          ? db.prepare('SELECT id FROM members WHERE email = ? AND pwd = ?').get(body.email, body.pwd)
          : db.prepare(`SELECT id FROM members WHERE email = '${body.email}' AND pwd = ?`).get(body.pwd);
        return send(res, 200, { msg: row ? 'welcome' : 'not today' });
      } catch (err) {
        return send(res, 200, { msg: (err as Error).message });
      }
    }
    if (!['k-alice', 'k-bob'].includes(String(req.headers['x-desk-key'])))
      return send(res, 401, { msg: 'key?' });
    if (req.method === 'GET' && url.pathname === '/desk/walls')
      return send(res, 200, [{ id: 1, wall: 'north' }]);
    send(res, 404, { msg: 'no' });
  });
  return { ...api, db };
}

describe('a login named only by its words is probed as a login, and blamed for no account', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: { db: DatabaseSync } }>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startDesk, {
        identities: headerIdentities('X-Desk-Key', { alice: 'k-alice', bob: 'k-bob' }),
        ratePerSecond: 200,
        timeDelayMs: 300,
      }),
    );
  });
  after(() => {
    for (const kind of ['vulnerable', 'fixed'] as const) scans[kind]?.api.db.close();
  });

  test('the door check’s e-mail is SQL injection, probed with a user nobody has; not on the fixed twin', () => {
    const sql = scans.vulnerable.result.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection');
    assert.deepEqual(
      sql.map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}`),
      ['turnstile email'],
      operationsFound(scans.vulnerable.result).join('\n'),
    );
    const payload = String(sql[0].evidence?.payload ?? '');
    assert.match(payload, /^pc-nobody-/);
    assert.deepEqual(
      scans.fixed.result.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection'),
      [],
    );
  });

  test('the coverage does not call it an account change, and no warning says it registered accounts', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { result } = scans[kind];
      const text = JSON.stringify(result.coverage);
      assert.ok(!/sets a password or changes an account/.test(text), `${kind}: ${text.slice(0, 400)}`);
      assert.deepEqual(
        result.warnings.filter((w) => /registered/.test(w)),
        [],
        kind,
      );
      assert.ok(!result.notes.some((n) => /desk\/turnstile/.test(n)), `${kind}: ${result.notes.join('\n')}`);
    }
  });

  test('nothing was added to the members on either twin', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const n = scans[kind].api.db.prepare('SELECT COUNT(*) AS n FROM members').get() as { n: number };
      assert.equal(Number(n.n), MEMBERS.length, kind);
    }
  });
});
