import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A choir's rehearsal planner in a Sinatra-like style (`{"errors": [...]}`, `Authorization: Token token=...`).
 * - `POST /api/songs {song, member_id}`: a song suggestion form that stores nothing and answers the body it got
 *   (`{"song": <the body>}`), on both twins: an echo proves no object made in anyone's name. The board it
 *   would feed (`GET /api/songs/{id}`) holds two seeded songs.
 * - `POST /api/parts {song, voice, member_id}`: a part assigned to a singer, stored with an id and read at
 *   `GET /api/parts/{id}` by its singer only. Vulnerable: `member_id` is taken from the body, so one singer files a
 *   part under another; fixed twin: the part is always the caller's.
 */
const json = (properties: Record<string, unknown>) => ({
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'choir planner', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/api/me': { get: { operationId: 'me', responses: { '200': { description: 'the singer' } } } },
    '/api/songs': {
      post: {
        operationId: 'suggestSong',
        requestBody: json({ song: { type: 'string' }, member_id: { type: 'integer' } }),
        responses: { '201': { description: 'the suggestion' } },
      },
    },
    '/api/songs/{id}': {
      get: {
        operationId: 'getSong',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a song on the board' } },
      },
    },
    '/api/parts': {
      post: {
        operationId: 'assignPart',
        requestBody: json({
          song: { type: 'string' },
          voice: { type: 'string' },
          member_id: { type: 'integer' },
        }),
        responses: { '201': { description: 'the part' } },
      },
    },
    '/api/parts/{id}': {
      get: {
        operationId: 'getPart',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'the part' } },
      },
      delete: {
        operationId: 'dropPart',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '204': { description: 'dropped' } },
      },
    },
  },
};

const SINGERS: Record<string, { id: number; handle: string }> = {
  'tk-alto-5521': { id: 7, handle: 'ines' },
  'tk-bass-8834': { id: 8, handle: 'olaf' },
};

/** The songs board: read by anyone signed in, never written through the API. */
const BOARD = [
  { id: 1, song: 'Ave verum', member_id: 7 },
  { id: 2, song: 'Locus iste', member_id: 8 },
];

function startChoir(fixed: boolean) {
  const parts = new Map<number, { id: number; song: string; voice: string; member_id: number }>();
  let next = 100;
  const api = startServer(async (req, res) => {
    const body = (await readJson(req)) ?? {};
    const path = new URL(req.url ?? '/', 'http://choir').pathname;
    const token = /^Token token=(.+)$/.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
    const me = SINGERS[token];
    if (!me) return sendJson(res, 401, { errors: ['sign in first'] });
    if (req.method === 'GET' && path === '/api/me') return sendJson(res, 200, me);
    if (req.method === 'POST' && path === '/api/songs') return sendJson(res, 201, { song: body });
    const r = /^\/api\/songs\/(\d+)$/.exec(path);
    if (req.method === 'GET' && r) {
      const found = BOARD.find((b) => b.id === Number(r[1]));
      return found ? sendJson(res, 200, found) : sendJson(res, 404, { errors: ['no such song'] });
    }
    if (req.method === 'POST' && path === '/api/parts') {
      if (typeof body.song !== 'string') return sendJson(res, 422, { errors: ['song is missing'] });
      const singer = !fixed && typeof body.member_id === 'number' ? body.member_id : me.id;
      const part = { id: next++, song: body.song, voice: String(body.voice ?? 'tutti'), member_id: singer };
      parts.set(part.id, part);
      return sendJson(res, 201, part);
    }
    const m = /^\/api\/parts\/(\d+)$/.exec(path);
    if (m) {
      const part = parts.get(Number(m[1]));
      if (!part || part.member_id !== me.id) return sendJson(res, 404, { errors: ['no such part'] });
      if (req.method === 'GET') return sendJson(res, 200, part);
      if (req.method === 'DELETE') {
        parts.delete(part.id);
        res.writeHead(204);
        return res.end();
      }
    }
    return sendJson(res, 404, { errors: ['not found'] });
  });
  return api.then((a) => Object.assign(a, { parts }));
}

describe('API1: a creation in another’s name is proven by what was stored, not by an echo of the body', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startChoir>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startChoir, {
        identities: [
          { name: 'ines', headers: { Authorization: 'Token token=tk-alto-5521' } },
          { name: 'olaf', headers: { Authorization: 'Token token=tk-bass-8834' } },
        ],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  const writes = (kind: 'vulnerable' | 'fixed') =>
    operationsFound(scans[kind].result).filter((f) => f.startsWith('scan/api1-bola-write'));

  test('vulnerable: the stored part in another singer’s name is found; the echoing suggestion form is not', () => {
    assert.deepEqual(writes('vulnerable'), ['scan/api1-bola-write assignPart']);
  });

  test('fixed twin: no write finding', () => {
    assert.deepEqual(writes('fixed'), []);
  });
});
