import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A catalogue behind a gRPC-gateway-style JSON API (Go): custom methods after a colon (`/v1/products:batchGet`,
 * `/v1/products:export`), snake_case, errors `{"code": 3, "message": "...", "details": []}` with HTTP 400, lists
 * `{"products": [...], "next_page_token": "..."}` capped at 50, a bearer API key per member. Three ways one request
 * may cost what the client likes, each capped on the fixed twin only:
 * - `GET /v1/products:batchGet?ids=...` (explode form): the vulnerable twin serves every id given, repeats included;
 *   the fixed twin refuses more than 100 (its declared maxItems).
 * - `GET /v1/products:export` answers CSV: every one of the 600 products on the vulnerable twin, the first 100 on
 *   the fixed twin.
 * - `GET /v1/products/{product_id}/thumbnail?width=&height=` (declared maximum 512) renders a greyscale image of
 *   width x height bytes: the vulnerable twin takes any width, the fixed twin refuses past 512.
 * Both twins answer `GET /v1/audit-logs` with a refusal in a 200 beside a sample of entries: no page, no finding.
 */
const err = { description: 'error', content: { 'application/json': { schema: { type: 'object' } } } };
const list = { description: 'products', content: { 'application/json': { schema: { type: 'object' } } } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'catalogue', version: 'v1' },
  components: { securitySchemes: { key: { type: 'http', scheme: 'bearer' } } },
  security: [{ key: [] }],
  paths: {
    '/v1/products': {
      get: {
        operationId: 'CatalogService_ListProducts',
        parameters: [
          { name: 'page_size', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 50 } },
          { name: 'page_token', in: 'query', schema: { type: 'string' } },
        ],
        responses: {
          '200': {
            description: 'a page',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    products: { type: 'array', items: { type: 'object' } },
                    next_page_token: { type: 'string' },
                  },
                },
              },
            },
          },
          default: err,
        },
      },
    },
    '/v1/audit-logs': {
      get: {
        operationId: 'AuditService_ListLogs',
        parameters: [
          { name: 'page_size', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 50 } },
        ],
        responses: { '200': list, default: err },
      },
    },
    '/v1/products:batchGet': {
      get: {
        operationId: 'CatalogService_BatchGetProducts',
        parameters: [
          {
            name: 'ids',
            in: 'query',
            required: true,
            schema: { type: 'array', maxItems: 100, items: { type: 'string' } },
          },
        ],
        responses: { '200': list, default: err },
      },
    },
    '/v1/products:export': {
      get: {
        operationId: 'CatalogService_ExportProducts',
        responses: {
          '200': { description: 'CSV', content: { 'text/csv': { schema: { type: 'string' } } } },
          default: err,
        },
      },
    },
    '/v1/products/{product_id}/thumbnail': {
      get: {
        operationId: 'CatalogService_GetThumbnail',
        parameters: [
          { name: 'product_id', in: 'path', required: true, schema: { type: 'string' } },
          {
            name: 'width',
            in: 'query',
            required: true,
            schema: { type: 'integer', minimum: 1, maximum: 512 },
          },
          {
            name: 'height',
            in: 'query',
            required: true,
            schema: { type: 'integer', minimum: 1, maximum: 512 },
          },
        ],
        responses: {
          '200': {
            description: 'a PGM image',
            content: { 'image/x-portable-graymap': { schema: { type: 'string' } } },
          },
          default: err,
        },
      },
    },
  },
};

const KEYS: Record<string, string> = { ck_live_7Qd2: 'lena', ck_live_9Zr4: 'mats' };

