import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A clinic's patient portal (form sign-in setting a `clinic_sid` cookie, kebab-case paths, 404 `{"message"}` for
 * anything not the caller's): `GET /me` names the caller's patient record, `GET /patients/{patientId}/visits`
 * lists its visits and `GET /patients/{patientId}/visits/{visitId}` reads one. Both twins refuse a patient id
 * that is not the caller's; the vulnerable twin then finds the visit by its id alone, so a patient reads another
 * patient's visit below its own record. The fixed twin looks the visit up below the patient.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'clinic portal', version: '1' },
  components: { securitySchemes: { sid: { type: 'apiKey', in: 'cookie', name: 'clinic_sid' } } },
  security: [{ sid: [] }],
  paths: {
    '/sign-in': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                properties: { login: { type: 'string' }, secret: { type: 'string' } },
              },
            },
          },
        },
        responses: { '204': { description: 'signed in' } },
      },
    },
    '/me': { get: { operationId: 'me', responses: { '200': { description: 'your record' } } } },
    '/patients/{patientId}/visits': {
      get: {
        operationId: 'listVisits',
        parameters: [{ name: 'patientId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'visits' } },
      },
    },
    '/patients/{patientId}/visits/{visitId}': {
      get: {
        operationId: 'getVisit',
        parameters: [
          { name: 'patientId', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'visitId', in: 'path', required: true, schema: { type: 'integer' } },
        ],
        responses: { '200': { description: 'a visit' }, '404': { description: 'no such visit' } },
      },
    },
  },
};

const PATIENTS = [
  { patientId: 'pt-4c81', login: 'hanna', secret: 'Hanna-clinic-9', name: 'Hanna Berg' },
  { patientId: 'pt-9e27', login: 'omar', secret: 'Omar-clinic-4', name: 'Omar Said' },
];
const VISITS = [
  {
    visitId: 1207,
    patientId: 'pt-4c81',
    on: '2026-09-14',
    reason: 'asthma review',
    notes: 'inhaler dose raised',
  },
  { visitId: 1208, patientId: 'pt-4c81', on: '2026-11-02', reason: 'flu vaccine', notes: 'no reaction' },
  { visitId: 1311, patientId: 'pt-9e27', on: '2026-10-21', reason: 'knee pain', notes: 'referred to physio' },
];

function startClinic(fixed: boolean) {
  const sessions = new Map<string, string>();
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://clinic');
    const missing = () => sendJson(res, 404, { message: 'Nothing here' });
    if (url.pathname === '/sign-in' && req.method === 'POST') {
      const form = new URLSearchParams(await readText(req));
      const p = PATIENTS.find((x) => x.login === form.get('login') && x.secret === form.get('secret'));
      if (!p) return sendJson(res, 401, { message: 'Wrong login or secret' });
      const sid = `s${sessions.size + 1}-${p.patientId}-7d2e`;
      sessions.set(sid, p.patientId);
      res.writeHead(204, { 'set-cookie': `clinic_sid=${sid}; HttpOnly; Path=/` });
      return res.end();
    }
    const sid = /(?:^|;\s*)clinic_sid=([^;]+)/.exec(String(req.headers.cookie ?? ''))?.[1];
    const me = sid === undefined ? undefined : sessions.get(sid);
    if (me === undefined) return sendJson(res, 401, { message: 'Sign in first' });
    if (req.method !== 'GET') return sendJson(res, 405, { message: 'Not allowed' });
    if (url.pathname === '/me') {
      const p = PATIENTS.find((x) => x.patientId === me)!;
      return sendJson(res, 200, { patientId: p.patientId, name: p.name });
    }
    const m = /^\/patients\/([^/]+)\/visits(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m) return missing();
    const patient = decodeURIComponent(m[1]);
    if (patient !== me) return missing();
    if (m[2] === undefined)
      return sendJson(
        res,
        200,
        VISITS.filter((v) => v.patientId === me).map(({ visitId, on, reason }) => ({ visitId, on, reason })),
      );
    const v = VISITS.find((x) => String(x.visitId) === m[2] && (!fixed || x.patientId === patient));
    return v ? sendJson(res, 200, v) : missing();
  });
}

describe("API1 reads another's child object below the caller's own parent", () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startClinic>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startClinic, {
        identities: PATIENTS.map((p) => ({
          name: p.login,
          login: { path: '/sign-in', body: { login: p.login, secret: p.secret }, encoding: 'form' as const },
        })),
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test("vulnerable: a patient reads the other's visit below its own patient id", () => {
    const f = scans.vulnerable.result.findings.find((x) => x.operation?.operationId === 'getVisit');
    assert.ok(f, operationsFound(scans.vulnerable.result).join());
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
