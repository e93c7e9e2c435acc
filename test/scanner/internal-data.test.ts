import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A shop's products, whose document declares the business's own fields (`internal_notes`, `supplier_cost`)
 * beside ordinary ones whose names only look alike (`shipping_cost`, `internal_id`, `is_internal`).
 *
 * Vulnerable: every caller, signed in or not, gets the internal notes and the supplier's cost. Fixed twin: only
 * the admin gets them (the admin seeing them is no finding).
 */
const PRODUCT = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    price: { type: 'number' },
    shipping_cost: { type: 'number' },
    internal_id: { type: 'string' },
    is_internal: { type: 'boolean' },
    internal_notes: { type: 'string', nullable: true },
    supplier_cost: { type: 'number', nullable: true },
  },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'shop', version: '1' },
  components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/products': {
      get: {
        operationId: 'listProducts',
        responses: {
          '200': {
            description: 'products',
            content: { 'application/json': { schema: { type: 'array', items: PRODUCT } } },
          },
        },
      },
    },
    '/products/{id}': {
      get: {
        operationId: 'getProduct',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: {
          '200': { description: 'a product', content: { 'application/json': { schema: PRODUCT } } },
          '404': { description: 'none' },
        },
      },
    },
  },
};

const PRODUCTS = [1, 2, 3].map((id) => ({
  id,
  name: `lamp ${id}`,
  price: 20 + id,
  shipping_cost: 4.5,
  internal_id: `sku-${id}`,
  is_internal: false,
  internal_notes: `reorder when below ${id * 10}`,
  supplier_cost: 7 + id,
}));

function startShop(fixed: boolean) {
  return startServer((req, res) => {
    const admin = req.headers.authorization === 'Bearer tok-admin';
    const view = (p: (typeof PRODUCTS)[number]) => {
      if (!fixed || admin) return p;
      const { internal_notes: _n, supplier_cost: _c, ...shown } = p;
      return shown;
    };
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-ratelimit-limit': '100' });
      res.end(JSON.stringify(payload));
    };
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET') return send(405, { detail: 'method not allowed' });
    if (url.pathname === '/products') return send(200, PRODUCTS.map(view));
    const m = /^\/products\/(\d+)$/.exec(url.pathname);
    const p = m ? PRODUCTS.find((x) => x.id === Number(m[1])) : undefined;
    if (!p) return send(404, { detail: 'not found' });
    return send(200, view(p));
  });
}

describe('internal business data shown to ordinary callers', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startShop, {
      identities: [
        { name: 'alice', bearer: 'tok-alice' },
        { name: 'bob', bearer: 'tok-bob' },
      ],
      admin: { name: 'admin', bearer: 'tok-admin' },
      checks: ['API3'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('the list and the item show internal notes and the supplier cost, declared or not', () => {
    const found = runs.vulnerable.findings.filter((f) => f.rule.id === 'scan/api3-sensitive-data-exposure');
    assert.deepEqual(
      found.map((f) => f.operation?.operationId).sort(),
      ['getProduct', 'listProducts'],
      operationsFound(runs.vulnerable).join('\n'),
    );
    for (const f of found) {
      assert.match(f.message, /internal_notes \(internal business data by name\)/);
      assert.match(f.message, /supplier_cost \(internal business data by name\)/);
      assert.doesNotMatch(f.message, /shipping_cost|internal_id|is_internal/);
    }
  });

  test('finds nothing on the fixed twin, where only the admin sees them', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
