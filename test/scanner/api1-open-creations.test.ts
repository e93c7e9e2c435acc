import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A bicycle workshop's API in JSON:API style (`{"data": {"type", "id", "attributes"}}`, errors as
 * `{"errors": [{"status", "title"}]}`, `Authorization: Token <key>` per mechanic). Customers drop their bikes off
 * through a public intake form, `POST /intake` (`security: []`): the entry names the bike, the problem and a
 * phone number, and no owner; every mechanic reads every entry at `GET /intake/{intake_id}`, by design, on both
 * twins. Mechanics write quotes (`POST /quotes`, signed in); on the vulnerable twin any mechanic reads any
 * quote, on the fixed one only its author.
 *
 * The scan creates intake entries with alice's and bob's keys, but the creation is open to anyone and the entry
 * names nobody: bob reading alice's entry is no object-level flaw. Bob reading alice's quote is. A quote's
 * tracking page, `GET /quotes/{quote_id}/status`, is declared open (`security: []`) and answers anyone alike;
 * its invoice, `GET /quotes/{quote_id}/invoice`, is declared open as well but shows the amount and a bank account
 * (to anyone on the vulnerable twin, to the author only on the fixed one).
 */
const json = (schema: object) => ({ content: { 'application/vnd.api+json': { schema } } });
const resource = { type: 'object', properties: { data: { type: 'object' } } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'workshop', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/intake': {
      post: {
        operationId: 'dropOff',
        security: [],
        requestBody: {
          required: true,
          ...json({
            type: 'object',
            required: ['bike', 'problem'],
            properties: {
              bike: { type: 'string', maxLength: 60 },
              problem: { type: 'string', maxLength: 200 },
              phone: { type: 'string', maxLength: 20 },
            },
          }),
        },
        responses: { '201': { description: 'entry', ...json(resource) } },
      },
    },
    '/intake/{intake_id}': {
      get: {
        operationId: 'getIntake',
        parameters: [{ name: 'intake_id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'entry', ...json(resource) }, '404': { description: 'none' } },
      },
    },
    '/quotes': {
      post: {
        operationId: 'writeQuote',
        requestBody: {
          required: true,
          ...json({
            type: 'object',
            required: ['amount', 'notes'],
            properties: {
              amount: { type: 'integer', minimum: 1 },
              notes: { type: 'string', maxLength: 200 },
            },
          }),
        },
        responses: { '201': { description: 'quote', ...json(resource) } },
      },
    },
    '/quotes/{quote_id}/status': {
      get: {
        operationId: 'quoteStatus',
        security: [],
        parameters: [{ name: 'quote_id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'status', ...json(resource) }, '404': { description: 'none' } },
      },
    },
    '/quotes/{quote_id}/invoice': {
      get: {
        operationId: 'quoteInvoice',
        security: [],
        parameters: [{ name: 'quote_id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'invoice', ...json(resource) }, '404': { description: 'none' } },
      },
    },
    '/quotes/{quote_id}': {
      get: {
        operationId: 'getQuote',
        parameters: [{ name: 'quote_id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'quote', ...json(resource) }, '404': { description: 'none' } },
      },
    },
  },
};

const KEYS: Record<string, string> = { 'Token wk-alice-5d1e': 'alice', 'Token wk-bob-a07c': 'bob' };

function startWorkshop(fixed: boolean) {
  const intake = new Map<string, Record<string, unknown>>();
  const quotes = new Map<string, { author: string; attributes: Record<string, unknown> }>();
  let next = 40;
  return startServer(async (req, res) => {
    const body = await readJson(req);
    const path = new URL(req.url ?? '/', 'http://shop').pathname;
    const type = { 'content-type': 'application/vnd.api+json' };
    const send = (status: number, value: unknown) => sendJson(res, status, value, type);
    const error = (status: number, title: string) =>
      send(status, { errors: [{ status: String(status), title }] });
    if (req.method === 'POST' && path === '/intake') {
      if (typeof body?.bike !== 'string' || typeof body.problem !== 'string')
        return error(422, 'bike and problem');
      const id = `in-${next++}`;
      const attributes = { bike: body.bike, problem: body.problem, phone: String(body.phone ?? '') };
      intake.set(id, attributes);
      return send(201, { data: { type: 'intake', id, attributes } });
    }
    const status = /^\/quotes\/([\w-]+)\/status$/.exec(path);
    if (req.method === 'GET' && status) {
      // The customer's tracking page: open to anyone with the quote's number, by design, on both twins.
      const quote = quotes.get(status[1]);
      return quote
        ? send(200, { data: { type: 'status', id: status[1], attributes: { state: 'sent' } } })
        : error(404, 'no quote');
    }
    const invoice = /^\/quotes\/([\w-]+)\/invoice$/.exec(path);
    if (req.method === 'GET' && invoice) {
      // Documented as open, but it shows the amount and the bank account: the vulnerable twin answers anyone,
      // the fixed one only the quote's author.
      const quote = quotes.get(invoice[1]);
      const who = KEYS[String(req.headers.authorization ?? '')];
      if (!quote || (fixed && quote.author !== who)) return error(404, 'no invoice');
      return send(200, {
        data: {
          type: 'invoice',
          id: invoice[1],
          attributes: { amount: quote.attributes.amount, iban: 'NL91 ABNA 0417 1643 00' },
        },
      });
    }
    const mechanic = KEYS[String(req.headers.authorization ?? '')];
    if (!mechanic) return error(401, 'a mechanic token is required');
    let m = /^\/intake\/([\w-]+)$/.exec(path);
    if (req.method === 'GET' && m) {
      const entry = intake.get(m[1]);
      return entry
        ? send(200, { data: { type: 'intake', id: m[1], attributes: entry } })
        : error(404, 'no entry');
    }
    if (req.method === 'POST' && path === '/quotes') {
      if (typeof body?.amount !== 'number' || typeof body.notes !== 'string')
        return error(422, 'amount and notes');
      const id = `q-${next++}`;
      quotes.set(id, { author: mechanic, attributes: { amount: body.amount, notes: body.notes } });
      return send(201, {
        data: { type: 'quotes', id, attributes: { amount: body.amount, notes: body.notes } },
      });
    }
    m = /^\/quotes\/([\w-]+)$/.exec(path);
    if (req.method === 'GET' && m) {
      const quote = quotes.get(m[1]);
      if (!quote || (fixed && quote.author !== mechanic)) return error(404, 'no quote');
      return send(200, { data: { type: 'quotes', id: m[1], attributes: quote.attributes } });
    }
    return error(404, 'no route');
  });
}

describe('API1 on objects of a creation open to anyone that name no owner', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startWorkshop>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startWorkshop, {
        identities: [
          { name: 'alice', headers: { Authorization: 'Token wk-alice-5d1e' } },
          { name: 'bob', headers: { Authorization: 'Token wk-bob-a07c' } },
        ],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test('vulnerable: the quote read is found, the public intake entry is not (a note says why)', () => {
    const { result } = scans.vulnerable;
    const found = operationsFound(result);
    assert.ok(found.includes('scan/api1-bola-read getQuote'), found.join());
    assert.ok(!found.includes('scan/api1-bola-read getIntake'), found.join());
    // The quote's tracking page is declared open (security: []) and answers anyone alike: public by design.
    assert.ok(!found.includes('scan/api1-bola-read quoteStatus'), found.join());
    // Declared open too, but it shows the amount and a bank account: still another's private data.
    assert.ok(found.includes('scan/api1-bola-read quoteInvoice'), found.join());
    const cell = result.coverage.matrix.find(
      (c) => c.check === 'API1' && c.operation === 'GET /intake/{intake_id}',
    );
    const said = [cell?.reason, ...(cell?.notes ?? [])].filter((x) => x !== undefined);
    assert.ok(
      said.some((x) => /declares no security and the object names no owner/.test(x)),
      JSON.stringify(cell),
    );
  });

  test('fixed twin: no API1 finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
