import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A shop catalogue in the style of a Laravel API on SQLite (node:sqlite): `X-Api-Token` keys, resource collections
 * `{data: [...], links: {...}, meta: {...}}`, validation errors `422 {message, errors: {field: [...]}}`.
 * `GET /api/products?sort=&direction=` checks `sort` against its columns but pastes `direction` after it
 * (`ORDER BY <sort> <direction> LIMIT 50`), and answers a failed query with an empty page (`200 {data: []}`): no
 * error text, no 5xx. `GET /api/brands?order=desc` (an ordering named `order` whose documented value is a
 * direction) does the same without a LIMIT of its own. Fixed twin: both directions must be `asc` or `desc` (422).
 */
const page = {
  type: 'object',
  properties: {
    data: { type: 'array', items: { type: 'object' } },
    links: { type: 'object' },
    meta: { type: 'object' },
  },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'catalogue', version: '8.2.0' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Api-Token' } } },
  security: [{ token: [] }],
  paths: {
    '/api/products': {
      get: {
        operationId: 'products.index',
        parameters: [
          { name: 'sort', in: 'query', schema: { type: 'string', enum: ['name', 'price', 'stock'] } },
          { name: 'direction', in: 'query', schema: { type: 'string', enum: ['asc', 'desc'] } },
        ],
        responses: { '200': { description: 'products', content: { 'application/json': { schema: page } } } },
      },
    },
    '/api/brands': {
      get: {
        operationId: 'brands.index',
        parameters: [{ name: 'order', in: 'query', schema: { type: 'string', example: 'desc' } }],
        responses: { '200': { description: 'brands', content: { 'application/json': { schema: page } } } },
      },
    },
  },
};

const TOKENS = new Set(['tok-mira-5521', 'tok-olaf-8830']);

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
  res.end(JSON.stringify(body));
}

async function startCatalogue(fixed: boolean): Promise<TestServer> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price REAL, stock INTEGER)');
  db.exec('CREATE TABLE brands (id INTEGER PRIMARY KEY, name TEXT)');
  const add = db.prepare('INSERT INTO products (name, price, stock) VALUES (?, ?, ?)');
  for (const [n, p, s] of [
    ['Oat flakes', 3.2, 40],
    ['Rye bread', 2.9, 12],
    ['Apple juice', 4.5, 30],
    ['Walnuts', 7.1, 8],
    ['Honey', 6.4, 21],
  ] as const)
    add.run(n, p, s);
  for (const b of ['Northmill', 'Bakehouse', 'Orchard & Co', 'Hive'])
    db.prepare('INSERT INTO brands (name) VALUES (?)').run(b);
  const invalid = (res: ServerResponse, field: string) =>
    reply(res, 422, {
      message: 'The given data was invalid.',
      errors: { [field]: [`The selected ${field} is invalid.`] },
    });
  const collection = (url: URL, data: unknown[]) =>
    ({
      data,
      links: { first: `${url.pathname}?page=1`, last: `${url.pathname}?page=1`, prev: null, next: null },
      meta: { current_page: 1, per_page: 50, total: data.length },
    }) as const;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!TOKENS.has(String(req.headers['x-api-token'] ?? '')))
      return reply(res, 401, { message: 'Unauthenticated.' });
    if (req.method !== 'GET') return reply(res, 405, { message: 'Method not allowed.' });
    if (url.pathname === '/api/products') {
      const sort = url.searchParams.get('sort') ?? 'name';
      const direction = url.searchParams.get('direction') ?? 'asc';
      if (!['name', 'price', 'stock'].includes(sort)) return invalid(res, 'sort');
      if (fixed && !['asc', 'desc'].includes(direction.toLowerCase())) return invalid(res, 'direction');
      try {
        return reply(
          res,
          200,
          collection(url, db.prepare(`SELECT * FROM products ORDER BY ${sort} ${direction} LIMIT 50`).all()),
        );
      } catch {
        return reply(res, 200, collection(url, []));
      }
    }
    if (url.pathname === '/api/brands') {
      const order = url.searchParams.get('order') ?? 'asc';
      if (fixed && !['asc', 'desc'].includes(order.toLowerCase())) return invalid(res, 'order');
      try {
        return reply(
          res,
          200,
          collection(url, db.prepare(`SELECT * FROM brands ORDER BY name ${order}`).all()),
        );
      } catch {
        return reply(res, 200, collection(url, []));
      }
    }
    return reply(res, 404, { message: 'Not Found.' });
  };
  const api = await startServer(handle);
  api.server.on('close', () => db.close());
  return api;
}

describe('an ordering’s direction pasted into SQL, failures answered as an empty page', () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  test('direction and order are SQL injection on the vulnerable twin; the fixed twin has no finding', async () => {
    const scans = await scanTwins(SPEC, startCatalogue, {
      identities: [
        { name: 'mira', headers: { 'x-api-token': 'tok-mira-5521' } },
        { name: 'olaf', headers: { 'x-api-token': 'tok-olaf-8830' } },
      ],
      checks: ['API8'],
      ratePerSecond: 300,
      timeDelayMs: 300,
    });
    results.vulnerable = scans.vulnerable.result;
    results.fixed = scans.fixed.result;
    const sql = results.vulnerable.findings
      .filter((f) => f.rule.id === 'scan/api8-sql-injection')
      .map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}: ${f.message}`)
      .sort();
    assert.equal(sql.length, 2, sql.join('\n'));
    assert.match(
      sql[0],
      /^brands\.index order: .*SQL fragment, ordering direction: desc LIMIT 1 and desc LIMIT 2 /,
    );
    assert.match(
      sql[1],
      /^products\.index direction: .*SQL fragment, ordering direction: asc LIMIT 1-- - and asc LIMIT 2-- - /,
    );
    assert.deepEqual(
      operationsFound(results.fixed).filter((f) => /injection/.test(f)),
      [],
    );
  });
});
