import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createScanClient, MAX_BODY_CHARS } from '../../src/scanner/scan/client.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * Answers larger than the client keeps (256 KiB). The client keeps exactly their first 256 KiB however the
 * network split them, and counts the rest. An unbounded page size whose answer is that large is still found:
 * by the items in the part kept, or, when the items are large, by the answer's size against the smallest page.
 */

/** Writes `body` in pieces of `piece` bytes (0: in one write). */
function writeIn(res: ServerResponse, body: Buffer, piece: number): void {
  if (piece === 0) {
    res.end(body);
    return;
  }
  for (let i = 0; i < body.length; i += piece) res.write(body.subarray(i, i + piece));
  res.end();
}

describe('the client keeps the first 256 KiB of an answer, whatever the network did', () => {
  let api: TestServer;
  // 'é' is two bytes: pieces of 7 bytes split some of them.
  const text = `["${'aé'.repeat(140_000)}"]`;
  before(async () => {
    api = await startServer((req: IncomingMessage, res: ServerResponse) => {
      const piece = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('piece'));
      res.writeHead(200, { 'content-type': 'application/json' });
      writeIn(res, Buffer.from(text), piece);
    });
  });
  after(() => api.close());

  test('the same text, cut at the cap, and the whole size counted, in one write or in 7-byte pieces', async () => {
    const client = createScanClient({
      target: api.url,
      concurrency: 2,
      ratePerSecond: 100,
      timeoutMs: 10_000,
    });
    try {
      const whole = await client.send({ method: 'GET', path: '/?piece=0' });
      const pieces = await client.send({ method: 'GET', path: '/?piece=7' });
      for (const res of [whole, pieces]) {
        assert.equal(res.text.length, MAX_BODY_CHARS);
        assert.equal(res.text, text.slice(0, MAX_BODY_CHARS));
        assert.equal(res.truncated, true);
        assert.equal(res.size, Buffer.byteLength(text));
        assert.equal(res.json, undefined);
      }
    } finally {
      await client.close();
    }
  });
});

/**
 * A shop's lists. `GET /items?limit=` serves 1200 items of about 330 bytes (about 390 KB in all);
 * `GET /reports?limit=` 160 reports of about 3 KB (about 480 KB); `GET /catalog?limit=` a page of at most 5
 * products followed by a 300 KB table of facets, whatever the limit. The vulnerable twin honours any limit on
 * items and reports; the fixed one caps them at 50 (under 256 KiB).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'shop', version: '1.0.0' },
  paths: Object.fromEntries(
    ['items', 'reports', 'catalog'].map((name) => [
      `/${name}`,
      {
        get: {
          operationId: `list_${name}`,
          parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1 } }],
          responses: {
            '200': {
              description: 'a page',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      items: { type: 'array', items: { type: 'object' } },
                      total: { type: 'integer' },
                    },
                  },
                },
              },
            },
          },
        },
      },
    ]),
  ),
};

const ITEMS = Array.from({ length: 1200 }, (_, i) => ({
  id: i + 1,
  name: `item ${i + 1}`,
  description: `a plain item, number ${i + 1}; `.repeat(9),
}));
const REPORTS = Array.from({ length: 160 }, (_, i) => ({
  id: i + 1,
  title: `report ${i + 1}`,
  body: `quarterly figures for region ${i % 7}, all lines checked. `.repeat(55),
}));
const FACETS = Object.fromEntries(
  Array.from({ length: 6000 }, (_, i) => [`facet_${i}`, `value of facet ${i}, shown as is`]),
);

async function startShop(fixed: boolean): Promise<TwinTarget> {
  const api = await startServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const asked = Number(url.searchParams.get('limit') ?? '20');
    const limit = Math.max(
      1,
      Math.min(Number.isFinite(asked) ? asked : 20, fixed ? 50 : Number.MAX_SAFE_INTEGER),
    );
    let payload: unknown;
    if (url.pathname === '/items') payload = { items: ITEMS.slice(0, limit), total: ITEMS.length };
    else if (url.pathname === '/reports') payload = { items: REPORTS.slice(0, limit), total: REPORTS.length };
    else if (url.pathname === '/catalog')
      payload = { items: ITEMS.slice(0, Math.min(limit, 5)), total: ITEMS.length, facets: FACETS };
    res.writeHead(payload ? 200 : 404, {
      'content-type': 'application/json',
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
      'x-ratelimit-limit': '100',
    });
    // Sent in 1400-byte pieces, as a network delivers it.
    writeIn(res, Buffer.from(JSON.stringify(payload ?? { detail: 'Not Found' })), 1400);
  });
  return { url: api.url, server: api.server };
}

describe('an unbounded page size whose answer is larger than the client keeps', () => {
  let scans: TwinScans<TwinTarget>;
  before(async () => {
    scans = await scanTwins(SPEC, startShop, {
      identities: [{ name: 'alice', headers: { 'x-api-key': 'k-alice' } }],
      checks: ['API4'],
      ratePerSecond: 200,
      timeoutMs: 10_000,
    });
  });
  const unbounded = (kind: 'vulnerable' | 'fixed', op: string) =>
    scans[kind].result.findings.filter(
      (f) => f.rule.id === 'scan/api4-unbounded-page-size' && f.operation?.operationId === op,
    );

  test('small items: counted in the part kept', () => {
    const [f] = unbounded('vulnerable', 'list_items');
    assert.ok(f, scans.vulnerable.result.findings.map((x) => x.message).join('\n'));
    assert.match(
      f.message,
      /answered \d{6} bytes to limit=100000, more than the scan keeps \(256 KiB\): at least (\d+) items in the part kept/,
    );
    const n = Number(/at least (\d+) items/.exec(f.message)?.[1]);
    assert.ok(n > 700 && n < 1200, f.message);
  });

  test('large items: weighed against the smallest page', () => {
    const [f] = unbounded('vulnerable', 'list_reports');
    assert.ok(f, scans.vulnerable.result.findings.map((x) => x.message).join('\n'));
    assert.match(f.message, /about (\d+) items by size \(limit=1 answered 1 item in \d+ bytes\)/);
    const n = Number(/about (\d+) items/.exec(f.message)?.[1]);
    assert.ok(n > 100 && n <= 160, f.message);
  });

  test('a large answer whatever the page size (a short page beside a big table): nothing, on either twin', () => {
    assert.deepEqual(unbounded('vulnerable', 'list_catalog'), []);
    assert.deepEqual(unbounded('fixed', 'list_catalog'), []);
  });

  test('the fixed twin caps its pages: nothing', () => {
    assert.deepEqual(
      scans.fixed.result.findings
        .filter((f) => f.rule.id === 'scan/api4-unbounded-page-size')
        .map((f) => f.message),
      [],
    );
  });
});
