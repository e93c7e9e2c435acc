import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { headerIdentities, operationsFound, scanTwins } from './twins.ts';

/**
 * A bike-share depot's API in a Go-like style (`{"code": 40301, "msg": ...}` errors, an `X-Depot-Key` per person).
 * Its document groups operations by source file: `depot-admin` holds the admin's revenue report and also the
 * public list of stations, which anyone, signed in or not, reads.
 * - `GET /api/revenue`: tagged `depot-admin` and sent with a key; vulnerable, any key reads it; fixed twin, the
 *   admin's only (403).
 * - `GET /api/stations`: tagged `depot-admin` too, open to everyone on both twins (the same list): no function of
 *   the admin, however it is tagged.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'bike depot', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Depot-Key' } } },
  paths: {
    '/api/revenue': {
      get: {
        operationId: 'revenue',
        tags: ['depot-admin'],
        summary: 'Revenue Report',
        security: [{ key: [] }],
        responses: { '200': { description: 'totals' } },
      },
    },
    '/api/stations': {
      get: {
        operationId: 'stations',
        tags: ['depot-admin'],
        summary: 'Stations',
        description: 'Every station with its free bikes.',
        responses: { '200': { description: 'stations' } },
      },
    },
  },
};

const KEYS: Record<string, { who: string; admin: boolean }> = {
  'dk-7f2a91c4e6': { who: 'mara', admin: true },
  'dk-31b8d05e77': { who: 'jon', admin: false },
  'dk-c94e6a1f20': { who: 'lea', admin: false },
};
const STATIONS = [
  { id: 11, name: 'Harbour', free: 4, manager: 'mara', contact: 'mara' },
  { id: 12, name: 'Old Mill', free: 0, manager: 'jon', contact: 'jon' },
  { id: 13, name: 'Library', free: 7, manager: 'lea', contact: 'lea' },
];

function startDepot(fixed: boolean) {
  return startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://depot').pathname;
    const caller = KEYS[String(req.headers['x-depot-key'] ?? '')];
    if (req.method !== 'GET') return sendJson(res, 405, { code: 40501, msg: 'method not allowed' });
    if (path === '/api/stations') return sendJson(res, 200, { code: 0, data: STATIONS });
    if (path === '/api/revenue') {
      if (!caller) return sendJson(res, 401, { code: 40101, msg: 'missing key' });
      if (fixed && !caller.admin) return sendJson(res, 403, { code: 40301, msg: 'admin only' });
      return sendJson(res, 200, {
        code: 0,
        data: { rides: 1840, revenue_cents: 551900, refunds_cents: 4200 },
      });
    }
    return sendJson(res, 404, { code: 40401, msg: 'not found' });
  });
}

describe('API5: a public read filed under an admin tag is no function of the admin', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startDepot>>>>>;
  before(async () => {
    const [admin, ...people] = headerIdentities('X-Depot-Key', {
      mara: 'dk-7f2a91c4e6',
      jon: 'dk-31b8d05e77',
      lea: 'dk-c94e6a1f20',
    });
    Object.assign(
      scans,
      await scanTwins(SPEC, startDepot, { identities: people, admin, ratePerSecond: 200, checks: ['API5'] }),
    );
  });

  test('vulnerable: the revenue report is API5; the stations list, open to anonymous callers, is not', () => {
    assert.deepEqual(operationsFound(scans.vulnerable.result), ['scan/api5-bfla revenue']);
    const cell = scans.vulnerable.result.coverage.matrix.find(
      (c) => c.check === 'API5' && c.operation === 'GET /api/stations',
    );
    const said = [cell?.reason ?? '', ...((cell as { notes?: string[] } | undefined)?.notes ?? [])].join(
      ' | ',
    );
    assert.match(said, /only its tag \(depot-admin/);
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
