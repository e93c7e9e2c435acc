import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, sendJson } from './small-api.ts';
import { headerIdentities, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * Session 15's measurement: a retired first version kept whole-collection routes nobody documents
 * (`/api/v0/users/listAll`, `/api/v0/items/bulk` beside the documented `/api/v1/...`). The scan looked for older
 * versions of each documented path (`/api/v0/users/{id}`) and for siblings of the documented collections
 * (`/api/v1/users/all`), never for a whole-collection word below the older version's collections.
 *
 * Style: a Gin-like lending library (`{"code": 404, "message": "..."}` errors, `X-Library-Key` header, base
 * `/api/v2`). The vulnerable twin still serves `GET /api/v1/members/listAll` to anyone (every member with e-mail and
 * address); the fixed twin answers it as any unknown route. Both answer a made-up path below `/api/v1/members` with
 * the router's 404, and both serve the documented routes alike.
 */
const key = [{ key: [] }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'library', version: '2.4.0' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Library-Key' } } },
  security: key,
  paths: {
    '/api/v2/books': { get: { operationId: 'listBooks', responses: { '200': { description: 'books' } } } },
    '/api/v2/books/{isbn}': {
      get: {
        operationId: 'getBook',
        parameters: [{ name: 'isbn', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'a book' } },
      },
    },
    '/api/v2/members/{id}': {
      get: {
        operationId: 'getMember',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a member' } },
      },
    },
    '/api/v2/loans': { get: { operationId: 'myLoans', responses: { '200': { description: 'my loans' } } } },
  },
};

const MEMBERS = [
  { id: 1, name: 'Priya Nair', email: 'priya@example.net', address: '4 Elm Row', key: 'lk-priya-8c2e' },
  { id: 2, name: 'Jonas Berg', email: 'jonas@example.net', address: '17 Quay St', key: 'lk-jonas-51fa' },
  { id: 3, name: 'Chen Wei', email: 'chen@example.net', address: '9 Mill Lane', key: 'lk-chen-a0d3' },
];
const BOOKS = [
  { isbn: '9780141439518', title: 'Pride and Prejudice' },
  { isbn: '9780140449136', title: 'Crime and Punishment' },
];

function startLibrary(fixed: boolean): Promise<TwinTarget> {
  return startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: unknown) => sendJson(res, status, body, GUARDED_JSON);
    const notFound = () => send(404, { code: 404, message: `no route for ${req.method} ${url.pathname}` });
    if (req.method !== 'GET') return notFound();
    if (!fixed && url.pathname === '/api/v1/members/listAll')
      return send(200, { members: MEMBERS.map(({ key: _k, ...m }) => m) });
    const who = MEMBERS.find((m) => m.key === req.headers['x-library-key']);
    if (!url.pathname.startsWith('/api/v2/')) return notFound();
    if (!who) return send(401, { code: 401, message: 'missing library key' });
    if (url.pathname === '/api/v2/books') return send(200, { books: BOOKS });
    const book = /^\/api\/v2\/books\/([^/]+)$/.exec(url.pathname);
    if (book) {
      const b = BOOKS.find((x) => x.isbn === book[1]);
      return b ? send(200, b) : send(404, { code: 404, message: 'no such book' });
    }
    const member = /^\/api\/v2\/members\/(\d+)$/.exec(url.pathname);
    if (member) {
      if (Number(member[1]) !== who.id) return send(403, { code: 403, message: 'not yours' });
      const { key: _k, ...m } = who;
      return send(200, m);
    }
    if (url.pathname === '/api/v2/loans')
      return send(200, { loans: [{ isbn: BOOKS[0].isbn, due: '2026-12-21' }] });
    return notFound();
  });
}

const found = (r: ScanResult) =>
  [...new Set(r.findings.map((f) => `${f.rule.id} ${f.operation?.path}`))].sort();

describe('a whole-collection route left below the version before the documented one', () => {
  let runs: TwinScans<TwinTarget>;
  before(async () => {
    runs = await scanTwins(SPEC, startLibrary, {
      identities: headerIdentities('X-Library-Key', { priya: MEMBERS[0].key, jonas: MEMBERS[1].key }),
      checks: ['API9'],
      ratePerSecond: 200,
    });
  });

  test('vulnerable: /api/v1/members/listAll is an undocumented endpoint', () => {
    const all = found(runs.vulnerable.result);
    assert.ok(all.includes('scan/api9-undocumented-endpoint /api/v1/members/listAll'), all.join('\n'));
    const f = runs.vulnerable.result.findings.find((x) => x.operation?.path === '/api/v1/members/listAll');
    assert.match(f?.message ?? '', /\/api\/v2\/members/);
  });

  test('fixed: no finding', () => {
    assert.deepEqual(
      runs.fixed.result.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });
});
