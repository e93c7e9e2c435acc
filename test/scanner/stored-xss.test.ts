import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readText } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A club message board in an Express style with server-rendered pages beside its JSON API: a form login
 * (`POST /session` {handle, passphrase}) sets a `board.sid` cookie; `POST /api/posts {subject, message, mood}`
 * answers `201 {post}`; `GET /api/posts` lists the posts as `application/json`; `DELETE /api/posts/{postId}` by
 * the author. `POST /api/notices {text}` is served as JSON only, on both twins (a script held as data is no finding).
 * The vulnerable twin writes the post's JSON with `res.send(string)`'s default type, `text/html`, at
 * `GET /api/posts/{postId}`, and pastes subject and message unescaped into `GET /api/posts/{postId}/preview` and the
 * `GET /board` page; a reply, posted as a form (`POST /api/replies text=...`), is shown unescaped by its page
 * `GET /api/replies/{replyId}`; a club's motto, set only by `PATCH /api/clubs/{clubId}`, is shown unescaped by
 * `GET /api/clubs/{clubId}/page` (its name, set at creation, is escaped). Fixed twin: `application/json`, and the
 * pages escape the text.
 */
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const html = { content: { 'text/html': { schema: { type: 'string' } } } };
const post = {
  type: 'object',
  properties: {
    postId: { type: 'integer' },
    author: { type: 'string' },
    subject: { type: 'string' },
    message: { type: 'string' },
    mood: { type: 'string', enum: ['glad', 'grumpy'] },
  },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'club board', version: '1.3.0' },
  components: { securitySchemes: { sid: { type: 'apiKey', in: 'cookie', name: 'board.sid' } } },
  security: [{ sid: [] }],
  paths: {
    '/session': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                properties: { handle: { type: 'string' }, passphrase: { type: 'string' } },
              },
            },
          },
        },
        responses: { '204': { description: 'signed in' } },
      },
    },
    '/api/posts': {
      get: {
        operationId: 'listPosts',
        responses: { '200': { description: 'posts', ...json({ type: 'array', items: post }) } },
      },
      post: {
        operationId: 'createPost',
        requestBody: json({
          type: 'object',
          required: ['subject', 'message'],
          properties: {
            subject: { type: 'string', maxLength: 200 },
            message: { type: 'string' },
            mood: { type: 'string', enum: ['glad', 'grumpy'] },
          },
        }),
        responses: { '201': { description: 'posted', ...json({ type: 'object', properties: { post } }) } },
      },
    },
    '/api/posts/{postId}': {
      parameters: [{ name: 'postId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'getPost', responses: { '200': { description: 'the post', ...json(post) } } },
      delete: { operationId: 'deletePost', responses: { '204': { description: 'deleted' } } },
    },
    '/api/posts/{postId}/preview': {
      parameters: [{ name: 'postId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'previewPost',
        responses: { '200': { description: 'the post as a page', ...html } },
      },
    },
    '/board': {
      get: { operationId: 'board', responses: { '200': { description: 'the board page', ...html } } },
    },
    '/api/notices': {
      get: {
        operationId: 'listNotices',
        responses: { '200': { description: 'notices', ...json({ type: 'array' }) } },
      },
      post: {
        operationId: 'createNotice',
        requestBody: json({ type: 'object', required: ['text'], properties: { text: { type: 'string' } } }),
        responses: { '201': { description: 'noticed', ...json({ type: 'object' }) } },
      },
    },
    '/api/replies': {
      post: {
        operationId: 'createReply',
        requestBody: {
          content: {
            'application/x-www-form-urlencoded': {
              schema: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
            },
          },
        },
        responses: { '201': { description: 'replied', ...json({ type: 'object' }) } },
      },
    },
    '/api/replies/{replyId}': {
      parameters: [{ name: 'replyId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'showReply',
        responses: { '200': { description: 'the reply as a page', ...html } },
      },
      delete: { operationId: 'deleteReply', responses: { '204': { description: 'deleted' } } },
    },
    '/api/clubs': {
      post: {
        operationId: 'createClub',
        requestBody: json({ type: 'object', required: ['name'], properties: { name: { type: 'string' } } }),
        responses: { '201': { description: 'founded', ...json({ type: 'object' }) } },
      },
    },
    '/api/clubs/{clubId}': {
      parameters: [{ name: 'clubId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'getClub',
        responses: { '200': { description: 'the club', ...json({ type: 'object' }) } },
      },
      patch: {
        operationId: 'updateClub',
        requestBody: json({ type: 'object', properties: { motto: { type: 'string' } } }),
        responses: { '200': { description: 'updated', ...json({ type: 'object' }) } },
      },
      delete: { operationId: 'deleteClub', responses: { '204': { description: 'disbanded' } } },
    },
    '/api/clubs/{clubId}/page': {
      parameters: [{ name: 'clubId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'clubPage', responses: { '200': { description: 'the club’s page', ...html } } },
    },
    '/api/notices/{noticeId}': {
      parameters: [{ name: 'noticeId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'getNotice',
        responses: { '200': { description: 'the notice', ...json({ type: 'object' }) } },
      },
    },
  },
};

const MEMBERS = [
  { handle: 'alice', passphrase: 'marigold-ferry-31' },
  { handle: 'bob', passphrase: 'quartz-lantern-58' },
];

interface Post {
  postId: number;
  author: string;
  subject: string;
  message: string;
  mood: string;
}

interface Board extends TestServer {
  readonly posts: Post[];
  readonly replies: { replyId: number; author: string; text: string }[];
  readonly clubs: { clubId: number; founder: string; name: string; motto: string }[];
  readonly notices: { noticeId: number; author: string; text: string }[];
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The document with a sign-up (`POST /register {handle, passphrase}`): the scan then stores as an account of its own. */
const SIGNUP_SPEC = {
  ...SPEC,
  paths: {
    ...SPEC.paths,
    '/register': {
      post: {
        operationId: 'register',
        security: [],
        requestBody: json({
          type: 'object',
          required: ['handle', 'passphrase'],
          properties: { handle: { type: 'string' }, passphrase: { type: 'string' } },
        }),
        responses: { '201': { description: 'registered' } },
      },
    },
  },
};

async function startBoard(fixed: boolean): Promise<Board> {
  const accounts = MEMBERS.map((m) => ({ ...m }));
  const posts: Post[] = [
    {
      postId: 1,
      author: 'alice',
      subject: 'Saturday ride',
      message: 'Meet at the bridge, 9am.',
      mood: 'glad',
    },
    { postId: 2, author: 'bob', subject: 'Lost glove', message: 'Black, left hand.', mood: 'grumpy' },
  ];
  const notices: Board['notices'] = [{ noticeId: 1, author: 'alice', text: 'Dues are due.' }];
  const replies: Board['replies'] = [{ replyId: 1, author: 'bob', text: 'Count me in.' }];
  const clubs: Board['clubs'] = [{ clubId: 1, founder: 'alice', name: 'Night riders', motto: 'Lights on.' }];
  let next = 3;
  const sessions = new Map<string, string>();
  const send = (
    res: ServerResponse,
    status: number,
    body?: unknown,
    type = 'application/json; charset=utf-8',
  ) => {
    res.writeHead(status, body === undefined ? {} : { 'content-type': type });
    res.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  };
  const page = (title: string, items: Post[]) => {
    const text = (s: string) => (fixed ? escapeHtml(s) : s);
    return `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1>${items
      .map(
        (p) =>
          `<article><h2>${text(p.subject)}</h2><p>${text(p.message)}</p><small>${p.author}</small></article>`,
      )
      .join('')}</body></html>`;
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const text = await readText(req);
    if (req.method === 'POST' && url.pathname === '/session') {
      const form = new URLSearchParams(text);
      const m = accounts.find(
        (x) => x.handle === form.get('handle') && x.passphrase === form.get('passphrase'),
      );
      if (!m) return send(res, 401, { error: 'wrong handle or passphrase' });
      const sid = randomBytes(12).toString('hex');
      sessions.set(sid, m.handle);
      res.writeHead(204, { 'set-cookie': `board.sid=${sid}; Path=/; HttpOnly; SameSite=Lax` });
      return res.end();
    }
    if (req.method === 'POST' && url.pathname === '/register') {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text || '{}');
      } catch {}
      if (typeof body.handle !== 'string' || typeof body.passphrase !== 'string')
        return send(res, 400, { error: 'handle and passphrase are required' });
      if (accounts.some((a) => a.handle === body.handle)) return send(res, 409, { error: 'handle taken' });
      accounts.push({ handle: body.handle, passphrase: body.passphrase });
      return send(res, 201, { handle: body.handle });
    }
    const sid = /(?:^|;\s*)board\.sid=([0-9a-f]+)/.exec(String(req.headers.cookie ?? ''))?.[1];
    const me = sid ? sessions.get(sid) : undefined;
    if (!me) return send(res, 401, { error: 'sign in first' });
    let input: Record<string, unknown> = {};
    if (text && !url.pathname.startsWith('/api/replies')) {
      try {
        input = JSON.parse(text);
      } catch {
        return send(res, 400, { error: 'invalid JSON' });
      }
    }
    if (url.pathname === '/board' && req.method === 'GET')
      return send(res, 200, page('Club board', posts), 'text/html; charset=utf-8');
    if (url.pathname === '/api/posts') {
      if (req.method === 'GET') return send(res, 200, posts);
      if (req.method === 'POST') {
        if (typeof input.subject !== 'string' || typeof input.message !== 'string')
          return send(res, 400, { error: 'subject and message are required' });
        const p: Post = {
          postId: next++,
          author: me,
          subject: input.subject,
          message: input.message,
          mood: input.mood === 'grumpy' ? 'grumpy' : 'glad',
        };
        posts.push(p);
        return send(res, 201, { post: p });
      }
    }
    const m = /^\/api\/posts\/(\d+)(\/preview)?$/.exec(url.pathname);
    if (m) {
      const p = posts.find((x) => x.postId === Number(m[1]));
      if (!p) return send(res, 404, { error: 'no such post' });
      if (m[2] && req.method === 'GET')
        return send(res, 200, page(p.subject.slice(0, 40), [p]), 'text/html; charset=utf-8');
      if (req.method === 'GET')
        return fixed ? send(res, 200, p) : send(res, 200, JSON.stringify(p), 'text/html; charset=utf-8');
      if (req.method === 'DELETE' && !m[2]) {
        if (p.author !== me) return send(res, 403, { error: 'not your post' });
        posts.splice(posts.indexOf(p), 1);
        return send(res, 204);
      }
    }
    if (url.pathname === '/api/replies' && req.method === 'POST') {
      // A form post (its text field), made before the JSON parse below.
      const reply = new URLSearchParams(text).get('text');
      if (reply === null) return send(res, 400, { error: 'text is required' });
      const r = { replyId: next++, author: me, text: reply };
      replies.push(r);
      return send(res, 201, r);
    }
    const rp = /^\/api\/replies\/(\d+)$/.exec(url.pathname);
    if (rp) {
      const r = replies.find((x) => x.replyId === Number(rp[1]));
      if (!r) return send(res, 404, { error: 'no such reply' });
      if (req.method === 'GET')
        return send(
          res,
          200,
          `<p class="reply">${fixed ? escapeHtml(r.text) : r.text}</p>`,
          'text/html; charset=utf-8',
        );
      if (req.method === 'DELETE') {
        if (r.author !== me) return send(res, 403, { error: 'not your reply' });
        replies.splice(replies.indexOf(r), 1);
        return send(res, 204);
      }
    }
    if (url.pathname === '/api/clubs' && req.method === 'POST') {
      if (typeof input.name !== 'string') return send(res, 400, { error: 'name is required' });
      const c = { clubId: next++, founder: me, name: input.name, motto: '' };
      clubs.push(c);
      return send(res, 201, c);
    }
    const cm = /^\/api\/clubs\/(\d+)(\/page)?$/.exec(url.pathname);
    if (cm) {
      const c = clubs.find((x) => x.clubId === Number(cm[1]));
      if (!c) return send(res, 404, { error: 'no such club' });
      if (cm[2] && req.method === 'GET')
        return send(
          res,
          200,
          `<!doctype html><h1>${escapeHtml(c.name)}</h1><blockquote>${fixed ? escapeHtml(c.motto) : c.motto}</blockquote>`,
          'text/html; charset=utf-8',
        );
      if (cm[2]) return send(res, 405, { error: 'method not allowed' });
      if (req.method === 'GET') return send(res, 200, c);
      if (c.founder !== me) return send(res, 403, { error: 'not your club' });
      if (req.method === 'PATCH') {
        if (typeof input.motto === 'string') c.motto = input.motto;
        return send(res, 200, c);
      }
      if (req.method === 'DELETE') {
        clubs.splice(clubs.indexOf(c), 1);
        return send(res, 204);
      }
    }
    if (url.pathname === '/api/notices') {
      if (req.method === 'GET') return send(res, 200, notices);
      if (req.method === 'POST') {
        if (typeof input.text !== 'string') return send(res, 400, { error: 'text is required' });
        const n = { noticeId: next++, author: me, text: input.text };
        notices.push(n);
        return send(res, 201, n);
      }
    }
    const n = /^\/api\/notices\/(\d+)$/.exec(url.pathname);
    if (n && req.method === 'GET') {
      const found = notices.find((x) => x.noticeId === Number(n[1]));
      return found ? send(res, 200, found) : send(res, 404, { error: 'no such notice' });
    }
    return send(res, 404, { error: 'not found' });
  };
  const api = await startServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { error: 'server error' }));
  });
  return { ...api, posts, notices, replies, clubs };
}

async function scanBoard(fixed: boolean, signup = false) {
  const api = await startBoard(fixed);
  const before = JSON.stringify(api.posts.slice(0, 2));
  try {
    const result = await scanDocument(signup ? SIGNUP_SPEC : SPEC, api.url, {
      identities: MEMBERS.map((m) => ({
        name: m.handle,
        login: {
          path: '/session',
          encoding: 'form' as const,
          body: { handle: m.handle, passphrase: m.passphrase },
        },
      })),
      checks: ['API8'],
      ratePerSecond: 300,
      timeDelayMs: 300,
    });
    return { result, before, posts: api.posts, notices: api.notices, replies: api.replies, clubs: api.clubs };
  } finally {
    await api.close();
  }
}

const xss = (r: ScanResult) =>
  r.findings
    .filter((f) => f.rule.id === 'scan/api8-stored-xss')
    .map((f) => `${f.operation?.operationId}: ${f.message}`);

describe('stored XSS: a script stored through the JSON API and served back as a page', () => {
  test('the vulnerable twin: found on the post, the form reply and the club update, not on the notices served as JSON; nothing left in the data', async () => {
    const v = await scanBoard(false);
    const found = xss(v.result);
    assert.equal(found.length, 3, found.join('\n'));
    // The club's name is escaped on its page; its motto, set only by an update, is not.
    assert.match(
      found.find((f) => f.startsWith('updateClub')) ?? '',
      /^updateClub: PATCH \/api\/clubs\/\{clubId\} stored a script in motto \(as alice, on an object the scan created\), and GET \/api\/clubs\/\{clubId\}\/page served it back intact as text\/html/,
    );
    assert.match(
      found.find((f) => f.startsWith('createReply')) ?? '',
      /^createReply: POST \/api\/replies stored a script in text \(as alice\), and GET \/api\/replies\/\{replyId\} served it back intact as text\/html/,
    );
    assert.match(
      found.find((f) => f.startsWith('createPost')) ?? '',
      /^createPost: POST \/api\/posts stored a script in (subject|message) \(as alice\), and GET \/api\/posts\/\{postId\}(\/preview)? served it back intact as text\/html/,
    );
    assert.equal(JSON.stringify(v.posts.slice(0, 2)), v.before);
    assert.deepEqual(v.clubs[0], { clubId: 1, founder: 'alice', name: 'Night riders', motto: 'Lights on.' });
    const scripts = [...v.posts, ...v.notices, ...v.replies, ...v.clubs].filter((p) =>
      /<script>\/\*pcs/.test(JSON.stringify(p)),
    );
    assert.deepEqual(scripts, [], 'the scan’s scripts were left in the board');
    // Notices have no DELETE: no script stored there as alice, and the injection probes' notices are said to stay.
    const coverage = JSON.stringify(v.result.coverage);
    assert.match(coverage, /stored XSS not probed: the document has no DELETE of the item/);
    assert.ok(
      v.result.warnings.some((w) =>
        /POST \/api\/notices created \d+ objects? as alice: \d+ left in its data \(the document has no DELETE of the item\)/.test(
          w,
        ),
      ),
      v.result.warnings.join('\n'),
    );
  });

  test('the fixed twin (JSON as application/json, pages escaped) has no stored XSS finding', async () => {
    const f = await scanBoard(true);
    assert.deepEqual(xss(f.result), []);
    assert.equal(JSON.stringify(f.posts.slice(0, 2)), f.before);
  });

  test('with a sign-up: stored as the scan’s own account, found, and its scripts deleted too (a page lists everyone’s)', async () => {
    const v = await scanBoard(false, true);
    const found = xss(v.result);
    assert.ok(
      found.some((f) => /^createPost: POST \/api\/posts stored a script in \w+ \(as pci[0-9a-f]+\)/.test(f)),
      found.join('\n'),
    );
    const scripts = [...v.posts, ...v.notices, ...v.replies, ...v.clubs].filter((p) =>
      /<script>\/\*pcs/.test(JSON.stringify(p)),
    );
    assert.deepEqual(scripts, [], 'the scan’s scripts were left in the board');
  });
});
