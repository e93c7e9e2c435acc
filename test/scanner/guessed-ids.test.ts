import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * An item route nothing lists: a helpdesk (Go/Gin-like answers, raw JWT-looking token in `Authorization`
 * without a scheme, from `POST /login` whose token carries `sub`) where `GET /tickets/{ticket_no}` reads a
 * seeded ticket (numbers 1, 2, 3; `reporter: {id}` is the member's id) and no operation lists tickets. The scan
 * only learns a ticket number by trying a few small ones.
 *
 * Vulnerable: any member reads any ticket. Fixed twin: another member's ticket answers 403.
 */
const SPEC = {
  swagger: '2.0',
  info: { title: 'helpdesk', version: '1.0' },
  securityDefinitions: { jwt: { type: 'apiKey', in: 'header', name: 'Authorization' } },
  security: [{ jwt: [] }],
  paths: {
    '/login': {
      post: {
        operationId: 'login',
        security: [],
        consumes: ['application/json'],
        parameters: [
          {
            in: 'body',
            name: 'body',
            schema: {
              type: 'object',
              properties: { username: { type: 'string' }, password: { type: 'string' } },
            },
          },
        ],
        responses: { '200': { description: 'token' } },
      },
    },
    '/tickets/{ticket_no}': {
      get: {
        operationId: 'getTicket',
        produces: ['application/json'],
        parameters: [{ name: 'ticket_no', in: 'path', required: true, type: 'integer' }],
        responses: { '200': { description: 'a ticket' }, '404': { description: 'no such ticket' } },
      },
    },
  },
};

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const MEMBERS = [
  { id: 'mb-7', username: 'tess', password: 'tess-desk-1' },
  { id: 'mb-9', username: 'umar', password: 'umar-desk-4' },
];
const TICKETS = [
  {
    number: 1,
    subject: 'VPN drops every hour',
    reporter: { id: 'mb-9', name: 'umar' },
    notes: 'home router',
  },
  { number: 2, subject: 'Printer on floor 2', reporter: { id: 'mb-7', name: 'tess' }, notes: 'toner' },
  { number: 3, subject: 'Laptop battery', reporter: { id: 'mb-9', name: 'umar' }, notes: 'swollen' },
];

function startHelpdesk(fixed: boolean) {
  const tokens = new Map<string, string>();
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(payload));
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/login') {
      let body: { username?: string; password?: string } = {};
      try {
        body = JSON.parse(text);
      } catch {
        return send(400, { error: 'Invalid request' });
      }
      const m = MEMBERS.find((x) => x.username === body.username && x.password === body.password);
      if (!m) return send(401, { error: 'Invalid username or password' });
      const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: m.id, n: tokens.size })}.x`;
      tokens.set(token, m.id);
      return send(200, { token });
    }
    const who = tokens.get(req.headers.authorization ?? '');
    if (who === undefined) return send(401, { error: 'Missing Authorization header' });
    const ticket = /^\/tickets\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && ticket) {
      const t = TICKETS.find((x) => String(x.number) === ticket[1]);
      if (!t) return send(404, { error: 'ticket not found' });
      if (fixed && t.reporter.id !== who) return send(403, { error: 'not your ticket' });
      return send(200, t);
    }
    return send(404, { error: 'not found' });
  });
}

const identity = (m: (typeof MEMBERS)[number]) => ({
  name: m.username,
  login: { path: '/login', body: { username: m.username, password: m.password }, scheme: '' },
});

describe('an item route nothing lists: a few small ids tried', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startHelpdesk, {
      identities: [identity(MEMBERS[0]), identity(MEMBERS[1])],
      checks: ['API1'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test("umar reads tess's ticket 2, found by its number and judged by its reporter", () => {
    const f = runs.vulnerable.findings.find((x) => x.rule.id === 'scan/api1-bola-read');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.equal(f.operation?.operationId, 'getTicket');
    // Discovery tries the small ids and confirms them (tickets 1 and 3 are umar's by their reporter, 2 is
    // tess's), so API1 reads them as any owned object; API1's own tries remain for routes discovery left.
    assert.match(f.message, /^umar read tess's data at \/tickets\/2 /);
    const cell = runs.vulnerable.coverage.matrix.find(
      (c) => c.check === 'API1' && c.operation === 'GET /tickets/{ticket_no}',
    );
    assert.match(
      cell?.ids ?? '',
      /ticket_no=1 confirmed in discovery \(a small id tried: tess got a record, 200; umar's by its owner member\)/,
    );
  });

  test('the fixed twin: no finding, and at most 8 tries', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
    const tries = runs.fixed.coverage.matrix.find(
      (c) => c.check === 'API1' && c.operation === 'GET /tickets/{ticket_no}',
    );
    assert.ok((tries?.requests ?? 0) <= 8, String(tries?.requests));
  });
});
