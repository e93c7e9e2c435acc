import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * Writes only the admin may send, and a member's write of its own record. A bike-parts catalogue (node:sqlite,
 * `X-Session` header from `POST /session {login, passphrase}`): `POST /parts` and `PUT /parts/{part_no}` are the
 * admin's (403 to members), `PUT /members/{member_id}` changes the caller's own record only (403 for anyone
 * else's, the admin's included), `POST /join` signs a member up, members book repairs (`POST /repairs`) and only the
 * workshop annotates one (`PATCH /repairs/{repair_id}`, 403 to its member), and only the workshop sets a member's tier
 * (`PUT /admin/members/{member_id}`). The vulnerable twin builds both UPDATEs with the
 * text of the body (`SET title = '<title>'`, `SET nickname = '<nickname>'`, `SET workshop_note = ...`); errors are
 * hidden as `500 {"oops": 1}`. The fixed twin binds them. A plain scan must probe the admin's writes on a repair a
 * member booked in the scan and on the tier of the account the scan registered, and the member write on that account:
 * no seeded part, repair nor given member changes. The document has no DELETE of a part: the admin adds none (it
 * would stay in the catalogue), so the part rename is not probed and the coverage says why (before session 15 the
 * admin added one, never deleted nor named, to probe the rename on).
 */
