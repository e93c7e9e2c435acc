import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A book shop's catalogue, keyed by an `X-Api-Key` header, integer ids. Adding a title is for the shop's
 * editors, as its description says; repricing a title (`PATCH /titles/{isbn}/price`) says nothing of who may
 * do it, and the document has drifted: it names `DELETE /titles/{isbn}/archive`, the server serves
 * `DELETE /titles/{isbn}` (beside the documented `GET /titles/{isbn}`).
 *
 * Vulnerable: any key adds, reprices and removes titles. Fixed twin: only the editor's key (403 otherwise);
 * the drift stays.
 */
const isbn = { name: 'isbn', in: 'path', required: true, schema: { type: 'integer' } };
const TITLE = {
  type: 'object',
  properties: { isbn: { type: 'integer' }, name: { type: 'string' }, price: { type: 'number' } },
};
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const SPEC = {
  openapi: '3.0.1',
  info: { title: 'bookshop', version: '3' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/titles': {
      get: {
        operationId: 'listTitles',
        responses: { '200': { description: 'the catalogue', ...json({ type: 'array', items: TITLE }) } },
      },
      post: {
        operationId: 'addTitle',
        summary: 'Add a title',
        description: 'Adds a title to the catalogue. Staff only.',
        requestBody: {
          required: true,
          ...json({
            type: 'object',
            required: ['name', 'price'],
            properties: { name: { type: 'string' }, price: { type: 'number', minimum: 1, maximum: 99 } },
          }),
        },
        responses: { '201': { description: 'added', ...json(TITLE) } },
      },
    },
    '/titles/{isbn}': {
      get: { operationId: 'getTitle', parameters: [isbn], responses: { '200': { description: 'a title' } } },
    },
    '/titles/{isbn}/price': {
      patch: {
        operationId: 'reprice',
        summary: 'Change the price of a title',
        parameters: [isbn],
        requestBody: {
          required: true,
          ...json({ type: 'object', properties: { price: { type: 'number', minimum: 1, maximum: 99 } } }),
        },
        responses: { '200': { description: 'repriced', ...json(TITLE) } },
      },
    },
    '/titles/{isbn}/archive': {
      delete: {
        operationId: 'archiveTitle',
        summary: 'Remove a title from sale',
        parameters: [isbn],
        responses: { '204': { description: 'removed' } },
      },
    },
  },
};

const KEYS: Record<string, string> = { 'k-alice': 'alice', 'k-bob': 'bob', 'k-editor': 'editor' };

async function startShop(fixed: boolean): Promise<{ url: string; server: Server }> {
  let next = 9780001;
  const titles = new Map<number, { isbn: number; name: string; price: number }>();
  for (const name of ['Dune', 'Emma']) titles.set(next, { isbn: next++, name, price: 10 });
  return startServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const send = (status: number, payload?: unknown) => {
        res.writeHead(status, payload === undefined ? {} : { 'content-type': 'application/json' });
        res.end(payload === undefined ? '' : JSON.stringify(payload));
      };
      const who = KEYS[String(req.headers['x-api-key'] ?? '')];
      if (!who) return send(401, { message: 'missing key' });
      const staff = who === 'editor' || !fixed;
      let input: Record<string, unknown> = {};
      try {
        input = raw ? JSON.parse(raw) : {};
      } catch {
        return send(400, { message: 'malformed' });
      }
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/titles' && req.method === 'GET') return send(200, [...titles.values()]);
      if (url.pathname === '/titles' && req.method === 'POST') {
        if (!staff) return send(403, { message: 'staff only' });
        if (typeof input.name !== 'string' || typeof input.price !== 'number')
          return send(422, { message: 'name and price' });
        const t = { isbn: next++, name: input.name, price: input.price };
        titles.set(t.isbn, t);
        return send(201, t);
      }
      const m = /^\/titles\/(\d+)(\/price)?$/.exec(url.pathname);
      const t = m ? titles.get(Number(m[1])) : undefined;
      if (!m || !t) return send(404, { message: 'no such route or title' });
      if (!m[2] && req.method === 'GET') return send(200, t);
      if (!m[2] && req.method === 'DELETE') {
        if (!staff) return send(403, { message: 'staff only' });
        titles.delete(t.isbn);
        return send(204);
      }
      if (m[2] && req.method === 'PATCH') {
        if (!staff) return send(403, { message: 'staff only' });
        if (typeof input.price === 'number') t.price = input.price;
        return send(200, t);
      }
      return send(405, { message: 'method not allowed' });
    });
  });
}

describe('changes to a catalogue whose creation is privileged, and a drifted route', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startShop, {
      identities: [
        { name: 'alice', headers: { 'x-api-key': 'k-alice' } },
        { name: 'bob', headers: { 'x-api-key': 'k-bob' } },
      ],
      admin: { name: 'editor', headers: { 'x-api-key': 'k-editor' } },
      checks: ['API5'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('repricing a title, whose creation is for staff, is a privileged function (API5)', () => {
    const found = operationsFound(runs.vulnerable);
    assert.ok(found.includes('scan/api5-bfla addTitle'), found.join('\n'));
    assert.ok(found.includes('scan/api5-bfla reprice'), found.join('\n'));
  });

  test('the documented route not served, the item route beside it is tried and reported', () => {
    const f = runs.vulnerable.findings.find((x) => x.operation?.operationId === 'archiveTitle');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /served at DELETE \/titles\/\{isbn\}/);
    assert.equal(f.rule.owasp, 'API5:2023');
  });

  test('finds nothing on the fixed twin, where the editor’s title is refused to ordinary identities', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
