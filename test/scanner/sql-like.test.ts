import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A product catalogue in a FastAPI style, on a real SQLite database (node:sqlite, in memory): `GET /products`
 * with an optional `search`. Vulnerable: the term is pasted into `name LIKE '%<term>%' OR description LIKE
 * '%<term>%'`, and a database error is a bare `500 Internal Server Error` (no database text to see). A plain
 * tautology (`x' OR '1'='1`) ends inside the `%'` that follows and matches nothing; only one that ends the
 * statement with a comment shows the flaw. Other clients keep adding products (one per request), so two
 * answers to the same search are never quite equal. Fixed twin: the same query with bound parameters.
 */
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'catalogue', version: '0.3' },
  paths: {
    '/products': {
      get: {
        operationId: 'list_products',
        parameters: [{ name: 'search', in: 'query', required: false, schema: { type: 'string' } }],
        responses: {
          '200': {
            description: 'products',
            content: {
              'application/json': {
                schema: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: { id: { type: 'integer' }, name: { type: 'string' } },
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

async function startCatalogue(fixed: boolean): Promise<{ url: string; server: Server }> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, description TEXT)');
  const add = db.prepare('INSERT INTO products (name, description) VALUES (?, ?)');
  for (let i = 0; i < 30; i++) add.run(`item ${i}`, `catalogue item number ${i}`);
  const api = await startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/products') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end('{"detail":"Not Found"}');
    }
    add.run(`new ${Date.now()}`, 'added by another client');
    const term = url.searchParams.get('search');
    try {
      const rows =
        term === null
          ? db.prepare('SELECT id, name FROM products').all()
          : fixed
            ? db
                .prepare('SELECT id, name FROM products WHERE name LIKE ? OR description LIKE ?')
                .all(`%${term}%`, `%${term}%`)
            : db
                .prepare(
                  `SELECT id, name FROM products WHERE name LIKE '%${term}%' OR description LIKE '%${term}%'`,
                )
                .all();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(rows));
    } catch {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('Internal Server Error');
    }
  });
  api.server.on('close', () => db.close());
  return api;
}

describe('SQL injection inside a LIKE pattern, errors hidden', () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startCatalogue, {
      identities: [{ name: 'anon-a', headers: {} }],
      checks: ['API8'],
      ratePerSecond: 200,
      timeDelayMs: 300,
    });
    results.vulnerable = scans.vulnerable.result;
    results.fixed = scans.fixed.result;
  });

  test('reports the search as SQL-injectable by a comment-terminated tautology', () => {
    assert.ok(operationsFound(results.vulnerable).includes('scan/api8-sql-injection list_products'));
    const f = results.vulnerable.findings.find((x) => x.rule.id === 'scan/api8-sql-injection');
    assert.match(f?.message ?? '', /comment-terminated/);
  });

  test('finds no injection on the fixed twin', () => {
    assert.deepEqual(
      operationsFound(results.fixed).filter((x) => x.includes('injection')),
      [],
    );
  });
});
