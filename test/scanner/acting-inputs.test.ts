import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A clinic's patient API (Express-like: `{"error": "..."}` bodies, an `X-Api-Key` per patient). The front desk
 * books appointments and the pharmacy takes orders: the document has no create, so the scan owns neither.
 * `GET /appointments` and `GET /orders` list the caller's own (ids the API gives out), `GET /appointments/{id}`
 * and `GET /orders/{order_id}` read one (the owner only, on both twins). The cancels name their object by an
 * input, not the path: `GET /appointments/cancel?id=5` and `POST /orders/cancel {"order_id": 5}`. On the
 * vulnerable twin anyone cancels anyone's; on the fixed twin only the owner (others get 404).
 *
 * A cancel is no read: without --allow-destructive no request names, in its query or body, an id the scan did
 * not create (before, the guard looked at path ids only, and API6 cancelled alice's order 301 five times).
 */
const ok = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
const pathId = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'integer' } });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'clinic', version: '1' },
  components: { securitySchemes: { patient: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ patient: [] }],
  paths: {
    '/appointments': {
      get: { operationId: 'myAppointments', responses: { '200': ok('your appointments') } },
    },
    '/appointments/{id}': {
      get: {
        operationId: 'getAppointment',
        parameters: [pathId('id')],
        responses: { '200': ok('an appointment'), '404': { description: 'none' } },
      },
    },
    '/appointments/cancel': {
      get: {
        operationId: 'cancelAppointment',
        parameters: [{ name: 'id', in: 'query', required: true, schema: { type: 'integer' } }],
        responses: { '200': ok('cancelled'), '404': { description: 'none' } },
      },
    },
    '/orders': {
      get: { operationId: 'myOrders', responses: { '200': ok('your pharmacy orders') } },
    },
    '/orders/{order_id}': {
      get: {
        operationId: 'getOrder',
        parameters: [pathId('order_id')],
        responses: { '200': ok('an order'), '404': { description: 'none' } },
      },
    },
    '/orders/cancel': {
      post: {
        operationId: 'cancelOrder',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['order_id'],
                properties: { order_id: { type: 'integer' }, reason: { type: 'string', maxLength: 100 } },
              },
            },
          },
        },
        responses: { '200': ok('cancelled'), '404': { description: 'none' } },
      },
    },
  },
};

interface Booking {
  id: number;
  patient: string;
  what: string;
  status: 'booked' | 'cancelled';
}

const KEYS: Record<string, string> = { 'k-alice-71c9': 'alice', 'k-bob-0e4d': 'bob' };

function startClinic(fixed: boolean) {
  const appointments: Booking[] = [
    { id: 5, patient: 'alice', what: 'dermatology 2026-12-28T09:00', status: 'booked' },
    { id: 6, patient: 'alice', what: 'dentist 2027-01-04T14:30', status: 'booked' },
    { id: 9, patient: 'bob', what: 'physiotherapy 2026-12-29T11:15', status: 'booked' },
  ];
  const orders: Booking[] = [
    { id: 301, patient: 'alice', what: 'amoxicillin 500 mg x 21', status: 'booked' },
    { id: 302, patient: 'bob', what: 'ibuprofen 400 mg x 30', status: 'booked' },
    { id: 303, patient: 'bob', what: 'cetirizine 10 mg x 14', status: 'booked' },
  ];
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const patient = KEYS[String(req.headers['x-api-key'] ?? '')];
    if (!patient) return send(401, { error: 'missing or unknown api key' });
    const url = new URL(req.url ?? '/', 'http://clinic');
    const path = url.pathname;
    const cancel = (list: Booking[], raw: unknown) => {
      const b = list.find((x) => String(x.id) === String(raw));
      if (!b || (fixed && b.patient !== patient)) return send(404, { error: 'not found' });
      b.status = 'cancelled';
      return send(200, { ...b, message: 'cancelled' });
    };
    if (req.method === 'GET') {
      if (path === '/appointments')
        return send(
          200,
          appointments.filter((a) => a.patient === patient),
        );
      if (path === '/orders')
        return send(
          200,
          orders.filter((o) => o.patient === patient),
        );
      if (path === '/appointments/cancel') return cancel(appointments, url.searchParams.get('id'));
      const m = /^\/(appointments|orders)\/(\d+)$/.exec(path);
      if (m) {
        const b = (m[1] === 'orders' ? orders : appointments).find((x) => x.id === Number(m[2]));
        return b && b.patient === patient ? send(200, b) : send(404, { error: 'not found' });
      }
    }
    if (req.method === 'POST' && path === '/orders/cancel') {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text);
      } catch {
        return send(400, { error: 'invalid JSON' });
      }
      if (body === null || typeof body !== 'object') return send(400, { error: 'order_id is required' });
      return cancel(orders, body.order_id);
    }
    return send(404, { error: 'not found' });
  }).then((api) => Object.assign(api, { appointments, orders }));
}

