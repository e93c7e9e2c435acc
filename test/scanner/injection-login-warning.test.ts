import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A PHP-style login whose failures are all the same 500 page, except that a broken query adds PHP's warning about the
 * result it did not get: `POST /login.php` (form: `user`, `pass`) answers `200 {"token": ...}` or `500 Login failed`
 * (text/html); the vulnerable twin builds its SELECT from both fields (node:sqlite here), and a quote makes the query
 * fail, so the page reads `<b>Warning</b>: mysqli_fetch_assoc() expects parameter 1 to be mysqli_result, bool given
 * in ... on line 14` before `Login failed`. The plain failure has no such text: that warning is the database error's
 * only trace (no database message is shown), and only a lookup that finds exactly one pupil signs in (a tautology is
 * no way in). The fixed twin binds the fields. Before, that warning was no SQL error signature, and nothing else told
 * (no sleep in SQLite): no finding.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'school canteen', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/login.php': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                required: ['user', 'pass'],
                properties: { user: { type: 'string' }, pass: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'token' }, '500': { description: 'failed' } },
      },
    },
    '/balance.php': {
      get: {
        operationId: 'balance',
        responses: { '200': { description: 'the balance', content: { 'application/json': { schema: {} } } } },
      },
    },
  },
};
const PUPILS = [
  { user: 'lotte', pass: 'lotte-pw-1188', balance: 12 },
  { user: 'mika', pass: 'mika-pw-2277', balance: 4 },
];

function startCanteen(fixed: boolean): Promise<TestServer> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE pupils(id INTEGER PRIMARY KEY, user TEXT UNIQUE, pass TEXT, balance INTEGER)');
  for (const p of PUPILS)
    db.prepare('INSERT INTO pupils(user, pass, balance) VALUES (?, ?, ?)').run(p.user, p.pass, p.balance);
  const tokens = new Map<string, number>();
  const page = (res: Parameters<typeof sendJson>[0], text: string) => {
    res.writeHead(500, { 'content-type': 'text/html; charset=UTF-8' });
    res.end(text);
  };
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/login.php') {
      const form = new URLSearchParams(await readText(req));
      const user = form.get('user') ?? '';
      const pass = form.get('pass') ?? '';
      let rows: Record<string, unknown>[];
      try {
        rows = fixed
          ? db.prepare('SELECT id FROM pupils WHERE user = ? AND pass = ?').all(user, pass)
          : db.prepare(`SELECT id FROM pupils WHERE user = '${user}' AND pass = '${pass}'`).all();
      } catch {
        // PHP's mysqli_query returned false and the script went on: its warning, then the same failure.
        return page(
          res,
          '<br />\n<b>Warning</b>:  mysqli_fetch_assoc() expects parameter 1 to be mysqli_result, bool given in <b>/var/www/html/login.php</b> on line <b>14</b><br />\nLogin failed',
        );
      }
      // Exactly one pupil, or no login (a tautology that selects every pupil lets no one in).
      if (rows.length !== 1) return page(res, 'Login failed');
      const token = randomBytes(12).toString('hex');
      tokens.set(token, Number(rows[0].id));
      return sendJson(res, 200, { token });
    }
    const id = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (id === undefined) return sendJson(res, 401, { error: 'login' });
    if (req.method === 'GET' && url.pathname === '/balance.php')
      return sendJson(res, 200, db.prepare('SELECT balance FROM pupils WHERE id = ?').get(id));
    return sendJson(res, 404, { error: 'route' });
  });
}

describe("a login's only trace of a broken query is PHP's warning in a 500 like every failure", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startCanteen(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: PUPILS.map((p) => ({
            name: p.user,
            login: { path: '/login.php', encoding: 'form', body: { user: p.user, pass: p.pass } },
          })),
          checks: ['API8'],
          ratePerSecond: 400,
          timeDelayMs: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  test('the login is SQL injection (a database error behind the warning) on the vulnerable twin only', () => {
    const sql = (r: ScanResult) =>
      r.findings
        .filter((f) => f.rule.id === 'scan/api8-sql-injection')
        .map((f) => `${f.operation?.operationId} ${String(f.evidence?.parameter)}`)
        .sort();
    const found = sql(runs.vulnerable);
    assert.ok(found.length >= 1 && found.every((x) => x.startsWith('login ')), found.join('; '));
    assert.deepEqual(sql(runs.fixed), []);
  });
});
