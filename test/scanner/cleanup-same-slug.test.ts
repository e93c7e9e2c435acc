import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { headerIdentities, scanDocument } from './twins.ts';

/**
 * A RealWorld-style blog ("Conduit"): `Authorization: Token …`, bodies in an envelope (`{"article": {...}}`), and
 * the item path a slug of the title that is NOT made unique: two articles with one title answer one path, and
 * `DELETE /articles/{slug}` removes one row per call (the first of the caller's with that slug). A taken title is
 * answered 400 and stored all the same. The injection probes of `POST /articles` vary the body but kept the title:
 * every probe after the first stored an article the scan never counted, and each stayed in alice's data under a
 * note "all deleted".
 *
 * What the scan must do: every article its probes made is gone after the scan, or named as left in place; never
 * "all deleted" while one stays.
 */
const json = (schema: object) => ({ 'application/json': { schema } });
const ARTICLE = {
  type: 'object',
  properties: {
    slug: { type: 'string' },
    title: { type: 'string' },
    description: { type: 'string' },
    body: { type: 'string' },
  },
};
const ONE = { type: 'object', properties: { article: ARTICLE } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'conduit', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/users': {
      post: {
        operationId: 'createUser',
        security: [],
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['user'],
            properties: {
              user: {
                type: 'object',
                required: ['username', 'email', 'password'],
                properties: {
                  username: { type: 'string' },
                  email: { type: 'string', format: 'email' },
                  password: { type: 'string', format: 'password' },
                },
              },
            },
          }),
        },
        responses: {
          '201': {
            description: 'registered',
            content: json({
              type: 'object',
              properties: {
                user: {
                  type: 'object',
                  properties: { username: { type: 'string' }, email: { type: 'string' } },
                },
              },
            }),
          },
          '422': { description: 'invalid' },
        },
      },
    },
    '/articles': {
      post: {
        operationId: 'createArticle',
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['article'],
            properties: {
              article: {
                type: 'object',
                required: ['title', 'description', 'body'],
                properties: {
                  title: { type: 'string' },
                  description: { type: 'string' },
                  body: { type: 'string' },
                },
              },
            },
          }),
        },
        responses: { '201': { description: 'made', content: json(ONE) }, '422': { description: 'invalid' } },
      },
    },
    '/articles/{slug}': {
      parameters: [{ name: 'slug', in: 'path', required: true, schema: { type: 'string' } }],
      get: {
        operationId: 'getArticle',
        responses: { '200': { description: 'one', content: json(ONE) }, '404': { description: 'none' } },
      },
      delete: {
        operationId: 'deleteArticle',
        responses: { '200': { description: 'deleted' }, '404': { description: 'none' } },
      },
    },
  },
};

interface Article {
  id: number;
  author: string;
  slug: string;
  title: string;
  description: string;
  body: string;
}
type Conduit = TestServer & { articles: Article[]; users: string[] };

const TOKENS: Record<string, string> = { 'Token cd-a-3141': 'alice', 'Token cd-b-2718': 'bob' };

