import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { renderJson } from '../../src/scanner/report/json.ts';
import { renderText } from '../../src/scanner/report/text.ts';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { scanTwins } from './twins.ts';

/**
 * Coverage honesty on a parcel-locker API (HTTP Basic identities, answers as `{ok, ...}`): `GET /lockers`
 * lists lockers, `GET /parcels/{tracking_ref}` knows only references nobody can learn from the API (the
 * documented example, like every value the scan can send, answers 404), and `POST /lockers/checkout {locker}` books a locker.
 *
 * "Strict" twin: the checkout is rate-limited, 2 per member and then 429. "Open" twin: no 429, one booking per
 * member and locker (409 after). Neither has a finding for the checks run. What the reports must say: the
 * parcel route was tested by no check (404s and passive reads are no test), and on the strict twin the 429s,
 * loudly at the top and in the JSON report.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'lockers', version: '2' },
  components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' } } },
  security: [{ basic: [] }],
  paths: {
    '/lockers': { get: { operationId: 'listLockers', responses: { '200': { description: 'lockers' } } } },
    '/parcels/{tracking_ref}': {
      get: {
        operationId: 'trackParcel',
        parameters: [
          {
            name: 'tracking_ref',
            in: 'path',
            required: true,
            schema: { type: 'string' },
            example: 'TR-0000',
          },
        ],
        responses: { '200': { description: 'a parcel' }, '404': { description: 'unknown reference' } },
      },
    },
    '/lockers/checkout': {
      post: {
        operationId: 'checkoutLocker',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['locker'],
                properties: { locker: { type: 'string', example: 'L-01' } },
              },
            },
          },
        },
        responses: { '200': { description: 'booked' }, '409': { description: 'already booked' } },
      },
    },
  },
};

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const MEMBERS = new Map([
  [basic('mia', 'mia-locker-1'), 'mia'],
  [basic('noah', 'noah-locker-2'), 'noah'],
]);

function startLockers(open: boolean) {
  const bookings = new Map<string, number>();
  return startServer(async (req, res) => {
    for await (const _ of req) {
      // drain the body
    }
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const who = MEMBERS.get(req.headers.authorization ?? '');
    if (who === undefined) return send(401, { ok: false, error: 'authentication required' });
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/lockers') {
      return send(200, {
        ok: true,
        lockers: [
          { locker: 'L-01', size: 'S' },
          { locker: 'L-02', size: 'M' },
        ],
      });
    }
    if (req.method === 'GET' && path.startsWith('/parcels/')) {
      return send(404, { ok: false, error: 'unknown tracking reference' });
    }
    if (req.method === 'POST' && path === '/lockers/checkout') {
      const n = (bookings.get(who) ?? 0) + 1;
      bookings.set(who, n);
      if (!open && n > 2) return send(429, { ok: false, error: 'slow down' });
      if (open && n > 1) return send(409, { ok: false, error: 'you already hold a locker' });
      return send(200, { ok: true, booking: `B-${who}-${n}` });
    }
    return send(405, { ok: false, error: 'method not allowed' });
  });
}

describe('coverage says what was tested, and the 429s are loud', () => {
  const runs = {} as Record<'strict' | 'open', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startLockers, {
      identities: [
        { name: 'mia', headers: { authorization: basic('mia', 'mia-locker-1') } },
        { name: 'noah', headers: { authorization: basic('noah', 'noah-locker-2') } },
      ],
      checks: ['API1', 'API3', 'API6', 'API9'],
      ratePerSecond: 200,
    });
    runs.strict = scans.vulnerable.result;
    runs.open = scans.fixed.result;
  });

  test('no finding on either twin', () => {
    assert.deepEqual(runs.strict.findings, []);
    assert.deepEqual(runs.open.findings, []);
  });

  test('a route only ever answered 404 is tested by no check', () => {
    for (const kind of ['strict', 'open'] as const) {
      const cells = runs[kind].coverage.matrix.filter((c) => c.operation === 'GET /parcels/{tracking_ref}');
      assert.equal(cells.length, 4, kind);
      for (const c of cells) assert.equal(c.status, 'skipped', `${kind} ${c.check}: ${c.reason}`);
    }
  });

  test("API3's passive reads of other checks' answers are not tests of its own", () => {
    const api3 = runs.open.coverage.matrix.find((c) => c.check === 'API3' && c.operation === 'GET /lockers');
    assert.equal(api3?.status, 'skipped');
    assert.match(api3?.reason ?? '', /no request of its own; its passive rules read \d+ answers/);
  });

  test('the 429s: counted, with the phase and the first operation, first in the text report and in the JSON', () => {
    const limited = runs.strict.coverage.rateLimited;
    assert.ok(limited, JSON.stringify(runs.strict.warnings));
    assert.equal(limited.firstOperation, 'POST /lockers/checkout');
    assert.equal(limited.firstPhase, 'API6');
    assert.ok(limited.answers >= 1, String(limited.answers));
    assert.match(
      runs.strict.warnings[0],
      /^THE API RATE-LIMITED THE SCAN: \d+ answers? 429 .*first: POST \/lockers\/checkout in API6/,
    );
    const text = renderText(runs.strict, { color: false });
    const firstWarning = text.split('\n').find((l) => l.includes('!'));
    assert.match(firstWarning ?? '', /THE API RATE-LIMITED THE SCAN/);
    assert.deepEqual(JSON.parse(renderJson(runs.strict)).rateLimited, limited);
    assert.equal(runs.open.coverage.rateLimited, undefined);
    assert.equal(JSON.parse(renderJson(runs.open)).rateLimited, undefined);
  });
});
