import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A multi-tenant help desk in a Spring-like style (errors as `{"timestamp", "status", "error", "path"}`, static
 * tokens in `Authorization: Token ...`): alice works in organisation 310, bob in 420, each given as `params:
 * {orgId}`. Tickets are seeded (the document has no creation for them); alice's organisation has two, bob's has
 * none. `GET /orgs/{orgId}/tickets` lists an organisation's tickets to its members. `GET /orgs/{orgId}/tickets/
 * {ticketId}` checks that the caller belongs to the organisation on both twins; the vulnerable twin then finds the
 * ticket by its id alone, so bob reads alice's ticket below his own organisation. The fixed twin looks the ticket
 * up inside the organisation (404 otherwise).
 *
 * Bob has no ticket of his own: the scan names alice's ticket below bob's organisation all the same, and a
 * made-up ticket id there (404 on both twins) is the control.
 */
const failure = { description: 'error' };
const orgParam = { name: 'orgId', in: 'path', required: true, schema: { type: 'integer' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'help desk', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/orgs/{orgId}/tickets': {
      get: {
        operationId: 'listTickets',
        parameters: [orgParam],
        responses: { '200': { description: 'tickets' }, '403': failure },
      },
    },
    '/orgs/{orgId}/tickets/{ticketId}': {
      get: {
        operationId: 'getTicket',
        parameters: [orgParam, { name: 'ticketId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'ticket' }, '403': failure, '404': failure },
      },
    },
  },
};

const MEMBERS: Record<string, { name: string; org: number }> = {
  'Token 5f0c1aa1': { name: 'alice', org: 310 },
  'Token 9be4d7c2': { name: 'bob', org: 420 },
};
const TICKETS = [
  {
    id: 7001,
    org: 310,
    subject: 'VPN drops every hour',
    reporter_email: 'dana.ops@alice-corp.example',
    body: 'Since Monday the tunnel resets at :00',
  },
  {
    id: 7002,
    org: 310,
    subject: 'Invoice export empty',
    reporter_email: 'li.fin@alice-corp.example',
    body: 'The CSV for November has a header only',
  },
];

function startDesk(fixed: boolean) {
  return startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://desk').pathname;
    const error = (status: number, text: string) =>
      sendJson(res, status, { timestamp: new Date().toISOString(), status, error: text, path });
    const me = MEMBERS[String(req.headers.authorization ?? '')];
    if (!me) return error(401, 'Unauthorized');
    const m = /^\/orgs\/(\d+)\/tickets(?:\/(\d+))?$/.exec(path);
    if (!m || req.method !== 'GET') return error(404, 'Not Found');
    if (Number(m[1]) !== me.org) return error(403, 'Forbidden');
    const mine = TICKETS.filter((t) => t.org === me.org);
    if (m[2] === undefined) return sendJson(res, 200, mine);
    const ticket = (fixed ? mine : TICKETS).find((t) => t.id === Number(m[2]));
    if (!ticket) return error(404, 'Not Found');
    return sendJson(res, 200, ticket);
  });
}

describe("API1 names the owner's child below the other's own parent when the other has no child there", () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startDesk>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startDesk, {
        identities: [
          { name: 'alice', headers: { Authorization: 'Token 5f0c1aa1' }, params: { orgId: '310' } },
          { name: 'bob', headers: { Authorization: 'Token 9be4d7c2' }, params: { orgId: '420' } },
        ],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test("vulnerable: bob reads alice's ticket below his own organisation", () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.deepEqual(found, ['scan/api1-bola-read getTicket']);
    const f = scans.vulnerable.result.findings[0];
    assert.match(f.message, /\/orgs\/420\/tickets\/700[12]/);
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
