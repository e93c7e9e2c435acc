import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { JSON_TYPE, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A Ktor-style data-export service (camelCase JSON, an `X-Api-Key` header, answers that summarise instead of
 * listing): `GET /v1/exports/orders?size=` builds an export of `size` rows and answers only how many
 * (`{"rows": n, "format": "csv"}`); `GET /v1/metrics/samples?pageSize=` answers a summary of the page it read
 * (`{"meta": {"returned": n, "total": 5000}, "status": "ok"}`); `GET /v1/audit/stats?limit=` answers the size of
 * the whole audit log (`{"count": 4200}`) whatever the limit, on both twins.
 *
 * Vulnerable: any export size and page size is honoured (100000 rows built; 5000 samples read). Fixed twin: the
 * export refuses more than 1000 rows (400), the samples page is silently clamped to 50; nothing to report, and
 * the audit log's total (a count above any sane page, the same to every limit) is no page size on either twin.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'export service', version: '2.3.0' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/v1/exports/orders': {
      get: {
        operationId: 'exportOrders',
        parameters: [{ name: 'size', in: 'query', schema: { type: 'integer', minimum: 1, default: 500 } }],
        responses: { '200': { description: 'the export was built: how many rows it holds' } },
      },
    },
    '/v1/metrics/samples': {
      get: {
        operationId: 'readSamples',
        parameters: [{ name: 'pageSize', in: 'query', schema: { type: 'integer', minimum: 1 } }],
        responses: { '200': { description: 'a summary of the samples page read' } },
      },
    },
    '/v1/audit/stats': {
      get: {
        operationId: 'auditStats',
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1 } }],
        responses: { '200': { description: 'how many audit entries there are' } },
      },
    },
  },
};

const KEYS = new Set(['key-ines-7f2a', 'key-tomas-91c0']);
const SAMPLES = 5000;

function startExports(fixed: boolean) {
  return startServer((req, res) => {
    // A rate limit announced on every answer: the burst probe has nothing to report on either twin.
    const send = (status: number, payload: unknown) =>
      sendJson(res, status, payload, { ...JSON_TYPE, 'ratelimit-limit': '300' });
    if (!KEYS.has(String(req.headers['x-api-key'])))
      return send(401, { message: 'missing or unknown API key' });
    if (req.method !== 'GET') return send(405, { message: 'method not allowed' });
    const url = new URL(req.url ?? '/', 'http://x');
    const number = (name: string, fallback: number) => {
      const n = Number(url.searchParams.get(name) ?? fallback);
      return Number.isInteger(n) && n >= 1 ? n : undefined;
    };
    if (url.pathname === '/v1/exports/orders') {
      const size = number('size', 500);
      if (size === undefined) return send(400, { message: 'size must be a positive integer' });
      if (fixed && size > 1000) return send(400, { message: 'size is at most 1000' });
      const rows = Array.from({ length: size }, (_, i) => `${i},order-${i}`);
      return send(200, { rows: rows.length, format: 'csv' });
    }
    if (url.pathname === '/v1/metrics/samples') {
      const pageSize = number('pageSize', 20);
      if (pageSize === undefined) return send(400, { message: 'pageSize must be a positive integer' });
      const returned = Math.min(fixed ? Math.min(pageSize, 50) : pageSize, SAMPLES);
      return send(200, { meta: { returned, total: SAMPLES }, status: 'ok' });
    }
    if (url.pathname === '/v1/audit/stats') {
      if (number('limit', 10) === undefined)
        return send(400, { message: 'limit must be a positive integer' });
      return send(200, { count: 4200 });
    }
    return send(404, { message: 'no such route' });
  });
}

describe('page sizes shown by counts, not by lists', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startExports, {
      identities: [
        { name: 'ines', headers: { 'X-Api-Key': 'key-ines-7f2a' } },
        { name: 'tomas', headers: { 'X-Api-Key': 'key-tomas-91c0' } },
      ],
      checks: ['API4'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('an export that counts 100000 rows to size=100000 (1 to size=1)', () => {
    const found = runs.vulnerable.findings.filter((x) => x.operation?.operationId === 'exportOrders');
    assert.deepEqual(
      found.map((x) => x.rule.id),
      ['scan/api4-unbounded-page-size'],
      operationsFound(runs.vulnerable).join('\n'),
    );
    assert.match(found[0].message, /counted 100000 in rows to size=100000 \(1 to size=1\)/);
  });

  test('a summary one envelope down: meta.returned follows pageSize', () => {
    const found = runs.vulnerable.findings.filter((x) => x.operation?.operationId === 'readSamples');
    assert.deepEqual(
      found.map((x) => x.rule.id),
      ['scan/api4-unbounded-page-size'],
    );
    assert.match(found[0].message, /counted 5000 in meta\.returned to pageSize=100000/);
  });

  test("a total that does not follow the limit is no page size (the vulnerable twin's too)", () => {
    assert.ok(!runs.vulnerable.findings.some((x) => x.operation?.operationId === 'auditStats'));
  });

  test('finds nothing on the fixed twin (a refusal, a silent clamp, a total)', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
