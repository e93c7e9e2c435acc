import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A sensor-readings service keyed by API keys (`X-Api-Key`), on SQLite (node:sqlite, in memory). Its document types
 * `sensor_id` as an integer query input of a read (`GET /readings?sensor_id=3`): the vulnerable twin pastes it into
 * its statement unquoted (`WHERE sensor_id = <id> AND site = ?`), errors hidden (500 `{"error":"unavailable"}`),
 * so `3 AND 1=1` answers like `3` and `3 AND 1=2` an empty list; `POST /readings/search {"sensor_id": 3}` (a search,
 * so a read) does the same with its JSON field. Number query and body inputs were never probed before.
 * Fixed twin: the id bound (a text that is no number matches nothing).
 */
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'sensor readings', version: '5.2' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/readings': {
      get: {
        operationId: 'readings',
        parameters: [
          { name: 'sensor_id', in: 'query', required: true, schema: { type: 'integer', example: 3 } },
        ],
        responses: { '200': { description: 'readings of the sensor' } },
      },
    },
    '/readings/search': {
      post: {
        operationId: 'searchReadings',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  sensor_id: { type: 'integer', example: 3 },
                  unit: { type: 'string', enum: ['C'] },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'readings of the sensor' } },
      },
    },
    '/sensors': {
      get: { operationId: 'sensors', responses: { '200': { description: 'the site’s sensors' } } },
    },
  },
};

const KEYS: Record<string, string> = { 'key-north-7712': 'north', 'key-south-0931': 'south' };

async function startReadings(fixed: boolean): Promise<{ url: string; server: Server; db: DatabaseSync }> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE readings (id INTEGER PRIMARY KEY, sensor_id INTEGER, site TEXT, celsius REAL)');
  for (const [sensor, site, c] of [
    [3, 'north', 20.5],
    [3, 'north', 21.0],
    [4, 'north', 18.2],
    [7, 'south', 25.1],
  ] as const)
    db.prepare('INSERT INTO readings (sensor_id, site, celsius) VALUES (?, ?, ?)').run(sensor, site, c);
  const api = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const site = KEYS[String(req.headers['x-api-key'] ?? '')];
    if (site === undefined) return sendJson(res, 401, { error: 'api key required' });
    try {
      if (url.pathname === '/sensors')
        return sendJson(
          res,
          200,
          db.prepare('SELECT DISTINCT sensor_id FROM readings WHERE site = ?').all(site),
        );
      if (url.pathname === '/readings' || url.pathname === '/readings/search') {
        const id =
          url.pathname === '/readings'
            ? (url.searchParams.get('sensor_id') ?? '')
            : String((JSON.parse((await readText(req)) || '{}') as { sensor_id?: unknown }).sensor_id ?? '');
        const rows = fixed
          ? db.prepare('SELECT celsius FROM readings WHERE sensor_id = ? AND site = ?').all(id, site)
          : db.prepare(`SELECT celsius FROM readings WHERE sensor_id = ${id} AND site = ?`).all(site);
        return sendJson(res, 200, rows);
      }
      sendJson(res, 404, { error: 'no route' });
    } catch {
      sendJson(res, 500, { error: 'unavailable' });
    }
  });
  return { ...api, db };
}

describe('a read’s number inputs (query, search body) pasted into SQL unquoted', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: { db: DatabaseSync } }>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startReadings, {
        identities: [
          { name: 'north', headers: { 'x-api-key': 'key-north-7712' } },
          { name: 'south', headers: { 'x-api-key': 'key-south-0931' } },
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

  test('sensor_id is SQL injection in both reads (boolean, numeric); the fixed twin has none', () => {
    const sql = scans.vulnerable.result.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection');
    assert.deepEqual(
      sql.map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}`).sort(),
      ['readings sensor_id', 'searchReadings sensor_id'],
      operationsFound(scans.vulnerable.result).join('\n'),
    );
    assert.deepEqual(
      operationsFound(scans.fixed.result).filter((f) => /injection/.test(f)),
      [],
    );
  });
});
