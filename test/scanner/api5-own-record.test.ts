import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A clinic portal in a Flask-like style: errors as `{"msg": ...}`, a login at `POST /session {login, secret}`
 * answering `{"access_token", "account": {"id", "login"}}`, records named by patient number, which each identity
 * is given as `params: {patientNo}` (as a tester configures them). The superuser is `root`.
 *
 * `GET /patients/{patientNo}` is documented "Patient record (administrators and the patient themself)": each
 * patient reads its own record, root reads every record, on both twins. Alice reading her own record is no
 * function of the admin, however alike root's answer is. `GET /admin/patients/{patientNo}` is root's route:
 * vulnerable, anyone signed in reads any patient there; fixed, root only. Alice reading her own record there is
 * still her own data: the finding is alice reading bob's record through it.
 */
const failure = { description: 'error' };
const param = [{ name: 'patientNo', in: 'path', required: true, schema: { type: 'integer' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'clinic portal', version: '1' },
  components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
  security: [{ token: [] }],
  paths: {
    '/session': {
      post: {
        operationId: 'openSession',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['login', 'secret'],
                properties: { login: { type: 'string' }, secret: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'session' }, '401': failure },
      },
    },
    '/patients/{patientNo}': {
      get: {
        operationId: 'patientRecord',
        summary: 'Patient record (administrators and the patient themself)',
        parameters: param,
        responses: { '200': { description: 'record' }, '403': failure },
      },
    },
    '/admin/patients/{patientNo}': {
      get: {
        operationId: 'adminPatientRecord',
        summary: 'Any patient record with internal notes',
        parameters: param,
        responses: { '200': { description: 'record' }, '403': failure },
      },
    },
  },
};

interface Account {
  no: number;
  login: string;
  secret: string;
  root: boolean;
  record: { allergies: string[]; blood: string; notes: string };
}

const ACCOUNTS: Account[] = [
  {
    no: 1,
    login: 'root',
    secret: 'Root-pw-88',
    root: true,
    record: { allergies: [], blood: 'O+', notes: '' },
  },
  {
    no: 24,
    login: 'alice',
    secret: 'Alice-pw-88',
    root: false,
    record: { allergies: ['penicillin'], blood: 'A-', notes: 'follow-up in March' },
  },
  {
    no: 31,
    login: 'bob',
    secret: 'Bob-pw-88',
    root: false,
    record: { allergies: ['latex', 'pollen'], blood: 'B+', notes: 'knee surgery 2025' },
  },
];

function startClinic(fixed: boolean) {
  const sessions = new Map<string, Account>();
  return startServer(async (req, res) => {
    const body = await readJson(req);
    const path = new URL(req.url ?? '/', 'http://clinic').pathname;
    const msg = (status: number, text: string) => sendJson(res, status, { msg: text });
    if (req.method === 'POST' && path === '/session') {
      const a = ACCOUNTS.find((x) => x.login === body?.login && x.secret === body?.secret);
      if (!a) return msg(401, 'bad login');
      const token = randomBytes(12).toString('hex');
      sessions.set(token, a);
      return sendJson(res, 200, { access_token: token, account: { id: a.no, login: a.login } });
    }
    const me = sessions.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!me) return msg(401, 'Missing Authorization Header');
    const m = /^(\/admin)?\/patients\/(\d+)$/.exec(path);
    if (!m || req.method !== 'GET') return msg(404, 'not found');
    const patient = ACCOUNTS.find((a) => a.no === Number(m[2]));
    if (!patient) return msg(404, 'no such patient');
    const admin = m[1] !== undefined;
    if (admin ? fixed && !me.root : !me.root && me.no !== patient.no) return msg(403, 'not allowed');
    const shown = { no: patient.no, login: patient.login, ...patient.record };
    return sendJson(
      res,
      200,
      admin ? { ...shown, internal: `reviewed by root, ${patient.record.blood}` } : shown,
    );
  });
}

const login = (name: string, secret: string, patientNo: string) => ({
  name,
  login: { path: '/session', body: { login: name, secret } },
  params: { patientNo },
});

describe("API5 judges a read by whose data it is: an identity's own record is no function of the admin", () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startClinic>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startClinic, {
        identities: [login('alice', 'Alice-pw-88', '24'), login('bob', 'Bob-pw-88', '31')],
        admin: login('root', 'Root-pw-88', '1'),
        ratePerSecond: 200,
        checks: ['API1', 'API5'],
      }),
    );
  });

  test("vulnerable: root's route read by alice on bob's record is API5; her own record read is nothing", () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(!found.includes('scan/api5-bfla patientRecord'), found.join());
    assert.ok(found.includes('scan/api5-bfla adminPatientRecord'), found.join());
    const finding = scans.vulnerable.result.findings.find(
      (f) => f.rule.id === 'scan/api5-bfla' && f.operation?.operationId === 'adminPatientRecord',
    );
    assert.match(finding?.message ?? '', /bob/);
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
