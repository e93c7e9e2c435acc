import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, sendJson } from './small-api.ts';
import { headerIdentities, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A framework's development error page shows internals without any stack trace: Django with `DEBUG = True` answers
 * an unknown path, and a missing object (`get_object_or_404`), with its technical 404 page, which lists every URL
 * pattern of the project (the admin's, the internal ones). The scan read such pages for stack traces and database
 * errors only, and found nothing there.
 *
 * Style: a Django REST framework notes API (`Authorization: Token <key>`, `{"detail": ...}` errors, trailing
 * slashes). The fixed twin answers `{"detail": "Not found."}` (DEBUG off).
 */
const token = [{ token: [] }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'notes', version: '1.2.0' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: token,
  paths: {
    '/api/notes/': { get: { operationId: 'notes_list', responses: { '200': { description: 'notes' } } } },
    '/api/notes/{id}/': {
      get: {
        operationId: 'notes_retrieve',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a note' }, '404': { description: 'not found' } },
      },
    },
  },
};

const KEYS = { mira: '5f0c9a1be2d4477c8e01', noor: '9b7e22d04c1f4a6e8b53' };
const NOTES = [
  { id: 1, owner: 'mira', text: 'buy stamps' },
  { id: 2, owner: 'noor', text: 'call the plumber' },
];

/** Django's technical 404 page, as `DEBUG = True` renders it (abridged). */
function technical404(path: string, reason: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Page not found at ${path}</title></head>
<body><div id="summary"><h1>Page not found <span>(404)</span></h1>
<table class="meta"><tr><th>Request Method:</th><td>GET</td></tr><tr><th>Request URL:</th><td>http://127.0.0.1${path}</td></tr></table></div>
<div id="info"><p>Using the URLconf defined in <code>notes_site.urls</code>, Django tried these URL patterns, in this order:</p>
<ol><li>admin/</li><li>api/notes/</li><li>api/notes/&lt;int:pk&gt;/</li><li>internal/reindex/</li></ol>
<p>${reason}</p></div>
<div id="explanation"><p>You’re seeing this error because you have <code>DEBUG = True</code> in your Django settings file. Change that to <code>False</code>, and Django will display a standard 404 page.</p></div>
</body></html>`;
}

function startNotes(fixed: boolean): Promise<TwinTarget> {
  return startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: unknown) => sendJson(res, status, body, GUARDED_JSON);
    const notFound = (reason: string) => {
      if (fixed) return send(404, { detail: 'Not found.' });
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8', 'x-content-type-options': 'nosniff' });
      return res.end(technical404(url.pathname, reason));
    };
    const who = Object.entries(KEYS).find(([, k]) => req.headers.authorization === `Token ${k}`)?.[0];
    if (req.method !== 'GET') return send(405, { detail: `Method "${req.method}" not allowed.` });
    if (url.pathname === '/api/notes/') {
      if (!who) return send(401, { detail: 'Authentication credentials were not provided.' });
      return send(
        200,
        NOTES.filter((n) => n.owner === who),
      );
    }
    const m = /^\/api\/notes\/([^/]+)\/$/.exec(url.pathname);
    if (m) {
      if (!who) return send(401, { detail: 'Authentication credentials were not provided.' });
      const note = NOTES.find((n) => String(n.id) === m[1] && n.owner === who);
      return note ? send(200, note) : notFound('No Note matches the given query.');
    }
    return notFound(`The current path, ${url.pathname.slice(1)}, didn’t match any of these.`);
  });
}

const verbose = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api8-verbose-errors').map((f) => f.message);

describe("a framework's development error page (Django's DEBUG = True 404)", () => {
  let runs: TwinScans<TwinTarget>;
  before(async () => {
    runs = await scanTwins(SPEC, startNotes, {
      identities: headerIdentities('Authorization', KEYS, 'Token'),
      checks: ['API8', 'API9'],
      ratePerSecond: 200,
    });
  });

  test('vulnerable: the missing note and the unknown paths show the development page', () => {
    const found = verbose(runs.vulnerable.result);
    assert.ok(
      found.some((m) =>
        /^GET \/api\/notes\/\{id\}\/ answered 404 with a development error page \(Django/.test(m),
      ),
      found.join('\n'),
    );
    assert.ok(
      found.some((m) =>
        /^Requests outside the API description were answered with stack traces, development/.test(m),
      ),
      found.join('\n'),
    );
  });

  test('fixed: no finding', () => {
    assert.deepEqual(
      runs.fixed.result.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });
});
