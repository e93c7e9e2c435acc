import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A print shop's API (plain Node, `X-Api-Key` per customer, errors `{"error": {"message"}}`). The caller's own account
 * is `GET /v1/account` (`{id, handle, email, loyaltyTier: 1, unreadNotices: 2}`: small numbers are everywhere); a customer record is `GET /v1/customers/{customerId}`, numbered 1, 2,
 * 3 (the document's example is 1), and cyd, a staff member, lists them all: both identities see every number, so no number is anyone's alone (review R1's M14: the
 * user-record BOLA was found only when the identities logged in through the API).
 *
 * Vulnerable: any customer's record (with its API key) to anyone signed in. Fixed twin: one's own only (404).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'print shop', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/v1/account': {
      get: { operationId: 'getAccount', responses: { '200': { description: 'the caller' } } },
    },
    '/v1/admin/customers': {
      get: {
        operationId: 'adminListCustomers',
        responses: { '200': { description: 'every customer (staff)' } },
      },
    },
    '/v1/customers/{customerId}': {
      get: {
        operationId: 'getCustomer',
        parameters: [
          { name: 'customerId', in: 'path', required: true, schema: { type: 'integer', example: 1 } },
        ],
        responses: { '200': { description: 'a customer' }, '404': { description: 'not found' } },
      },
    },
  },
};

const CUSTOMERS = [
  { id: 1, handle: 'ada', email: 'ada@print.example', phone: '+44 7700 900001', apiKey: 'pk_ada_93b1c4d7' },
  { id: 2, handle: 'ben', email: 'ben@print.example', phone: '+44 7700 900002', apiKey: 'pk_ben_1e8f5a20' },
  {
    id: 3,
    handle: 'cyd',
    email: 'cyd@print.example',
    phone: '+44 7700 900003',
    apiKey: 'pk_cyd_7c0d9e61',
    staff: true,
  },
];

function startShop(fixed: boolean) {
  return startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const fail = (status: number, message: string) => sendJson(res, status, { error: { message } });
    const me = CUSTOMERS.find((c) => c.apiKey === req.headers['x-api-key']);
    if (!me) return fail(401, 'invalid api key');
    if (req.method === 'GET' && path === '/v1/account')
      return sendJson(res, 200, {
        id: me.id,
        handle: me.handle,
        email: me.email,
        loyaltyTier: 1,
        unreadNotices: 2,
      });
    if (req.method === 'GET' && path === '/v1/admin/customers') {
      if (!('staff' in me)) return fail(403, 'staff only');
      return sendJson(res, 200, { customers: CUSTOMERS.map(({ apiKey: _k, ...c }) => c) });
    }
    const one = /^\/v1\/customers\/(\d+)$/.exec(path);
    if (req.method === 'GET' && one) {
      const c = CUSTOMERS.find((x) => String(x.id) === one[1]);
      if (!c || (fixed && c !== me && !('staff' in me))) return fail(404, 'customer not found');
      return sendJson(res, 200, c);
    }
    return fail(404, 'no route');
  });
}

describe("one's own account id from one's own record, though every small id was seen by both", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startShop, {
      identities: [
        { name: 'ada', headers: { 'X-Api-Key': CUSTOMERS[0].apiKey } },
        { name: 'ben', headers: { 'X-Api-Key': CUSTOMERS[1].apiKey } },
      ],
      admin: { name: 'cyd', headers: { 'X-Api-Key': CUSTOMERS[2].apiKey } },
      checks: ['API1'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test("the other customer reads one's record by one's own id", () => {
    const f = runs.vulnerable.findings.find((x) => x.rule.id === 'scan/api1-bola-read');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.equal(f.operation?.operationId, 'getCustomer');
  });

  test('the fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
