import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readText } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A large warehouse API in the style of Spring Boot on SQLite (node:sqlite): 22 resources with a list, a creation, a
 * read, a replacement and a deletion each (`GET/POST /api/v1/<resource>`, `GET/PUT/DELETE /api/v1/<resource>/{id}`),
 * numeric ids, Spring's error body `{timestamp, status, error, path}`, `Authorization: Bearer` keys, 112 operations
 * in all. At the
 * end of the document, two lookups with string-built SQL whose errors are hidden (500): `GET
 * /api/v1/shipments/{trackingCode}` (a path value) and `GET /api/v1/carriers/lookup?code=`. Every creation is a
 * creation as a given identity (no sign-up): each probe there makes a row to delete again. Before, the probes spent
 * their budget on the document's first creations (500 requests in a few seconds of twenty) and never reached the two
 * lookups; now the inputs of reads come before creations' fields, every operation's best input before any second
 * one, and the request budget follows the time. Fixed twin: both lookups bind their value. Alice's seeded rows must
 * not change, and nothing a probe made may stay in her data.
 */
const RESOURCES = [
  'warehouses',
  'aisles',
  'shelves',
  'bins',
  'pallets',
  'skus',
  'suppliers',
  'purchase-orders',
  'receipts',
  'putaways',
  'picks',
  'packs',
  'waves',
  'docks',
  'trailers',
  'drivers',
  'routes',
  'zones',
  'counts',
  'adjustments',
  'returns',
  'scanners',
];

const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const record = {
  type: 'object',
  properties: { id: { type: 'integer' }, title: { type: 'string' }, notes: { type: 'string' } },
};

function spec() {
  const paths: Record<string, unknown> = {};
  for (const r of RESOURCES) {
    paths[`/api/v1/${r}`] = {
      get: {
        operationId: `list_${r}`,
        parameters: [{ name: 'page', in: 'query', schema: { type: 'integer' } }],
        responses: { '200': { description: r, ...json({ type: 'array', items: record }) } },
      },
      post: {
        operationId: `create_${r}`,
        requestBody: json({
          type: 'object',
          required: ['title'],
          properties: { title: { type: 'string' }, notes: { type: 'string' } },
        }),
        responses: { '201': { description: 'created', ...json(record) } },
      },
    };
    paths[`/api/v1/${r}/{id}`] = {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer', format: 'int64' } }],
      get: { operationId: `get_${r}`, responses: { '200': { description: 'one', ...json(record) } } },
      put: {
        operationId: `replace_${r}`,
        requestBody: json({
          type: 'object',
          properties: { title: { type: 'string' }, notes: { type: 'string' } },
        }),
        responses: { '200': { description: 'replaced', ...json(record) } },
      },
      delete: { operationId: `delete_${r}`, responses: { '204': { description: 'deleted' } } },
    };
  }
  paths['/api/v1/shipments/{trackingCode}'] = {
    get: {
      operationId: 'trackShipment',
      parameters: [
        { name: 'trackingCode', in: 'path', required: true, schema: { type: 'string', example: 'TRK-1001' } },
      ],
      responses: { '200': { description: 'the shipment', ...json({ type: 'object' }) } },
    },
  };
  paths['/api/v1/carriers/lookup'] = {
    get: {
      operationId: 'lookupCarrier',
      parameters: [{ name: 'code', in: 'query', required: true, schema: { type: 'string', example: 'DHX' } }],
      responses: { '200': { description: 'carriers', ...json({ type: 'array' }) } },
    },
  };
  return {
    openapi: '3.0.1',
    info: { title: 'warehouse service', version: '2.7.3' },
    components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearerAuth: [] }],
    paths,
  };
}

const TOKENS: Record<string, string> = { 'wh-alice-7c1d': 'alice', 'wh-bob-2e9a': 'bob' };

interface Warehouse extends TestServer {
  readonly db: DatabaseSync;
}

