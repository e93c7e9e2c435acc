import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { connectPostgres, POSTGRES_URL, type PostgresAdmin } from '../kit/postgres.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A login that answers every failure with the same 5xx: a tool library (PostgreSQL) whose form-encoded
 * `POST /member/signin {card_no, pin}` answers `200 {"access": ...}` to a right card and PIN and
 * `500 {"result": "failure"}` to anything else, a wrong PIN, a card nobody has and a database error alike (it
 * crashes on the missing row). `GET /loans` lists the member's loans (`Authorization: Bearer`). The vulnerable twin
 * pastes both fields into its SELECT; the fixed twin binds them. A quote, two quotes and a made-up card answer alike,
 * and a tautology is no way in either (the lookup must find exactly one row): only a delay tells. The sleeps run once,
 * ORed to a lookup that matches nobody, so no probe is a failed login for anyone.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'tool library', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/member/signin': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                required: ['card_no', 'pin'],
                properties: { card_no: { type: 'string' }, pin: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'signed in' }, '500': { description: 'failure' } },
      },
    },
    '/loans': {
      get: {
        operationId: 'myLoans',
        responses: {
          '200': {
            description: 'loans',
            content: { 'application/json': { schema: { type: 'array', items: { type: 'object' } } } },
          },
        },
      },
    },
  },
};
const MEMBERS = [
  { name: 'greta', card_no: 'TL-40917', pin: '7312' },
  { name: 'hugo', card_no: 'TL-55203', pin: '0468' },
];

describe('a login whose every failure is the same 5xx: time-based probes with a control', () => {
  let admin: PostgresAdmin;
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const rows = {} as Record<'vulnerable' | 'fixed', unknown>;

  async function startLibrary(fixed: boolean): Promise<{ api: TestServer; db: pg.Client }> {
    const schema = admin.freshSchema('pc_tools');
    const db = new pg.Client(POSTGRES_URL);
    await db.connect();
    await db.query(`CREATE SCHEMA "${schema}"`);
    await db.query(`SET search_path TO "${schema}"`);
    await db.query('CREATE TABLE members (id SERIAL PRIMARY KEY, card_no TEXT UNIQUE, pin TEXT)');
    await db.query('CREATE TABLE loans (id SERIAL PRIMARY KEY, member INT, tool TEXT)');
    for (const m of MEMBERS)
      await db.query('INSERT INTO members (card_no, pin) VALUES ($1, $2)', [m.card_no, m.pin]);
    await db.query("INSERT INTO loans (member, tool) VALUES (1, 'hedge trimmer'), (2, 'tile cutter')");
    const sessions = new Map<string, number>();
    const api = await startServer(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      try {
        if (req.method === 'POST' && url.pathname === '/member/signin') {
          const form = new URLSearchParams(await readText(req));
          const card = form.get('card_no') ?? '';
          const pin = form.get('pin') ?? '';
          const r = fixed
            ? await db.query('SELECT id FROM members WHERE card_no = $1 AND pin = $2', [card, pin])
            : await db.query(`SELECT id FROM members WHERE card_no = '${card}' AND pin = '${pin}'`);
          if (r.rows.length !== 1) throw new Error('no member');
          const access = randomBytes(12).toString('hex');
          sessions.set(access, Number(r.rows[0].id));
          return sendJson(res, 200, { access });
        }
        const member = sessions.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
        if (member === undefined) return sendJson(res, 401, { result: 'sign in first' });
        if (req.method === 'GET' && url.pathname === '/loans')
          return sendJson(
            res,
            200,
            (await db.query('SELECT id, tool FROM loans WHERE member = $1', [member])).rows,
          );
        return sendJson(res, 404, { result: 'no route' });
      } catch {
        return sendJson(res, 500, { result: 'failure' });
      }
    });
    return { api, db };
  }

  before(async () => {
    admin = await connectPostgres();
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const s = await startLibrary(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, s.api.url, {
          identities: MEMBERS.map((m) => ({
            name: m.name,
            login: {
              path: '/member/signin',
              encoding: 'form',
              body: { card_no: m.card_no, pin: m.pin },
              tokenPointer: '/access',
            },
          })),
          checks: ['API8'],
          ratePerSecond: 400,
          timeDelayMs: 400,
        });
        rows[kind] = (await s.db.query('SELECT id, card_no, pin FROM members ORDER BY id')).rows;
      } finally {
        await s.api.close();
        await s.db.end();
      }
    }
  });
  after(async () => admin?.close());

  const sql = (r: ScanResult) =>
    r.findings
      .filter((f) => f.rule.id === 'scan/api8-sql-injection')
      .map((f) => `${f.operation?.operationId} ${String(f.evidence?.parameter)}`);

  test('the login is SQL injection, time-based, on the vulnerable twin only', () => {
    const found = sql(runs.vulnerable);
    assert.ok(found.length >= 1 && found.every((x) => x.startsWith('signIn ')), found.join('; '));
    const f = runs.vulnerable.findings.find((x) => x.rule.id === 'scan/api8-sql-injection');
    assert.match(f!.message, /time-based/);
    assert.doesNotMatch(String(f!.evidence?.curl), /TL-40917|TL-55203/);
    assert.deepEqual(sql(runs.fixed), []);
  });

  test('the members are as seeded on both twins', () => {
    const seeded = MEMBERS.map((m, i) => ({ id: i + 1, card_no: m.card_no, pin: m.pin }));
    assert.deepEqual(rows.vulnerable, seeded);
    assert.deepEqual(rows.fixed, seeded);
  });
});
