import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { startServer, type TestServer } from '../kit/server.ts';
import { readText } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * An invoicing service in the style of a Go API (chi, `/v2`), on SQLite (node:sqlite): `X-Org-Key` keys, errors
 * `{"code": "invalid_argument", "message": ...}`, and a search that takes its ordering as an object:
 * `POST /v2/invoices/search {"query": {"status": "paid"}, "sort": {"field": "amount", "direction": "asc"}}`
 * answering `{"results": [...], "total": n}`. The vulnerable twin binds the status but pastes the ordering's field
 * and direction into `ORDER BY` and answers a failed query with no results (no 5xx, no database text). Before, a
 * member of an ordering object (`sort.field`, `sort.direction`) was probed as a plain string. Fixed twin: both are
 * checked against the columns and `asc`/`desc` (400).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'invoicing', version: '2.14.0' },
  components: { securitySchemes: { org: { type: 'apiKey', in: 'header', name: 'X-Org-Key' } } },
  security: [{ org: [] }],
  paths: {
    '/v2/invoices/search': {
      post: {
        operationId: 'SearchInvoices',
        summary: 'Search invoices',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  query: {
                    type: 'object',
                    properties: { status: { type: 'string', enum: ['paid', 'open'] } },
                  },
                  sort: {
                    type: 'object',
                    properties: { field: { type: 'string' }, direction: { type: 'string' } },
                  },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'results' } },
      },
    },
  },
};

const KEYS: Record<string, string> = { 'org-key-tarn-61': 'tarn', 'org-key-vale-29': 'vale' };
const COLUMNS = ['id', 'number', 'customer', 'amount', 'status'];

async function startInvoicing(fixed: boolean): Promise<TestServer> {
  const db = new DatabaseSync(':memory:');
  db.exec(
    'CREATE TABLE invoices (id INTEGER PRIMARY KEY, org TEXT, number TEXT, customer TEXT, amount REAL, status TEXT)',
  );
  const add = db.prepare(
    'INSERT INTO invoices (org, number, customer, amount, status) VALUES (?, ?, ?, ?, ?)',
  );
  for (const org of ['tarn', 'vale'])
    for (const [i, [customer, amount]] of (
      [
        ['Pike & Sons', 420],
        ['Alder Farm', 95.5],
        ['Moorland Co', 1280],
        ['Brook Dairy', 310],
        ['Ember Works', 57],
      ] as const
    ).entries())
      add.run(org, `INV-${org}-${100 + i}`, customer, amount, i % 3 === 1 ? 'open' : 'paid');
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const bad = (res: ServerResponse, message: string) => send(res, 400, { code: 'invalid_argument', message });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const org = KEYS[String(req.headers['x-org-key'] ?? '')];
    if (!org) return send(res, 401, { code: 'unauthenticated', message: 'missing or unknown org key' });
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'POST' || url.pathname !== '/v2/invoices/search')
      return send(res, 404, { code: 'not_found', message: 'no such route' });
    let input: { query?: { status?: unknown }; sort?: { field?: unknown; direction?: unknown } };
    try {
      input = JSON.parse((await readText(req)) || '{}');
    } catch {
      return bad(res, 'body is not JSON');
    }
    const status = typeof input.query?.status === 'string' ? input.query.status : undefined;
    const field = typeof input.sort?.field === 'string' ? input.sort.field : 'id';
    const direction = typeof input.sort?.direction === 'string' ? input.sort.direction : 'asc';
    if (fixed && !COLUMNS.includes(field))
      return bad(res, `sort.field: unknown field ${JSON.stringify(field)}`);
    if (fixed && !/^(asc|desc)$/i.test(direction)) return bad(res, 'sort.direction: asc or desc');
    const where = status ? 'org = ? AND status = ?' : 'org = ?';
    try {
      const rows = db
        .prepare(
          `SELECT number, customer, amount, status FROM invoices WHERE ${where} ORDER BY ${field} ${direction}`,
        )
        .all(...(status ? [org, status] : [org]));
      return send(res, 200, { results: rows, total: rows.length });
    } catch {
      return send(res, 200, { results: [], total: 0 });
    }
  };
  const api = await startServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { code: 'internal', message: 'internal error' }));
  });
  api.server.on('close', () => db.close());
  return api;
}

describe('an ordering object in a search body ({sort: {field, direction}}) pasted into ORDER BY', () => {
  test('sort.field and sort.direction are SQL injection on the vulnerable twin; the fixed twin has none', async () => {
    const scans = await scanTwins(SPEC, startInvoicing, {
      identities: [
        { name: 'tarn', headers: { 'x-org-key': 'org-key-tarn-61' } },
        { name: 'vale', headers: { 'x-org-key': 'org-key-vale-29' } },
      ],
      checks: ['API8'],
      ratePerSecond: 300,
      timeDelayMs: 300,
    });
    const sql = scans.vulnerable.result.findings
      .filter((f) => f.rule.id === 'scan/api8-sql-injection')
      .map((f) => `${f.evidence?.parameter}: ${f.message}`)
      .sort();
    assert.equal(sql.length, 2, sql.join('\n'));
    assert.match(sql[0], /^sort\.direction: .*SQL fragment, ordering direction/);
    assert.match(sql[1], /^sort\.field: .*SQL fragment, ordering/);
    assert.deepEqual(
      operationsFound(scans.fixed.result).filter((f) => /injection/.test(f)),
      [],
    );
  });
});
