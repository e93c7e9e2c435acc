import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A read answers only for the caller's own ids, so the injection baseline needs one of them. A small wallet API with
 * API keys in `X-Wallet-Key`: `GET /wallets` lists the caller's wallets (ids 7301, 7302, ...); `GET /wallet?id=`
 * shows one of the caller's, any other id answers 404 (id 1, a sampled value, is nobody's). The vulnerable twin pastes
 * the id into its SQL text as a string (node:sqlite: a lone quote answers 500 with `unrecognized token`); the fixed
 * twin binds it. The query input is probed from the caller's own id, so the injection is found on the vulnerable twin
 * only; before, the input was skipped ("no identity got a 2xx baseline").
 */
const ok = (schema: object) => ({
  '200': { description: 'ok', content: { 'application/json': { schema } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'wallets', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Wallet-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/wallets': {
      get: { operationId: 'myWallets', responses: ok({ type: 'array', items: { type: 'object' } }) },
    },
    '/wallet': {
      get: {
        operationId: 'oneWallet',
        parameters: [{ name: 'id', in: 'query', required: true, schema: { type: 'integer' } }],
        responses: { ...ok({ type: 'object' }), '404': { description: 'not yours' } },
      },
    },
  },
};
const KEYS: Record<string, string> = { 'wk-4f1c9a27d3e8b605': 'lena', 'wk-90b2e7c4a1f35d88': 'omar' };

function startWallets(fixed: boolean): Promise<TestServer> {
  const db = new DatabaseSync(':memory:');
  db.exec(`CREATE TABLE wallets(id INTEGER PRIMARY KEY, owner TEXT, label TEXT, balance INTEGER);
    INSERT INTO wallets VALUES (7301, 'lena', 'groceries', 120), (7302, 'lena', 'travel', 900),
      (7303, 'omar', 'rent', 1500);`);
  return startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const who = KEYS[String(req.headers['x-wallet-key'] ?? '')];
    if (!who) return sendJson(res, 401, { detail: 'missing or unknown key' });
    if (req.method === 'GET' && url.pathname === '/wallets')
      return sendJson(res, 200, db.prepare('SELECT id, label FROM wallets WHERE owner = ?').all(who));
    if (req.method === 'GET' && url.pathname === '/wallet') {
      const id = url.searchParams.get('id') ?? '';
      try {
        // The flaw: the id pasted into the SQL text as a string.
        const row = fixed
          ? db.prepare('SELECT * FROM wallets WHERE id = ? AND owner = ?').get(id, who)
          : db.prepare(`SELECT * FROM wallets WHERE id = '${id}' AND owner = ?`).get(who);
        return row ? sendJson(res, 200, row) : sendJson(res, 404, { detail: 'no such wallet' });
      } catch (err) {
        return sendJson(res, 500, { detail: (err as Error).message });
      }
    }
    return sendJson(res, 404, { detail: 'not found' });
  });
}

describe("injection baseline of a read from the caller's own ids", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startWallets(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: Object.entries(KEYS).map(([key, name]) => ({ name, headers: { 'X-Wallet-Key': key } })),
          checks: ['API8'],
          ratePerSecond: 400,
          timeDelayMs: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  test('the SQL injection in GET /wallet?id= is found on the vulnerable twin only', () => {
    const sql = (r: ScanResult) =>
      r.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection').map((f) => f.operation?.operationId);
    assert.deepEqual(sql(runs.vulnerable), ['oneWallet']);
    assert.deepEqual(sql(runs.fixed), []);
  });
});