async function startConduit(): Promise<Conduit> {
  const articles: Article[] = [
    {
      id: 1,
      author: 'alice',
      slug: 'how-to-train-your-dragon',
      title: 'How to train your dragon',
      description: 'd',
      body: 'b',
    },
    {
      id: 2,
      author: 'bob',
      slug: 'bobs-travel-notes',
      title: "Bob's travel notes",
      description: 'd',
      body: 'b',
    },
  ];
  let next = 3;
  const users = ['alice', 'bob'];
  const view = (a: Article) => ({
    article: { slug: a.slug, title: a.title, description: a.description, body: a.body },
  });
  const api = await startServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://conduit').pathname.replace(/\/$/, '');
    if (path === '/users' && req.method === 'POST') {
      // A sign-up with no delete of an account anywhere: what the scan registers here stays.
      const u = (await readJson(req))?.user as Record<string, unknown> | undefined;
      if (
        !u ||
        typeof u.username !== 'string' ||
        typeof u.email !== 'string' ||
        typeof u.password !== 'string'
      )
        return sendJson(res, 422, { errors: { body: ['invalid user'] } });
      if (users.includes(u.username)) return sendJson(res, 422, { errors: { username: ['taken'] } });
      users.push(u.username);
      return sendJson(res, 201, { user: { username: u.username, email: u.email } });
    }
    const user = TOKENS[String(req.headers.authorization ?? '')];
    if (!user) return sendJson(res, 401, { errors: { body: ['unauthorized'] } });
    if (path === '/articles' && req.method === 'POST') {
      const input = await readJson(req);
      const a = input?.article as Record<string, unknown> | undefined;
      if (
        !a ||
        typeof a.title !== 'string' ||
        typeof a.description !== 'string' ||
        typeof a.body !== 'string'
      )
        return sendJson(res, 422, { errors: { body: ['invalid article'] } });
      const slug =
        a.title
          .toLowerCase()
          .replace(/[^a-z0-9]+/g, '-')
          .replace(/^-|-$/g, '') || 'untitled';
      // As the Express + Sequelize one R2 scanned: a taken title is answered 400, but the handler goes on and
      // stores the article all the same (its `next(error)` has no `return`).
      const taken = articles.some((x) => x.slug === slug);
      const made: Article = {
        id: next++,
        author: user,
        slug,
        title: a.title,
        description: a.description,
        body: a.body,
      };
      articles.push(made);
      if (taken) return sendJson(res, 400, { errors: { body: ['Title already exists'] } });
      return sendJson(res, 201, view(made));
    }
    const m = /^\/articles\/([^/]+)$/.exec(path);
    if (m) {
      const slug = decodeURIComponent(m[1]);
      const found = articles.find((a) => a.slug === slug);
      if (!found) return sendJson(res, 404, { errors: { article: ['not found'] } });
      if (req.method === 'GET') return sendJson(res, 200, view(found));
      if (req.method === 'DELETE') {
        const own = articles.find((a) => a.slug === slug && a.author === user);
        if (!own) return sendJson(res, 403, { errors: { article: ['not the author'] } });
        articles.splice(articles.indexOf(own), 1);
        return sendJson(res, 200, {});
      }
    }
    return sendJson(res, 404, { errors: { body: ['not found'] } });
  });
  return Object.assign(api, { articles, users });
}

describe('clean-up after probe creations whose path is a non-unique slug of the title (RealWorld-style)', () => {
  let api: Conduit;
  let result: ScanResult;
  before(async () => {
    api = await startConduit();
    result = await scanDocument(SPEC, api.url, {
      identities: headerIdentities('Authorization', { alice: 'cd-a-3141', bob: 'cd-b-2718' }, 'Token'),
      checks: ['API8'],
      ratePerSecond: 300,
    });
  });
  after(() => api.server.close());

  test('the probes made articles as a given identity (the case is exercised)', () => {
    const notes = JSON.stringify(result.coverage.matrix.filter((m) => m.operation === 'POST /articles'));
    assert.match(
      notes,
      /probes of POST \/articles created \d+ objects? (\(and \d+ more [^)]*\) )?as (alice|bob)/,
      notes,
    );
  });

  test('every article the scan made is gone, or named in a warning; no "all deleted" while one stays', () => {
    const made = api.articles.filter((a) => a.id > 2);
    const seeded = api.articles.filter((a) => a.id <= 2).map((a) => a.slug);
    assert.deepEqual(seeded, ['how-to-train-your-dragon', 'bobs-travel-notes']);
    const warned = result.warnings.join('\n');
    for (const a of made)
      assert.ok(warned.includes(a.slug), `left in ${a.author}'s data, not named: ${a.slug}\n${warned}`);
    const notes = JSON.stringify(result.coverage.matrix);
    if (made.length > 0)
      assert.doesNotMatch(notes, /POST \/articles created \d+ objects? as \w+, all deleted/);
    assert.equal(made.length, 0, `left: ${JSON.stringify(made.map((a) => [a.id, a.author, a.slug]))}`);
  });
});

describe('accounts the scan registered through a sign-up in an envelope (RealWorld {"user": {...}})', () => {
  test('every account registered and left in place is in a warning, by name or by count', async () => {
    const api = await startConduit();
    try {
      const result = await scanDocument(SPEC, api.url, {
        identities: headerIdentities('Authorization', { alice: 'cd-a-3141', bob: 'cd-b-2718' }, 'Token'),
        checks: ['API8'],
        ratePerSecond: 300,
      });
      const made = api.users.slice(2);
      assert.ok(
        made.length > 0,
        'the probes of the sign-up registered no account: the case is not exercised',
      );
      const warned = result.warnings.filter((w) => /left in place/.test(w)).join('\n');
      const count = /(\d+) other accounts? the scan's probes registered/.exec(warned);
      assert.ok(count, `no warning of the accounts left:\n${result.warnings.join('\n')}`);
      const named = made.filter((u) => warned.includes(JSON.stringify(u.slice(0, 60))));
      assert.ok(
        Number(count[1]) >= made.length && named.length >= Math.min(made.length, 20),
        `${made.length} accounts left (${made.join(', ')}); warned: ${warned}`,
      );
    } finally {
      api.server.close();
    }
  });
});
