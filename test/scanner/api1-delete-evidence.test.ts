import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A reading-list API (`X-Reader-Key` header, `{"ok": false, "error"}` with 404 for anything not the caller's, 204
 * on delete): `POST /bookmarks` saves a bookmark, `GET /bookmarks` lists the caller's, `GET` and `DELETE
 * /bookmarks/{bookmarkId}` read and remove one. The vulnerable twin checks nobody on the item routes, the fixed
 * twin the saver. A report whose read finding names a bookmark the delete probe then removed could not be
 * reproduced: every object a finding names must still be there after the scan.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'reading list', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Reader-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/bookmarks': {
      get: { operationId: 'listBookmarks', responses: { '200': { description: 'your bookmarks' } } },
      post: {
        operationId: 'saveBookmark',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['title', 'note'],
                properties: { title: { type: 'string' }, note: { type: 'string' } },
              },
            },
          },
        },
        responses: { '201': { description: 'saved' } },
      },
    },
    '/bookmarks/{bookmarkId}': {
      get: {
        operationId: 'getBookmark',
        parameters: [{ name: 'bookmarkId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a bookmark' }, '404': { description: 'none of yours' } },
      },
      delete: {
        operationId: 'removeBookmark',
        parameters: [{ name: 'bookmarkId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '204': { description: 'removed' }, '404': { description: 'none of yours' } },
      },
    },
  },
};

const KEYS: Record<string, string> = { 'rk-lina-51c0': 'lina', 'rk-paul-e8a3': 'paul' };
type Bookmark = { bookmarkId: number; reader: string; title: string; note: string };

function startReadingList(fixed: boolean) {
  const bookmarks: Bookmark[] = [];
  let next = 40;
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://reading');
    const me = KEYS[String(req.headers['x-reader-key'] ?? '')];
    if (me === undefined) return sendJson(res, 401, { ok: false, error: 'unknown reader key' });
    const none = () => sendJson(res, 404, { ok: false, error: 'no such bookmark' });
    if (url.pathname === '/bookmarks' && req.method === 'GET')
      return sendJson(res, 200, { ok: true, bookmarks: bookmarks.filter((b) => b.reader === me) });
    if (url.pathname === '/bookmarks' && req.method === 'POST') {
      const body = await readJson(req);
      if (typeof body?.title !== 'string' || typeof body?.note !== 'string')
        return sendJson(res, 400, { ok: false, error: 'title and note are required' });
      const b = { bookmarkId: next++, reader: me, title: body.title, note: body.note };
      bookmarks.push(b);
      return sendJson(res, 201, { ok: true, bookmark: b });
    }
    const m = /^\/bookmarks\/(\d+)$/.exec(url.pathname);
    if (!m) return none();
    const i = bookmarks.findIndex((b) => b.bookmarkId === Number(m[1]) && (!fixed || b.reader === me));
    if (i < 0) return none();
    if (req.method === 'GET') return sendJson(res, 200, { ok: true, bookmark: bookmarks[i] });
    if (req.method === 'DELETE') {
      bookmarks.splice(i, 1);
      res.writeHead(204);
      return res.end();
    }
    return sendJson(res, 405, { ok: false, error: 'method not allowed' });
  }).then((server) => ({ ...server, bookmarks }));
}

describe('API1 deletes only what it made for the delete probe: the objects its findings name stay', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startReadingList>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startReadingList, {
        identities: [
          { name: 'lina', headers: { 'X-Reader-Key': 'rk-lina-51c0' } },
          { name: 'paul', headers: { 'X-Reader-Key': 'rk-paul-e8a3' } },
        ],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test('vulnerable: the read and the delete of the other reader bookmark are both found', () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-read getBookmark'), found.join());
    assert.ok(found.includes('scan/api1-bola-delete removeBookmark'), found.join());
  });

  test('vulnerable: the bookmark the read finding names is not taken by the delete probe, only by the clean-up', () => {
    const read = scans.vulnerable.result.findings.find((f) => f.rule.id === 'scan/api1-bola-read');
    const id = /\/bookmarks\/(\d+)/.exec(String(read?.evidence?.request))?.[1];
    assert.ok(id, String(read?.evidence?.request));
    // Discovery made it as its owner; since 0921604 the end-of-scan clean-up deletes what setup made in a given
    // identity's data (and says so). The delete probe must not have taken it: either it is still there, or the
    // clean-up names it as deleted.
    const kept = scans.vulnerable.api.bookmarks.some((b) => String(b.bookmarkId) === id);
    const cleaned = new RegExp(
      `/bookmarks/${id}: what \\w+ made in setup .* deleted \\(DELETE 2\\d\\d\\)`,
    ).test(JSON.stringify(scans.vulnerable.result));
    assert.ok(
      kept || cleaned,
      `bookmark ${id} is gone and no clean-up deleted it: ${JSON.stringify(scans.vulnerable.api.bookmarks)}`,
    );
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
