import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A writers' board (bearer keys): `GET /posts` lists every post to anyone, each with its author's public card
 * (`username`, `bio`, `avatar`); `GET /people/{username}` answers the same card (and whether the reader follows) to
 * anyone signed in, by design. Review R2 saw `GET /profiles/{username}` of a RealWorld backend reported as "bob read
 * alice's data". The vulnerable twin also answers `GET /people/{username}/settings` (e-mail, phone) to anyone signed
 * in: that one is the finding.
 */
const handleParam = [{ name: 'username', in: 'path', required: true, schema: { type: 'string' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'writers board', version: '1' },
  components: { securitySchemes: { key: { type: 'http', scheme: 'bearer' } } },
  security: [{ key: [] }],
  paths: {
    '/me': { get: { operationId: 'me', responses: { '200': { description: 'the caller' } } } },
    '/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' } },
      },
    },
    '/posts': {
      get: { operationId: 'listPosts', security: [], responses: { '200': { description: 'every post' } } },
    },
    '/people/{username}': {
      parameters: handleParam,
      get: { operationId: 'getPerson', responses: { '200': { description: 'a public card' } } },
    },
    '/people/{username}/settings': {
      parameters: handleParam,
      get: { operationId: 'getSettings', responses: { '200': { description: 'contact settings' } } },
    },
  },
};
const KEYS: Record<string, string> = { 'Bearer wb-maya-11c2': 'maya', 'Bearer wb-olek-7d40': 'olek' };
const PEOPLE: Record<string, { bio: string; avatar: string; email: string; phone: string }> = {
  maya: { bio: 'Short fiction', avatar: '/a/maya.png', email: 'maya@board.test', phone: '+1 555 0101' },
  olek: { bio: 'Poems, mostly', avatar: '/a/olek.png', email: 'olek@board.test', phone: '+1 555 0102' },
};
const POSTS = [
  { id: 1, title: 'Harbour lights', author: 'maya' },
  { id: 2, title: 'Winter verses', author: 'olek' },
];
const card = (handle: string) => ({
  username: handle,
  bio: PEOPLE[handle].bio,
  avatar: PEOPLE[handle].avatar,
});

const PASSWORDS: Record<string, string> = { maya: 'Maya-harbour-2291', olek: 'Olek-verses-8830' };

function startBoard(fixed: boolean) {
  return startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/login') {
      const body = await readJson(req);
      const who = String(body?.username ?? '');
      if (PASSWORDS[who] === undefined || PASSWORDS[who] !== body?.password)
        return sendJson(res, 401, { error: 'wrong user name or password' });
      const key = Object.keys(KEYS).find((k) => KEYS[k] === who)!;
      return sendJson(res, 200, { user: { username: who, token: key.slice('Bearer '.length) } });
    }
    req.resume();
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
    if (path === '/posts')
      return sendJson(res, 200, { posts: POSTS.map((p) => ({ ...p, author: card(p.author) })) });
    const me = KEYS[String(req.headers.authorization ?? '')];
    if (me === undefined) return sendJson(res, 401, { error: 'sign in' });
    if (path === '/me') return sendJson(res, 200, { user: { username: me, email: PEOPLE[me].email } });
    const m = /^\/people\/([^/]+)(\/settings)?$/.exec(path);
    const handle = m ? decodeURIComponent(m[1]) : '';
    if (!m || !(handle in PEOPLE)) return sendJson(res, 404, { error: 'no such person' });
    if (!m[2]) return sendJson(res, 200, { person: { ...card(handle), followed: false } });
    if (fixed && handle !== me) return sendJson(res, 403, { error: 'not yours' });
    return sendJson(res, 200, { settings: { email: PEOPLE[handle].email, phone: PEOPLE[handle].phone } });
  });
}

describe('API1: a public card another caller already got inside a list is no object of the owner’s', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startBoard>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startBoard, {
        identities: [
          { name: 'maya', login: { path: '/login', body: { username: 'maya', password: PASSWORDS.maya } } },
          { name: 'olek', login: { path: '/login', body: { username: 'olek', password: PASSWORDS.olek } } },
        ],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test('vulnerable: another person’s contact settings are found, the public card is not', () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-read getSettings'), found.join());
    assert.ok(!found.includes('scan/api1-bola-read getPerson'), found.join());
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
