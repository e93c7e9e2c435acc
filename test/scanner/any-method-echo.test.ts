import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startPythonApi } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * TRACE switched off is not the end of cross-site tracing: a server that answers methods it does not define with a
 * catch-all may echo the request to IIS's TRACK or to any made-up method (test/scanner/any-method-api.py, Python's
 * http.server, keys in `X-Api-Key`, `{message}` errors). Both twins refuse TRACE with a 405; the vulnerable twin's
 * catch-all echoes every other undefined method with the caller's key, the fixed twin answers them 501.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'parcels', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/parcels': {
      get: { operationId: 'listParcels', responses: { '200': { description: 'your parcels' } } },
    },
    '/status': { get: { operationId: 'status', security: [], responses: { '200': { description: 'up' } } } },
  },
};

describe('undefined methods echoing the request where TRACE is off', () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const children: ChildProcess[] = [];
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startPythonApi('any-method-api.py', kind === 'fixed');
      children.push(api.child);
      results[kind] = await scanDocument(SPEC, api.url, {
        identities: [
          { name: 'ann', headers: { 'x-api-key': 'k-ann-7781' } },
          { name: 'ben', headers: { 'x-api-key': 'k-ben-3390' } },
        ],
        checks: ['API8'],
        ratePerSecond: 200,
      });
    }
  });
  after(() => {
    for (const c of children) c.kill();
  });

  const traces = (r: ScanResult) =>
    r.findings.filter((f) => f.rule.id === 'scan/api8-trace-enabled').map((f) => f.message);

  test("vulnerable: TRACK echoes the request with the caller's key", () => {
    const found = traces(results.vulnerable);
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.match(found[0], /^TRACK \/parcels echoed the request back, the caller's credentials included/);
  });

  test('fixed: no finding at all', () => {
    assert.deepEqual(
      results.fixed.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });
});
