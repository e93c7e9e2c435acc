import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A clinic's patient API (Express-like: `{"error": "..."}` bodies, an `X-Api-Key` per patient). Patients book
 * appointments (`POST /appointments`) and order from the pharmacy (`POST /orders`), so the scan books an
 * appointment as alice and as bob (an order is a purchase: only with --allow-destructive). The cancels name
 * their object by an input, not the path: `GET /appointments/cancel?id=` and `POST /orders/cancel {"order_id": ..., "reason": ...}`. On the vulnerable
 * twin anyone cancels anyone's; on the fixed twin only the owner (others get 404). `POST /appointments/delete
 * {"ids": [...]}` removes appointments, anyone's on the vulnerable twin, the caller's own on the fixed one. Appointments 5, 6, 9 and
 * orders 301-303 were seeded by the front desk: the scan did not create them and must leave them booked.
 *
 * API1 replays each cancel as the other identity with an object the scan created as the owner (the appointment
 * id for the query's plain `id`, from the entity the path names; the order for `order_id`) and reads the object
 * back as its owner.
 */
const ok = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
const pathId = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'integer' } });
const jsonBody = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'clinic', version: '1' },
  components: { securitySchemes: { patient: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ patient: [] }],
  paths: {
    '/appointments': {
      get: { operationId: 'myAppointments', responses: { '200': ok('your appointments') } },
      post: {
        operationId: 'bookAppointment',
        requestBody: jsonBody(
          { clinic: { type: 'string', maxLength: 60 }, slot: { type: 'string', format: 'date-time' } },
          ['clinic', 'slot'],
        ),
        responses: { '201': ok('booked') },
      },
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
    '/appointments/delete': {
      post: {
        operationId: 'deleteAppointments',
        requestBody: jsonBody({ ids: { type: 'array', items: { type: 'integer' }, maxItems: 20 } }, ['ids']),
        responses: { '200': ok('deleted'), '404': { description: 'none' } },
      },
    },
    '/orders': {
      get: { operationId: 'myOrders', responses: { '200': ok('your pharmacy orders') } },
      delete: {
        operationId: 'deleteOrder',
        parameters: [{ name: 'order_id', in: 'query', required: true, schema: { type: 'integer' } }],
        responses: { '204': { description: 'deleted' }, '404': { description: 'none' } },
      },
      post: {
        operationId: 'placeOrder',
        requestBody: jsonBody(
          { medicine: { type: 'string', maxLength: 80 }, quantity: { type: 'integer', minimum: 1 } },
          ['medicine', 'quantity'],
        ),
        responses: { '201': ok('ordered') },
      },
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
        requestBody: jsonBody({ order_id: { type: 'integer' }, reason: { type: 'string', maxLength: 100 } }, [
          'order_id',
        ]),
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
  reason?: string;
}

const KEYS: Record<string, string> = { 'k-alice-71c9': 'alice', 'k-bob-0e4d': 'bob' };
const SEEDED = [5, 6, 9, 301, 302, 303];

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
  let next = 1000;
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
    const cancel = (list: Booking[], raw: unknown, reason?: unknown) => {
      const b = list.find((x) => String(x.id) === String(raw));
      if (!b || (fixed && b.patient !== patient)) return send(404, { error: 'not found' });
      b.status = 'cancelled';
      if (typeof reason === 'string') b.reason = reason.slice(0, 100);
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
    if (req.method === 'DELETE' && path === '/orders') {
      const o = orders.find((x) => String(x.id) === url.searchParams.get('order_id'));
      if (!o || (fixed && o.patient !== patient)) return send(404, { error: 'not found' });
      orders.splice(orders.indexOf(o), 1);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'POST') {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text);
      } catch {
        return send(400, { error: 'invalid JSON' });
      }
      if (body === null || typeof body !== 'object') return send(400, { error: 'a JSON object is required' });
      if (path === '/orders/cancel') return cancel(orders, body.order_id, body.reason);
      if (path === '/appointments/delete') {
        const ids = Array.isArray(body.ids) ? body.ids.map(String) : [];
        const doomed = appointments.filter(
          (a) => ids.includes(String(a.id)) && (!fixed || a.patient === patient),
        );
        if (doomed.length === 0) return send(404, { error: 'not found' });
        for (const a of doomed) appointments.splice(appointments.indexOf(a), 1);
        return send(200, { deleted: doomed.map((a) => a.id) });
      }
      if (path === '/appointments' || path === '/orders') {
        const what = path === '/orders' ? body.medicine : body.clinic;
        if (typeof what !== 'string' || what === '') return send(400, { error: 'missing fields' });
        const b: Booking = { id: next++, patient, what: what.slice(0, 80), status: 'booked' };
        (path === '/orders' ? orders : appointments).push(b);
        return send(201, b);
      }
    }
    return send(404, { error: 'not found' });
  }).then((api) => Object.assign(api, { appointments, orders }));
}

const identities = [
  { name: 'alice', headers: { 'X-Api-Key': 'k-alice-71c9' } },
  { name: 'bob', headers: { 'X-Api-Key': 'k-bob-0e4d' } },
];
type Clinic = Awaited<ReturnType<typeof startClinic>>;
/** The seeded bookings not as seeded: cancelled, or gone. */
const seededTouched = (api: Clinic) => {
  const all = [...api.appointments, ...api.orders];
  return SEEDED.filter((id) => all.find((b) => b.id === id)?.status !== 'booked');
};

describe('API1 replays an action whose object is named by a query or body id as the other identity', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Clinic>>>;
  const destructive = {} as typeof scans;
  before(async () => {
    Object.assign(scans, await scanTwins(SPEC, startClinic, { identities, ratePerSecond: 200 }));
    Object.assign(
      destructive,
      await scanTwins(SPEC, startClinic, {
        identities,
        ratePerSecond: 200,
        allowDestructive: true,
        checks: ['API1'],
      }),
    );
  });

  test('vulnerable: the appointment cancel found as another identity acting on the owner object', () => {
    const { result } = scans.vulnerable;
    const found = operationsFound(result);
    assert.ok(found.includes('scan/api1-bola-write cancelAppointment'), found.join());
    // A pharmacy order is a purchase: a plain scan places none as alice or bob (and the clinic has no sign-up for
    // an account of the scan's own), so the order cancel is not reached. (With --allow-destructive each patient
    // buys once, and that order goes to the DELETE below.)
    assert.ok(!found.includes('scan/api1-bola-write cancelOrder'), found.join());
    assert.match(
      JSON.stringify(result.coverage),
      /not sent as (alice|bob): a purchase spends a given identity's money \(--allow-destructive sends it\)/,
    );
    const appointment =
      result.findings
        .filter((f) => f.operation?.operationId === 'cancelAppointment')
        .map((f) => f.message)
        .find((m) => /\/appointments\/cancel\?id=/.test(m)) ?? '';
    // The query's plain `id` is an appointment the scan booked (1000 and up), not a sampled 1.
    const id = Number(/\?id=(\d+)/.exec(appointment)?.[1]);
    assert.ok(id >= 1000, appointment);
    assert.match(appointment, /(alice|bob) called GET \/appointments\/cancel\?id=\d+ .*(alice|bob)'s/);
    // The removal by a body array is judged by the owner's read: the appointment is gone.
    assert.ok(found.includes('scan/api1-bola-delete deleteAppointments'), found.join());
    const removed =
      result.findings.find((f) => f.operation?.operationId === 'deleteAppointments')?.message ?? '';
    assert.match(
      removed,
      /naming (alice|bob)'s object \/appointments\/\d+ by its body input ids, and (alice|bob) can no longer read it/,
    );
  });

  test('fixed twin (owner check): no finding on the cancels or the removal', () => {
    const found = operationsFound(scans.fixed.result).filter((f) =>
      /cancel(Appointment|Order)$|deleteAppointments$/.test(f),
    );
    assert.deepEqual(found, []);
  });

  test('the seeded appointments and orders the scan did not create stay booked (and there) on both twins', () => {
    assert.deepEqual(seededTouched(scans.vulnerable.api), []);
    assert.deepEqual(seededTouched(scans.fixed.api), []);
  });

  test('a DELETE naming its order by the query goes only with --allow-destructive, and is found then', () => {
    assert.ok(!operationsFound(scans.vulnerable.result).some((f) => /deleteOrder$/.test(f)));
    // A plain scan places no order as a given patient (a purchase): nothing of the scan's own to delete.
    const own = scans.vulnerable.api.orders.filter((o) => o.id >= 1000);
    assert.deepEqual(own, []);
    assert.ok(
      operationsFound(destructive.vulnerable.result).includes('scan/api1-bola-delete deleteOrder'),
      operationsFound(destructive.vulnerable.result).join(),
    );
    assert.ok(!operationsFound(destructive.fixed.result).some((f) => /deleteOrder$/.test(f)));
  });
});
