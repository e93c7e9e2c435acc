import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A blog in a RealWorld-like style (`{"article": {...}}` envelopes, `Authorization: Token ...`, slugs). An article's
 * read carries what no update takes (`author`, `favoritesCount`, an `updatedAt` that moves on every write), and the
 * update refuses any member it does not know with 422. The scan makes its own articles in setup and deletes them
 * at the end: a set-back of one of those the API refused is no work for anyone by hand (review R2-R1).
 */
const SLUG = [{ name: 'slug', in: 'path', required: true, schema: { type: 'string' } }];
const ARTICLE_IN = {
  type: 'object',
  properties: {
    article: { type: 'object', properties: { title: { type: 'string' }, body: { type: 'string' } } },
  },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'blog', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/articles': {
      post: {
        operationId: 'createArticle',
        requestBody: { content: { 'application/json': { schema: ARTICLE_IN } } },
        responses: { '201': { description: 'the article' } },
      },
    },
    '/articles/{slug}': {
      get: {
        operationId: 'getArticle',
        parameters: SLUG,
        responses: { '200': { description: 'the article' } },
      },
      put: {
        operationId: 'updateArticle',
        parameters: SLUG,
        requestBody: { content: { 'application/json': { schema: ARTICLE_IN } } },
        responses: { '200': { description: 'the article' }, '422': { description: 'invalid' } },
      },
      delete: {
        operationId: 'deleteArticle',
        parameters: SLUG,
        responses: { '204': { description: 'gone' } },
      },
    },
  },
};

const TOKENS: Record<string, string> = { 'Token ar-11': 'ana', 'Token bo-22': 'bo' };

function startBlog() {
  const articles = new Map<
    string,
    { slug: string; title: string; body: string; author: string; updatedAt: string }
  >();
  let clock = 0;
  const stamp = () => new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString();
  const out = (a: { slug: string; title: string; body: string; author: string; updatedAt: string }) => ({
    article: {
      slug: a.slug,
      title: a.title,
      body: a.body,
      updatedAt: a.updatedAt,
      favoritesCount: 0,
      author: { username: a.author, bio: '' },
    },
  });
  const api = startServer(async (req, res) => {
    const body = (await readJson(req)) ?? {};
    const path = new URL(req.url ?? '/', 'http://blog').pathname;
    const who = TOKENS[String(req.headers.authorization ?? '')];
    if (!who) return sendJson(res, 401, { errors: { body: ['unauthorized'] } });
    const input = (body.article ?? {}) as Record<string, unknown>;
    if (req.method === 'POST' && path === '/articles') {
      if (typeof input.title !== 'string')
        return sendJson(res, 422, { errors: { title: ["can't be blank"] } });
      const slug = `${input.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${articles.size + 1}`;
      const a = { slug, title: input.title, body: String(input.body ?? ''), author: who, updatedAt: stamp() };
      articles.set(slug, a);
      return sendJson(res, 201, out(a));
    }
    const m = /^\/articles\/([^/]+)$/.exec(path);
    const a = m ? articles.get(decodeURIComponent(m[1])) : undefined;
    if (!a) return sendJson(res, 404, { errors: { article: ['not found'] } });
    if (req.method === 'GET') return sendJson(res, 200, out(a));
    if (a.author !== who) return sendJson(res, 403, { errors: { article: ['forbidden'] } });
    if (req.method === 'DELETE') {
      articles.delete(a.slug);
      res.writeHead(204);
      return res.end();
    }
    if (req.method === 'PUT') {
      const unknown = Object.keys(input).filter((k) => k !== 'title' && k !== 'body');
      if (unknown.length > 0 || Object.keys(body).some((k) => k !== 'article'))
        return sendJson(res, 422, { errors: { article: [`unknown members: ${unknown.join(', ')}`] } });
      if (typeof input.title === 'string') a.title = input.title;
      if (typeof input.body === 'string') a.body = input.body;
      a.updatedAt = stamp();
      return sendJson(res, 200, out(a));
    }
    return sendJson(res, 405, { errors: { method: ['not allowed'] } });
  });
  return api.then((x) => Object.assign(x, { articles }));
}

describe('API3 asks for no reset by hand of an object the scan made itself', () => {
  let run: { result: Awaited<ReturnType<typeof scanDocument>>; left: number };
  before(async () => {
    const api = await startBlog();
    try {
      const result = await scanDocument(SPEC, api.url, {
        identities: [
          { name: 'ana', headers: { Authorization: 'Token ar-11' } },
          { name: 'bo', headers: { Authorization: 'Token bo-22' } },
        ],
        ratePerSecond: 200,
        checks: ['API3'],
      });
      run = { result, left: api.articles.size };
    } finally {
      api.server.close();
    }
  });

  test('the refused set-back is still a note, and the clean-up deletes the scan’s articles', () => {
    assert.match(JSON.stringify(run.result.coverage), /could not be set back after the probe/);
    assert.equal(run.left, 0);
  });

  test('no warning asks to reset the scan’s own article by hand', () => {
    assert.ok(
      !run.result.warnings.some((w) => /by hand/.test(w) && /article/.test(w)),
      run.result.warnings.join('\n'),
    );
  });
});
