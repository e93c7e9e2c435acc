import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * Three shapes a third-party API answered that the scan took for flaws (session 13's end measurement):
 *
 * - the caller's own CSRF token, handed to it at `GET /api/csrf-token` (`{"csrfToken": ...}` and a `_csrf` cookie):
 *   a token given to its owner is no leak;
 * - boolean flags named like secrets in a settings answer (`secretsConfigured: true`, `hasPassword: false`,
 *   `apiKeySet: true`, `smtpPasswordSet: null`, `notifyByEmail: true`): the value says whether a secret exists, not what it is;
 * - a fake upload route named for votes (`POST /api/votes/upload`, accepted and dropped): a name in the path
 *   proves no business flow; only a count that moves does.
 *
 * Style: hapi-like (Boom errors `{statusCode, error, message}`), short string ids (`p_3f9a...`), a session token
 * in `Authorization: Session <token>` from `POST /api/session {handle, secret}` answering `{session: {token}}`,
 * writes that also take the CSRF header, 204 answers to votes. Posts carry a vote count their read shows.
 *
 * The vulnerable twin counts every vote again (`POST /api/posts/{postId}/upvote` five times: five votes), and its
 * settings hand out the signing secret itself (`signingSecret: "..."`). The fixed twin counts one vote per caller
 * and hands out flags only. Nothing of alice's or bob's may change.
 */
const boom = (description: string) => ({ description });
const obj = (properties: Record<string, unknown>) => ({
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const POST = { id: { type: 'string' }, title: { type: 'string' }, votes: { type: 'integer' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'board', version: '2.1.0' },
  components: { securitySchemes: { session: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ session: [] }],
  paths: {
    '/api/session': {
      post: {
        operationId: 'openSession',
        security: [],
        requestBody: {
          required: true,
          ...obj({ handle: { type: 'string' }, secret: { type: 'string', format: 'password' } }),
        },
        responses: { '200': { description: 'a session' }, '401': boom('refused') },
      },
    },
    '/api/csrf-token': {
      get: {
        operationId: 'csrfToken',
        security: [],
        responses: {
          '200': { description: 'a CSRF token for this client', ...obj({ expiresIn: { type: 'integer' } }) },
        },
      },
    },
    '/api/settings': {
      get: {
        operationId: 'settings',
        responses: {
          '200': {
            description: 'what this workspace has set up',
            ...obj({ workspace: { type: 'string' }, theme: { type: 'string' } }),
          },
        },
      },
    },
    '/api/me': {
      get: {
        operationId: 'me',
        responses: {
          '200': { description: 'you', ...obj({ id: { type: 'string' }, handle: { type: 'string' } }) },
        },
      },
    },
    '/api/posts': {
      get: { operationId: 'listPosts', responses: { '200': { description: 'posts' } } },
      post: {
        operationId: 'createPost',
        requestBody: { required: true, ...obj({ title: { type: 'string', example: 'hello' } }) },
        responses: { '201': { description: 'the post', ...obj(POST) }, '400': boom('bad') },
      },
    },
    '/api/posts/{postId}': {
      get: {
        operationId: 'getPost',
        parameters: [{ name: 'postId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'a post', ...obj(POST) }, '404': boom('none') },
      },
    },
    '/api/posts/{postId}/upvote': {
      post: {
        operationId: 'upvotePost',
        parameters: [{ name: 'postId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '204': { description: 'counted' }, '404': boom('none') },
      },
    },
    '/api/votes/upload': {
      post: {
        operationId: 'uploadVotes',
        summary: 'Upload a ballot sheet (not implemented yet: accepted and dropped)',
        requestBody: { required: true, ...obj({ sheet: { type: 'string', example: 'ballots.csv' } }) },
        responses: { '202': { description: 'accepted', ...obj({ status: { type: 'string' } }) } },
      },
    },
  },
};

interface Member {
  id: string;
  handle: string;
  secret: string;
}
interface Post {
  id: string;
  owner: string;
  title: string;
  voters: string[];
}

const MEMBERS: readonly Member[] = [
  { id: 'u_alice', handle: 'alice', secret: 'alice-secret-77' },
  { id: 'u_bob', handle: 'bob', secret: 'bob-secret-88' },
  { id: 'u_root', handle: 'root', secret: 'root-secret-99' },
];

type Board = TwinTarget & { posts: Post[] };

function startBoard(fixed: boolean): Promise<Board> {
  const posts: Post[] = [
    { id: 'p_a1', owner: 'u_alice', title: 'alice writes', voters: ['u_bob'] },
    { id: 'p_b1', owner: 'u_bob', title: 'bob writes', voters: [] },
  ];
  const sessions = new Map<string, Member>();
  const signingSecret = randomBytes(24).toString('hex');
  const boomed = (res: Parameters<typeof sendJson>[0], status: number, error: string, message: string) =>
    sendJson(res, status, { statusCode: status, error, message }, GUARDED_JSON);
  const view = (p: Post) => ({ id: p.id, title: p.title, votes: p.voters.length });
  return startServer(async (req, res) => {
    const body = (await readJson(req)) ?? {};
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const send = (status: number, payload: unknown, headers = {}) =>
      sendJson(res, status, payload, { ...GUARDED_JSON, 'ratelimit-limit': '100', ...headers });
    if (req.method === 'POST' && path === '/api/session') {
      const m = MEMBERS.find((x) => x.handle === body.handle && x.secret === body.secret);
      if (!m) return boomed(res, 401, 'Unauthorized', 'Invalid handle or secret');
      const token = randomBytes(20).toString('base64url');
      sessions.set(token, m);
      return send(200, { session: { token, expiresIn: 3600 } });
    }
    if (req.method === 'GET' && path === '/api/csrf-token') {
      const csrf = randomBytes(18).toString('base64url');
      return send(
        200,
        { csrfToken: csrf, expiresIn: 7200 },
        { 'set-cookie': `_csrf=${csrf}; Path=/; HttpOnly; SameSite=Strict` },
      );
    }
    const token = (req.headers.authorization ?? '').replace(/^(?:Session|Bearer) /, '');
    const me = sessions.get(token);
    if (!me) return boomed(res, 401, 'Unauthorized', 'Missing session');
    if (req.method === 'GET' && path === '/api/me') return send(200, { id: me.id, handle: me.handle });
    if (req.method === 'GET' && path === '/api/settings') {
      const base = { workspace: 'acme', theme: 'dark' };
      return send(
        200,
        fixed
          ? {
              ...base,
              secretsConfigured: true,
              hasPassword: true,
              apiKeySet: false,
              smtpPasswordSet: null,
              notifyByEmail: true,
            }
          : { ...base, secretsConfigured: true, signingSecret },
      );
    }
    if (req.method === 'GET' && path === '/api/posts') return send(200, posts.map(view));
    if (req.method === 'POST' && path === '/api/posts') {
      if (typeof body.title !== 'string' || body.title.length > 200)
        return boomed(res, 400, 'Bad Request', '"title" must be a string');
      if (posts.length > 200) return boomed(res, 429, 'Too Many Requests', 'Too many posts');
      const p: Post = {
        id: `p_${randomBytes(4).toString('hex')}`,
        owner: me.id,
        title: body.title,
        voters: [],
      };
      posts.push(p);
      return send(201, view(p));
    }
    const m = /^\/api\/posts\/([\w-]+)(\/upvote)?$/.exec(path);
    const post = m ? posts.find((p) => p.id === m[1]) : undefined;
    if (m && !post) return boomed(res, 404, 'Not Found', 'Post not found');
    if (req.method === 'GET' && post && !m?.[2]) return send(200, view(post));
    if (req.method === 'POST' && post && m?.[2]) {
      // Fixed: one vote per caller (a repeat is accepted and changes nothing).
      if (!fixed || !post.voters.includes(me.id)) post.voters.push(me.id);
      res.writeHead(204, GUARDED_JSON);
      return res.end();
    }
    if (req.method === 'POST' && path === '/api/votes/upload') return send(202, { status: 'accepted' });
    return boomed(res, 404, 'Not Found', 'Not Found');
  }).then((api) => Object.assign(api, { posts }));
}

const given = (posts: readonly Post[]) =>
  posts
    .filter((p) => p.id === 'p_a1' || p.id === 'p_b1')
    .map((p) => `${p.id} ${p.title} ${p.voters.join(',')}`)
    .sort();

const about = (r: ScanResult, re: RegExp) =>
  r.findings.filter((f) => re.test(f.message)).map((f) => `${f.rule.id}: ${f.message}`);

describe("the caller's own CSRF token, flags named like secrets and a fake vote upload", () => {
  let runs: TwinScans<Board>;
  before(async () => {
    const identity = (m: Member) => ({
      name: m.handle,
      login: { path: '/api/session', body: { handle: m.handle, secret: m.secret } },
    });
    runs = await scanTwins(SPEC, startBoard, {
      identities: [identity(MEMBERS[0]), identity(MEMBERS[1])],
      admin: identity(MEMBERS[2]),
      checks: ['API3', 'API6', 'API8'],
      ratePerSecond: 200,
    });
  });

  test('fixed: no finding on the CSRF token, the settings flags or the vote upload', () => {
    assert.deepEqual(about(runs.fixed.result, /csrf|settings|votes\/upload|upvote/i), []);
  });

  test('fixed: no finding at all', () => {
    assert.deepEqual(
      runs.fixed.result.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });

  test('vulnerable: the signing secret and the repeated vote are reported', () => {
    const found = runs.vulnerable.result.findings.map((f) => `${f.rule.id}: ${f.message}`);
    assert.ok(
      found.some((m) => m.includes('/api/settings') && m.includes('signingSecret')),
      JSON.stringify(found),
    );
    assert.ok(
      // Judged by the post's count read back: the upvote answers 204 with nothing in it.
      found.some(
        (m) =>
          m.startsWith('scan/api6') &&
          m.includes('/upvote') &&
          /votes went \d+, \d+ after one, \d+ after 5/.test(m),
      ),
      JSON.stringify(found),
    );
    assert.ok(!found.some((m) => /csrf|votes\/upload/i.test(m)), JSON.stringify(found));
  });

  test("neither twin changed alice's or bob's posts", () => {
    const seeded = ['p_a1 alice writes u_bob', 'p_b1 bob writes '];
    assert.deepEqual(given(runs.vulnerable.api.posts), seeded);
    assert.deepEqual(given(runs.fixed.api.posts), seeded);
  });
});