function startCatalogue(fixed: boolean) {
  const products = Array.from({ length: 600 }, (_, i) => ({
    id: `prd_${(1000 + i).toString(36)}`,
    title: `Product ${i + 1}`,
    price_cents: 100 + ((i * 37) % 9000),
    description: 'A sturdy catalogue item with a longer description so that each record weighs a little.',
  }));
  return startServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const fail = (status: number, code: number, message: string) =>
      send(status, { code, message, details: [] });
    if (!KEYS[String(req.headers.authorization ?? '').replace(/^Bearer /, '')])
      return fail(401, 16, 'missing or invalid API key');
    const url = new URL(req.url ?? '/', 'http://catalogue');
    const path = decodeURIComponent(url.pathname);
    if (req.method !== 'GET') return fail(501, 12, 'method not implemented');
    if (path === '/v1/products') {
      const size = Math.min(50, Math.max(1, Number(url.searchParams.get('page_size') ?? 20) || 20));
      const start = Number(url.searchParams.get('page_token') ?? 0) || 0;
      const page = products.slice(start, start + size);
      return send(200, {
        products: page,
        next_page_token: start + size < products.length ? String(start + size) : '',
      });
    }
    // Both twins refuse members the audit logs in a 200, with a sample of entries beside the refusal: no page.
    if (path === '/v1/audit-logs')
      return send(200, {
        success: false,
        message: 'audit logs need the auditor role',
        sampleLogs: [
          { at: '2026-12-01T10:00:00Z', event: 'login' },
          { at: '2026-12-01T10:05:00Z', event: 'export' },
          { at: '2026-12-01T10:09:00Z', event: 'logout' },
        ],
      });
    if (path === '/v1/products:batchGet') {
      const ids = url.searchParams.getAll('ids').flatMap((v) => v.split(','));
      if (ids.length === 0) return fail(400, 3, 'ids is required');
      if (fixed && ids.length > 100) return fail(400, 3, 'at most 100 ids');
      const found = ids.map((id) => products.find((p) => p.id === id)).filter((p) => p !== undefined);
      return send(200, { products: found });
    }
    if (path === '/v1/products:export') {
      const rows = (fixed ? products.slice(0, 100) : products).map(
        (p) => `${p.id},${JSON.stringify(p.title)},${p.price_cents}`,
      );
      res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8' });
      return res.end(`id,title,price_cents\n${rows.join('\n')}\n`);
    }
    const m = /^\/v1\/products\/([^/]+)\/thumbnail$/.exec(path);
    if (m) {
      if (!products.some((p) => p.id === m[1])) return fail(404, 5, 'product not found');
      const width = Number(url.searchParams.get('width'));
      const height = Number(url.searchParams.get('height'));
      if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
        return fail(400, 3, 'width and height must be positive integers');
      if (fixed && (width > 512 || height > 512)) return fail(400, 3, 'width and height are at most 512');
      // The vulnerable twin renders any size (kept below 8 MB here only to spare the test machine).
      const bytes = Math.min(width * height, 8_000_000);
      res.writeHead(200, { 'content-type': 'image/x-portable-graymap' });
      return res.end(Buffer.concat([Buffer.from(`P5 ${width} ${height} 255\n`), Buffer.alloc(bytes, 0x80)]));
    }
    return fail(404, 5, 'not found');
  });
}

const identities = Object.entries(KEYS).map(([key, name]) => ({
  name,
  headers: { Authorization: `Bearer ${key}` },
}));
const api4 = (found: string[]) =>
  found.filter((f) => f.startsWith('scan/api4-') && !f.startsWith('scan/api4-no-rate-limit'));

describe('API4: batches, exports and cost inputs judged by what a large value costs against a small one', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startCatalogue>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startCatalogue, { identities, checks: ['API4'], ratePerSecond: 200 }),
    );
  });

  test('the vulnerable twin: the uncapped batch, the whole export and the thumbnail past its maximum', () => {
    assert.deepEqual(
      api4(operationsFound(scans.vulnerable.result)),
      [
        'scan/api4-no-pagination CatalogService_ExportProducts',
        'scan/api4-oversized-input CatalogService_BatchGetProducts',
        'scan/api4-oversized-input CatalogService_GetThumbnail',
      ],
      operationsFound(scans.vulnerable.result).join('\n'),
    );
  });

  test('the fixed twin: none of these', () => {
    assert.deepEqual(
      api4(operationsFound(scans.fixed.result)),
      [],
      operationsFound(scans.fixed.result).join('\n'),
    );
  });
});
