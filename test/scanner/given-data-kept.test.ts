import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins, type TwinScans } from './twins.ts';

/**
 * A loyalty club as an RPC API of camelCase noun-verb routes (`/rpc/pointsTransfer`, `/rpc/noteRemove`,
 * `/rpc/myProfileUpdate`), a member key in `X-Member-Key`, SQLite behind it. Its document gives the members' real
 * wallet and note ids as examples, under names that do not say id (`source`, `target`, `note`). The vulnerable
 * twin moves points from any wallet and stores any profile field; the fixed one checks the owner and the fields.
 * A plain scan (no --allow-destructive) must leave every seeded row as it was on both: no points moved between the
 * given members (the ids are values the API gave out, whatever the inputs' names), no note of theirs deleted (a
 * verb after its noun acts), no made-up or privileged value written into their own profiles. And a member moving
 * their own points again is no API6 finding.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'loyalty club', version: '2.1.0' },
  components: { securitySchemes: { member: { type: 'apiKey', in: 'header', name: 'X-Member-Key' } } },
  security: [{ member: [] }],
  paths: {
    '/rpc/walletList': {
      get: { operationId: 'walletList', responses: { '200': { description: 'the caller wallets' } } },
    },
    '/rpc/pointsTransfer': {
      post: {
        operationId: 'pointsTransfer',
        summary: 'Move points from one of my wallets to another wallet',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['source', 'target', 'points'],
                properties: {
                  source: { type: 'string', example: 'W-88' },
                  target: { type: 'string', example: 'W-91' },
                  points: { type: 'integer', example: 20 },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'moved' } },
      },
    },
    '/rpc/noteList': {
      get: { operationId: 'noteList', responses: { '200': { description: 'my notes' } } },
    },
    '/rpc/noteRemove': {
      post: {
        operationId: 'noteRemove',
        requestBody: {
          content: {
            'application/json': {
              schema: { type: 'object', properties: { note: { type: 'integer', example: 31 } } },
            },
          },
        },
        responses: { '200': { description: 'removed' } },
      },
    },
    '/rpc/myProfile': {
      get: { operationId: 'myProfile', responses: { '200': { description: 'my profile' } } },
    },
    '/rpc/myProfileUpdate': {
      post: {
        operationId: 'myProfileUpdate',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { nickname: { type: 'string' }, email: { type: 'string', format: 'email' } },
              },
            },
          },
        },
        responses: { '200': { description: 'saved' } },
      },
    },
  },
};

const KEYS: Record<string, number> = { 'mk-kim-71d0a2': 1, 'mk-lou-c93e55': 2 };

interface Club {
  readonly url: string;
  readonly server: import('node:http').Server;
  readonly db: DatabaseSync;
  readonly seed: string;
  readonly requests: string[];
}

function dump(db: DatabaseSync): string {
  return ['members', 'wallets', 'notes']
    .map((t) => JSON.stringify(db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()))
    .join('\n');
}

async function startClub(fixed: boolean): Promise<Club> {
  const db = new DatabaseSync(':memory:');
  db.exec(`CREATE TABLE members(id INTEGER PRIMARY KEY, nickname TEXT, email TEXT, tier TEXT);
    CREATE TABLE wallets(wallet_id TEXT PRIMARY KEY, member INTEGER, points INTEGER);
    CREATE TABLE notes(note_id INTEGER PRIMARY KEY, member INTEGER, title TEXT);
    INSERT INTO members VALUES(1,'kim','kim@club.test','basic'),(2,'lou','lou@club.test','basic');
    INSERT INTO wallets VALUES('W-88',1,500),('W-91',2,700);
    INSERT INTO notes VALUES(31,1,'gate code'),(32,2,'shopping');`);
  const seed = dump(db);
  const requests: string[] = [];
  const { url, server } = await startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const body = (await readJson(req)) ?? {};
    requests.push(`${req.method} ${path} ${JSON.stringify(body)} ${req.headers['x-member-key'] ?? ''}`);
    const me = KEYS[String(req.headers['x-member-key'] ?? '')];
    if (me === undefined) return sendJson(res, 401, { fault: 'member key required' });
    const ok = (payload: unknown) => sendJson(res, 200, payload);
    if (req.method === 'GET' && path === '/rpc/walletList')
      return ok({
        wallets: db.prepare('SELECT wallet_id AS walletId, points FROM wallets WHERE member=?').all(me),
      });
    if (req.method === 'GET' && path === '/rpc/noteList')
      return ok({ notes: db.prepare('SELECT note_id AS noteId, title FROM notes WHERE member=?').all(me) });
    if (req.method === 'GET' && path === '/rpc/myProfile')
      return ok(db.prepare('SELECT nickname, email, tier FROM members WHERE id=?').get(me));
    if (req.method === 'POST' && path === '/rpc/pointsTransfer') {
      const from = db.prepare('SELECT * FROM wallets WHERE wallet_id=?').get(String(body.source ?? '')) as
        | { member: number; points: number }
        | undefined;
      const to = db.prepare('SELECT * FROM wallets WHERE wallet_id=?').get(String(body.target ?? ''));
      const points = Number(body.points);
      if (!from || !to) return sendJson(res, 404, { fault: 'no such wallet' });
      if (!Number.isInteger(points) || points <= 0 || from.points < points)
        return sendJson(res, 422, { fault: 'bad amount' });
      if (fixed && from.member !== me) return sendJson(res, 404, { fault: 'no such wallet' });
      db.prepare('UPDATE wallets SET points=points-? WHERE wallet_id=?').run(points, String(body.source));
      db.prepare('UPDATE wallets SET points=points+? WHERE wallet_id=?').run(points, String(body.target));
      return ok({ moved: points });
    }
    if (req.method === 'POST' && path === '/rpc/noteRemove') {
      const r = db
        .prepare('DELETE FROM notes WHERE note_id=? AND member=?')
        .run(Number(body.note ?? Number.NaN), me);
      return ok({ removed: Number(r.changes) });
    }
    if (req.method === 'POST' && path === '/rpc/myProfileUpdate') {
      for (const k of fixed ? ['nickname', 'email'] : ['nickname', 'email', 'tier'])
        if (typeof body[k] === 'string')
          db.prepare(`UPDATE members SET ${k}=? WHERE id=?`).run(String(body[k]).slice(0, 200), me);
      return ok({ saved: true });
    }
    return sendJson(res, 404, { fault: 'no such procedure' });
  });
  return { url, server, db, seed, requests };
}

describe("a plain scan leaves the given members' points, notes and profiles as they were", () => {
  let runs: TwinScans<Club>;
  before(async () => {
    runs = await scanTwins(SPEC, startClub, {
      identities: Object.keys(KEYS).map((k, i) => ({
        name: i === 0 ? 'kim' : 'lou',
        headers: { 'X-Member-Key': k },
      })),
      ratePerSecond: 200,
    });
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: every seeded row unchanged`, () => {
      const { api, result } = runs[kind];
      assert.ok(
        api.requests.some((r) => r.startsWith('GET /rpc/walletList')),
        'the scan read the wallets',
      );
      const moved = api.requests.filter(
        (r) => r.startsWith('POST /rpc/pointsTransfer') && r.includes('W-88'),
      );
      const removed = api.requests.filter((r) => r.startsWith('POST /rpc/noteRemove') && /\b3[12]\b/.test(r));
      const written = api.requests.filter((r) => r.startsWith('POST /rpc/myProfileUpdate') && /mk-/.test(r));
      assert.deepEqual({ moved, removed, written }, { moved: [], removed: [], written: [] });
      assert.equal(dump(api.db), api.seed, operationsFound(result).join('\n'));
    });
  }

  test('fixed: no API6 finding for a member moving their own points', () => {
    const found = runs.fixed.result.findings.filter(
      (f) => f.rule.id === 'scan/api6-repeatable-business-flow',
    );
    assert.deepEqual(
      found.map((f) => f.message),
      [],
    );
  });
});
