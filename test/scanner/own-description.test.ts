import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A FastAPI-style bookmarks API (query-string API key `?key=`, `detail` errors) that serves, as FastAPI does by
 * default, its own description at `/openapi.json` and documentation pages at `/docs` (Swagger UI pointing at
 * `/openapi.json`) and `/redoc` (`spec-url="/openapi.json"`); the scan is given that same document. Both
 * twins serve them. The vulnerable twin also keeps an undocumented `GET /debug` (its settings) and a second
 * description, `/swagger.json`, that lists an internal route the given document leaves out.
 *
 * Expected: `/debug` and `/swagger.json` reported; the API's own description and its pages never.
 */
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'bookmarks', version: '0.3.0' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'query', name: 'key' } } },
  security: [{ key: [] }],
  paths: {
    '/bookmarks': {
      get: {
        operationId: 'list_bookmarks_bookmarks_get',
        responses: {
          '200': {
            description: 'Successful Response',
            content: { 'application/json': { schema: { type: 'array' } } },
          },
        },
      },
    },
  },
};
const INTERNAL = {
  ...SPEC,
  paths: { ...SPEC.paths, '/internal/reindex': { post: { responses: { '200': { description: 'ok' } } } } },
};

const SWAGGER_PAGE = `<!DOCTYPE html><html><head><link type="text/css" rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"><title>bookmarks - Swagger UI</title></head><body><div id="swagger-ui"></div><script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script><script>const ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true })</script></body></html>`;
const REDOC_PAGE = `<!DOCTYPE html><html><head><title>bookmarks - ReDoc</title></head><body><redoc spec-url="/openapi.json"></redoc><script src="https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"></script></body></html>`;

function startBookmarks(fixed: boolean) {
  return startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, body: unknown) => sendJson(res, status, body);
    const html = (body: string) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(body);
    };
    if (req.method !== 'GET') return json(405, { detail: 'Method Not Allowed' });
    switch (url.pathname) {
      case '/openapi.json':
        return json(200, SPEC);
      case '/docs':
        return html(SWAGGER_PAGE);
      case '/redoc':
        return html(REDOC_PAGE);
    }
    if (!fixed && url.pathname === '/debug')
      return json(200, { debug: true, database_url: 'sqlite:///./bookmarks.db' });
    if (!fixed && url.pathname === '/swagger.json') return json(200, INTERNAL);
    if (url.pathname === '/bookmarks') {
      if (url.searchParams.get('key') !== 'k-ivy') return json(401, { detail: 'Not authenticated' });
      return json(200, [{ id: 1, url: 'https://example.org', title: 'example' }]);
    }
    json(404, { detail: 'Not Found' });
  });
}

describe("API9: the API's own description and its documentation pages", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startBookmarks, {
      identities: [{ name: 'ivy', headers: {} }],
      checks: ['API9'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  const paths = (r: ScanResult) =>
    r.findings.map((f) => `${f.operation?.method} ${f.operation?.path}`).sort();

  test('the undocumented debug route and the description listing more are reported, nothing else', () => {
    assert.deepEqual(paths(runs.vulnerable), ['GET /debug', 'GET /swagger.json']);
    const more = runs.vulnerable.findings.find((f) => f.operation?.path === '/swagger.json');
    assert.match(more?.message ?? '', /lists 1 path the given document does not: \/internal\/reindex\.$/);
    assert.equal(more?.severity, 'low');
  });

  test('the fixed twin: no finding; the note names where the description is served', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
    const note = runs.fixed.notes.find((n) => n.startsWith('API9: the API serves its own description'));
    assert.match(
      note ?? '',
      /at \/openapi\.json, \/docs \(showing \/openapi\.json\), \/redoc \(showing \/openapi\.json\): not reported/,
    );
  });
});