async function startWarehouse(fixed: boolean): Promise<Warehouse> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, kind TEXT, owner TEXT, title TEXT, notes TEXT)');
  db.exec('CREATE TABLE shipments (code TEXT, owner TEXT, status TEXT)');
  db.exec('CREATE TABLE carriers (code TEXT, name TEXT)');
  for (const r of RESOURCES)
    for (const who of ['alice', 'bob'])
      db.prepare('INSERT INTO rows (kind, owner, title, notes) VALUES (?, ?, ?, ?)').run(
        r,
        who,
        `${who} ${r}`,
        'seeded',
      );
  db.exec(
    "INSERT INTO shipments VALUES ('TRK-1001', 'alice', 'in transit'), ('TRK-1002', 'bob', 'delivered')",
  );
  db.exec("INSERT INTO carriers VALUES ('DHX', 'Dash Express'), ('PLT', 'Pallet Lines')");
  const error = (res: ServerResponse, status: number, path: string) => {
    const names: Record<number, string> = {
      400: 'Bad Request',
      401: 'Unauthorized',
      404: 'Not Found',
      500: 'Internal Server Error',
    };
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ timestamp: new Date().toISOString(), status, error: names[status], path }));
  };
  const ok = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const me = TOKENS[String(req.headers.authorization ?? '').replace(/^Bearer /, '')];
    const text = await readText(req);
    if (!me) return error(res, 401, path);
    const ship = /^\/api\/v1\/shipments\/([^/]+)$/.exec(path);
    if (ship && req.method === 'GET') {
      const code = decodeURIComponent(ship[1]);
      const row = fixed
        ? db.prepare('SELECT code, status FROM shipments WHERE code = ? AND owner = ?').get(code, me)
        : db.prepare(`SELECT code, status FROM shipments WHERE code = '${code}' AND owner = ?`).get(me);
      return row ? ok(res, 200, row) : error(res, 404, path);
    }
    if (path === '/api/v1/carriers/lookup' && req.method === 'GET') {
      const code = url.searchParams.get('code') ?? '';
      const rows = fixed
        ? db.prepare('SELECT code, name FROM carriers WHERE code = ?').all(code)
        : db.prepare(`SELECT code, name FROM carriers WHERE code = '${code}'`).all();
      return ok(res, 200, rows);
    }
    const m = /^\/api\/v1\/([a-z-]+)(?:\/(\d+))?$/.exec(path);
    if (!m || !RESOURCES.includes(m[1])) return error(res, 404, path);
    const [, kind, id] = m;
    let body: Record<string, unknown> = {};
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        return error(res, 400, path);
      }
    }
    if (id === undefined) {
      if (req.method === 'GET')
        return ok(
          res,
          200,
          db
            .prepare('SELECT id, title, notes FROM rows WHERE kind = ? AND owner = ? ORDER BY id')
            .all(kind, me),
        );
      if (req.method === 'POST') {
        if (typeof body.title !== 'string') return error(res, 400, path);
        const r = db
          .prepare('INSERT INTO rows (kind, owner, title, notes) VALUES (?, ?, ?, ?)')
          .run(kind, me, body.title, typeof body.notes === 'string' ? body.notes : '');
        return ok(res, 201, { id: Number(r.lastInsertRowid), title: body.title, notes: body.notes ?? '' });
      }
      return error(res, 400, path);
    }
    const row = db
      .prepare('SELECT id, title, notes FROM rows WHERE id = ? AND kind = ? AND owner = ?')
      .get(Number(id), kind, me) as Record<string, unknown> | undefined;
    if (!row) return error(res, 404, path);
    if (req.method === 'GET') return ok(res, 200, row);
    if (req.method === 'PUT') {
      db.prepare('UPDATE rows SET title = ?, notes = ? WHERE id = ?').run(
        String(body.title ?? row.title),
        String(body.notes ?? row.notes),
        Number(id),
      );
      return ok(res, 200, db.prepare('SELECT id, title, notes FROM rows WHERE id = ?').get(Number(id)));
    }
    if (req.method === 'DELETE') {
      db.prepare('DELETE FROM rows WHERE id = ?').run(Number(id));
      res.writeHead(204);
      return res.end();
    }
    return error(res, 400, path);
  };
  const api = await startServer((req, res) => {
    handle(req, res).catch(() => error(res, 500, new URL(req.url ?? '/', 'http://x').pathname));
  });
  return { ...api, db };
}

const seeded = (db: DatabaseSync) =>
  db.prepare("SELECT id, kind, owner, title, notes FROM rows WHERE notes = 'seeded' ORDER BY id").all();

async function scanWarehouse(fixed: boolean) {
  const api = await startWarehouse(fixed);
  const before = seeded(api.db);
  const started = performance.now();
  try {
    const result = await scanDocument(spec(), api.url, {
      identities: [
        { name: 'alice', headers: { authorization: 'Bearer wh-alice-7c1d' } },
        { name: 'bob', headers: { authorization: 'Bearer wh-bob-2e9a' } },
      ],
      checks: ['API8'],
      ratePerSecond: 200,
      timeDelayMs: 300,
    });
    const seconds = (performance.now() - started) / 1000;
    // What the scan left in alice's data: rows other than the seeded ones.
    const left = api.db
      .prepare("SELECT kind, title FROM rows WHERE owner = 'alice' AND notes != 'seeded'")
      .all() as { kind: string; title: string }[];
    return { result, before, after: seeded(api.db), left, seconds };
  } finally {
    await api.close();
  }
}

const sql = (r: ScanResult) =>
  r.findings
    .filter((f) => f.rule.id === 'scan/api8-sql-injection')
    .map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}`)
    .sort();

describe('a large document (112 operations): the injection budget reaches the lookups at its end', () => {
  test('both lookups found on the vulnerable twin, none on the fixed; alice keeps her rows and nothing of the probes', async () => {
    const v = await scanWarehouse(false);
    assert.deepEqual(sql(v.result), ['lookupCarrier code', 'trackShipment trackingCode']);
    assert.deepEqual(v.after, v.before);
    // Discovery's one object per resource stays (the PUT probes of the scan's own object may have changed its title);
    // nothing the creation probes made.
    const perKind = new Map<string, number>();
    for (const r of v.left) perKind.set(r.kind, (perKind.get(r.kind) ?? 0) + 1);
    const extra = [...perKind].filter(([, n]) => n > 1);
    assert.deepEqual(extra, [], `left in alice's data: ${JSON.stringify(v.left.slice(0, 5))}`);
    const f = await scanWarehouse(true);
    assert.deepEqual(sql(f.result), []);
    assert.deepEqual(f.after, f.before);
    assert.ok(v.seconds < 60 && f.seconds < 60, `${v.seconds.toFixed(1)} s and ${f.seconds.toFixed(1)} s`);
  });
});
