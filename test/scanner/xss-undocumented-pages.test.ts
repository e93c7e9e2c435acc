import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { findingOn, headerIdentities, operationsFound, scanTwins, type TwinScans } from './twins.ts';

/**
 * A neighbourhood guestbook in the style of a small Koa app: a JSON API the document describes (`POST
 * /api/entries {author, text}`, `GET /api/entries`, `DELETE /api/entries/{entryId}`, bearer tokens) and HTML pages
 * it does not: the home page `/` links to `/guestbook` (rendered on the server, the entries pasted in) and to
 * `/wall` (a page whose script fetches `/api/entries` and writes each entry into the page with `innerHTML`).
 * Vulnerable: `/guestbook` pastes the text unescaped, `/wall` uses `innerHTML`. Fixed: `/guestbook` escapes, `/wall`
 * uses `textContent`. The JSON API answers `application/json` on both twins: the script in it is data, no finding.
 *
 * Without a browser the scan can prove the server-rendered page (the script comes back intact in the HTML) and not
 * the browser-rendered one: `/wall` is said in the coverage notes, never a finding.
 */
const json = (schema: object) => ({ 'application/json': { schema } });
const ENTRY = {
  type: 'object',
  properties: { entryId: { type: 'integer' }, author: { type: 'string' }, text: { type: 'string' } },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'guestbook', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/entries': {
      get: {
        operationId: 'listEntries',
        responses: { '200': { description: 'entries', content: json({ type: 'array', items: ENTRY }) } },
      },
      post: {
        operationId: 'signGuestbook',
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['author', 'text'],
            properties: {
              author: { type: 'string', maxLength: 40 },
              text: { type: 'string', maxLength: 500 },
            },
          }),
        },
        responses: { '201': { description: 'signed', content: json(ENTRY) } },
      },
    },
    '/api/entries/{entryId}': {
      parameters: [{ name: 'entryId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'getEntry', responses: { '200': { description: 'one', content: json(ENTRY) } } },
      delete: { operationId: 'deleteEntry', responses: { '204': { description: 'gone' } } },
    },
  },
};

const TOKENS: Record<string, string> = { 'gb-alice-31': 'alice', 'gb-bob-77': 'bob' };

interface Entry {
  entryId: number;
  owner: string;
  author: string;
  text: string;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function startGuestbook(fixed: boolean): Promise<TestServer & { entries: Entry[] }> {
  const entries: Entry[] = [{ entryId: 1, owner: 'bob', author: 'Bob', text: 'Lovely street party!' }];
  let next = 2;
  const page = (title: string, body: string) =>
    `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
  return startServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://guestbook').pathname;
    const html = (text: string) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(text);
    };
    if (req.method === 'GET' && path === '/')
      return html(
        page(
          'Guestbook',
          '<h1>Our street</h1><a href="/guestbook">Read the guestbook</a> <a href="/wall">The wall</a>',
        ),
      );
    if (req.method === 'GET' && path === '/guestbook')
      return html(
        page(
          'Guestbook',
          entries
            .map(
              (e) =>
                `<article><b>${escapeHtml(e.author)}</b><p>${fixed ? escapeHtml(e.text) : e.text}</p></article>`,
            )
            .join(''),
        ),
      );
    if (req.method === 'GET' && path === '/wall')
      return html(
        page(
          'Wall',
          `<div id="wall"></div><script>fetch('/api/entries',{headers:{authorization:localStorage.token}}).then(r=>r.json()).then(list=>{for(const e of list){const p=document.createElement('p');p.${fixed ? 'textContent' : 'innerHTML'}=e.text;document.getElementById('wall').append(p)}})</script>`,
        ),
      );
    const user = TOKENS[String(req.headers.authorization ?? '').replace(/^Bearer /, '')];
    if (!user) return sendJson(res, 401, { message: 'Unauthorized' });
    const view = ({ owner: _o, ...e }: Entry) => e;
    if (path === '/api/entries' && req.method === 'GET') return sendJson(res, 200, entries.map(view));
    if (path === '/api/entries' && req.method === 'POST') {
      const body = await readJson(req);
      if (typeof body?.author !== 'string' || typeof body.text !== 'string')
        return sendJson(res, 422, { message: 'author and text are required' });
      const e: Entry = { entryId: next++, owner: user, author: body.author, text: body.text };
      entries.push(e);
      return sendJson(res, 201, view(e));
    }
    const m = /^\/api\/entries\/(\d+)$/.exec(path);
    const e = m ? entries.find((x) => x.entryId === Number(m[1])) : undefined;
    if (!e) return sendJson(res, 404, { message: 'Not Found' });
    if (req.method === 'GET') return sendJson(res, 200, view(e));
    if (req.method === 'DELETE') {
      if (e.owner !== user) return sendJson(res, 403, { message: 'Forbidden' });
      entries.splice(entries.indexOf(e), 1);
      res.writeHead(204).end();
      return;
    }
    return sendJson(res, 404, { message: 'Not Found' });
  }).then((api) => Object.assign(api, { entries }));
}

describe('stored XSS on HTML pages the document does not list (a Koa-style guestbook)', () => {
  let scans: TwinScans<TestServer & { entries: Entry[] }>;
  before(async () => {
    scans = await scanTwins(SPEC, startGuestbook, {
      identities: headerIdentities('Authorization', { alice: 'gb-alice-31', bob: 'gb-bob-77' }, 'Bearer'),
      checks: ['API8'],
      ratePerSecond: 300,
    });
  });

  test('vulnerable: the entry text served intact by the server-rendered /guestbook page is stored XSS', () => {
    const f = findingOn(scans.vulnerable.result, 'scan/api8-stored-xss', 'signGuestbook');
    assert.ok(f, operationsFound(scans.vulnerable.result).join('\n'));
    assert.match(f.message, /GET \/guestbook/);
    assert.match(f.message, /\btext\b/);
  });

  test('fixed twin: no stored XSS (the page escapes; the JSON API is data)', () => {
    assert.deepEqual(
      operationsFound(scans.fixed.result).filter((x) => /stored-xss/.test(x)),
      [],
    );
  });

  test('the browser-rendered /wall is named in the notes as not judged, on the vulnerable twin; never a finding', () => {
    const notes = JSON.stringify(scans.vulnerable.result.coverage.matrix);
    assert.match(notes, /\/wall[^"]*innerHTML[^"]*needs a browser/);
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.ok(
        !scans[kind].result.findings.some((x) => /\/wall/.test(x.message)),
        operationsFound(scans[kind].result).join('\n'),
      );
  });

  test('both twins: the entries the probes stored are deleted', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        scans[kind].api.entries.map((e) => e.entryId),
        [1],
        `${kind}: ${JSON.stringify(scans[kind].api.entries)}`,
      );
  });
});
