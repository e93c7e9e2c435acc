import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A clinic's staff API in a Django REST-like style (`{"detail": ...}` errors, `Authorization: Token ...`, trailing
 * slashes). Nurses register patients at `POST /api/staff/accounts/`; a patient may not (403).
 * - Vulnerable: the account stores whatever `role` and `is_verified` the body carries (a nurse makes a doctor, or
 *   an admin); the answer and `GET /api/staff/accounts/{id}/` show the stored record.
 * - Fixed twin: every account made there is an unverified patient.
 * Nurses delete the accounts they made (`DELETE /api/staff/accounts/{id}/`).
 */
const ID = [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'clinic staff', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/api/staff/accounts/': {
      post: {
        operationId: 'registerPatient',
        summary: 'Register a patient',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['username', 'email'],
                properties: {
                  username: { type: 'string' },
                  email: { type: 'string', format: 'email' },
                  ward: { type: 'string', enum: ['north', 'south'] },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'the account' }, '403': { description: 'staff only' } },
      },
    },
    '/api/staff/accounts/{id}/': {
      get: {
        operationId: 'getAccount',
        parameters: ID,
        responses: { '200': { description: 'the account' } },
      },
      delete: { operationId: 'removeAccount', parameters: ID, responses: { '204': { description: 'gone' } } },
    },
  },
};

interface Account {
  id: number;
  username: string;
  email: string;
  ward: string;
  role: string;
  is_verified: boolean;
  made_by: string;
}

const TOKENS: Record<string, { who: string; staff: boolean }> = {
  'Token 4f1c0a9d2e': { who: 'pia', staff: false },
  'Token 8b27e6d510': { who: 'nils', staff: true },
};

function startClinic(fixed: boolean) {
  const accounts = new Map<number, Account>();
  let next = 40;
  const api = startServer(async (req, res) => {
    const body = (await readJson(req)) ?? {};
    const path = new URL(req.url ?? '/', 'http://clinic').pathname;
    const caller = TOKENS[String(req.headers.authorization ?? '')];
    if (!caller) return sendJson(res, 401, { detail: 'Authentication credentials were not provided.' });
    if (!caller.staff)
      return sendJson(res, 403, { detail: 'You do not have permission to perform this action.' });
    if (req.method === 'POST' && path === '/api/staff/accounts/') {
      if (typeof body.username !== 'string' || typeof body.email !== 'string')
        return sendJson(res, 400, { username: ['This field is required.'] });
      const a: Account = {
        id: next++,
        username: body.username,
        email: body.email,
        ward: String(body.ward ?? 'north'),
        role: !fixed && typeof body.role === 'string' ? body.role : 'patient',
        is_verified: !fixed && body.is_verified === true,
        made_by: caller.who,
      };
      accounts.set(a.id, a);
      return sendJson(res, 201, a);
    }
    const m = /^\/api\/staff\/accounts\/(\d+)\/$/.exec(path);
    const a = m ? accounts.get(Number(m[1])) : undefined;
    if (m && !a) return sendJson(res, 404, { detail: 'Not found.' });
    if (a && req.method === 'GET') return sendJson(res, 200, a);
    if (a && req.method === 'DELETE') {
      accounts.delete(a.id);
      res.writeHead(204);
      return res.end();
    }
    return sendJson(res, 404, { detail: 'Not found.' });
  });
  return api.then((x) => Object.assign(x, { accounts }));
}

describe('API3: a creation for staff is probed as the ordinary identity it lets in', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startClinic>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startClinic, {
        identities: [
          { name: 'pia', headers: { Authorization: 'Token 4f1c0a9d2e' } },
          { name: 'nils', headers: { Authorization: 'Token 8b27e6d510' } },
        ],
        ratePerSecond: 200,
        checks: ['API3'],
      }),
    );
  });

  const massAssignment = (kind: 'vulnerable' | 'fixed') =>
    operationsFound(scans[kind].result).filter((f) => f.startsWith('scan/api3-mass-assignment'));

  test('vulnerable: the nurse’s registration stores the role and the verified flag it is sent', () => {
    assert.deepEqual(massAssignment('vulnerable'), ['scan/api3-mass-assignment registerPatient']);
    const f = scans.vulnerable.result.findings.find((x) => x.rule.id === 'scan/api3-mass-assignment')!;
    assert.match(f.message, /role/);
  });

  test('fixed twin: no mass assignment', () => {
    assert.deepEqual(massAssignment('fixed'), []);
  });

  test('every account the probes made is deleted by the nurse that made it', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        [...scans[kind].api.accounts.values()].map((a) => `${a.username} ${a.role}`),
        [],
        kind,
      );
  });
});
