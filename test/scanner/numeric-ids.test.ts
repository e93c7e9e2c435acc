import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A club directory in an Express-like style on a real SQLite database (node:sqlite, in memory), an API key header:
 * `GET /api/members` (id and name of every member), `GET /api/members/{id}` and `GET /api/members/{id}/visits`.
 * Vulnerable: the path id is pasted into the statement unquoted (`WHERE id = ${id}`), and every database error is
 * a bare 500 (a quote and two quotes fail alike: no error text, no quote differential). Fixed twin: the id must be
 * digits and is bound; anything else is a 404.
 */
const KEYS = new Map([
  ['k-ana-41', 1],
  ['k-ben-77', 2],
]);

const SPEC = {
  openapi: '3.0.3',
  info: { title: 'club directory', version: '3.1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/api/members': {
      get: {
        operationId: 'listMembers',
        responses: {
          '200': {
            description: 'members',
            content: {
              'application/json': {
                schema: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: { id: { type: 'integer' }, name: { type: 'string' } },
                  },
                },
              },
            },
          },
        },
      },
    },
    '/api/members/{id}': {
      get: {
        operationId: 'getMember',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a member' }, '404': { description: 'no such member' } },
      },
    },
    '/api/members/{id}/visits': {
      get: {
        operationId: 'memberVisits',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'the member’s visits' } },
      },
    },
  },
};

async function startDirectory(fixed: boolean): Promise<{ url: string; server: Server; db: DatabaseSync }> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE members (id INTEGER PRIMARY KEY, name TEXT, city TEXT)');
  db.exec('CREATE TABLE visits (id INTEGER PRIMARY KEY, member_id INTEGER, day TEXT)');
  const names = ['ana', 'ben', 'carla', 'dirk', 'eva'];
  for (const [i, name] of names.entries())
    db.prepare('INSERT INTO members VALUES (?, ?, ?)').run(i + 1, name, i % 2 ? 'Gent' : 'Leuven');
  for (let i = 0; i < 15; i++)
    db.prepare('INSERT INTO visits (member_id, day) VALUES (?, ?)').run((i % 5) + 1, `2024-03-${10 + i}`);
  const api = await startServer((req, res) => {
    const send = (status: number, body: unknown) => sendJson(res, status, body, GUARDED_JSON);
    if (!KEYS.has(String(req.headers['x-api-key'] ?? ''))) return send(401, { error: 'unauthorized' });
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/members(?:\/([^/]+)(\/visits)?)?$/.exec(url.pathname);
    if (req.method !== 'GET' || !m) return send(404, { error: 'not found' });
    if (m[1] === undefined) return send(200, db.prepare('SELECT id, name FROM members ORDER BY id').all());
    const id = decodeURIComponent(m[1]);
    if (fixed && !/^\d+$/.test(id)) return send(404, { error: 'no such member' });
    try {
      if (m[2]) {
        const rows = fixed
          ? db.prepare('SELECT id, day FROM visits WHERE member_id = ? ORDER BY id').all(Number(id))
          : db.prepare(`SELECT id, day FROM visits WHERE member_id = ${id} ORDER BY id`).all();
        return send(200, rows);
      }
      const row = fixed
        ? db.prepare('SELECT id, name, city FROM members WHERE id = ?').get(Number(id))
        : db.prepare(`SELECT id, name, city FROM members WHERE id = ${id}`).get();
      return row ? send(200, row) : send(404, { error: 'no such member' });
    } catch {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('Internal Server Error');
    }
  });
  return { ...api, db };
}

describe('a numeric path id pasted into SQL unquoted, errors hidden', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: { db: DatabaseSync } }>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startDirectory, {
        identities: [
          { name: 'ana', headers: { 'x-api-key': 'k-ana-41' } },
          { name: 'ben', headers: { 'x-api-key': 'k-ben-77' } },
        ],
        checks: ['API8'],
        ratePerSecond: 200,
        timeDelayMs: 300,
      }),
    );
  });
  after(() => {
    for (const kind of ['vulnerable', 'fixed'] as const) scans[kind]?.api.db.close();
  });

  test('both reads are SQL injection, by AND 1=1 against AND 1=2', () => {
    const sql = scans.vulnerable.result.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection');
    assert.deepEqual(
      sql.map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}`).sort(),
      ['getMember id', 'memberVisits id'],
      operationsFound(scans.vulnerable.result).join('\n'),
    );
    for (const f of sql) assert.match(f.message, /SQL numeric boolean-based: \d+ AND 1=1 and \d+\/\*\*\/AND/);
  });

  test('the fixed twin, which binds a number, has no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
