import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans } from './twins.ts';

/**
 * API1's owner-field probe on a collection of who has access (review R2, session 13, U1): adding a person to a
 * board's collaborators by `user_id` is what the board owner's operation is for, so the person field there names
 * whom it grants access, not whose the object is; it is never an "object created in bob's name".
 *
 * Style: snake_case, integer ids, answers wrapped `{"ok": true, "result": ...}` (200 for a creation too, errors
 * `{"ok": false, "error": "..."}`), a Bearer token from `POST /session {handle, secret}` answering `{token, user}`.
 * The scan makes its own boards (POST /boards), and collaborators go into those. The vulnerable twin's board
 * creation takes an `owner_id` from the body (a board filed under someone else: the owner-field flaw); the fixed
 * twin's owner is always the caller. Both twins' collaborators are alike and correct.
 */
const INT = { type: 'integer' };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'boards', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/session': {
      post: {
        operationId: 'openSession',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { handle: { type: 'string' }, secret: { type: 'string' } },
                required: ['handle', 'secret'],
              },
            },
          },
        },
        responses: { '200': { description: 'token and user' } },
      },
    },
    '/boards': {
      get: { operationId: 'listBoards', responses: { '200': { description: 'boards you can see' } } },
      post: {
        operationId: 'createBoard',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { title: { type: 'string' }, owner_id: INT },
                required: ['title'],
              },
            },
          },
        },
        responses: { '200': { description: 'the board' } },
      },
    },
    '/boards/{board_id}': {
      parameters: [{ name: 'board_id', in: 'path', required: true, schema: INT }],
      get: { operationId: 'getBoard', responses: { '200': { description: 'a board' } } },
      delete: { operationId: 'deleteBoard', responses: { '200': { description: 'gone' } } },
    },
    '/boards/{board_id}/collaborators': {
      parameters: [{ name: 'board_id', in: 'path', required: true, schema: INT }],
      get: { operationId: 'listCollaborators', responses: { '200': { description: 'who has access' } } },
      post: {
        operationId: 'addCollaborator',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { user_id: INT, access: { type: 'string', enum: ['read', 'write'] } },
                required: ['user_id', 'access'],
              },
            },
          },
        },
        responses: { '200': { description: 'the collaborator' } },
      },
    },
    '/boards/{board_id}/collaborators/{collaborator_id}': {
      parameters: [
        { name: 'board_id', in: 'path', required: true, schema: INT },
        { name: 'collaborator_id', in: 'path', required: true, schema: INT },
      ],
      delete: { operationId: 'removeCollaborator', responses: { '200': { description: 'removed' } } },
    },
  },
};

interface Board {
  id: number;
  title: string;
  owner_id: number;
}
interface Collaborator {
  id: number;
  board_id: number;
  user_id: number;
  access: string;
}

