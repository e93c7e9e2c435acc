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
 * report it, while the metrics are API5. `GET /admin/users` is the admin's directory with personal data, refused
 * to everyone else in both twins: what an admin function shows the admin is no API3 finding. Fixed twin: the
 * metrics and the account read refuse everyone but the admin.
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
    '/admin/users': {
      get: {
        operationId: 'directory',
        responses: {
          '200': {
            description: 'every user, with personal data (the admin directory)',
            content: { 'application/json': { schema: { type: 'array', items: { type: 'object' } } } },
          },
        },
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
    if (path === '/admin/users') {
      // Both twins: the admin's directory, personal data included, refused to everyone else.
      if (who !== 'root') return send(who ? 403 : 401, { message: 'admins only' });
      return send(200, [{ id: 1, username: 'carol', ssn: '078-05-1120', email: 'carol@example.com' }]);
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
      checks: ['API5', 'API3'],
      ratePerSecond: 200,
    });
    results.vulnerable = scans.vulnerable.result;
    results.fixed = scans.fixed.result;
  });

  const judged = (r: ScanResult) => operationsFound(r).filter((x) => /api5|sensitive/.test(x));

  test('reports the admin metrics, not the account read anonymous callers get too', () => {
    assert.deepEqual(judged(results.vulnerable), ['scan/api5-bfla metrics']);
  });

  test("the admin's own directory is no sensitive-data finding; nothing on the fixed twin", () => {
    assert.ok(results.vulnerable.stats.requests > 0);
    assert.deepEqual(judged(results.fixed), []);
  });
});
