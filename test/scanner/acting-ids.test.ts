import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A restaurant's reservations (Express-like: `{"error": "..."}` bodies, an `X-Api-Key` per diner), made by the
 * staff only: the document has no create, so the scan owns no reservation. `GET /reservations` lists the
 * caller's own (ids the API gives out), `GET /reservations/{id}` reads one (the owner only, on both twins), and
 * `GET /reservations/{id}/cancel` cancels one: on the vulnerable twin anyone cancels anyone's, on the fixed twin
 * only the owner (others get 404).
 *
 * A cancel is no read: without --allow-destructive no request goes to it with an id the scan did not create
 * (before the guard API1 and API3 cancelled the diners' reservations with the ids their lists gave out).
 */
const ok = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
const id = { name: 'reservation_id', in: 'path', required: true, schema: { type: 'integer' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'reservations', version: '1' },
  components: { securitySchemes: { diner: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ diner: [] }],
  paths: {
    '/reservations': {
      get: { operationId: 'myReservations', responses: { '200': ok('your reservations') } },
    },
    '/reservations/{reservation_id}': {
      get: {
        operationId: 'getReservation',
        parameters: [id],
        responses: { '200': ok('a reservation'), '404': { description: 'none' } },
      },
    },
    '/reservations/{reservation_id}/cancel': {
      get: {
        operationId: 'cancelReservation',
        parameters: [id],
        responses: { '200': ok('cancelled'), '404': { description: 'none' } },
      },
    },
  },
};

interface Reservation {
  id: number;
  diner: string;
  table: number;
  time: string;
  status: 'booked' | 'cancelled';
}

const KEYS: Record<string, string> = { 'k-alice-5d1e': 'alice', 'k-bob-83c2': 'bob' };

function startRestaurant(fixed: boolean) {
  const reservations: Reservation[] = [
    { id: 11, diner: 'alice', table: 4, time: '2026-12-24T19:30', status: 'booked' },
    { id: 12, diner: 'alice', table: 2, time: '2026-12-31T20:00', status: 'booked' },
    { id: 21, diner: 'bob', table: 7, time: '2026-12-25T13:00', status: 'booked' },
  ];
  return startServer(async (req, res) => {
    for await (const _ of req) {
      // drain
    }
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const diner = KEYS[String(req.headers['x-api-key'] ?? '')];
    if (!diner) return send(401, { error: 'missing or unknown api key' });
    if (req.method !== 'GET') return send(405, { error: 'method not allowed' });
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/reservations')
      return send(
        200,
        reservations.filter((r) => r.diner === diner),
      );
    const m = /^\/reservations\/(\d+)(\/cancel)?$/.exec(path);
    const r = m ? reservations.find((x) => x.id === Number(m[1])) : undefined;
    if (!m) return send(404, { error: 'not found' });
    if (!r) return send(404, { error: 'no such reservation' });
    if (!m[2]) return r.diner === diner ? send(200, r) : send(404, { error: 'no such reservation' });
    if (fixed && r.diner !== diner) return send(404, { error: 'no such reservation' });
    r.status = 'cancelled';
    return send(200, { ...r, message: 'reservation cancelled' });
  }).then((api) => Object.assign(api, { reservations }));
}

const identities = [
  { name: 'alice', headers: { 'X-Api-Key': 'k-alice-5d1e' } },
  { name: 'bob', headers: { 'X-Api-Key': 'k-bob-83c2' } },
];
const cancelled = (api: { reservations: Reservation[] }) =>
  api.reservations.filter((r) => r.status === 'cancelled').map((r) => r.id);

describe('a GET that acts goes only with ids of objects the scan created, unless --allow-destructive', () => {
  const plain = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startRestaurant>>>>>;
  const destructive = {} as typeof plain;
  before(async () => {
    Object.assign(plain, await scanTwins(SPEC, startRestaurant, { identities, ratePerSecond: 200 }));
    Object.assign(
      destructive,
      await scanTwins(SPEC, startRestaurant, { identities, ratePerSecond: 200, allowDestructive: true }),
    );
  });

  test('a plain scan cancels no reservation on either twin and says why the cancel was not tested', () => {
    assert.deepEqual(cancelled(plain.vulnerable.api), []);
    assert.deepEqual(cancelled(plain.fixed.api), []);
    const result: ScanResult = plain.vulnerable.result;
    assert.ok(
      !operationsFound(result).some((f) => f.endsWith(' cancelReservation')),
      operationsFound(result).join(),
    );
    const cell = result.coverage.matrix.find(
      (c) => c.check === 'API1' && c.operation === 'GET /reservations/{reservation_id}/cancel',
    );
    assert.equal(cell?.status, 'skipped');
    assert.match(
      cell?.reason ?? '',
      /its path acts on \d+, which the scan did not create \(--allow-destructive sends it\)/,
    );
  });

  test("with --allow-destructive the flaw is found: anyone cancels anyone's reservation (API1)", () => {
    const found = operationsFound(destructive.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-read cancelReservation'), found.join('\n'));
    // The other diner's reservations went too: that is what the flag allows.
    assert.ok(cancelled(destructive.vulnerable.api).length > 0);
  });

  test('the fixed twin: no finding but the headers and rate limit neither twin has, plain or destructive', () => {
    for (const result of [plain.fixed.result, destructive.fixed.result]) {
      const found = operationsFound(result).filter(
        (f) => !/api4-no-rate-limit|api8-missing-security-headers/.test(f),
      );
      assert.deepEqual(found, []);
    }
  });
});
