import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A multi-tenant bookkeeping API in Hono's style (`{ok: true, data}` answers, `{ok: false, error: {code}}` errors, a
 * `X-Access-Key` header per user). Organisations are tenants: `GET /api/orgs/{orgId}` and its invoices. The caller's
 * own record, `GET /api/me`, lists its memberships: lena owns Acme (1); milo owns Globex (2) and is a viewer of Acme.
 * The identities name their own organisation (`params: {orgId}`), as docs/scan.md says.
 *
 * Fixed twin: members only (404 to others). Vulnerable twin: anyone reads any organisation. Milo reading Acme is his
 * right as a member on both twins (review R1's FP1: four high findings on a fixed twin); lena reading Globex is the
 * flaw, on the vulnerable twin only.
 */
const orgParam = { name: 'orgId', in: 'path', required: true, schema: { type: 'integer' } };
const ok = { '200': { description: 'ok' }, '404': { description: 'no such organisation' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'ledger', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Access-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/api/me': { get: { operationId: 'me', responses: ok } },
    '/api/orgs/{orgId}': { get: { operationId: 'getOrg', parameters: [orgParam], responses: ok } },
    '/api/orgs/{orgId}/invoices': {
      get: { operationId: 'listInvoices', parameters: [orgParam], responses: ok },
    },
  },
};

const USERS = [
  { id: 7, email: 'lena@ledger.example', key: 'ak_lena_2f9c01' },
  { id: 8, email: 'milo@ledger.example', key: 'ak_milo_7d3e55' },
];
const ORGS = [
  { id: 1, name: 'Acme', vatNumber: 'GB123456789', iban: 'GB33BUKB20201555555555' },
  { id: 2, name: 'Globex', vatNumber: 'GB987654321', iban: 'GB94BARC10201530093459' },
];
const MEMBERS = [
  { org: 1, user: 7, role: 'owner' },
  { org: 2, user: 8, role: 'owner' },
  { org: 1, user: 8, role: 'viewer' },
];
const INVOICES = [
  { id: 11, org: 1, customer: 'Initech', amountCents: 125000, notes: 'rebate 12% (confidential)' },
  { id: 12, org: 2, customer: 'Hooli', amountCents: 98000, notes: 'net 60' },
];

function startLedger(fixed: boolean) {
  return startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const fail = (status: number, code: string) => sendJson(res, status, { ok: false, error: { code } });
    const user = USERS.find((u) => u.key === req.headers['x-access-key']);
    if (!user) return fail(401, 'unauthenticated');
    if (req.method === 'GET' && path === '/api/me') {
      const memberships = MEMBERS.filter((m) => m.user === user.id).map((m) => ({
        id: m.org,
        name: ORGS.find((o) => o.id === m.org)?.name,
        role: m.role,
      }));
      return sendJson(res, 200, { ok: true, data: { id: user.id, email: user.email, memberships } });
    }
    const m = /^\/api\/orgs\/(\d+)(\/invoices)?$/.exec(path);
    if (req.method === 'GET' && m) {
      const org = ORGS.find((o) => String(o.id) === m[1]);
      const member = MEMBERS.some((x) => x.org === org?.id && x.user === user.id);
      if (!org || (fixed && !member)) return fail(404, 'not_found');
      if (m[2]) return sendJson(res, 200, { ok: true, data: INVOICES.filter((i) => i.org === org.id) });
      return sendJson(res, 200, { ok: true, data: org });
    }
    return fail(404, 'not_found');
  });
}

describe("a tenant both identities belong to (the attacker's own /me lists it) is shared, not another's", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const [lena, milo] = USERS;
    const scans = await scanTwins(SPEC, startLedger, {
      identities: [
        { name: 'lena', headers: { 'X-Access-Key': lena.key }, params: { orgId: '1' } },
        { name: 'milo', headers: { 'X-Access-Key': milo.key }, params: { orgId: '2' } },
      ],
      checks: ['API1'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('the fixed twin: no finding (milo reads Acme as its viewer)', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
    const cell = runs.fixed.coverage.matrix.find(
      (c) => c.check === 'API1' && c.operation === 'GET /api/orgs/{orgId}',
    );
    assert.match(JSON.stringify(cell), /milo's own GET \/api\/me names orgs 1 as its own too/);
  });

  test('the vulnerable twin: lena reads Globex, milo reading Acme is not reported', () => {
    const messages = runs.vulnerable.findings.map((f) => f.message);
    assert.ok(
      messages.some((m) => /^lena read milo's data at \/api\/orgs\/2/.test(m)),
      messages.join('\n'),
    );
    assert.ok(!messages.some((m) => /^milo read lena's/.test(m)), messages.join('\n'));
  });
});