const str = { type: 'string' };
const body = (properties: Record<string, unknown>) => ({
  required: true,
  content: {
    'application/json': { schema: { type: 'object', required: Object.keys(properties), properties } },
  },
});
const PART = {
  type: 'object',
  properties: { part_no: { type: 'integer' }, title: str, grams: { type: 'integer' } },
};
const MEMBER = { type: 'object', properties: { member_id: { type: 'integer' }, login: str, nickname: str } };
const REPAIR = {
  type: 'object',
  properties: { repair_id: { type: 'integer' }, bike: str, issue: str, workshop_note: str },
};
const res200 = (schema: object) => ({
  '200': { description: 'ok', content: { 'application/json': { schema } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'bike parts', version: '1' },
  components: { securitySchemes: { session: { type: 'apiKey', in: 'header', name: 'X-Session' } } },
  security: [{ session: [] }],
  paths: {
    '/join': {
      post: {
        operationId: 'join',
        security: [],
        requestBody: body({ login: str, passphrase: { type: 'string', format: 'password' } }),
        responses: { '201': { description: 'joined', content: { 'application/json': { schema: MEMBER } } } },
      },
    },
    '/session': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: body({ login: str, passphrase: { type: 'string', format: 'password' } }),
        responses: res200({ type: 'object', properties: { session: str } }),
      },
    },
    '/members/{member_id}': {
      parameters: [{ name: 'member_id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'getMember', responses: res200(MEMBER) },
      put: { operationId: 'updateMember', requestBody: body({ nickname: str }), responses: res200(MEMBER) },
    },
    '/admin/members/{member_id}': {
      parameters: [{ name: 'member_id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'adminGetMember', responses: res200(MEMBER) },
      put: { operationId: 'adminSetTier', requestBody: body({ tier: str }), responses: res200(MEMBER) },
    },
    '/parts': {
      get: { operationId: 'listParts', responses: res200({ type: 'array', items: PART }) },
      post: {
        operationId: 'addPart',
        requestBody: body({ title: str, grams: { type: 'integer' } }),
        responses: { '201': { description: 'added', content: { 'application/json': { schema: PART } } } },
      },
    },
    '/repairs': {
      get: { operationId: 'listRepairs', responses: res200({ type: 'array', items: REPAIR }) },
      post: {
        operationId: 'bookRepair',
        requestBody: body({ bike: str, issue: str }),
        responses: { '201': { description: 'booked', content: { 'application/json': { schema: REPAIR } } } },
      },
    },
    '/repairs/{repair_id}': {
      parameters: [{ name: 'repair_id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'getRepair', responses: res200(REPAIR) },
      patch: {
        operationId: 'annotateRepair',
        requestBody: body({ workshop_note: str }),
        responses: res200(REPAIR),
      },
    },
    '/parts/{part_no}': {
      parameters: [{ name: 'part_no', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'getPart', responses: res200(PART) },
      put: {
        operationId: 'renamePart',
        requestBody: body({ title: str, grams: { type: 'integer' } }),
        responses: res200(PART),
      },
    },
  },
};
const GIVEN = [
  { login: 'maren', passphrase: 'maren-pass-4411', admin: false },
  { login: 'jonas', passphrase: 'jonas-pass-7720', admin: false },
  { login: 'workshop', passphrase: 'workshop-pass-0903', admin: true },
];

interface Shop extends TestServer {
  readonly db: DatabaseSync;
}

async function startShop(fixed: boolean): Promise<Shop> {
  const db = new DatabaseSync(':memory:');
  db.exec(`CREATE TABLE members(member_id INTEGER PRIMARY KEY, login TEXT UNIQUE, passphrase TEXT, nickname TEXT,
      admin INTEGER, tier TEXT DEFAULT 'basic');
    CREATE TABLE parts(part_no INTEGER PRIMARY KEY, title TEXT, grams INTEGER, added_by INTEGER);
    INSERT INTO parts(title, grams, added_by) VALUES ('chain 11s', 257, 3), ('brake pads', 40, 3);
    CREATE TABLE repairs(repair_id INTEGER PRIMARY KEY, member INTEGER, bike TEXT, issue TEXT, workshop_note TEXT);
    INSERT INTO repairs(member, bike, issue, workshop_note) VALUES (1, 'gravel', 'creaks', ''), (2, 'city', 'flat', '');`);
  for (const g of GIVEN)
    db.prepare('INSERT INTO members(login, passphrase, nickname, admin) VALUES (?, ?, ?, ?)').run(
      g.login,
      g.passphrase,
      g.login,
      g.admin ? 1 : 0,
    );
  const sessions = new Map<string, number>();
  const member = (id: number) =>
    db.prepare('SELECT member_id, login, nickname, tier FROM members WHERE member_id = ?').get(id);
  const part = (no: number) =>
    db.prepare('SELECT part_no, title, grams FROM parts WHERE part_no = ?').get(no);
  const api = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      if (req.method === 'POST' && url.pathname === '/join') {
        const b = await readJson(req);
        if (typeof b?.login !== 'string' || typeof b.passphrase !== 'string' || b.login === '')
          return sendJson(res, 400, { oops: 'login and passphrase' });
        const r = db
          .prepare('INSERT INTO members(login, passphrase, nickname, admin) VALUES (?, ?, ?, 0)')
          .run(b.login, b.passphrase, b.login);
        return sendJson(res, 201, member(Number(r.lastInsertRowid)));
      }
      if (req.method === 'POST' && url.pathname === '/session') {
        const b = await readJson(req);
        const row = db
          .prepare('SELECT member_id FROM members WHERE login = ? AND passphrase = ?')
          .get(String(b?.login), String(b?.passphrase));
        if (!row) return sendJson(res, 401, { oops: 'no' });
        const session = randomBytes(12).toString('hex');
        sessions.set(session, Number(row.member_id));
        return sendJson(res, 200, { session });
      }
      const me = sessions.get(String(req.headers['x-session'] ?? ''));
      if (me === undefined) return sendJson(res, 401, { oops: 'session' });
      const isAdmin = (db.prepare('SELECT admin FROM members WHERE member_id = ?').get(me)?.admin ?? 0) === 1;
      const am = /^\/admin\/members\/(\d+)$/.exec(url.pathname);
      if (am) {
        if (!isAdmin) return sendJson(res, 403, { oops: 'workshop only' });
        const id = Number(am[1]);
        if (!member(id)) return sendJson(res, 404, { oops: 'no member' });
        if (req.method === 'GET') return sendJson(res, 200, member(id));
        if (req.method === 'PUT') {
          const b = await readJson(req);
          const tier = String(b?.tier ?? '');
          if (fixed) db.prepare('UPDATE members SET tier = ? WHERE member_id = ?').run(tier, id);
          else db.exec(`UPDATE members SET tier = '${tier}' WHERE member_id = ${id}`);
          return sendJson(res, 200, member(id));
        }
      }
      const m = /^\/members\/(\d+)$/.exec(url.pathname);
      if (m) {
        const id = Number(m[1]);
        if (id !== me && !(isAdmin && req.method === 'GET')) return sendJson(res, 403, { oops: 'not yours' });
        if (req.method === 'GET') return member(id) ? sendJson(res, 200, member(id)) : sendJson(res, 404, {});
        if (req.method === 'PUT') {
          const b = await readJson(req);
          const nickname = String(b?.nickname ?? '');
          if (fixed) db.prepare('UPDATE members SET nickname = ? WHERE member_id = ?').run(nickname, id);
          else db.exec(`UPDATE members SET nickname = '${nickname}' WHERE member_id = ${id}`);
          return sendJson(res, 200, member(id));
        }
      }
      if (url.pathname === '/parts' && req.method === 'GET')
        return sendJson(res, 200, db.prepare('SELECT part_no, title, grams FROM parts').all());
      if (url.pathname === '/parts' && req.method === 'POST') {
        if (!isAdmin) return sendJson(res, 403, { oops: 'workshop only' });
        const b = await readJson(req);
        const r = db
          .prepare('INSERT INTO parts(title, grams, added_by) VALUES (?, ?, ?)')
          .run(String(b?.title ?? ''), Number(b?.grams) || 0, me);
        return sendJson(res, 201, part(Number(r.lastInsertRowid)));
      }
      const repair = (no: number) =>
        db
          .prepare('SELECT repair_id, bike, issue, workshop_note, member FROM repairs WHERE repair_id = ?')
          .get(no);
      const shown = (r: Record<string, unknown> | undefined) => {
        if (!r) return r;
        const { member: _m, ...rest } = r;
        return rest;
      };
      if (url.pathname === '/repairs' && req.method === 'GET')
        return sendJson(
          res,
          200,
          db
            .prepare('SELECT repair_id, bike, issue, workshop_note FROM repairs WHERE member = ? OR ?')
            .all(me, isAdmin ? 1 : 0),
        );
      if (url.pathname === '/repairs' && req.method === 'POST') {
        const b = await readJson(req);
        const r = db
          .prepare("INSERT INTO repairs(member, bike, issue, workshop_note) VALUES (?, ?, ?, '')")
          .run(me, String(b?.bike ?? ''), String(b?.issue ?? ''));
        return sendJson(res, 201, shown(repair(Number(r.lastInsertRowid))));
      }
      const rp = /^\/repairs\/(\d+)$/.exec(url.pathname);
      if (rp) {
        const no = Number(rp[1]);
        const row = repair(no);
        if (!row || (row.member !== me && !isAdmin)) return sendJson(res, 404, { oops: 'no repair' });
        if (req.method === 'GET') return sendJson(res, 200, shown(row));
        if (req.method === 'PATCH') {
          if (!isAdmin) return sendJson(res, 403, { oops: 'workshop only' });
          const b = await readJson(req);
          const note = String(b?.workshop_note ?? '');
          if (fixed) db.prepare('UPDATE repairs SET workshop_note = ? WHERE repair_id = ?').run(note, no);
          else db.exec(`UPDATE repairs SET workshop_note = '${note}' WHERE repair_id = ${no}`);
          return sendJson(res, 200, shown(repair(no)));
        }
      }
      const p = /^\/parts\/(\d+)$/.exec(url.pathname);
      if (p) {
        const no = Number(p[1]);
        if (!part(no)) return sendJson(res, 404, { oops: 'no part' });
        if (req.method === 'GET') return sendJson(res, 200, part(no));
        if (req.method === 'PUT') {
          if (!isAdmin) return sendJson(res, 403, { oops: 'workshop only' });
          const b = await readJson(req);
          const title = String(b?.title ?? '');
          const grams = Number(b?.grams) || 0;
          if (fixed)
            db.prepare('UPDATE parts SET title = ?, grams = ? WHERE part_no = ?').run(title, grams, no);
          else db.exec(`UPDATE parts SET title = '${title}', grams = ${grams} WHERE part_no = ${no}`);
          return sendJson(res, 200, part(no));
        }
      }
      return sendJson(res, 404, { oops: 'route' });
    } catch {
      return sendJson(res, 500, { oops: 1 });
    }
  });
  return Object.assign(api, { db });
}

describe("the admin's writes and a member's own record: probed on what the scan made", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const after = {} as Record<
    'vulnerable' | 'fixed',
    { members: unknown; parts: unknown; repairs: unknown; partCount: number }
  >;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const shop = await startShop(kind === 'fixed');
      try {
        const login = (g: (typeof GIVEN)[number]) => ({
          name: g.login,
          login: {
            path: '/session',
            body: { login: g.login, passphrase: g.passphrase },
            tokenPointer: '/session',
            header: 'X-Session',
          },
        });
        runs[kind] = await scanDocument(SPEC, shop.url, {
          identities: [login(GIVEN[0]), login(GIVEN[1])],
          admin: login(GIVEN[2]),
          checks: ['API8'],
          ratePerSecond: 400,
          timeDelayMs: 300,
        });
        after[kind] = {
          members: shop.db
            .prepare(
              'SELECT member_id, login, passphrase, nickname, admin, tier FROM members WHERE member_id <= 3',
            )
            .all()
            .map((r) => ({ ...r })),
          repairs: shop.db
            .prepare('SELECT repair_id, bike, issue, workshop_note FROM repairs WHERE repair_id <= 2')
            .all()
            .map((r) => ({ ...r })),
          parts: shop.db
            .prepare('SELECT part_no, title, grams FROM parts WHERE part_no <= 2')
            .all()
            .map((r) => ({ ...r })),
          partCount: Number((shop.db.prepare('SELECT count(*) AS n FROM parts').get() as { n: number }).n),
        };
      } finally {
        await shop.close();
      }
    }
  });

  const sql = (r: ScanResult) =>
    r.findings
      .filter((f) => f.rule.id === 'scan/api8-sql-injection')
      .map((f) => `${f.operation?.operationId} ${String(f.evidence?.parameter)}`)
      .sort();

  test("the admin's repair note and tier and the member's own update are SQL injection on the vulnerable twin only", () => {
    const found = sql(runs.vulnerable);
    assert.ok(found.includes('updateMember nickname'), found.join('; '));
    assert.ok(found.includes('annotateRepair workshop_note'), found.join('; '));
    assert.ok(found.includes('adminSetTier tier'), found.join('; '));
    assert.deepEqual(sql(runs.fixed), []);
  });

  test('no part added by the admin (nothing deletes one); the rename is said to be not probed, and why', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      assert.equal(after[kind].partCount, 2, kind);
      const rename = runs[kind].coverage.matrix.find(
        (m) => m.check === 'API8' && m.operation === 'PUT /parts/{part_no}',
      );
      assert.match(
        JSON.stringify(rename),
        /the admin makes none to probe it on where the document has no DELETE of it/,
      );
    }
  });

  test('no seeded part and no given member changed, on either twin', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      assert.deepEqual(
        after[kind].members,
        GIVEN.map((g, i) => ({
          member_id: i + 1,
          login: g.login,
          passphrase: g.passphrase,
          nickname: g.login,
          admin: g.admin ? 1 : 0,
          tier: 'basic',
        })),
        kind,
      );
      assert.deepEqual(
        after[kind].parts,
        [
          { part_no: 1, title: 'chain 11s', grams: 257 },
          { part_no: 2, title: 'brake pads', grams: 40 },
        ],
        kind,
      );
      assert.deepEqual(
        after[kind].repairs,
        [
          { repair_id: 1, bike: 'gravel', issue: 'creaks', workshop_note: '' },
          { repair_id: 2, bike: 'city', issue: 'flat', workshop_note: '' },
        ],
        kind,
      );
    }
  });
});
