import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { connectPostgres, POSTGRES_URL, type PostgresAdmin } from '../kit/postgres.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A blind read on a PostgreSQL driver that prepares every statement: a warehouse's `GET /stock/lookup?sku=` queues a
 * stock check and answers `202 {"queued": true}` whatever happens, errors included (hidden), with an API key in
 * `Api-Token`. The vulnerable twin pastes the SKU into its SELECT but sends it as a prepared statement (node-postgres
 * with a values list: one statement only), so a stacked `; SELECT pg_sleep(...)` is refused and MySQL's `SLEEP` is
 * unknown: only a sleep inside the one statement delays it. The fixed twin binds the SKU.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'warehouse', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Api-Token' } } },
  security: [{ token: [] }],
  paths: {
    '/stock/lookup': {
      get: {
        operationId: 'stockLookup',
        parameters: [
          { name: 'sku', in: 'query', required: true, schema: { type: 'string', example: 'BX-1042' } },
        ],
        responses: { '202': { description: 'queued' } },
      },
    },
  },
};
const TOKENS: Record<string, string> = { 'wh-3c9e1f07': 'nora', 'wh-b8a2d644': 'omid' };

describe('a blind read on a driver that prepares every statement: a sleep that runs inside the one statement', () => {
  let admin: PostgresAdmin;
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;

  async function startWarehouse(fixed: boolean): Promise<{ api: TestServer; db: pg.Client }> {
    const schema = admin.freshSchema('pc_stock');
    const db = new pg.Client(POSTGRES_URL);
    await db.connect();
    await db.query(`CREATE SCHEMA "${schema}"`);
    await db.query(`SET search_path TO "${schema}"`);
    await db.query('CREATE TABLE stock (sku TEXT PRIMARY KEY, qty INT)');
    await db.query("INSERT INTO stock VALUES ('BX-1042', 7), ('BX-2210', 0)");
    const api = await startServer(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (!TOKENS[String(req.headers['api-token'] ?? '')]) return sendJson(res, 401, { error: 'token' });
      if (req.method === 'GET' && url.pathname === '/stock/lookup') {
        const sku = url.searchParams.get('sku') ?? '';
        try {
          // A values list makes node-postgres prepare the statement: one statement, no stacking.
          if (fixed) await db.query({ text: 'SELECT qty FROM stock WHERE sku = $1', values: [sku] });
          else
            await db.query({
              text: `SELECT qty FROM stock WHERE sku = '${sku}' AND $1::int = 1`,
              values: [1],
            });
        } catch {
          // Hidden: the check is queued all the same.
        }
        return sendJson(res, 202, { queued: true });
      }
      return sendJson(res, 404, { error: 'route' });
    });
    return { api, db };
  }

  before(async () => {
    admin = await connectPostgres();
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const s = await startWarehouse(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, s.api.url, {
          identities: Object.entries(TOKENS).map(([t, name]) => ({ name, headers: { 'Api-Token': t } })),
          checks: ['API8'],
          ratePerSecond: 400,
          timeDelayMs: 400,
        });
      } finally {
        await s.api.close();
        await s.db.end();
      }
    }
  });
  after(async () => admin?.close());

  test('the SKU is SQL injection, time-based, on the vulnerable twin only', () => {
    const sql = (r: ScanResult) =>
      r.findings
        .filter((f) => f.rule.id === 'scan/api8-sql-injection')
        .map((f) => `${f.operation?.operationId} ${String(f.evidence?.parameter)}`);
    assert.deepEqual(sql(runs.vulnerable), ['stockLookup sku']);
    const f = runs.vulnerable.findings.find((x) => x.rule.id === 'scan/api8-sql-injection');
    assert.match(f!.message, /time-based/);
    assert.deepEqual(sql(runs.fixed), []);
  });
});
