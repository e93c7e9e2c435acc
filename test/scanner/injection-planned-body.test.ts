import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A branch library's holds API (SQLite, node:sqlite). Members send `X-Library-Key: <key>`. `GET /api/books` lists
 * the books (`{"books": [{"id": "B-1001", ...}]}`); `POST /api/holds {book_id, pickup_note}` places a
 * hold (201 `{"hold": <n>}`), after looking the book up (bound, on both twins): an unknown book is 404
 * `{"fault": "unknown book"}`. The document's example for `book_id` is the generator's placeholder `"string"`,
 * which names no book: a request built from the example alone never gets past the lookup.
 *
 * Vulnerable: the hold's note is pasted into the INSERT (SQLite's error comes back in `fault`).
 * Fixed twin: the note is bound.
 */
const KEYS = {
  ines: `lk-${randomBytes(12).toString('hex')}`,
  paulo: `lk-${randomBytes(12).toString('hex')}`,
};

function startLibrary(fixed: boolean): Promise<TestServer & { holds: () => number }> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE books (book_id TEXT PRIMARY KEY, title TEXT NOT NULL)');
  db.exec('CREATE TABLE holds (id INTEGER PRIMARY KEY, book_id TEXT, member TEXT, note TEXT)');
  for (const [id, title] of [
    ['B-1001', 'Pedro Paramo'],
    ['B-1002', 'Ficciones'],
  ])
    db.prepare('INSERT INTO books VALUES (?, ?)').run(id, title);
  const members = new Map(Object.entries(KEYS).map(([name, key]) => [key, name]));
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const member = members.get(String(req.headers['x-library-key'] ?? ''));
    if (!member) return sendJson(res, 403, { fault: 'library key required' });
    if (req.method === 'GET' && url.pathname === '/api/books')
      return sendJson(res, 200, { books: db.prepare('SELECT book_id AS id, title FROM books').all() });
    if (req.method === 'POST' && url.pathname === '/api/holds') {
      const b = await readJson(req);
      const bookId = String(b?.book_id ?? '');
      const note = String(b?.pickup_note ?? '');
      if (!db.prepare('SELECT 1 FROM books WHERE book_id = ?').get(bookId))
        return sendJson(res, 404, { fault: 'unknown book' });
      try {
        const r = fixed
          ? db.prepare('INSERT INTO holds (book_id, member, note) VALUES (?, ?, ?)').run(bookId, member, note)
          : db
              .prepare(`INSERT INTO holds (book_id, member, note) VALUES (?, ?, '${note}')`)
              .run(bookId, member);
        return sendJson(res, 201, { hold: Number(r.lastInsertRowid) });
      } catch (e) {
        return sendJson(res, 500, { fault: fixed ? 'could not place the hold' : (e as Error).message });
      }
    }
    return sendJson(res, 404, { fault: 'no such route' });
  }).then((s) => ({
    ...s,
    holds: () => Number((db.prepare('SELECT count(*) AS n FROM holds').get() as { n: number }).n),
    close: async () => {
      await s.close();
      db.close();
    },
  }));
}

const SPEC = {
  openapi: '3.0.1',
  info: { title: 'branch library', version: '0.9' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Library-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/api/books': {
      get: { operationId: 'listBooks', responses: { '200': { description: 'the books' } } },
    },
    '/api/holds': {
      post: {
        operationId: 'placeHold',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['book_id', 'pickup_note'],
                properties: {
                  book_id: { type: 'string', example: 'string' },
                  pickup_note: { type: 'string', example: 'string' },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'placed' }, '404': { description: 'unknown book' } },
      },
    },
  },
};

const sql = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection').map((f) => f.operation?.operationId);

describe('injection probes start from the body the planner builds (a harvested id over a placeholder example)', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startLibrary(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: Object.entries(KEYS).map(([name, key]) => ({
            name,
            headers: { 'X-Library-Key': key },
          })),
          checks: ['API8'],
          ratePerSecond: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  test("vulnerable: the hold's note reaches the INSERT", () => {
    assert.deepEqual(sql(runs.vulnerable), ['placeHold'], operationsFound(runs.vulnerable).join('\n'));
  });

  test('fixed twin: no SQL injection', () => {
    assert.deepEqual(sql(runs.fixed), [], operationsFound(runs.fixed).join('\n'));
  });
});
