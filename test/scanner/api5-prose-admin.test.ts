import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A small back office in a Flask style (`X-Token` header): `GET /admin/metrics` (admin by its path) and
 * `GET /accounts/{account_id}`, whose description alone says admins read any account. Vulnerable: the metrics
 * answer every user; the account read answers anyone, credentials or not. The account read is then no
 * function of the admin (what an anonymous caller gets is that object: API1/API2 territory), so API5 must not
 * report it, while the metrics are API5. Fixed twin: both refuse everyone but the admin.
 */
const OBJ = { type: 'object', properties: { id: { type: 'integer' }, owner: { type: 'string' } } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'back office', version: '3' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Token' } } },
  security: [{ token: [] }],
  paths: {
    '/admin/metrics': {
      get: {
        operationId: 'metrics',
        responses: { '200': { description: 'metrics', content: { 'application/json': { schema: OBJ } } } },
      },
    },
    '/accounts/{account_id}': {
      get: {
        operationId: 'account',
        description: 'Read an account. Admin only: administrators may read any account.',
        parameters: [
          { name: 'account_id', in: 'path', required: true, schema: { type: 'integer', example: 7 } },
        ],
        responses: { '200': { description: 'an account', content: { 'application/json': { schema: OBJ } } } },
      },
    },
  },
};

async function startOffice(fixed: boolean): Promise<{ url: string; server: Server }> {
  return startServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const who = { 't-alice': 'alice', 't-bob': 'bob', 't-root': 'root' }[String(req.headers['x-token'])];
    const path = (req.url ?? '').split('?')[0];
    if (path === '/admin/metrics') {
      if (!who) return send(401, { message: 'token required' });
      if (fixed && who !== 'root') return send(403, { message: 'admins only' });
      return send(200, { id: 1, owner: 'system', requests: 1234, errors: 5 });
    }
    const m = /^\/accounts\/(\d+)$/.exec(path);
    if (m) {
      if (fixed && who !== 'root') return send(who ? 403 : 401, { message: 'admins only' });
      return send(200, { id: Number(m[1]), owner: 'carol', balance: 40 });
    }
    send(404, { message: 'not found' });
  });
}

describe('API5 on a read that only its prose calls admin-only and anyone reads', () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startOffice, {
      identities: [
        { name: 'alice', headers: { 'x-token': 't-alice' } },
        { name: 'bob', headers: { 'x-token': 't-bob' } },
      ],
      admin: { name: 'root', headers: { 'x-token': 't-root' } },
      checks: ['API5'],
      ratePerSecond: 200,
    });
    results.vulnerable = scans.vulnerable.result;
    results.fixed = scans.fixed.result;
  });

  test('reports the admin metrics, not the account read anonymous callers get too', () => {
    assert.deepEqual(operationsFound(results.vulnerable), ['scan/api5-bfla metrics']);
  });

  test('finds nothing on the fixed twin', () => {
    assert.deepEqual(operationsFound(results.fixed), []);
  });
});