function startBoards(fixed: boolean) {
  const users = [
    { id: 11, handle: 'alice' },
    { id: 12, handle: 'bob' },
  ];
  const boards: Board[] = [
    { id: 1, title: "alice's plans", owner_id: 11 },
    { id: 2, title: "bob's plans", owner_id: 12 },
  ];
  const collaborators: Collaborator[] = [];
  const sessions = new Map<string, number>();
  let next = 100;
  const ok = (res: Parameters<typeof sendJson>[0], result: unknown) =>
    sendJson(res, 200, { ok: true, result });
  const no = (res: Parameters<typeof sendJson>[0], status: number, error: string) =>
    sendJson(res, status, { ok: false, error });
  const sees = (b: Board, uid: number) =>
    b.owner_id === uid || collaborators.some((c) => c.board_id === b.id && c.user_id === uid);
  return startServer(async (req, res) => {
    const body = (await readJson(req)) ?? {};
    const url = new URL(req.url ?? '/', 'http://x');
    const seg = url.pathname.split('/').filter(Boolean);
    if (req.method === 'POST' && url.pathname === '/session') {
      const u = users.find((x) => x.handle === body.handle && body.secret === `${x.handle}-secret`);
      if (!u) return no(res, 401, 'bad handle or secret');
      const token = `t${next++}${Math.random().toString(36).slice(2)}`;
      sessions.set(token, u.id);
      return sendJson(res, 200, { token, user: u });
    }
    const uid = sessions.get((req.headers.authorization ?? '').replace('Bearer ', ''));
    if (uid === undefined) return no(res, 401, 'no session');
    if (seg[0] !== 'boards') return no(res, 404, 'no route');
    if (seg.length === 1 && req.method === 'GET')
      return ok(
        res,
        boards.filter((b) => sees(b, uid)),
      );
    if (seg.length === 1 && req.method === 'POST') {
      if (typeof body.title !== 'string') return no(res, 400, 'title');
      const owner =
        !fixed && typeof body.owner_id === 'number' && users.some((u) => u.id === body.owner_id)
          ? body.owner_id
          : uid;
      const b: Board = { id: next++, title: body.title, owner_id: owner };
      boards.push(b);
      return ok(res, b);
    }
    const board = boards.find((b) => b.id === Number(seg[1]));
    if (!board || !sees(board, uid)) return no(res, 404, 'no such board');
    if (seg.length === 2 && req.method === 'GET') return ok(res, board);
    if (seg.length === 2 && req.method === 'DELETE') {
      if (board.owner_id !== uid) return no(res, 403, 'owner only');
      boards.splice(boards.indexOf(board), 1);
      return ok(res, { deleted: board.id });
    }
    if (seg[2] !== 'collaborators') return no(res, 404, 'no route');
    if (seg.length === 3 && req.method === 'GET')
      return ok(
        res,
        collaborators.filter((c) => c.board_id === board.id),
      );
    if (board.owner_id !== uid) return no(res, 403, 'owner only');
    if (seg.length === 3 && req.method === 'POST') {
      const { user_id, access } = body;
      if (!users.some((u) => u.id === user_id) || !['read', 'write'].includes(String(access)))
        return no(res, 400, 'user_id and access');
      const c: Collaborator = {
        id: next++,
        board_id: board.id,
        user_id: Number(user_id),
        access: String(access),
      };
      collaborators.push(c);
      return ok(res, c);
    }
    if (seg.length === 4 && req.method === 'DELETE') {
      const c = collaborators.find((x) => x.id === Number(seg[3]) && x.board_id === board.id);
      if (!c) return no(res, 404, 'no such collaborator');
      collaborators.splice(collaborators.indexOf(c), 1);
      return ok(res, { removed: c.id });
    }
    return no(res, 404, 'no route');
  }).then((server) => ({ ...server, boards, collaborators }));
}

const ownerFields = (r: ScanResult) =>
  r.findings
    .filter((f) => f.rule.id === 'scan/api1-bola-write' && /by setting/.test(f.message))
    .map((f) => `${f.operation?.operationId}: ${f.message}`);

describe("API1's owner-field probe and collections of who has access", () => {
  let runs: TwinScans<Awaited<ReturnType<typeof startBoards>>>;
  before(async () => {
    const login = (n: string) => ({
      name: n,
      login: { path: '/session', body: { handle: n, secret: `${n}-secret` } },
    });
    runs = await scanTwins(SPEC, startBoards, {
      identities: [login('alice'), login('bob')],
      checks: ['API1'],
      ratePerSecond: 100,
    });
  });

  test('vulnerable: a board filed under bob by owner_id is found; adding a collaborator is not', () => {
    const found = ownerFields(runs.vulnerable.result);
    assert.ok(
      found.some((m) => m.startsWith('createBoard:')),
      JSON.stringify(found),
    );
    assert.ok(!found.some((m) => m.startsWith('addCollaborator:')), JSON.stringify(found));
  });

  test('fixed: no owner-field finding', () => {
    assert.deepEqual(ownerFields(runs.fixed.result), []);
  });

  test('the board the owner-field probe filed under bob is deleted after it', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        runs[kind].api.boards.filter((b) => b.title.includes('pcbola')),
        [],
        kind,
      );
  });

  test('the seeded boards are as they were, and no one is a collaborator on them', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { boards, collaborators } = runs[kind].api;
      assert.deepEqual(
        boards.filter((b) => b.id <= 2).map((b) => [b.id, b.owner_id]),
        [
          [1, 11],
          [2, 12],
        ],
        kind,
      );
      assert.deepEqual(
        collaborators.filter((c) => c.board_id <= 2),
        [],
        kind,
      );
    }
  });
});
