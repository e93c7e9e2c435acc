import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A shared workspace in a Django REST-like style (`{"detail"}` errors, `Authorization: Token ...`): alice owns
 * organisation 5 and bob is a plain member of it (`GET /me` names each one's memberships and roles); both are given
 * `params: {orgId: '5'}`. `GET /orgs/{orgId}/projects` is for every member (both twins). `GET /orgs/{orgId}/billing`
 * is documented "Billing details (organisation owners only)": vulnerable, any member reads it; fixed twin, owners
 * only (403). A member reading inside its own organisation is membership, not another's object (no API1); a member
 * reading what the document reserves to the organisation's owners is a function-level flaw within the tenant.
 */
const orgParam = [{ name: 'orgId', in: 'path', required: true, schema: { type: 'integer' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'workspace', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/me': { get: { operationId: 'me', responses: { '200': { description: 'me' } } } },
    '/orgs/{orgId}/projects': {
      get: {
        operationId: 'projects',
        parameters: orgParam,
        responses: { '200': { description: 'projects' } },
      },
    },
    '/orgs/{orgId}/billing': {
      get: {
        operationId: 'billing',
        summary: 'Billing details (organisation owners only)',
        parameters: orgParam,
        responses: { '200': { description: 'billing' }, '403': { description: 'owners only' } },
      },
    },
  },
};

const PEOPLE: Record<string, { id: number; username: string; role: 'owner' | 'member' }> = {
  'Token 1c9e77aa': { id: 8, username: 'alice', role: 'owner' },
  'Token 5d02be31': { id: 9, username: 'bob', role: 'member' },
};

function startWorkspace(fixed: boolean) {
  return startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://ws').pathname;
    const me = PEOPLE[String(req.headers.authorization ?? '')];
    if (!me) return sendJson(res, 401, { detail: 'Authentication credentials were not provided.' });
    if (req.method !== 'GET') return sendJson(res, 405, { detail: 'Method not allowed.' });
    if (path === '/me')
      return sendJson(res, 200, {
        id: me.id,
        username: me.username,
        memberships: [{ org_id: 5, role: me.role }],
      });
    const m = /^\/orgs\/(\d+)\/(projects|billing)$/.exec(path);
    if (!m) return sendJson(res, 404, { detail: 'Not found.' });
    if (Number(m[1]) !== 5) return sendJson(res, 404, { detail: 'Not found.' });
    if (m[2] === 'projects')
      return sendJson(res, 200, [
        { id: 51, name: 'Website relaunch', lead: 'alice' },
        { id: 52, name: 'Spring catalogue', lead: 'bob' },
      ]);
    if (fixed && me.role !== 'owner')
      return sendJson(res, 403, { detail: 'You do not have permission to perform this action.' });
    return sendJson(res, 200, {
      plan: 'team-25',
      card_last4: '4242',
      billing_email: 'accounts@workspace-five.example',
      next_invoice_cents: 12500,
    });
  });
}

describe('a member reading what the document reserves to its organisation’s owners is API5, not membership', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startWorkspace>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startWorkspace, {
        identities: [
          { name: 'alice', headers: { Authorization: 'Token 1c9e77aa' }, params: { orgId: '5' } },
          { name: 'bob', headers: { Authorization: 'Token 5d02be31' }, params: { orgId: '5' } },
        ],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test('vulnerable: bob (member) reads the owners-only billing: API5; the projects every member reads: nothing', () => {
    assert.deepEqual(operationsFound(scans.vulnerable.result), ['scan/api5-bfla billing']);
    const f = scans.vulnerable.result.findings[0];
    assert.match(f.message, /bob .*member.*owner/);
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
