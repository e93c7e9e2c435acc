import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A signed-in catalogue with four lists: `GET /items` declares `limit` (at most 50), `GET /events` declares no
 * paging at all and holds 250 events, `GET /tags` (12 tags) declares `per_page` and answers in an envelope
 * `{"documents": [...], "count": n}`, `GET /logs` (300 entries) declares `limit` without a maximum and answers
 * `{"data": {"logs": [...]}}`.
 *
 * Vulnerable: `/items` ignores `limit` and answers all 30 items; `/events` answers all 250; `/tags` ignores
 * `per_page`; `/logs` honours any `limit` (300 entries to `limit=100000`). Fixed twin: `/items` applies `limit`
 * (refusing more than 50), `/events` answers the latest 100, `/tags` and `/logs` apply their page size and
 * silently clamp it (to 50 and 100): a 2xx to a huge page size that holds no more than a sane page is no
 * finding. `/tags` is too short for a huge page to show anything on either twin.
 */
const list = (description: string) => ({
  description,
  content: {
    'application/json': {
      schema: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' } } } },
    },
  },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'catalogue', version: '1' },
  components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
  security: [{ token: [] }],
  paths: {
    '/items': {
      get: {
        operationId: 'listItems',
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 50 } }],
        responses: { '200': list('items'), '400': { description: 'bad limit' } },
      },
    },
    '/events': {
      get: { operationId: 'listEvents', responses: { '200': list('events') } },
    },
    '/tags': {
      get: {
        operationId: 'listTags',
        parameters: [{ name: 'per_page', in: 'query', schema: { type: 'integer', minimum: 1 } }],
        responses: { '200': { description: 'a page of tags' } },
      },
    },
    '/logs': {
      get: {
        operationId: 'listLogs',
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1 } }],
        responses: { '200': { description: 'a page of log entries' } },
      },
    },
  },
};

const ITEMS = Array.from({ length: 30 }, (_, i) => ({ id: i + 1 }));
const EVENTS = Array.from({ length: 250 }, (_, i) => ({ id: i + 1 }));
const TAGS = Array.from({ length: 12 }, (_, i) => ({ slug: `tag-${i}`, uses: i * 3 }));
const LOGS = Array.from({ length: 300 }, (_, i) => ({ at: 1_700_000_000 + i, line: `entry ${i}` }));

/** A page size from the query: the default when absent, undefined when it is no positive integer. */
function pageSize(url: URL, name: string, fallback: number): number | undefined {
  const n = Number(url.searchParams.get(name) ?? fallback);
  return Number.isInteger(n) && n >= 1 ? n : undefined;
}

function startCatalogue(fixed: boolean) {
  return startServer((req, res) => {
    const send = (status: number, payload: unknown) => {
      // A rate limit announced on every answer: the burst probe has nothing to report on either twin.
      res.writeHead(status, { 'content-type': 'application/json', 'x-ratelimit-limit': '100' });
      res.end(JSON.stringify(payload));
    };
    if (!/^Bearer tok-(alice|bob)$/.test(req.headers.authorization ?? ''))
      return send(401, { detail: 'sign in' });
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET') return send(405, { detail: 'method not allowed' });
    if (url.pathname === '/items') {
      if (!fixed) return send(200, ITEMS);
      const limit = Number(url.searchParams.get('limit') ?? 20);
      if (!Number.isInteger(limit) || limit < 1 || limit > 50)
        return send(400, { detail: 'limit is 1 to 50' });
      return send(200, ITEMS.slice(0, limit));
    }
    if (url.pathname === '/events') return send(200, fixed ? EVENTS.slice(-100) : EVENTS);
    if (url.pathname === '/tags') {
      const n = pageSize(url, 'per_page', 10);
      if (n === undefined) return send(400, { detail: 'per_page is a positive integer' });
      const page = fixed ? TAGS.slice(0, Math.min(n, 50)) : TAGS;
      return send(200, { documents: page, count: page.length });
    }
    if (url.pathname === '/logs') {
      const n = pageSize(url, 'limit', 20);
      if (n === undefined) return send(400, { detail: 'limit is a positive integer' });
      return send(200, { data: { logs: LOGS.slice(0, fixed ? Math.min(n, 100) : n) }, ok: true });
    }
    return send(404, { detail: 'not found' });
  });
}

describe('lists that ignore their page size or have none', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startCatalogue, {
      identities: [
        { name: 'alice', bearer: 'tok-alice' },
        { name: 'bob', bearer: 'tok-bob' },
      ],
      checks: ['API4'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('limit=1 answered with every item', () => {
    const f = runs.vulnerable.findings.find((x) => x.rule.id === 'scan/api4-page-limit-ignored');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.equal(f.operation?.operationId, 'listItems');
    assert.match(f.message, /answered 30 items to limit=1/);
  });

  test('a list without paging answered 250 events at once', () => {
    const f = runs.vulnerable.findings.find((x) => x.rule.id === 'scan/api4-no-pagination');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.equal(f.operation?.operationId, 'listEvents');
    assert.equal(f.rule.severity, 'low');
    assert.match(f.message, /answered 250 items at once/);
  });

  test('per_page=1 ignored by a list in an envelope, and no huge-page finding on a short list', () => {
    const found = runs.vulnerable.findings.filter((x) => x.operation?.operationId === 'listTags');
    assert.deepEqual(
      found.map((x) => x.rule.id),
      ['scan/api4-page-limit-ignored'],
    );
    assert.match(found[0].message, /answered 12 items to per_page=1/);
  });

  test('a page size honoured past a sane page: 300 entries to limit=100000', () => {
    const found = runs.vulnerable.findings.filter((x) => x.operation?.operationId === 'listLogs');
    assert.deepEqual(
      found.map((x) => x.rule.id),
      ['scan/api4-unbounded-page-size'],
    );
    assert.match(found[0].message, /answered 300 items to limit=100000/);
  });

  test('finds nothing on the fixed twin', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
