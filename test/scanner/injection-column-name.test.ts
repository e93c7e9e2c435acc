import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { startServer, type TestServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A staff directory in the style of a Flask-RESTX API on SQLite (node:sqlite): HTTP Basic, answers `{ok, people}`
 * and `{ok: false, reason}`. `GET /directory/api/v1/people?search_by=name&term=Ann` binds the term but pastes the
 * column it searches (`WHERE <search_by> LIKE ?`), and answers a failed query with nobody (`200 {ok: true,
 * people: []}`): no error text, no 5xx; a quote in the column breaks the query as two quotes do. Before, a column
 * name was probed as a quoted value only. Fixed twin: `search_by` must be one of the columns (400).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'staff directory', version: '1.0' },
  components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' } } },
  security: [{ basic: [] }],
  paths: {
    '/directory/api/v1/people': {
      get: {
        operationId: 'get_people_search',
        parameters: [
          { name: 'search_by', in: 'query', required: true, schema: { type: 'string', example: 'name' } },
          { name: 'term', in: 'query', required: true, schema: { type: 'string', example: 'Ann' } },
        ],
        responses: { '200': { description: 'Success' } },
      },
    },
  },
};

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const USERS: Record<string, string> = {
  [basic('hana', 'Willow-Desk-22')]: 'hana',
  [basic('ivo', 'Copper-Lamp-57')]: 'ivo',
};

async function startDirectory(fixed: boolean): Promise<TestServer> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, dept TEXT, room TEXT)');
  for (const [n, d, r] of [
    ['Ann Ortega', 'Finance', 'B12'],
    ['Bram Kole', 'Legal', 'C03'],
    ['Cleo Marsh', 'Finance', 'B14'],
    ['Dev Rao', 'IT', 'A01'],
    ['Elin Voss', 'IT', 'A02'],
  ])
    db.prepare('INSERT INTO people (name, dept, room) VALUES (?, ?, ?)').run(n, d, r);
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (!USERS[String(req.headers.authorization ?? '')]) {
      res.writeHead(401, {
        'www-authenticate': 'Basic realm="directory"',
        'content-type': 'application/json',
      });
      return res.end(JSON.stringify({ ok: false, reason: 'login required' }));
    }
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' || url.pathname !== '/directory/api/v1/people')
      return send(res, 404, { ok: false, reason: 'not found' });
    const column = url.searchParams.get('search_by') ?? 'name';
    const term = url.searchParams.get('term') ?? '';
    if (fixed && !['name', 'dept', 'room'].includes(column))
      return send(res, 400, { ok: false, reason: 'bad search_by' });
    try {
      const people = db
        .prepare(`SELECT name, dept, room FROM people WHERE ${column} LIKE ?`)
        .all(`%${term}%`);
      return send(res, 200, { ok: true, people });
    } catch {
      return send(res, 200, { ok: true, people: [] });
    }
  };
  const api = await startServer(handle);
  api.server.on('close', () => db.close());
  return api;
}

describe('a column name pasted into a condition (WHERE <search_by> LIKE ?), failures answered as nobody', () => {
  test('search_by is SQL injection on the vulnerable twin; the fixed twin has no finding', async () => {
    const scans = await scanTwins(SPEC, startDirectory, {
      identities: [
        { name: 'hana', headers: { authorization: basic('hana', 'Willow-Desk-22') } },
        { name: 'ivo', headers: { authorization: basic('ivo', 'Copper-Lamp-57') } },
      ],
      checks: ['API8'],
      ratePerSecond: 300,
      timeDelayMs: 300,
    });
    const sql = scans.vulnerable.result.findings
      .filter((f) => f.rule.id === 'scan/api8-sql-injection')
      .map((f) => `${f.evidence?.parameter}: ${f.message}`);
    assert.equal(sql.length, 1, sql.join('\n'));
    assert.match(sql[0], /^search_by: .*SQL fragment \(a column name followed by OR name\), boolean-based/);
    assert.deepEqual(
      operationsFound(scans.fixed.result).filter((f) => /injection/.test(f)),
      [],
    );
  });
});
