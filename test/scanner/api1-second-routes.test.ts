import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A water utility's customer API (camelCase ids, `Authorization: Token ...`, refusals as 403 `{"detail"}`): each
 * customer's meters are seeded (the scan creates none), `GET /meters` lists the caller's own. The meter's own
 * read `GET /meters/{meterId}` checks the holder on both twins; the other routes that take the same meter's id
 * (`GET /meters/{meterId}/readings`, `GET /readings?meterId=`, `GET /bills/{meterId}`) check nothing on the
 * vulnerable twin and the holder on the fixed one.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'water utility', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/meters': { get: { operationId: 'listMeters', responses: { '200': { description: 'your meters' } } } },
    '/meters/{meterId}': {
      get: {
        operationId: 'getMeter',
        parameters: [{ name: 'meterId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a meter' }, '403': { description: 'not yours' } },
      },
    },
    '/meters/{meterId}/readings': {
      get: {
        operationId: 'meterReadings',
        parameters: [{ name: 'meterId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'readings' }, '403': { description: 'not yours' } },
      },
    },
    '/readings': {
      get: {
        operationId: 'searchReadings',
        parameters: [{ name: 'serial', in: 'query', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'readings' }, '403': { description: 'not yours' } },
      },
    },
    '/bills/{serial}': {
      get: {
        operationId: 'meterBill',
        parameters: [{ name: 'serial', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'the bill' }, '403': { description: 'not yours' } },
      },
    },
  },
};

const TOKENS: Record<string, string> = { 'Token 9f2c1ae0': 'cust-17', 'Token 44b07d9e': 'cust-42' };
const METERS = [
  { id: 301, serial: 'WM-30817', customerRef: 'cust-17', street: '4 Mill Lane', tariff: 'domestic' },
  { id: 302, serial: 'WM-52290', customerRef: 'cust-42', street: '19 Quarry Road', tariff: 'domestic' },
];
const READINGS: Record<number, { takenOn: string; cubicMetres: number }[]> = {
  301: [
    { takenOn: '2026-10-01', cubicMetres: 412.6 },
    { takenOn: '2026-11-01', cubicMetres: 431.9 },
  ],
  302: [
    { takenOn: '2026-10-01', cubicMetres: 88.1 },
    { takenOn: '2026-11-01', cubicMetres: 95.4 },
  ],
};

function startUtility(fixed: boolean) {
  return startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://utility');
    const me = TOKENS[String(req.headers.authorization ?? '')];
    if (me === undefined)
      return sendJson(res, 401, { detail: 'Authentication credentials were not provided.' });
    const denied = () => sendJson(res, 403, { detail: 'You do not have permission to perform this action.' });
    const missing = () => sendJson(res, 404, { detail: 'Not found.' });
    const parts = url.pathname.split('/').filter((s) => s !== '');
    if (req.method !== 'GET') return sendJson(res, 405, { detail: 'Method not allowed.' });
    if (url.pathname === '/meters')
      return sendJson(res, 200, { results: METERS.filter((m) => m.customerRef === me) });
    const byId = METERS.find((m) => String(m.id) === parts[1]);
    const bySerial = METERS.find((m) => m.serial === (parts[1] ?? url.searchParams.get('serial')));
    const readings = (m: (typeof METERS)[number]) => ({
      serial: m.serial,
      results: READINGS[m.id],
    });
    if (parts[0] === 'meters' && parts.length === 2) {
      if (!byId) return missing();
      if (fixed && byId.customerRef !== me) return denied();
      return sendJson(res, 200, byId);
    }
    if (parts[0] === 'meters' && parts[2] === 'readings' && parts.length === 3) {
      if (!byId) return missing();
      if (fixed && byId.customerRef !== me) return denied();
      return sendJson(res, 200, readings(byId));
    }
    if (url.pathname === '/readings') {
      if (!bySerial) return missing();
      if (fixed && bySerial.customerRef !== me) return denied();
      return sendJson(res, 200, readings(bySerial));
    }
    if (parts[0] === 'bills' && parts.length === 2) {
      if (!bySerial) return missing();
      if (fixed && bySerial.customerRef !== me) return denied();
      const [first, last] = [READINGS[bySerial.id][0], READINGS[bySerial.id].at(-1)!];
      const due = Math.round((last.cubicMetres - first.cubicMetres) * 215) / 100;
      return sendJson(res, 200, { serial: bySerial.serial, street: bySerial.street, amountDue: due });
    }
    return missing();
  });
}

describe('API1 replays every route that takes the ids of an object, not only its own read', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startUtility>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startUtility, {
        identities: [
          { name: 'alice', headers: { Authorization: 'Token 9f2c1ae0' } },
          { name: 'bob', headers: { Authorization: 'Token 44b07d9e' } },
        ],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  for (const op of ['getMeter', 'meterReadings', 'searchReadings', 'meterBill']) {
    test(`vulnerable: ${op} answers another customer's meter`, () => {
      assert.ok(
        operationsFound(scans.vulnerable.result).includes(`scan/api1-bola-read ${op}`),
        operationsFound(scans.vulnerable.result).join(),
      );
    });
  }

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
