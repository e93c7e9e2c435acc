import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * An API where the scan creates nothing and nothing lists the ids: a clinic (Axum-like: errors as
 * `{"code", "message"}`, ids small integers) that trusts an `X-User-ID` header as the caller. Booking answers
 * 202 `{"status": "queued"}` with no id and there is no list of appointments; `GET /appointments/{appointment_id}`
 * reads a seeded appointment (1 is alice's, 2 bob's, 3 carol's: `patient_id`), `GET
 * /users/{user_id}/prescriptions` a user's prescriptions, `GET /admin/users/{user_id}` a user's file for staff.
 *
 * Vulnerable: anyone reads any appointment, any user's prescriptions, and the staff route. Fixed twin: another
 * patient's appointment is 404, another user's prescriptions 403, the staff route 403 to non-staff.
 */
const ok = (description: string, schema: object = { type: 'object' }) => ({
  description,
  content: { 'application/json': { schema } },
});
const userId = { name: 'user_id', in: 'path', required: true, schema: { type: 'integer' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'clinic', version: '1' },
  components: { securitySchemes: { caller: { type: 'apiKey', in: 'header', name: 'X-User-ID' } } },
  security: [{ caller: [] }],
  paths: {
    '/appointments': {
      post: {
        operationId: 'book',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['doctor', 'date'],
                properties: { doctor: { type: 'string' }, date: { type: 'string', format: 'date' } },
              },
            },
          },
        },
        responses: { '202': ok('queued') },
      },
    },
    '/appointments/{appointment_id}': {
      get: {
        operationId: 'getAppointment',
        parameters: [{ name: 'appointment_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': ok('an appointment'), '404': { description: 'none' } },
      },
    },
    '/appointments/{appointment_id}/cancel': {
      get: {
        operationId: 'cancelAppointment',
        parameters: [{ name: 'appointment_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': ok('cancelled') },
      },
    },
    '/users/{user_id}/prescriptions': {
      get: {
        operationId: 'listPrescriptions',
        parameters: [userId],
        responses: { '200': ok('prescriptions', { type: 'array' }) },
      },
    },
    '/admin/users/{user_id}': {
      get: {
        operationId: 'staffReadUser',
        parameters: [userId],
        responses: { '200': ok('a user file'), '403': { description: 'staff only' } },
      },
    },
  },
};

const USERS = [
  { id: 1, name: 'dr-root', staff: true },
  { id: 2, name: 'alice', staff: false },
  { id: 3, name: 'bob', staff: false },
  { id: 4, name: 'carol', staff: false },
];
const APPOINTMENTS = [
  { id: 1, patient_id: 2, doctor: 'Dr Okafor', date: '2026-03-02', reason: 'migraine follow-up' },
  { id: 2, patient_id: 3, doctor: 'Dr Lindqvist', date: '2026-03-04', reason: 'knee pain' },
  { id: 3, patient_id: 4, doctor: 'Dr Okafor', date: '2026-03-09', reason: 'blood test' },
];
const PRESCRIPTIONS: Record<number, { id: number; drug: string; dose: string }[]> = {
  2: [{ id: 11, drug: 'sumatriptan', dose: '50 mg' }],
  3: [{ id: 12, drug: 'naproxen', dose: '250 mg' }],
  4: [{ id: 13, drug: 'ferrous sulfate', dose: '200 mg' }],
};

function startClinic(fixed: boolean) {
  const cancelled: number[] = [];
  return startServer(async (req, res) => {
    for await (const _ of req) {
      // drain
    }
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    const fail = (code: number, message: string) => send(code, { code, message });
    const caller = USERS.find((u) => String(u.id) === req.headers['x-user-id']);
    if (!caller) return fail(401, 'missing or unknown X-User-ID');
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/appointments') return send(202, { status: 'queued' });
    if (req.method !== 'GET') return fail(405, 'method not allowed');
    let m = /^\/appointments\/(\d+)\/cancel$/.exec(path);
    if (m) {
      cancelled.push(Number(m[1]));
      return send(200, { status: 'cancelled' });
    }
    m = /^\/appointments\/(\d+)$/.exec(path);
    if (m) {
      const a = APPOINTMENTS.find((x) => x.id === Number(m?.[1]));
      if (!a || (fixed && a.patient_id !== caller.id && !caller.staff))
        return fail(404, 'no such appointment');
      return send(200, a);
    }
    m = /^\/users\/(\d+)\/prescriptions$/.exec(path);
    if (m) {
      const id = Number(m[1]);
      if (fixed && id !== caller.id && !caller.staff) return fail(403, 'not your record');
      const list = PRESCRIPTIONS[id];
      return list ? send(200, list) : fail(404, 'no such user');
    }
    m = /^\/admin\/users\/(\d+)$/.exec(path);
    if (m) {
      if (fixed && !caller.staff) return fail(403, 'staff only');
      const u = USERS.find((x) => x.id === Number(m?.[1]));
      return u ? send(200, { ...u, prescriptions: PRESCRIPTIONS[u.id] ?? [] }) : fail(404, 'no such user');
    }
    return fail(404, 'not found');
  }).then((api) => Object.assign(api, { cancelled }));
}

const caller = (name: string, id: number) => ({ name, headers: { 'X-User-ID': String(id) } });

describe('ids nothing gave out: the identity header, then small ids confirmed', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const cancelled: number[] = [];
  before(async () => {
    const scans = await scanTwins(SPEC, startClinic, {
      identities: [caller('alice', 2), caller('bob', 3)],
      admin: caller('dr-root', 1),
      checks: ['API1', 'API5'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
    cancelled.push(...scans.vulnerable.api.cancelled, ...scans.fixed.api.cancelled);
  });

  test("API1 reads another patient's appointment (a small id, confirmed, owned by its patient_id) and prescriptions (the X-User-ID header)", () => {
    const found = operationsFound(runs.vulnerable);
    assert.ok(found.includes('scan/api1-bola-read getAppointment'), found.join('\n'));
    assert.ok(found.includes('scan/api1-bola-read listPrescriptions'), found.join('\n'));
    const appointment = runs.vulnerable.findings.find(
      (f) => f.rule.id === 'scan/api1-bola-read' && f.operation?.operationId === 'getAppointment',
    );
    assert.match(
      appointment?.message ?? '',
      /^(bob read alice's data at \/appointments\/1|alice read bob's data at \/appointments\/2) /,
    );
    const prescriptions = runs.vulnerable.findings.find(
      (f) => f.rule.id === 'scan/api1-bola-read' && f.operation?.operationId === 'listPrescriptions',
    );
    assert.match(prescriptions?.message ?? '', /\/users\/[23]\/prescriptions/);
  });

  test('API5 reaches the staff route with an ordinary identity', () => {
    const found = operationsFound(runs.vulnerable);
    assert.ok(
      found.some((f) => f.startsWith('scan/api5-') && f.endsWith(' staffReadUser')),
      found.join('\n'),
    );
  });

  test('the coverage matrix says where the ids came from', () => {
    const cell = (op: string) =>
      runs.fixed.coverage.matrix.find((c) => c.check === 'API1' && c.operation === op);
    const appointment = cell('GET /appointments/{appointment_id}');
    assert.equal(appointment?.status, 'tested');
    assert.match(
      appointment?.ids ?? '',
      /appointment_id=1 confirmed in discovery \(a small id tried: alice got a record, 200; alice's by its owner member\)/,
    );
    assert.match(
      appointment?.ids ?? '',
      /appointment_id=2 confirmed in discovery \(a small id tried: bob got a record, 200; bob's by its owner member\)/,
    );
    const prescriptions = cell('GET /users/{user_id}/prescriptions');
    assert.match(prescriptions?.ids ?? '', /user_id=2 alice's own, from its x-user-id header/);
  });

  test('the fixed twin: no finding; no seeded appointment was cancelled (a GET that acts gets no tried id)', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
    assert.equal(runs.fixed.stats.objectsCreated, 0);
    assert.deepEqual(cancelled, []);
  });
});
