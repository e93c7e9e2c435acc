import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { findingOn, operationsFound, scanTwins } from './twins.ts';

/**
 * A help desk in a Koa-like style (`{"ok": false, "reason": ...}` errors) behind a weak sign-in: the caller is
 * whoever `X-Desk-User` names, and there is no admin account to give the scan, only a supervisors' role.
 * - `GET /desk/queue`: the supervisors' queue (tagged `supervisor`, "supervisors only"). Vulnerable: the role is
 *   read from an `X-Role` header the client sets; fixed twin: from the desk's own roster (403 for agents).
 * - `GET /desk/audit`: the audit trail ("administrators only"). Vulnerable: `?role=admin` lets anyone in;
 *   fixed twin: refused.
 * - `GET /desk/tickets`: the caller's own tickets, on both twins (not refused: no role probe there).
 * - `GET /desk/holidays`: refused until `?user=` says whose plan, then anyone's plan, on both twins: `?user=admin`
 *   opens it, but so does `?user=user`; an input whose every value opens the read chooses no role.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'help desk', version: '1' },
  components: { securitySchemes: { desk: { type: 'apiKey', in: 'header', name: 'X-Desk-User' } } },
  security: [{ desk: [] }],
  paths: {
    '/desk/holidays': {
      get: {
        operationId: 'holidays',
        summary: 'Holiday plans (admins only)',
        responses: { '200': { description: 'plan' }, '403': { description: 'no' } },
      },
    },
    '/desk/tickets': { get: { operationId: 'myTickets', responses: { '200': { description: 'tickets' } } } },
    '/desk/queue': {
      get: {
        operationId: 'queue',
        tags: ['supervisor'],
        summary: 'The unassigned queue (supervisors only)',
        responses: { '200': { description: 'queue' }, '403': { description: 'not a supervisor' } },
      },
    },
    '/desk/audit': {
      get: {
        operationId: 'audit',
        summary: 'Audit trail',
        description: 'Every change made on the desk. Administrators only.',
        responses: { '200': { description: 'entries' }, '403': { description: 'no' } },
      },
    },
  },
};

const ROSTER: Record<string, string> = { ana: 'agent', ben: 'agent' };
const TICKETS = [
  { id: 501, owner: 'ana', subject: 'Printer on fire' },
  { id: 502, owner: 'ben', subject: 'VPN drops' },
];

function startDesk(fixed: boolean) {
  return startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://desk');
    const who = String(req.headers['x-desk-user'] ?? '');
    if (!(who in ROSTER)) return sendJson(res, 401, { ok: false, reason: 'sign in' });
    const role = !fixed && req.headers['x-role'] !== undefined ? String(req.headers['x-role']) : ROSTER[who];
    if (url.pathname === '/desk/tickets')
      return sendJson(res, 200, { ok: true, tickets: TICKETS.filter((t) => t.owner === who) });
    if (url.pathname === '/desk/queue') {
      if (role !== 'admin' && role !== 'supervisor')
        return sendJson(res, 403, { ok: false, reason: 'supervisors only' });
      return sendJson(res, 200, { ok: true, queue: TICKETS.map((t) => ({ ...t, waiting_minutes: 42 })) });
    }
    if (url.pathname === '/desk/audit') {
      if (fixed || url.searchParams.get('role') !== 'admin')
        return sendJson(res, 403, { ok: false, reason: 'administrators only' });
      return sendJson(res, 200, {
        ok: true,
        entries: [{ at: '2026-12-01T09:00:00Z', by: 'ben', change: 'closed 499' }],
      });
    }
    if (url.pathname === '/desk/holidays') {
      const whose = url.searchParams.get('user');
      if (whose === null) return sendJson(res, 403, { ok: false, reason: 'say whose plan' });
      return sendJson(res, 200, { ok: true, user: whose, days: ['2026-12-24', '2026-12-31'] });
    }
    return sendJson(res, 404, { ok: false, reason: 'no such route' });
  });
}

describe('API2: a role the client chooses in a header or the query, proven without an admin to compare with', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startDesk>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startDesk, {
        identities: [
          { name: 'ana', headers: { 'X-Desk-User': 'ana' } },
          { name: 'ben', headers: { 'X-Desk-User': 'ben' } },
        ],
        ratePerSecond: 200,
        checks: ['API2'],
      }),
    );
  });

  const roles = (kind: 'vulnerable' | 'fixed') =>
    scans[kind].result.findings
      .filter(
        (f) =>
          /^role-/.test(String((f as { key?: string }).key ?? '')) ||
          / raises their own role/.test(f.message),
      )
      .map((f) => `${f.rule.id} ${f.operation?.operationId}`)
      .sort();

  test('vulnerable: X-Role on the queue and ?role=admin on the audit trail, the holiday planner not', () => {
    assert.deepEqual(roles('vulnerable'), [
      'scan/api2-no-credentials audit',
      'scan/api2-no-credentials queue',
    ]);
    assert.match(
      findingOn(scans.vulnerable.result, 'scan/api2-no-credentials', 'queue')!.message,
      /x-role: admin/,
    );
    assert.match(
      findingOn(scans.vulnerable.result, 'scan/api2-no-credentials', 'audit')!.message,
      /\?role=admin/,
    );
  });

  test('fixed twin: no role finding', () => {
    assert.deepEqual(roles('fixed'), []);
    assert.ok(!operationsFound(scans.fixed.result).some((f) => /queue|audit|holidays/.test(f)));
  });
});
