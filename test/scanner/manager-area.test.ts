import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A staff directory (Express-like: JSON login at `/api/auth/login`, a bearer token, `{"error": "..."}` bodies).
 * Carol is a manager (the scan's admin), alice and bob are employees. Every route requires a token.
 * - `GET /api/manager/reports`: the managers' area (team cost figures, no one's name or e-mail in them). The
 *   vulnerable twin serves it to any employee; the fixed twin answers 403 to anyone but a manager.
 * - `GET /api/users/{user_id}/manager`: who someone's manager is, shown to every employee on both twins (a
 *   directory, by design): `manager` below an object names something of it, not a privileged area.
 * - `GET /api/users`: the directory (ids to fill the path with).
 */
const ok = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'staff directory', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/auth/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email', 'password'],
                properties: { email: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': ok('token'), '401': { description: 'wrong' } },
      },
    },
    '/api/users': { get: { operationId: 'listUsers', responses: { '200': ok('the directory') } } },
    '/api/users/{user_id}/manager': {
      get: {
        operationId: 'getUserManager',
        summary: "A colleague's manager",
        parameters: [{ name: 'user_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': ok('the manager'), '404': { description: 'none' } },
      },
    },
    '/api/manager/reports': {
      get: {
        operationId: 'getManagerReports',
        summary: 'Team cost reports',
        responses: { '200': ok('reports') },
      },
    },
  },
};

const PEOPLE = [
  { id: 1, name: 'Carol', email: 'carol@staff.test', password: 'carol-pw-63', role: 'manager', manager: 1 },
  { id: 2, name: 'Alice', email: 'alice@staff.test', password: 'alice-pw-14', role: 'employee', manager: 1 },
  { id: 3, name: 'Bob', email: 'bob@staff.test', password: 'bob-pw-88', role: 'employee', manager: 1 },
];
const REPORTS = {
  quarter: '2026-Q4',
  teams: [
    { team: 'support', headcount: 7, payroll_total: 412_000, overtime_hours: 96 },
    { team: 'sales', headcount: 5, payroll_total: 388_500, overtime_hours: 41 },
  ],
};

function startDirectory(fixed: boolean) {
  return startServer(async (req, res) => {
    const text = await readText(req);
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: unknown) => sendJson(res, status, body);
    if (req.method === 'POST' && path === '/api/auth/login') {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text);
      } catch {
        return send(400, { error: 'invalid JSON' });
      }
      const p = PEOPLE.find((x) => x.email === body.email && x.password === body.password);
      return p ? send(200, { token: `tok-${p.id}-5e1a` }) : send(401, { error: 'invalid credentials' });
    }
    const me = PEOPLE.find((p) => req.headers.authorization === `Bearer tok-${p.id}-5e1a`);
    if (!me) return send(401, { error: 'authentication required' });
    if (req.method !== 'GET') return send(404, { error: 'not found' });
    if (path === '/api/users')
      return send(
        200,
        PEOPLE.map((p) => ({ id: p.id, name: p.name })),
      );
    const m = /^\/api\/users\/(\d+)\/manager$/.exec(path);
    if (m) {
      const p = PEOPLE.find((x) => x.id === Number(m[1]));
      const boss = p && PEOPLE.find((x) => x.id === p.manager);
      return boss
        ? send(200, { id: boss.id, name: boss.name, title: 'Support lead' })
        : send(404, { error: 'none' });
    }
    if (path === '/api/manager/reports') {
      if (fixed && me.role !== 'manager') return send(403, { error: 'managers only' });
      return send(200, REPORTS);
    }
    send(404, { error: 'not found' });
  });
}

const as = (i: number) => ({
  name: PEOPLE[i].name.toLowerCase(),
  login: { path: '/api/auth/login', body: { email: PEOPLE[i].email, password: PEOPLE[i].password } },
});

describe('API5: manager as the first segment is a privileged area; below an object it is not', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startDirectory>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startDirectory, {
        identities: [as(1), as(2)],
        admin: as(0),
        checks: ['API5'],
        ratePerSecond: 200,
      }),
    );
  });

  test("an employee reads the managers' reports: scan/api5-bfla on /api/manager/reports, not on someone's manager", () => {
    assert.deepEqual(operationsFound(scans.vulnerable.result), ['scan/api5-bfla getManagerReports']);
  });

  test("the fixed twin (403 to employees): nothing, and a colleague's manager is no privileged read", () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