const identities = [
  { name: 'alice', headers: { 'X-Api-Key': 'k-alice-71c9' } },
  { name: 'bob', headers: { 'X-Api-Key': 'k-bob-0e4d' } },
];
const cancelled = (api: { appointments: Booking[]; orders: Booking[] }) =>
  [...api.appointments, ...api.orders].filter((b) => b.status === 'cancelled').map((b) => b.id);

describe('an acting operation goes only with query and body ids of objects the scan created, unless --allow-destructive', () => {
  const plain = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startClinic>>>>>;
  const destructive = {} as typeof plain;
  before(async () => {
    Object.assign(plain, await scanTwins(SPEC, startClinic, { identities, ratePerSecond: 200 }));
    Object.assign(
      destructive,
      await scanTwins(SPEC, startClinic, { identities, ratePerSecond: 200, allowDestructive: true }),
    );
  });

  test('a plain scan cancels no appointment or order on either twin, and says why', () => {
    assert.deepEqual(cancelled(plain.vulnerable.api), []);
    assert.deepEqual(cancelled(plain.fixed.api), []);
    const result: ScanResult = plain.vulnerable.result;
    const found = operationsFound(result);
    assert.ok(!found.some((f) => /cancel(Appointment|Order)$/.test(f)), found.join());
    const reasons = result.coverage.matrix
      .filter((c) => /cancel$/.test(c.operation) && c.reason !== undefined)
      .map((c) => `${c.check} ${c.operation}: ${c.reason}`);
    assert.ok(
      reasons.some((r) =>
        /GET \/appointments\/cancel: .*its inputs name id=\d+, which the scan did not create/.test(r),
      ),
      reasons.join('\n'),
    );
    assert.ok(
      reasons.some((r) =>
        /POST \/orders\/cancel: .*its inputs name order_id=\d+, which the scan did not create/.test(r),
      ),
      reasons.join('\n'),
    );
  });

  test('with --allow-destructive the guard is lifted: the cancels go with the ids the lists gave out', () => {
    // No check yet replays an action whose object is named by a query or body id as another identity (API1
    // replays path ids only), so the flaw itself is not reported; what the flag allows does go out.
    for (const { api, result } of [destructive.vulnerable, destructive.fixed]) {
      assert.ok(cancelled(api).includes(301), JSON.stringify(api.orders));
      const reasons = result.coverage.matrix.map((c) => c.reason ?? '');
      assert.ok(!reasons.some((r) => /its inputs name/.test(r)), reasons.join('\n'));
    }
  });

  test('the fixed twin: no finding on the cancels, plain or destructive', () => {
    for (const result of [plain.fixed.result, destructive.fixed.result]) {
      const found = operationsFound(result).filter((f) => /cancel(Appointment|Order)$/.test(f));
      assert.deepEqual(found, []);
    }
  });
});
