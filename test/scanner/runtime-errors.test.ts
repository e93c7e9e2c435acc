import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A Koa-style warehouse API under `/v2`, keyed by `X-Api-Key`: stock items by SKU, a fill-rate report, and an
 * item creation whose validation answers 400 with messages that name the missing member.
 *
 * Vulnerable: unhandled exceptions answer 500 with their own message: the report divides by the number of
 * orders (`division by zero` on a quiet day), an unknown SKU's ratio reads a member of undefined (`Cannot read
 * properties of undefined`). Fixed twin: the same failures answer 500 `{"error": "Internal Server Error"}`;
 * both answer the same 400 validation messages (`'qty' is not defined`), which are the client's business.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'warehouse', version: '2.0' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/v2/reports/fill-rate': {
      get: { operationId: 'fillRate', responses: { '200': { description: 'the report' } } },
    },
    '/v2/stock/{sku}/ratio': {
      get: {
        operationId: 'stockRatio',
        parameters: [{ name: 'sku', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'units per pallet' } },
      },
    },
    '/v2/pallets/{code}/slots': {
      get: {
        operationId: 'palletSlots',
        parameters: [{ name: 'code', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'free slots' } },
      },
    },
    '/v2/items': {
      post: {
        operationId: 'createItem',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['sku', 'qty'],
                properties: { sku: { type: 'string' }, qty: { type: 'integer' } },
              },
            },
          },
        },
        responses: { '201': { description: 'created' } },
      },
    },
  },
};

const KEYS = new Map([
  ['wh-key-ines-7c1', 'ines'],
  ['wh-key-tomas-2b9', 'tomas'],
]);
const STOCK: Record<string, { units: number; pallets: number }> = { 'SKU-100': { units: 480, pallets: 4 } };

async function json(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += chunk;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function startWarehouse(fixed: boolean) {
  let palletLookups = 0;
  return startServer(async (req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      });
      res.end(JSON.stringify(payload));
    };
    const fail = (err: unknown) =>
      send(500, fixed ? { error: 'Internal Server Error' } : { error: (err as Error).message });
    const path = (req.url ?? '/').split('?')[0];
    if (!KEYS.has(String(req.headers['x-api-key']))) return send(401, { error: 'unknown key' });
    try {
      if (req.method === 'GET' && path === '/v2/reports/fill-rate') {
        const orders = 0; // a quiet day
        if (orders === 0) throw new Error('division by zero');
        return send(200, { fillRate: 12 / orders });
      }
      const ratio = /^\/v2\/stock\/([^/]+)\/ratio$/.exec(path);
      if (req.method === 'GET' && ratio) {
        const item = STOCK[decodeURIComponent(ratio[1])] as { units: number; pallets: number };
        if (item === undefined) throw new TypeError("Cannot read properties of undefined (reading 'units')");
        return send(200, { perPallet: item.units / item.pallets });
      }
      const pallet = /^\/v2\/pallets\/([^/]+)\/slots$/.exec(path);
      if (req.method === 'GET' && pallet) {
        // The first lookup fails in the cache layer (a message only), later ones in the driver, whole stack.
        if (palletLookups++ > 0 && !fixed)
          return send(500, {
            error: 'SyntaxError: Unexpected identifier',
            stack:
              'SyntaxError: Unexpected identifier\n    at lookupPallet (/srv/warehouse/pallets.js:41:17)',
          });
        throw new TypeError("Cannot read properties of null (reading 'slots')");
      }
      if (req.method === 'POST' && path === '/v2/items') {
        const body = (await json(req)) as Record<string, unknown> | undefined;
        if (!body || typeof body !== 'object') return send(400, { error: 'body is not defined' });
        for (const k of ['sku', 'qty'])
          if (body[k] === undefined) return send(400, { error: `'${k}' is not defined` });
        return send(201, { sku: body.sku, qty: body.qty });
      }
    } catch (err) {
      return fail(err);
    }
    return send(404, { error: 'no route' });
  });
}

const identity = (key: string) => ({ name: KEYS.get(key)!, headers: { 'x-api-key': key } });

describe('unhandled exception messages in 5xx answers', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const keys = [...KEYS.keys()];
    const scans = await scanTwins(SPEC, startWarehouse, {
      identities: [identity(keys[0]), identity(keys[1])],
      checks: ['API8'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('division by zero and a read of undefined are reported, low', () => {
    const verbose = runs.vulnerable.findings.filter((f) => f.rule.id === 'scan/api8-verbose-errors');
    const byOp = new Map(verbose.map((f) => [f.operation?.operationId, f]));
    assert.deepEqual(
      [...byOp.keys()].sort(),
      ['fillRate', 'palletSlots', 'stockRatio'],
      operationsFound(runs.vulnerable).join('\n'),
    );
    assert.match(
      byOp.get('fillRate')!.message,
      /500 with an unhandled exception's message \("division by zero"\)/,
    );
    assert.match(byOp.get('stockRatio')!.message, /Cannot read properties of undefined/);
    for (const op of ['fillRate', 'stockRatio']) assert.equal(byOp.get(op)!.severity, 'low');
  });

  test('a stack trace seen after an exception message on the same operation wins', () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api8-verbose-errors' && x.operation?.operationId === 'palletSlots',
    );
    assert.match(f?.message ?? '', /answered 500 with a stack trace/);
    assert.equal(f?.severity, 'medium');
  });

  test("the 400 validation messages ('qty' is not defined) are not", () => {
    assert.ok(!runs.vulnerable.findings.some((f) => f.operation?.operationId === 'createItem'));
  });

  test('the fixed twin: a generic 500, no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
