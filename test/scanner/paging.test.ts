import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A signed-in catalogue with two lists: `GET /items` declares `limit` (at most 50), `GET /events` declares no
 * paging at all and holds 250 events.
 *
 * Vulnerable: `/items` ignores `limit` and answers all 30 items; `/events` answers all 250. Fixed twin: `/items`
 * applies `limit` (refusing more than 50), `/events` answers the latest 100.
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
  },
};

const ITEMS = Array.from({ length: 30 }, (_, i) => ({ id: i + 1 }));
const EVENTS = Array.from({ length: 250 }, (_, i) => ({ id: i + 1 }));

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

  test('finds nothing on the fixed twin', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
