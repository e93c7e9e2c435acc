import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readText, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A help desk whose ticket creation takes an owner member: `POST /v1/tickets {subject, member_id}` files the ticket
 * under `member_id`. Its member directory (`GET /v1/members`) lists every member, seeded carol (8) last, so an id
 * the answers gave out is someone else's. The scan must file its tickets under the caller itself (alice is member 2,
 * as her login answer `{"member": {"id": 2}}` says), never under carol: a plain scan writes nothing in another
 * person's name. The vulnerable twin also shows any ticket to any member (API1); the fixed twin refuses a
 * `member_id` that is not the caller's (403) and shows a ticket only to its member.
 *
 * Style: Go (chi-like): `/v1/...`, snake_case, `{"result": ...}` envelopes, errors `{"code", "detail"}`, 201 with a
 * Location header, opaque bearer tokens from `POST /v1/sessions {login, secret}`.
 */
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties, required } } },
});
const TICKET = {
  type: 'object',
  properties: { id: { type: 'integer' }, subject: { type: 'string' }, member_id: { type: 'integer' } },
};
const result = (schema: unknown) => ({
  content: { 'application/json': { schema: { type: 'object', properties: { result: schema } } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'helpdesk', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/v1/sessions': {
      post: {
        operationId: 'createSession',
        security: [],
        requestBody: json({ login: { type: 'string' }, secret: { type: 'string' } }, ['login', 'secret']),
        responses: { '200': { description: 'a token' }, '401': { description: 'wrong' } },
      },
    },
    '/v1/members': {
      get: {
        operationId: 'listMembers',
        responses: {
          '200': {
            description: 'the directory',
            ...result({
              type: 'array',
              items: { type: 'object', properties: { id: { type: 'integer' }, display: { type: 'string' } } },
            }),
          },
        },
      },
    },
    '/v1/tickets': {
      post: {
        operationId: 'openTicket',
        requestBody: json(
          {
            subject: { type: 'string', example: 'Printer jammed' },
            member_id: { type: 'integer', example: 1 },
          },
          ['subject'],
        ),
        responses: { '201': { description: 'the ticket', ...result(TICKET) }, '403': { description: 'no' } },
      },
    },
    '/v1/tickets/{ticket_id}': {
      get: {
        operationId: 'getTicket',
        parameters: [{ name: 'ticket_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a ticket', ...result(TICKET) }, '404': { description: 'none' } },
      },
    },
  },
};

interface Ticket {
  id: number;
  subject: string;
  member_id: number;
}
const MEMBERS = [
  { id: 1, display: 'Help desk', login: 'desk', secret: randomBytes(8).toString('hex') },
  { id: 2, display: 'Alice', login: 'alice', secret: 'alice-secret-1' },
  { id: 3, display: 'Bob', login: 'bob', secret: 'bob-secret-2' },
  { id: 8, display: 'Carol', login: 'carol', secret: randomBytes(8).toString('hex') },
];

function startDesk(fixed: boolean): Promise<TwinTarget & { tickets: Ticket[] }> {
  const tickets: Ticket[] = [
    { id: 1, subject: 'VPN down', member_id: 2 },
    { id: 2, subject: 'New laptop', member_id: 8 },
  ];
  const tokens = new Map<string, number>();
  return startServer(async (req, res) => {
    const raw = await readText(req);
    let body: Record<string, unknown> = {};
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      return sendJson(res, 400, { code: 'bad_json', detail: 'request body is not JSON' }, GUARDED_JSON);
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const send = (status: number, payload: unknown, extra: Record<string, string> = {}) =>
      sendJson(res, status, payload, { ...GUARDED_JSON, ...extra });
    if (req.method === 'POST' && path === '/v1/sessions') {
      const m = MEMBERS.find((x) => x.login === body.login && x.secret === body.secret);
      if (!m) return send(401, { code: 'unauthenticated', detail: 'wrong login or secret' });
      const t = randomBytes(20).toString('hex');
      tokens.set(t, m.id);
      return send(200, { access_token: t, member: { id: m.id, display: m.display } });
    }
    const me = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (me === undefined) return send(401, { code: 'unauthenticated', detail: 'no session' });
    if (req.method === 'GET' && path === '/v1/members')
      return send(200, { result: MEMBERS.map(({ id, display }) => ({ id, display })) });
    if (req.method === 'POST' && path === '/v1/tickets') {
      if (typeof body.subject !== 'string' || tickets.length > 200)
        return send(422, { code: 'invalid', detail: 'subject is required' });
      const owner = body.member_id === undefined ? me : Number(body.member_id);
      if (fixed && owner !== me) return send(403, { code: 'forbidden', detail: 'not your member id' });
      if (!MEMBERS.some((m) => m.id === owner))
        return send(422, { code: 'invalid', detail: 'no such member' });
      const t: Ticket = { id: tickets.length + 1, subject: body.subject, member_id: owner };
      tickets.push(t);
      return send(201, { result: t }, { location: `/v1/tickets/${t.id}` });
    }
    const m = /^\/v1\/tickets\/(\d+)$/.exec(path);
    if (req.method === 'GET' && m) {
      const t = tickets.find((x) => x.id === Number(m[1]) && (!fixed || x.member_id === me));
      return t ? send(200, { result: t }) : send(404, { code: 'not_found', detail: 'no such ticket' });
    }
    return send(404, { code: 'not_found', detail: 'no route' });
  }).then((api) => Object.assign(api, { tickets }));
}

const found = (r: ScanResult) =>
  r.findings.map((f) => `${f.rule.id} ${f.operation?.operationId}: ${f.message}`);

describe("a creation's owner member is the caller's own id", () => {
  let runs: TwinScans<TwinTarget & { tickets: Ticket[] }>;
  before(async () => {
    const login = (name: string, secret: string) => ({
      name,
      login: { path: '/v1/sessions', body: { login: name, secret } },
    });
    runs = await scanTwins(SPEC, startDesk, {
      identities: [login('alice', 'alice-secret-1'), login('bob', 'bob-secret-2')],
      checks: ['API1'],
      ratePerSecond: 200,
    });
  });

  test('no ticket is filed in the name of a member the scan is not (carol, the desk)', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const made = runs[kind].api.tickets.slice(2);
      assert.deepEqual(
        made.filter((t) => t.member_id !== 2 && t.member_id !== 3),
        [],
        `${kind}: ${JSON.stringify(made)}`,
      );
    }
  });

  test("the scan's tickets are its callers' own (alice files under 2)", () => {
    const made = runs.vulnerable.api.tickets.slice(2);
    assert.ok(
      made.some((t) => t.member_id === 2),
      JSON.stringify(made),
    );
  });

  test('vulnerable: another member reads the ticket (API1)', () => {
    const all = found(runs.vulnerable.result);
    assert.ok(
      all.some((m) => m.startsWith('scan/api1-bola-read getTicket:')),
      JSON.stringify(all),
    );
  });

  test('fixed: no finding', () => {
    assert.deepEqual(found(runs.fixed.result), []);
  });

  test('the seeded tickets are unchanged on both twins', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        runs[kind].api.tickets.slice(0, 2).map((t) => `${t.id} ${t.member_id} ${t.subject}`),
        ['1 2 VPN down', '2 8 New laptop'],
      );
  });
});
