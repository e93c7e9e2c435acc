import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A warehouse reporting service in an old CGI style, on a real SQLite database (node:sqlite, in memory): an API
 * key header, `GET /report.cgi?where=&order_by=` answering CSV, and `POST /stock/select` taking JSON
 * `{scope, label}` whose `scope` the document describes as "a SQL condition" and answering a JSON list.
 * Vulnerable: `where`, `order_by` and `scope` are pasted into the statement as they come (`WHERE <where>
 * ORDER BY <order_by>`), and every database error is a bare `500 Internal Server Error`: no database text, and a
 * quote fails the plain value and the doubled quote alike. Fixed twin: `where` and `scope` are `column=value`
 * and `column<op>number` over a list of columns, bound as parameters; `order_by` must be one of the columns;
 * anything else is a 400 problem.
 */
const COLUMNS = ['id', 'sku', 'site', 'qty'];
const KEYS = new Set(['k-ana', 'k-ben']);

const SPEC = {
  openapi: '3.0.3',
  info: { title: 'warehouse reports', version: '2.1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/report.cgi': {
      get: {
        operationId: 'stockReport',
        parameters: [
          { name: 'where', in: 'query', schema: { type: 'string' } },
          { name: 'order_by', in: 'query', schema: { type: 'string' } },
        ],
        responses: {
          '200': { description: 'rows', content: { 'text/csv': { schema: { type: 'string' } } } },
        },
      },
    },
    '/stock/select': {
      post: {
        operationId: 'selectStock',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['scope'],
                properties: {
                  scope: {
                    type: 'string',
                    description: 'A SQL condition on the stock table that selects the lines to return.',
                    example: 'qty > 5',
                  },
                  label: { type: 'string', enum: ['short', 'long'] },
                },
              },
            },
          },
        },
        responses: {
          '200': {
            description: 'lines',
            content: {
              'application/json': {
                schema: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: { sku: { type: 'string' }, qty: { type: 'integer' } },
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

/** `column=value` or `column<op>number` over the known columns, as SQL with a bound value; else undefined. */
function safeCondition(text: string): { sql: string; value: string | number } | undefined {
  const m = /^\s*([a-z]+)\s*(=|<|>|<=|>=)\s*([\w-]+)\s*$/.exec(text);
  if (!m || !COLUMNS.includes(m[1])) return undefined;
  if (m[2] !== '=' && !/^\d+$/.test(m[3])) return undefined;
  return { sql: `${m[1]} ${m[2]} ?`, value: /^\d+$/.test(m[3]) ? Number(m[3]) : m[3] };
}

async function startReports(fixed: boolean): Promise<{ url: string; server: Server }> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE stock (id INTEGER PRIMARY KEY, sku TEXT, site TEXT, qty INTEGER)');
  const add = db.prepare('INSERT INTO stock (sku, site, qty) VALUES (?, ?, ?)');
  for (let i = 0; i < 12; i++) add.run(`SKU-${100 + i}`, i % 2 ? 'north' : 'south', (i * 7) % 13);
  const problem = (res: import('node:http').ServerResponse, detail: string) => {
    res.writeHead(400, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ title: 'Bad Request', status: 400, detail }));
  };
  const api = await startServer(async (req, res) => {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('cache-control', 'no-store');
    if (!KEYS.has(String(req.headers['x-api-key'] ?? ''))) {
      res.writeHead(401, { 'content-type': 'text/plain' });
      return res.end('Unauthorized');
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const body = await readText(req);
    try {
      if (req.method === 'GET' && url.pathname === '/report.cgi') {
        const where = url.searchParams.get('where');
        const order = url.searchParams.get('order_by');
        let rows: Record<string, unknown>[];
        if (fixed) {
          const cond = where === null ? undefined : safeCondition(where);
          if (where !== null && cond === undefined) return problem(res, 'where: column=value expected');
          if (order !== null && !COLUMNS.includes(order)) return problem(res, `order_by: one of ${COLUMNS}`);
          rows = db
            .prepare(`SELECT * FROM stock${cond ? ` WHERE ${cond.sql}` : ''} ORDER BY ${order ?? 'id'}`)
            .all(...(cond ? [cond.value] : [])) as Record<string, unknown>[];
        } else {
          rows = db
            .prepare(
              `SELECT * FROM stock${where !== null ? ` WHERE ${where}` : ''} ORDER BY ${order ?? 'id'}`,
            )
            .all() as Record<string, unknown>[];
        }
        res.writeHead(200, { 'content-type': 'text/csv' });
        return res.end(
          ['id,sku,site,qty', ...rows.map((r) => COLUMNS.map((c) => r[c]).join(','))].join('\n'),
        );
      }
      if (req.method === 'POST' && url.pathname === '/stock/select') {
        let input: { scope?: unknown };
        try {
          input = JSON.parse(body);
        } catch {
          return problem(res, 'JSON expected');
        }
        if (typeof input.scope !== 'string') return problem(res, 'scope: a string expected');
        let rows: unknown[];
        if (fixed) {
          const cond = safeCondition(input.scope);
          if (!cond) return problem(res, 'scope: column<op>value expected');
          rows = db.prepare(`SELECT sku, qty FROM stock WHERE ${cond.sql}`).all(cond.value);
        } else {
          rows = db.prepare(`SELECT sku, qty FROM stock WHERE ${input.scope}`).all();
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(rows));
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not Found');
    } catch {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('Internal Server Error');
    }
  });
  api.server.on('close', () => db.close());
  return api;
}

describe('SQL fragments: a condition and an ordering pasted into the statement, errors hidden', () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startReports, {
      identities: [
        { name: 'ana', headers: { 'x-api-key': 'k-ana' } },
        { name: 'ben', headers: { 'x-api-key': 'k-ben' } },
      ],
      checks: ['API8'],
      ratePerSecond: 200,
      timeDelayMs: 300,
    });
    results.vulnerable = scans.vulnerable.result;
    results.fixed = scans.fixed.result;
  });

  const sqlFindings = (r: ScanResult) => r.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection');
  const on = (r: ScanResult, parameter: string) =>
    sqlFindings(r).find((f) => f.evidence?.parameter === parameter);
  const named = (r: ScanResult) =>
    sqlFindings(r)
      .map((f) => `${f.evidence?.parameter}: ${f.message}`)
      .join('\n');

  test('reports the where condition by its boolean proof', () => {
    const f = on(results.vulnerable, 'where');
    assert.ok(f, named(results.vulnerable));
    assert.match(f.message, /SQL fragment, boolean-based: the conditions 1=1 and 3-1=2 answered alike/);
  });

  test('reports order_by by its ordering proof: 1 and 999+0 answer, 999 fails', () => {
    const f = on(results.vulnerable, 'order_by');
    assert.ok(f, named(results.vulnerable));
    assert.match(f.message, /SQL fragment, ordering: 1 and 999\+0/);
  });

  test('reports the JSON field its description calls a SQL condition', () => {
    const f = on(results.vulnerable, 'scope');
    assert.ok(f, named(results.vulnerable));
    assert.equal(f.operation?.operationId, 'selectStock');
    // A POST the scan cannot tell from a write (`select` may choose a plan): conditions that hold nowhere only.
    assert.match(f.message, /SQL fragment, error-based: a comparison of two literals that holds nowhere/);
  });

  test('the vulnerable twin has those three findings and nothing else', () => {
    assert.deepEqual(results.vulnerable.findings.map((f) => `${f.rule.id} ${f.evidence?.parameter}`).sort(), [
      'scan/api8-sql-injection order_by',
      'scan/api8-sql-injection scope',
      'scan/api8-sql-injection where',
    ]);
  });

  test('the fixed twin, which binds conditions and lists its columns, has no finding', () => {
    assert.deepEqual(operationsFound(results.fixed), []);
  });
});
