import assert from 'node:assert/strict';
import type { Server, ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { scanTwins } from './twins.ts';

/**
 * A bakery chain's loyalty desk in a Flask-like style (one view per route, `jsonify`-like answers), on a real SQLite
 * database (node:sqlite, in memory); staff send `X-Till-Key`, each works at one bakery (`bakeryId` given). Vouchers
 * (`POST /bakeries/{bakeryId}/vouchers`) and invitations to new staff (`POST /bakeries/{bakeryId}/invites {email}`,
 * a mail to that address) have no route of their own: nothing can delete one. API6 repeats both (review R1-12: five
 * coupons and five staff invitations stayed on a store API, named nowhere).
 * Vulnerable: any number of each. Fixed twin: one voucher and one invitation a day per member, the next refused (429).
 * On both, each voucher and invitation API6 made must be named in a warning, and invitations go out at most twice.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'loyalty desk', version: '1.4.0' },
  components: { securitySchemes: { till: { type: 'apiKey', in: 'header', name: 'X-Till-Key' } } },
  security: [{ till: [] }],
  paths: {
    '/bakeries': {
      post: {
        operationId: 'openBakery',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
            },
          },
        },
        responses: { '201': { description: 'opened' } },
      },
    },
    '/bakeries/{bakeryId}': {
      parameters: [{ name: 'bakeryId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'bakery', responses: { '200': { description: 'a bakery' } } },
      delete: { operationId: 'closeBakery', responses: { '204': { description: 'closed' } } },
    },
    '/bakeries/{bakeryId}/vouchers': {
      parameters: [{ name: 'bakeryId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'vouchers', responses: { '200': { description: 'the bakery’s vouchers' } } },
      post: {
        operationId: 'issueVoucher',
        summary: 'Issue a voucher',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['label'],
                properties: {
                  label: { type: 'string' },
                  percent: { type: 'integer', minimum: 1, maximum: 50 },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'issued' }, '429': { description: 'one a day' } },
      },
    },
    '/bakeries/{bakeryId}/invites': {
      parameters: [{ name: 'bakeryId', in: 'path', required: true, schema: { type: 'integer' } }],
      post: {
        operationId: 'inviteStaff',
        summary: 'Invite a new member of staff by e-mail',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email'],
                properties: { email: { type: 'string', format: 'email' } },
              },
            },
          },
        },
        responses: { '201': { description: 'invitation mailed' }, '429': { description: 'one a day' } },
      },
    },
  },
};

const STAFF: Record<string, string> = { 'till-ana-31': 'ana', 'till-ben-47': 'ben' };

interface Desk {
  readonly url: string;
  readonly server: Server;
  readonly db: DatabaseSync;
}

async function startDesk(fixed: boolean): Promise<Desk> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE bakeries (id INTEGER PRIMARY KEY, name TEXT, owner TEXT)');
  db.exec("INSERT INTO bakeries (id, name, owner) VALUES (1, 'Main Street', 'ana'), (2, 'Harbour', 'ben')");
  db.exec(
    'CREATE TABLE vouchers (id INTEGER PRIMARY KEY, bakery INTEGER, label TEXT, percent INTEGER, by TEXT)',
  );
  db.exec('CREATE TABLE invites (id INTEGER PRIMARY KEY, bakery INTEGER, email TEXT, by TEXT)');
  db.exec("INSERT INTO vouchers (id, bakery, label, percent, by) VALUES (100, 1, 'spring', 10, 'ana')");
  db.exec("INSERT INTO invites (id, bakery, email, by) VALUES (500, 1, 'cara@bakery.test', 'ana')");
  const send = (res: ServerResponse, status: number, body?: unknown) => {
    if (body !== undefined) return sendJson(res, status, body, GUARDED_JSON);
    res.writeHead(status);
    res.end();
  };
  const owned = (id: number, who: string) =>
    (db.prepare('SELECT owner FROM bakeries WHERE id = ?').get(id) as { owner: string } | undefined)
      ?.owner === who;
  const api = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const who = STAFF[String(req.headers['x-till-key'])];
    if (!who) return send(res, 401, { error: 'till key?' });
    if (req.method === 'POST' && url.pathname === '/bakeries') {
      const b = await readJson(req);
      if (typeof b?.name !== 'string') return send(res, 400, { error: 'name' });
      const r = db.prepare('INSERT INTO bakeries (name, owner) VALUES (?, ?)').run(b.name, who);
      return send(res, 201, { id: Number(r.lastInsertRowid), name: b.name });
    }
    const one = /^\/bakeries\/(\d+)$/.exec(url.pathname);
    if (one) {
      const id = Number(one[1]);
      if (!owned(id, who)) return send(res, 404, { error: 'no such bakery' });
      if (req.method === 'GET')
        return send(res, 200, db.prepare('SELECT id, name FROM bakeries WHERE id = ?').get(id));
      if (req.method === 'DELETE') {
        db.prepare('DELETE FROM bakeries WHERE id = ?').run(id);
        return send(res, 204);
      }
      return send(res, 405, { error: 'method' });
    }
    const m = /^\/bakeries\/(\d+)\/(vouchers|invites)$/.exec(url.pathname);
    if (!m) return send(res, 404, { error: 'no route' });
    const bakery = Number(m[1]);
    if (!owned(bakery, who)) return send(res, 403, { error: 'not your bakery' });
    const table = m[2];
    if (req.method === 'GET' && table === 'vouchers')
      return send(
        res,
        200,
        db.prepare('SELECT id, label, percent FROM vouchers WHERE bakery = ?').all(bakery),
      );
    if (req.method !== 'POST') return send(res, 405, { error: 'method' });
    const b = await readJson(req);
    const made = (db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE by = ?`).get(who) as { n: number }).n;
    // The fixed twin: ana's seeded voucher and invitation count, so one more of each a day.
    if (fixed && Number(made) >= 2) return send(res, 429, { error: 'one a day' });
    if (table === 'vouchers') {
      if (typeof b?.label !== 'string') return send(res, 400, { error: 'label' });
      const r = db
        .prepare('INSERT INTO vouchers (bakery, label, percent, by) VALUES (?, ?, ?, ?)')
        .run(bakery, b.label, Number(b.percent ?? 5), who);
      return send(res, 201, { id: Number(r.lastInsertRowid), label: b.label, code: `V${r.lastInsertRowid}` });
    }
    if (typeof b?.email !== 'string' || !b.email.includes('@')) return send(res, 400, { error: 'email' });
    const r = db
      .prepare('INSERT INTO invites (bakery, email, by) VALUES (?, ?, ?)')
      .run(bakery, b.email, who);
    return send(res, 201, { id: Number(r.lastInsertRowid), email: b.email, status: 'mailed' });
  });
  return { ...api, db };
}

describe('what API6’s repetitions make is named when nothing can delete it, and invitations go out twice', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Desk }>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startDesk, {
        identities: Object.entries(STAFF).map(([key, name]) => ({ name, headers: { 'X-Till-Key': key } })),
        checks: ['API6'],
        ratePerSecond: 200,
      }),
    );
  });
  after(() => {
    for (const kind of ['vulnerable', 'fixed'] as const) scans[kind]?.api.db.close();
  });

  test('every voucher and invitation the scan made is named by its id in a warning, on both twins', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { db } = scans[kind].api;
      const { warnings } = scans[kind].result;
      for (const table of ['vouchers', 'invites']) {
        const ids = (
          db.prepare(`SELECT id FROM ${table} WHERE id NOT IN (100, 500)`).all() as { id: number }[]
        ).map((r) => Number(r.id));
        assert.ok(
          ids.length >= 1,
          `${kind} ${table}: the repetition made nothing ${JSON.stringify(scans[kind].result.coverage).slice(0, 3000)}`,
        );
        const op = table === 'vouchers' ? 'vouchers' : 'invites';
        const line = warnings.find((w) => w.includes('API6 repetitions') && w.includes(`/${op}`));
        assert.ok(line, `${kind} ${table}: ${warnings.join('\n')}`);
        for (const id of ids)
          assert.match(line, new RegExp(`\\b${id}\\b`), `${kind} ${table} ${id}: ${line}`);
      }
    }
  });

  test('invitations, mails to others, were sent at most twice; vouchers five times on the vulnerable twin', () => {
    const { db } = scans.vulnerable.api;
    const count = (table: string) =>
      Number(
        (
          db
            .prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE by = 'ana' AND id NOT IN (100, 500)`)
            .get() as { n: number }
        ).n,
      );
    assert.ok(count('invites') <= 2, `invites ${count('invites')}`);
    assert.equal(count('vouchers'), 5);
  });
});
