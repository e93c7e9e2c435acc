import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * Seeded objects owned through an owner field: a billing API (Spring-like JSON, `X-Auth-Token` header from
 * `POST /auth`, whose answer gives `{token, user_id}`) with nothing to create. `GET /invoices` lists the caller's
 * own invoices (`customer_id` is the caller's id; ids are small integers that also appear as other numbers in
 * the other customer's answers, so no id is seen by one identity alone); `GET /invoices/{invoice_id}` reads
 * one. `GET /branches` lists the same branches to everyone (`created_by` names a customer), and
 * `GET /branches/{branch_id}` is readable by every customer: shared by design, never reported.
 *
 * Vulnerable: any customer reads any invoice. Fixed twin: another's invoice answers 404.
 */
const SPEC = {
  openapi: '3.0.1',
  info: { title: 'billing', version: 'v1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' } } },
  security: [{ token: [] }],
  paths: {
    '/auth': {
      post: {
        operationId: 'authenticate',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { login: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'token' } },
      },
    },
    '/invoices': {
      get: { operationId: 'listInvoices', responses: { '200': { description: 'own invoices' } } },
    },
    '/invoices/{invoice_id}': {
      get: {
        operationId: 'getInvoice',
        parameters: [{ name: 'invoice_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'an invoice' }, '404': { description: 'not found' } },
      },
    },
    '/branches': { get: { operationId: 'listBranches', responses: { '200': { description: 'branches' } } } },
    '/branches/{branch_id}': {
      get: {
        operationId: 'getBranch',
        parameters: [{ name: 'branch_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a branch' } },
      },
    },
  },
};

const CUSTOMERS = [
  { id: 501, login: 'rosa', password: 'rosa-bill-3' },
  { id: 502, login: 'ivan', password: 'ivan-bill-7' },
];
const INVOICES = [
  { id: 1, customer_id: 501, total: 120.5, lines: 3, status: 'open', iban_last4: '4410' },
  { id: 2, customer_id: 501, total: 88, lines: 4, status: 'paid', iban_last4: '4410' },
  { id: 3, customer_id: 502, total: 19.9, lines: 1, status: 'open', iban_last4: '0932' },
  { id: 4, customer_id: 502, total: 240, lines: 2, status: 'paid', iban_last4: '0932' },
];
const BRANCHES = [
  { id: 1, city: 'Porto', created_by: 501, opening_hours: '9-17' },
  { id: 2, city: 'Braga', created_by: 502, opening_hours: '10-18' },
];

function startBilling(fixed: boolean) {
  const tokens = new Map<string, number>();
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/auth') {
      let body: { login?: string; password?: string } = {};
      try {
        body = JSON.parse(text);
      } catch {
        return send(400, { status: 400, error: 'Bad Request' });
      }
      const c = CUSTOMERS.find((x) => x.login === body.login && x.password === body.password);
      if (!c) return send(401, { status: 401, error: 'Unauthorized' });
      const token = `tk${c.id}${tokens.size}${Math.random().toString(36).slice(2, 8)}`;
      tokens.set(token, c.id);
      return send(200, { token, user_id: c.id });
    }
    const who = tokens.get(String(req.headers['x-auth-token'] ?? ''));
    if (who === undefined) return send(401, { status: 401, error: 'Unauthorized' });
    if (req.method !== 'GET') return send(405, { status: 405, error: 'Method Not Allowed' });
    if (path === '/invoices') return send(200, { content: INVOICES.filter((i) => i.customer_id === who) });
    const invoice = /^\/invoices\/(\d+)$/.exec(path);
    if (invoice) {
      const i = INVOICES.find((x) => x.id === Number(invoice[1]));
      if (!i || (fixed && i.customer_id !== who)) return send(404, { status: 404, error: 'Not Found' });
      return send(200, i);
    }
    if (path === '/branches') return send(200, { content: BRANCHES });
    const branch = /^\/branches\/(\d+)$/.exec(path);
    if (branch) {
      const b = BRANCHES.find((x) => x.id === Number(branch[1]));
      return b ? send(200, b) : send(404, { status: 404, error: 'Not Found' });
    }
    return send(404, { status: 404, error: 'Not Found' });
  });
}

const identity = (c: (typeof CUSTOMERS)[number]) => ({
  name: c.login,
  login: {
    path: '/auth',
    body: { login: c.login, password: c.password },
    tokenPointer: '/token',
    header: 'x-auth-token',
  },
});

describe('seeded objects owned through an owner field', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startBilling, {
      identities: [identity(CUSTOMERS[0]), identity(CUSTOMERS[1])],
      checks: ['API1'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('another customer reads an invoice the owner holds by its customer_id', () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api1-bola-read' && x.operation?.operationId === 'getInvoice',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(
      f.message,
      /^(ivan read rosa|rosa read ivan)'s object at \/invoices\/[1-4] \(.*by its owner field in \/invoices/,
    );
  });

  test('branches every customer lists are shared by design: no finding', () => {
    assert.ok(!runs.vulnerable.findings.some((x) => x.operation?.operationId === 'getBranch'));
  });

  test('the fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
