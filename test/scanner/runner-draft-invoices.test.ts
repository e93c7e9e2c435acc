import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A freelancer's billing API (Hono style: `{data}` answers, `{error: {code, message}}` errors, snake_case):
 * `POST /api/invoices {customer_name, amount_cents, status}` makes an invoice, a draft by default (the status enum
 * `draft`, `issued`); nothing is paid until `POST /api/invoices/{invoice_id}/pay`, which takes the sum from the
 * caller's credit. The seed has no invoice at all: a draft of the scan's own is the only object API1 can test.
 * The vulnerable twin shows any invoice to anyone; the fixed twin only its owner's.
 *
 * A draft's creation is no payment: it goes as alice and bob (before, "it takes a sum for invoices" held it, and
 * API1 tested nothing). The payment is still never sent as a given identity, and its note says why (its path
 * says pay). Credits stay as seeded, no invoice is paid, what the scan made is deleted.
 */
const json = (properties: Record<string, unknown>, required: string[] = []) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const idParam = [{ name: 'invoice_id', in: 'path', required: true, schema: { type: 'integer' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'billing', version: '2.1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/auth/token': {
      post: {
        operationId: 'issueToken',
        security: [],
        requestBody: json({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: { '200': { description: 'a token' } },
      },
    },
    '/api/me': {
      get: { operationId: 'whoAmI', responses: { '200': { description: 'the caller and its credit' } } },
    },
    '/api/invoices': {
      get: { operationId: 'listInvoices', responses: { '200': { description: "the caller's invoices" } } },
      post: {
        operationId: 'createInvoice',
        summary: 'Draft an invoice for a customer',
        requestBody: json(
          {
            customer_name: { type: 'string', maxLength: 80 },
            amount_cents: { type: 'integer', minimum: 1 },
            status: { type: 'string', enum: ['draft', 'issued'], default: 'draft' },
          },
          ['customer_name', 'amount_cents'],
        ),
        responses: { '201': { description: 'the invoice' } },
      },
    },
    '/api/invoices/{invoice_id}': {
      get: {
        operationId: 'getInvoice',
        parameters: idParam,
        responses: { '200': { description: 'an invoice' } },
      },
      delete: {
        operationId: 'deleteInvoice',
        parameters: idParam,
        responses: { '204': { description: 'gone' } },
      },
    },
    '/api/invoices/{invoice_id}/pay': {
      post: {
        operationId: 'payInvoice',
        summary: "Pay an invoice from the caller's credit",
        parameters: idParam,
        responses: { '200': { description: 'paid' }, '402': { description: 'not enough credit' } },
      },
    },
  },
};

interface Invoice {
  id: number;
  owner: string;
  customer_name: string;
  amount_cents: number;
  status: string;
}
const PEOPLE: Record<string, { password: string; credit: number }> = {
  marta: { password: 'Marta-bills-3391', credit: 12_000 },
  teo: { password: 'Teo-bills-7710', credit: 9_000 },
};

function startBilling(fixed: boolean) {
  const credit = new Map(Object.entries(PEOPLE).map(([n, p]) => [n, p.credit]));
  const tokens = new Map<string, string>();
  const invoices: Invoice[] = [];
  const made: { who: string; id: number }[] = [];
  const paid: number[] = [];
  let next = 40;
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const reply = (status: number, value?: unknown) => {
      res.writeHead(status, value === undefined ? {} : { 'content-type': 'application/json' });
      res.end(value === undefined ? undefined : JSON.stringify(value));
    };
    const fail = (status: number, code: string, message: string) =>
      reply(status, { error: { code, message } });
    let b: Record<string, unknown> = {};
    if (text !== '') {
      try {
        b = JSON.parse(text);
      } catch {
        return fail(400, 'bad_json', 'body is not JSON');
      }
    }
    const path = new URL(req.url ?? '/', 'http://billing').pathname;
    if (req.method === 'POST' && path === '/api/auth/token') {
      const p = PEOPLE[String(b.username)];
      if (!p || p.password !== b.password) return fail(401, 'bad_login', 'wrong username or password');
      const token = randomBytes(16).toString('hex');
      tokens.set(token, String(b.username));
      return reply(200, { data: { access_token: token, token_type: 'bearer' } });
    }
    const who = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /i, ''));
    if (!who) return fail(401, 'unauthenticated', 'a bearer token is required');
    if (req.method === 'GET' && path === '/api/me')
      return reply(200, { data: { username: who, credit_cents: credit.get(who) } });
    if (path === '/api/invoices') {
      if (req.method === 'GET') return reply(200, { data: invoices.filter((i) => i.owner === who) });
      if (req.method !== 'POST') return fail(405, 'method', 'not allowed');
      const amount = b.amount_cents;
      if (typeof b.customer_name !== 'string' || !Number.isInteger(amount) || (amount as number) < 1)
        return fail(422, 'invalid', 'customer_name and a positive amount_cents are required');
      const status = b.status === undefined ? 'draft' : String(b.status);
      if (status !== 'draft' && status !== 'issued') return fail(422, 'invalid', 'status is draft or issued');
      const inv = {
        id: next++,
        owner: who,
        customer_name: b.customer_name,
        amount_cents: amount as number,
        status,
      };
      invoices.push(inv);
      made.push({ who, id: inv.id });
      return reply(201, { data: inv });
    }
    const m = /^\/api\/invoices\/(\d+)(\/pay)?$/.exec(path);
    const inv = m ? invoices.find((i) => i.id === Number(m[1])) : undefined;
    if (!m || !inv) return fail(404, 'not_found', 'no such invoice');
    if (m[2]) {
      if (req.method !== 'POST') return fail(405, 'method', 'not allowed');
      if (inv.owner !== who) return fail(404, 'not_found', 'no such invoice');
      const left = (credit.get(who) ?? 0) - inv.amount_cents;
      if (left < 0) return fail(402, 'credit', 'not enough credit');
      credit.set(who, left);
      inv.status = 'paid';
      paid.push(inv.id);
      return reply(200, { data: inv });
    }
    if (req.method === 'GET') {
      if (fixed && inv.owner !== who) return fail(404, 'not_found', 'no such invoice');
      return reply(200, { data: inv });
    }
    if (req.method === 'DELETE') {
      if (inv.owner !== who) return fail(404, 'not_found', 'no such invoice');
      invoices.splice(invoices.indexOf(inv), 1);
      return reply(204);
    }
    return fail(405, 'method', 'not allowed');
  }).then((api) => Object.assign(api, { credit, invoices, made, paid }));
}

