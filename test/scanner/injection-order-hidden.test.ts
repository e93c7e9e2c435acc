import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { connectPostgres, POSTGRES_URL, type PostgresAdmin } from '../kit/postgres.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { scanDocument } from './twins.ts';

/**
 * A lending library in the style of a Django REST framework API, on PostgreSQL: `Authorization: Token <key>`,
 * trailing slashes, paginated lists `{count, next, previous, results}`, `{"detail": ...}` errors. Two orderings
 * that hide their database failures:
 * - `GET /api/books/?ordering=` pastes the value into `ORDER BY`, and answers a failed query with an empty page
 *   (`200 {count: 0, results: []}`);
 * - `GET /api/authors/?sort_by=` pastes it too, and answers a failed query with the list unsorted (it runs the
 *   query again without the ordering).
 * No 5xx, no database text: only what the ordering does tells. Fixed twin: `ordering` keeps the fields it knows and
 * ignores the rest (as the framework's filter does), `sort_by` refuses an unknown field with a 400.
 */
const page = {
  type: 'object',
  properties: {
    count: { type: 'integer' },
    next: { type: 'string', nullable: true },
    previous: { type: 'string', nullable: true },
    results: { type: 'array', items: { type: 'object' } },
  },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'lending library', version: '3.4.1' },
  components: {
    securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } },
  },
  security: [{ token: [] }],
  paths: {
    '/api/books/': {
      get: {
        operationId: 'books_list',
        parameters: [
          { name: 'ordering', in: 'query', schema: { type: 'string' } },
          { name: 'page', in: 'query', schema: { type: 'integer' } },
        ],
        responses: { '200': { description: 'books', content: { 'application/json': { schema: page } } } },
      },
    },
    '/api/authors/': {
      get: {
        operationId: 'authors_list',
        parameters: [{ name: 'sort_by', in: 'query', schema: { type: 'string' } }],
        responses: { '200': { description: 'authors', content: { 'application/json': { schema: page } } } },
      },
    },
  },
};

const TOKENS: Record<string, string> = {
  '9a1f0c77e2b54d1d8c3e': 'irma',
  '4be2d05a9f6c4e7b1a88': 'jonas',
  c05d3e1f8a9b4c2d6e71: 'librarian',
};
const BOOKS = ['Quiet Harbours', 'Atlas of Rivers', 'Moss and Stone', 'Bright Orchard', 'Kettle Songs'];
const AUTHORS = ['Wren Oduya', 'Esme Larkin', 'Tobias Vale', 'Noor Haddad'];
const BOOK_FIELDS = ['id', 'title', 'year'];
const AUTHOR_FIELDS = ['id', 'name'];

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', vary: 'Accept, Cookie' });
  res.end(JSON.stringify(body));
}

const pageOf = (rows: unknown[]) => ({ count: rows.length, next: null, previous: null, results: rows });

describe('orderings that hide their database failures (an empty page, an unsorted list)', () => {
  let admin: PostgresAdmin;
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;

  async function startLibrary(fixed: boolean): Promise<{ api: TestServer; db: pg.Client }> {
    const schema = admin.freshSchema('pc_lending');
    const db = new pg.Client(POSTGRES_URL);
    await db.connect();
    await db.query(`CREATE SCHEMA "${schema}"`);
    await db.query(`SET search_path TO "${schema}"`);
    await db.query('CREATE TABLE books (id SERIAL PRIMARY KEY, title TEXT, year INT)');
    await db.query('CREATE TABLE authors (id SERIAL PRIMARY KEY, name TEXT)');
    for (const [i, t] of BOOKS.entries())
      await db.query('INSERT INTO books (title, year) VALUES ($1, $2)', [t, 1990 + ((i * 7) % 11)]);
    for (const a of AUTHORS) await db.query('INSERT INTO authors (name) VALUES ($1)', [a]);
    const handle = async (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const token = String(req.headers.authorization ?? '').replace(/^Token /, '');
      if (TOKENS[token] === undefined)
        return reply(res, 401, { detail: 'Authentication credentials were not provided.' });
      if (req.method === 'GET' && url.pathname === '/api/books/') {
        const asked = url.searchParams.get('ordering') ?? 'id';
        if (fixed) {
          const known = asked
            .split(',')
            .map((f) => f.trim())
            .filter((f) => BOOK_FIELDS.includes(f.replace(/^-/, '')))
            .map((f) => (f.startsWith('-') ? `${f.slice(1)} DESC` : f));
          const order = known.length > 0 ? known.join(', ') : 'id';
          return reply(res, 200, pageOf((await db.query(`SELECT * FROM books ORDER BY ${order}`)).rows));
        }
        try {
          return reply(res, 200, pageOf((await db.query(`SELECT * FROM books ORDER BY ${asked}`)).rows));
        } catch {
          return reply(res, 200, pageOf([]));
        }
      }
      if (req.method === 'GET' && url.pathname === '/api/authors/') {
        const asked = url.searchParams.get('sort_by') ?? 'id';
        if (fixed) {
          if (!AUTHOR_FIELDS.includes(asked))
            return reply(res, 400, {
              sort_by: [`Select a valid choice. ${asked} is not one of the available choices.`],
            });
          return reply(res, 200, pageOf((await db.query(`SELECT * FROM authors ORDER BY ${asked}`)).rows));
        }
        try {
          return reply(res, 200, pageOf((await db.query(`SELECT * FROM authors ORDER BY ${asked}`)).rows));
        } catch {
          return reply(res, 200, pageOf((await db.query('SELECT * FROM authors')).rows));
        }
      }
      return reply(res, 404, { detail: 'Not found.' });
    };
    const api = await startServer((req, res) => {
      handle(req, res).catch(() => reply(res, 500, { detail: 'A server error occurred.' }));
    });
    return { api, db };
  }

  before(async () => {
    admin = await connectPostgres();
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const s = await startLibrary(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, s.api.url, {
          identities: [
            { name: 'irma', headers: { authorization: 'Token 9a1f0c77e2b54d1d8c3e' } },
            { name: 'jonas', headers: { authorization: 'Token 4be2d05a9f6c4e7b1a88' } },
          ],
          admin: { name: 'librarian', headers: { authorization: 'Token c05d3e1f8a9b4c2d6e71' } },
          checks: ['API8'],
          ratePerSecond: 300,
          timeDelayMs: 300,
        });
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
      .map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}: ${f.message}`);

  test('both orderings are SQL injection on the vulnerable twin, by what the ordering does', () => {
    const found = sql(runs.vulnerable);
    assert.equal(found.length, 2, found.join('\n'));
    assert.match(found.find((f) => f.startsWith('books_list ordering')) ?? '', /SQL fragment, ordering/);
    assert.match(
      found.find((f) => f.startsWith('authors_list sort_by')) ?? '',
      /SQL fragment, ordering by a condition: \(CASE WHEN 1=1 THEN name END\)/,
    );
  });

  test('the fixed twin (known fields kept, unknown ignored or refused) has no injection finding', () => {
    assert.deepEqual(
      runs.fixed.findings.filter((f) => /injection/.test(f.rule.id)).map((f) => f.message),
      [],
    );
  });
});
