import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * The curl line of an injection proved by a creation that stored the value says how to replay it. A plate registry
 * (node:sqlite, bearer keys): `POST /plates {plate, holder}` (plate UNIQUE) answers `201 {id, plate, holder}`,
 * `GET /plates` lists the caller's. The vulnerable twin pastes both into its INSERT: a quote breaks it (hidden as
 * `500 {"error": "could not save"}`), two quotes are stored as one. Sent again as it was, the same line would hit the
 * UNIQUE plate (a duplicate refusal, not the evidence), so the line names the members to give fresh values.
 */
const json = (properties: Record<string, unknown>) => ({
  required: true,
  content: {
    'application/json': { schema: { type: 'object', required: Object.keys(properties), properties } },
  },
});
const PLATE = {
  type: 'object',
  properties: { id: { type: 'integer' }, plate: { type: 'string' }, holder: { type: 'string' } },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'plates', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/plates': {
      get: {
        operationId: 'listPlates',
        responses: {
          '200': {
            description: 'mine',
            content: { 'application/json': { schema: { type: 'array', items: PLATE } } },
          },
        },
      },
      post: {
        operationId: 'addPlate',
        requestBody: json({ plate: { type: 'string' }, holder: { type: 'string' } }),
        responses: {
          '201': { description: 'added', content: { 'application/json': { schema: PLATE } } },
          '409': { description: 'taken' },
        },
      },
    },
  },
};
const TOKENS: Record<string, string> = { 'pk-61c0d94e2ab7f358': 'ines', 'pk-0f7e35a9c1d24b86': 'piet' };

function startPlates(fixed: boolean): Promise<TestServer> {
  const db = new DatabaseSync(':memory:');
  db.exec(`CREATE TABLE plates(id INTEGER PRIMARY KEY, plate TEXT UNIQUE, holder TEXT, owner TEXT);
    INSERT INTO plates(plate, holder, owner) VALUES ('KX-1001', 'Ines V', 'ines'), ('KX-2002', 'Piet D', 'piet');`);
  return startServer(async (req, res) => {
    const who = TOKENS[/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''];
    if (!who) return sendJson(res, 401, { error: 'unauthorized' });
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/plates' && req.method === 'GET')
      return sendJson(res, 200, db.prepare('SELECT id, plate, holder FROM plates WHERE owner = ?').all(who));
    if (path === '/plates' && req.method === 'POST') {
      const body = (await readJson(req)) ?? {};
      const { plate, holder } = body;
      if (typeof plate !== 'string' || typeof holder !== 'string' || plate.length > 80 || holder.length > 80)
        return sendJson(res, 422, { error: 'plate and holder are required' });
      try {
        const r = fixed
          ? db.prepare('INSERT INTO plates(plate, holder, owner) VALUES (?, ?, ?)').run(plate, holder, who)
          : db
              .prepare(`INSERT INTO plates(plate, holder, owner) VALUES ('${plate}', '${holder}', ?)`)
              .run(who);
        const row = db.prepare('SELECT id, plate, holder FROM plates WHERE id = ?').get(r.lastInsertRowid);
        return sendJson(res, 201, row);
      } catch (err) {
        if (/UNIQUE/.test((err as Error).message)) return sendJson(res, 409, { error: 'plate taken' });
        return sendJson(res, 500, { error: 'could not save' });
      }
    }
    return sendJson(res, 404, { error: 'not found' });
  });
}

describe('the curl line of an injection a creation stored says how to replay it', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startPlates(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: Object.entries(TOKENS).map(([bearer, name]) => ({ name, bearer })),
          checks: ['API8'],
          ratePerSecond: 400,
          timeDelayMs: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  test('found on the vulnerable twin only; a stored proof names the members to give fresh values', () => {
    const sql = (r: ScanResult) => r.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection');
    assert.equal(sql(runs.fixed).length, 0);
    const stored = sql(runs.vulnerable).filter((f) => /stored as one/.test(f.message));
    assert.ok(
      stored.length > 0,
      sql(runs.vulnerable)
        .map((f) => f.message)
        .join('\n'),
    );
    for (const f of stored) {
      const curl = String(f.evidence?.curl);
      const field = String(f.evidence?.parameter);
      const other = field === 'plate' ? 'holder' : 'plate';
      assert.match(curl, /^curl -X POST .* # stored a record: to replay, give /);
      assert.match(curl.split(' # ')[1], new RegExp(`\\b${other}\\b.*\\b${field}\\b`));
    }
  });
});