type Billing = Awaited<ReturnType<typeof startBilling>>;
const said = (r: ScanResult) => JSON.stringify([r.coverage, r.notes]);

describe('a draft invoice is no payment: created as the given identities, its payment never sent', () => {
  let scans: Record<'vulnerable' | 'fixed', { result: ScanResult; api: Billing }>;
  before(async () => {
    scans = await scanTwins(SPEC, startBilling, {
      identities: Object.entries(PEOPLE).map(([username, p]) => ({
        name: username,
        login: { path: '/api/auth/token', body: { username, password: p.password } },
      })),
      checks: ['API1', 'API6'],
      ratePerSecond: 200,
    });
  });

  test('both twins: drafts were created as marta and teo, none paid, credits as seeded, drafts deleted', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { api } = scans[kind];
      const makers = new Set(api.made.map((m) => m.who));
      assert.deepEqual([...makers].sort(), ['marta', 'teo'], `${kind}: ${JSON.stringify(api.made)}`);
      assert.deepEqual(api.paid, [], kind);
      assert.equal(api.credit.get('marta'), 12_000, kind);
      assert.equal(api.credit.get('teo'), 9_000, kind);
      assert.deepEqual(
        api.invoices.map((i) => `${i.owner} ${i.id} ${i.status}`),
        [],
        `${kind}: invoices left; ${JSON.stringify(api.made)} ${scans[kind].result.notes.join('\n')} ${scans[kind].result.warnings.join('\n')}`,
      );
    }
  });

  test("the creation is not held as money; the payment's note says why it is", () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const text = said(scans[kind].result);
      assert.doesNotMatch(text, /POST \/api\/invoices money|sum \(amount_cents\) for invoices/, kind);
      assert.match(
        text,
        /not sent as (marta|teo): it moves money, and a given identity's money is never moved \(its path says pay;/,
        kind,
      );
    }
  });

  test("the vulnerable twin: teo reads marta's draft (API1); the fixed twin: no finding", () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-read getInvoice'), found.join('\n'));
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
