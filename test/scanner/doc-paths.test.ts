import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { scanTwins } from './twins.ts';

/**
 * A Go-style API (Gin-like, `Authorization: Bearer`, base path `/api/v1`) whose generated API docs are served
 * where the frameworks put them by default: swaggo's `/swagger/index.html` and `/swagger/doc.json`, and a
 * Quarkus-style `/q/openapi` under the base path. None is in the document. The fixed twin serves no docs
 * (404), so the probes find nothing there.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'notes', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/v1/notes': {
      get: {
        operationId: 'listNotes',
        responses: {
          '200': { description: 'notes', content: { 'application/json': { schema: { type: 'array' } } } },
        },
      },
    },
  },
};

async function startNotes(fixed: boolean): Promise<{ url: string; server: Server }> {
  return startServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    if (path === '/api/v1/notes') {
      if (req.headers.authorization !== 'Bearer t-alice') return json(401, { error: 'unauthorized' });
      return json(200, [{ id: 1, text: 'hello' }]);
    }
    if (!fixed) {
      if (path === '/swagger/doc.json')
        return json(200, { swagger: '2.0', info: { title: 'notes' }, paths: {} });
      if (path === '/swagger/index.html') {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<!DOCTYPE html><html><body><div id="swagger-ui"></div></body></html>');
      }
      if (path === '/api/v1/q/openapi') {
        res.writeHead(200, { 'content-type': 'application/yaml' });
        return res.end('openapi: 3.0.3\ninfo:\n  title: notes\n  version: "1"\npaths: {}\n');
      }
    }
    json(404, { error: '404 page not found' });
  });
}

describe('API9 on the doc paths of swaggo, ASP.NET and Quarkus', () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startNotes, {
      identities: [{ name: 'alice', headers: { authorization: 'Bearer t-alice' } }],
      checks: ['API9'],
      ratePerSecond: 200,
    });
    results.vulnerable = scans.vulnerable.result;
    results.fixed = scans.fixed.result;
  });

  const docPaths = (r: ScanResult) =>
    r.findings
      .filter((f) => f.rule.id === 'scan/api9-undocumented-endpoint')
      .map((f) => f.operation?.path)
      .sort();

  test('reports the framework doc paths, at the root and under the base path', () => {
    assert.deepEqual(docPaths(results.vulnerable), [
      '/api/v1/q/openapi',
      '/swagger/doc.json',
      '/swagger/index.html',
    ]);
  });

  test('nothing on the fixed twin', () => {
    assert.ok(results.fixed.stats.requests > 0);
    assert.deepEqual(results.fixed.findings, []);
  });
});
