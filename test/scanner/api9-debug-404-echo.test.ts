import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { headerIdentities, scanDocument } from './twins.ts';

/**
 * Review R2-F3: on a Django project with DEBUG on, API9 reported four older write routes that do not exist
 * (`POST /api/v0/projects/`, `/api/projects/`... "answered 404 with an answer of its own"). Django's technical 404
 * page echoes the path, also without its leading slash (`The current path, api/v0/projects/, didn't match`), and the
 * documented routes end with `/`: the route's own 404 was told from the made-up routes' by that echo alone.
 *
 * Style: a Django REST framework issue tracker (`Authorization: Token <key>`, trailing slashes, `{"detail": ...}`
 * errors), every unknown path answered with the DEBUG 404 page listing the project's URL patterns. No older version
 * exists: no API9 finding.
 */
const token = [{ token: [] }];
const project = {
  type: 'object',
  properties: { name: { type: 'string' }, description: { type: 'string' } },
  required: ['name'],
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'tracker', version: '1.0.0' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: token,
  paths: {
    '/api/v1/projects/': {
      get: { operationId: 'projects_list', responses: { '200': { description: 'projects' } } },
      post: {
        operationId: 'projects_create',
        requestBody: { required: true, content: { 'application/json': { schema: project } } },
        responses: { '201': { description: 'created' } },
      },
    },
    '/api/v1/issues/': {
      post: {
        operationId: 'issues_create',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] },
            },
          },
        },
        responses: { '201': { description: 'created' } },
      },
    },
  },
};

const KEYS = { lena: 'a41f0c9e77d2b5a3c810', omar: '0d93b7e1c25f4a86e7b2' };

function debug404(method: string, path: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta http-equiv="content-type" content="text/html; charset=utf-8"><title>Page not found at ${path}</title></head>
<body><div id="summary"><h1>Page not found <span>(404)</span></h1><table class="meta">
<tr><th>Request Method:</th><td>${method}</td></tr><tr><th>Request URL:</th><td>http://127.0.0.1${path}</td></tr></table></div>
<div id="info"><p>Using the URLconf defined in <code>tracker.urls</code>, Django tried these URL patterns, in this order:</p>
<ol><li>admin/</li><li>api/v1/projects/</li><li>api/v1/issues/</li></ol>
<p>The current path, <code>${path.slice(1)}</code>, didn’t match any of these.</p></div>
<div id="explanation"><p>You’re seeing this error because you have <code>DEBUG = True</code> in your Django settings file.</p></div>
</body></html>`;
}

function startTracker(): Promise<TestServer> {
  const projects: { id: number; name: string; owner: string }[] = [];
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const who = Object.entries(KEYS).find(([, k]) => req.headers.authorization === `Token ${k}`)?.[0];
    const known = ['/api/v1/projects/', '/api/v1/issues/'].includes(url.pathname);
    if (!known) {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(debug404(req.method ?? 'GET', url.pathname));
    }
    if (!who) return sendJson(res, 401, { detail: 'Authentication credentials were not provided.' });
    if (req.method === 'GET' && url.pathname === '/api/v1/projects/')
      return sendJson(
        res,
        200,
        projects.filter((p) => p.owner === who),
      );
    if (req.method === 'POST') {
      const body = (await readJson(req)) ?? {};
      if (url.pathname === '/api/v1/projects/') {
        if (typeof body.name !== 'string') return sendJson(res, 400, { name: ['This field is required.'] });
        const p = { id: projects.length + 1, name: body.name, owner: who };
        projects.push(p);
        return sendJson(res, 201, p);
      }
      if (typeof body.title !== 'string') return sendJson(res, 400, { title: ['This field is required.'] });
      return sendJson(res, 201, { id: 1, title: body.title });
    }
    return sendJson(res, 405, { detail: `Method "${req.method}" not allowed.` });
  });
}

describe("API9 on Django's DEBUG 404 page, which echoes the path without its leading slash", () => {
  let result: ScanResult;
  before(async () => {
    const api = await startTracker();
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: headerIdentities('Authorization', KEYS, 'Token'),
        checks: ['API9'],
        ratePerSecond: 200,
      });
    } finally {
      api.server.close();
    }
  });

  test('no older write route is taken for served: no finding', () => {
    assert.deepEqual(
      result.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });
});
