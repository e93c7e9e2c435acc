import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A team board service (X-Board-Key keys): `POST /boards {title, member_ids?}` makes a board of the caller's, shared
 * with the members it lists (user ids, optional); a board and its cards are read by its members alone. Review R2
 * (session 16) saw a DRF project tracker whose `contributors_ids` the scan sampled as `[1]`: bob's new project
 * listed alice (user 1) as a contributor, and her allowed read of it was reported as "alice read bob's object".
 * Here the board list shows no member ids, so joao's first creation is planned before the scan knows his id: at
 * fc3e441 it sent `member_ids: [1]` and shared joao's board with ines (the last test fails there). The vulnerable
 * twin also answers `GET /boards/{boardId}/cards` to anyone signed in: that one is the finding.
 */
const boardParam = [{ name: 'boardId', in: 'path', required: true, schema: { type: 'integer' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'team boards', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Board-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/boards': {
      get: {
        operationId: 'listBoards',
        responses: { '200': { description: 'the boards one is a member of' } },
      },
      post: {
        operationId: 'createBoard',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['title'],
                properties: {
                  title: { type: 'string' },
                  member_ids: {
                    type: 'array',
                    items: { type: 'integer' },
                    description: 'users the board is shared with',
                  },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'the board' } },
      },
    },
    '/boards/{boardId}': {
      parameters: boardParam,
      get: { operationId: 'getBoard', responses: { '200': { description: 'a board, to its members' } } },
      delete: { operationId: 'deleteBoard', responses: { '204': { description: 'deleted by its owner' } } },
    },
    '/boards/{boardId}/cards': {
      parameters: boardParam,
      get: { operationId: 'listCards', responses: { '200': { description: 'the cards of a board' } } },
    },
  },
};
const KEYS: Record<string, number> = { 'tb-ines-40f1': 1, 'tb-joao-9c27': 2 };
const NAMES: Record<number, string> = { 1: 'ines', 2: 'joao' };

interface Board {
  id: number;
  title: string;
  owner: number;
  members: number[];
  cards: string[];
}

function startBoards(fixed: boolean) {
  const boards = new Map<number, Board>([
    [1, { id: 1, title: 'Ines roadmap', owner: 1, members: [1], cards: ['Ines: hire a designer'] }],
    [2, { id: 2, title: 'Joao budget', owner: 2, members: [2], cards: ['Joao: salary review 2027'] }],
  ]);
  /** Every board a request made, kept after a DELETE: whom each was shared with. */
  const made: Board[] = [];
  let next = 3;
  const view = (b: Board) => ({
    id: b.id,
    title: b.title,
    owner: NAMES[b.owner],
    members: b.members.map((m) => ({ id: m, username: NAMES[m] })),
  });
  const api = startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const me = KEYS[String(req.headers['x-board-key'] ?? '')];
    if (me === undefined) {
      req.resume();
      return sendJson(res, 401, { error: 'a board key is needed' });
    }
    if (req.method === 'POST' && path === '/boards') {
      const body = await readJson(req);
      if (typeof body?.title !== 'string' || body.title === '') return sendJson(res, 400, { error: 'title' });
      const asked = Array.isArray(body.member_ids) ? body.member_ids : [];
      const members = [
        me,
        ...asked.filter((m): m is number => typeof m === 'number' && m in NAMES && m !== me),
      ];
      const b: Board = {
        id: next++,
        title: body.title,
        owner: me,
        members,
        cards: [`first card of ${body.title}`],
      };
      boards.set(b.id, b);
      made.push(b);
      return sendJson(res, 201, view(b));
    }
    req.resume();
    if (req.method === 'GET' && path === '/boards')
      return sendJson(res, 200, {
        boards: [...boards.values()]
          .filter((b) => b.members.includes(me))
          .map((b) => ({ id: b.id, title: b.title, owner: NAMES[b.owner] })),
      });
    const m = /^\/boards\/(\d+)(\/cards)?$/.exec(path);
    const b = m ? boards.get(Number(m[1])) : undefined;
    if (!m || !b) return sendJson(res, 404, { error: 'no such board' });
    if (req.method === 'DELETE' && !m[2]) {
      if (b.owner !== me) return sendJson(res, 403, { error: 'only its owner deletes a board' });
      boards.delete(b.id);
      res.writeHead(204).end();
      return;
    }
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
    const member = b.members.includes(me);
    if (m[2]) {
      if (fixed && !member) return sendJson(res, 404, { error: 'no such board' });
      return sendJson(res, 200, { cards: b.cards.map((text, i) => ({ id: i + 1, text })) });
    }
    if (!member) return sendJson(res, 404, { error: 'no such board' });
    return sendJson(res, 200, view(b));
  });
  return api.then((started) => ({ ...started, made }));
}

describe('API1 and safety: a creation shares its object with no one through a sampled list of member ids', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startBoards>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startBoards, {
        identities: [
          { name: 'ines', headers: { 'X-Board-Key': 'tb-ines-40f1' } },
          { name: 'joao', headers: { 'X-Board-Key': 'tb-joao-9c27' } },
        ],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test('vulnerable: another board’s cards read by a non-member are found, a board read by its member is not', () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-read listCards'), found.join());
    assert.ok(!found.includes('scan/api1-bola-read getBoard'), found.join());
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });

  test('every board the scan made is shared with no one but its maker', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const made = scans[kind].api.made;
      assert.ok(made.length > 0, `${kind}: the scan made boards`);
      for (const b of made) assert.deepEqual(b.members, [b.owner], `${kind}: board ${b.id} (${b.title})`);
    }
  });
});
