import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A field journal (bearer keys, slugs from titles): only the author reads an entry (a draft), but anyone signed in
 * may star it and take the star back (`POST`/`DELETE /entries/{slug}/star`: a row of the caller's own; the entry only shows `starCount` and the
 * reader's own `starred`). Those are no object-level flaw on either twin (R2's review: a favourite on a RealWorld
 * backend was reported as a critical API1 write and delete). The vulnerable twin also lets anyone archive an entry
 * (`POST /entries/{slug}/archive`) and drop its cover (`DELETE /entries/{slug}/cover`), which only the author may do:
 * those are the findings, on the vulnerable twin only.
 */
const slugParam = [{ name: 'slug', in: 'path', required: true, schema: { type: 'string' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'field journal', version: '1' },
  components: { securitySchemes: { key: { type: 'http', scheme: 'bearer' } } },
  security: [{ key: [] }],
  paths: {
    '/entries': {
      get: { operationId: 'listEntries', responses: { '200': { description: 'the caller’s entries' } } },
      post: {
        operationId: 'createEntry',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['title', 'body'],
                properties: {
                  title: { type: 'string' },
                  body: { type: 'string' },
                  cover: { type: 'string' },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'created' } },
      },
    },
    '/entries/{slug}': {
      parameters: slugParam,
      get: { operationId: 'getEntry', responses: { '200': { description: 'an entry' } } },
      delete: { operationId: 'deleteEntry', responses: { '204': { description: 'deleted' } } },
    },
    '/entries/{slug}/star': {
      parameters: slugParam,
      post: { operationId: 'starEntry', responses: { '200': { description: 'starred' } } },
      delete: { operationId: 'unstarEntry', responses: { '200': { description: 'star taken back' } } },
    },
    '/entries/{slug}/archive': {
      parameters: slugParam,
      post: { operationId: 'archiveEntry', responses: { '200': { description: 'archived' } } },
    },
    '/entries/{slug}/cover': {
      parameters: slugParam,
      delete: { operationId: 'dropCover', responses: { '200': { description: 'cover removed' } } },
    },
  },
};
const KEYS: Record<string, string> = { 'Bearer jr-alice-5c1e': 'alice', 'Bearer jr-bob-9a72': 'bob' };

interface Entry {
  slug: string;
  author: string;
  title: string;
  body: string;
  cover: string | null;
  archived: boolean;
  stars: Set<string>;
}

async function startJournal(fixed: boolean) {
  const entries = new Map<string, Entry>();
  let n = 0;
  const view = (e: Entry, me: string) => ({
    slug: e.slug,
    author: e.author,
    title: e.title,
    body: e.body,
    cover: e.cover,
    archived: e.archived,
    starred: e.stars.has(me),
    starCount: e.stars.size,
  });
  return startServer(async (req, res) => {
    const me = KEYS[String(req.headers.authorization ?? '')];
    if (req.method !== 'POST') req.resume();
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    if (me === undefined) return sendJson(res, 401, { errors: { body: ['unauthorized'] } });
    const parts = (req.url ?? '/').split('?')[0].split('/').filter(Boolean);
    if (parts[0] !== 'entries') return sendJson(res, 404, { errors: { body: ['not found'] } });
    if (parts.length === 1 && req.method === 'GET')
      return sendJson(res, 200, {
        entries: [...entries.values()].filter((e) => e.author === me).map((e) => view(e, me)),
      });
    if (parts.length === 1 && req.method === 'POST') {
      if (typeof body?.title !== 'string' || typeof body.body !== 'string')
        return sendJson(res, 422, { errors: { body: ['title and body are required'] } });
      const slug = `${body.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${++n}`;
      const e: Entry = {
        slug,
        author: me,
        title: body.title,
        body: body.body,
        cover: typeof body.cover === 'string' ? body.cover : 'default.png',
        archived: false,
        stars: new Set(),
      };
      entries.set(slug, e);
      return sendJson(res, 201, { entry: view(e, me) });
    }
    const e = entries.get(decodeURIComponent(parts[1] ?? ''));
    if (!e) return sendJson(res, 404, { errors: { body: ['no such entry'] } });
    const authorOnly = () => fixed && e.author !== me;
    if (parts.length === 2 && req.method === 'GET') {
      if (e.author !== me) return sendJson(res, 403, { errors: { body: ['drafts are private'] } });
      return sendJson(res, 200, { entry: view(e, me) });
    }
    if (parts.length === 2 && req.method === 'DELETE') {
      if (e.author !== me) return sendJson(res, 403, { errors: { body: ['not yours'] } });
      entries.delete(e.slug);
      res.writeHead(204).end();
      return;
    }
    if (parts[2] === 'star' && req.method === 'POST') {
      e.stars.add(me);
      return sendJson(res, 200, { entry: view(e, me) });
    }
    if (parts[2] === 'star' && req.method === 'DELETE') {
      e.stars.delete(me);
      return sendJson(res, 200, { entry: view(e, me) });
    }
    if (parts[2] === 'archive' && req.method === 'POST') {
      if (authorOnly()) return sendJson(res, 403, { errors: { body: ['not yours'] } });
      e.archived = true;
      return sendJson(res, 200, { entry: view(e, me) });
    }
    if (parts[2] === 'cover' && req.method === 'DELETE') {
      if (authorOnly()) return sendJson(res, 403, { errors: { body: ['not yours'] } });
      e.cover = null;
      return sendJson(res, 200, { entry: view(e, me) });
    }
    return sendJson(res, 405, { errors: { body: ['method not allowed'] } });
  });
}

describe('API1: a star, like or favourite on another’s object is the caller’s own row, not a write of the object', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startJournal>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startJournal, {
        identities: [
          { name: 'alice', headers: { Authorization: 'Bearer jr-alice-5c1e' } },
          { name: 'bob', headers: { Authorization: 'Bearer jr-bob-9a72' } },
        ],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test('vulnerable: archiving and dropping the cover of another’s entry are found', () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-write archiveEntry'), found.join());
    assert.ok(found.includes('scan/api1-bola-delete dropCover'), found.join());
  });

  test('starring and taking a star back are no finding on either twin', () => {
    for (const twin of ['vulnerable', 'fixed'] as const) {
      const found = operationsFound(scans[twin].result).filter((f) => /starEntry|unstarEntry/.test(f));
      assert.deepEqual(found, [], twin);
    }
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
