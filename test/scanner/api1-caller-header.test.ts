import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A fitness tracker's mobile backend in Go Echo's style (`{"message": ...}` errors, snake_case, `/v1` routes, an
 * opaque bearer token from `POST /v1/auth/login {email, password}` answering `{access_token, token_type, user: {id,
 * email}}`). The app sends the signed-in user's id in a header, `X-User-Id`, which the document declares (required)
 * on the reads of one's own data: `GET /v1/profile` (e-mail, phone, birth date, home address) and
 * `GET /v1/workouts` (heart rate, weight).
 *
 * Vulnerable: the token must be valid, but whose data comes back is the header's say: any member reads another's
 * profile and workouts by sending that member's id. Fixed twin: a header that is not the token's user is refused
 * (403). The gyms (`GET /v1/gyms/{gym_id}`) are public. Nothing is written: the seeded members stay as they are.
 */
const bearer = { bearer: [] as string[] };
const userHeader = {
  name: 'X-User-Id',
  in: 'header',
  required: true,
  schema: { type: 'integer', format: 'int64' },
};
const SPEC = {
  openapi: '3.0.1',
  info: { title: 'pulse', version: '1.4.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [bearer],
  paths: {
    '/v1/auth/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email', 'password'],
                properties: { email: { type: 'string', format: 'email' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: {
          '200': { description: 'signed in' },
          '401': { description: 'wrong e-mail or password' },
        },
      },
    },
    '/v1/profile': {
      get: {
        operationId: 'getProfile',
        parameters: [userHeader],
        responses: { '200': { description: 'the profile' }, '404': { description: 'no such user' } },
      },
    },
    '/v1/workouts': {
      get: {
        operationId: 'listWorkouts',
        parameters: [userHeader],
        responses: { '200': { description: 'workouts' } },
      },
    },
    '/v1/gyms/{gym_id}': {
      get: {
        operationId: 'getGym',
        parameters: [{ name: 'gym_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a gym' } },
      },
    },
  },
};

const MEMBERS = [
  {
    id: 11,
    email: 'ines@pulse.example',
    password: 'ines-Run-2026',
    phone: '+31 6 1234 5611',
    birth_date: '1991-04-02',
    home_address: 'Keizersgracht 11, Amsterdam',
  },
  {
    id: 12,
    email: 'jonas@pulse.example',
    password: 'jonas-Row-2026',
    phone: '+31 6 1234 5612',
    birth_date: '1987-11-19',
    home_address: 'Prinsengracht 12, Amsterdam',
  },
  {
    id: 13,
    email: 'kees@pulse.example',
    password: 'kees-Lift-2026',
    phone: '+31 6 1234 5613',
    birth_date: '1979-06-30',
    home_address: 'Herengracht 13, Amsterdam',
  },
];
const WORKOUTS = [
  { id: 501, user_id: 11, kind: 'run', minutes: 42, heart_rate_avg: 151, weight_kg: 61.2 },
  { id: 502, user_id: 12, kind: 'row', minutes: 30, heart_rate_avg: 139, weight_kg: 83.9 },
  { id: 503, user_id: 11, kind: 'swim', minutes: 55, heart_rate_avg: 128, weight_kg: 61.0 },
  { id: 504, user_id: 13, kind: 'lift', minutes: 65, heart_rate_avg: 117, weight_kg: 95.4 },
];

function startPulse(fixed: boolean) {
  // Personal access tokens (the app's settings page), beside the tokens a sign-in hands out.
  const sessions = new Map<string, number>(
    MEMBERS.map((m) => [`pat_${m.id}_${m.email.split('@')[0]}_k7`, m.id]),
  );
  return startServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const message = (status: number, text: string) => sendJson(res, status, { message: text });
    if (req.method === 'POST' && path === '/v1/auth/login') {
      const body = await readJson(req);
      const m = MEMBERS.find((x) => x.email === body?.email && x.password === body?.password);
      if (!m) return message(401, 'invalid email or password');
      const token = `pls_${m.id}_${sessions.size}_${Math.random().toString(36).slice(2, 12)}`;
      sessions.set(token, m.id);
      return sendJson(res, 200, {
        access_token: token,
        token_type: 'bearer',
        user: { id: m.id, email: m.email },
      });
    }
    const gym = /^\/v1\/gyms\/(\d+)$/.exec(path);
    if (req.method === 'GET' && gym) {
      if (gym[1] !== '1') return message(404, 'gym not found');
      return sendJson(res, 200, { id: 1, name: 'Pulse Centrum', opens: '06:00', closes: '23:00' });
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const caller = token === undefined ? undefined : sessions.get(token);
    if (caller === undefined) return message(401, 'missing or malformed jwt');
    const header = req.headers['x-user-id'];
    const asked = typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : caller;
    if (fixed && asked !== caller) return message(403, 'forbidden');
    if (req.method === 'GET' && path === '/v1/profile') {
      const m = MEMBERS.find((x) => x.id === asked);
      if (!m) return message(404, 'user not found');
      const { password: _password, ...profile } = m;
      return sendJson(res, 200, profile);
    }
    if (req.method === 'GET' && path === '/v1/workouts') {
      return sendJson(
        res,
        200,
        WORKOUTS.filter((w) => w.user_id === asked),
      );
    }
    return message(404, 'Not Found');
  });
}

const SEEDED = JSON.stringify({ MEMBERS, WORKOUTS });

describe("the caller named by a header the app sends (X-User-Id): another member's data by swapping it", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const login = (m: (typeof MEMBERS)[number]) => ({
      name: m.email.split('@')[0],
      login: { path: '/v1/auth/login', body: { email: m.email, password: m.password } },
    });
    const scans = await scanTwins(SPEC, startPulse, {
      identities: [login(MEMBERS[0]), login(MEMBERS[1])],
      checks: ['API1', 'API5'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test("another member's profile and workouts, read by sending that member's id in X-User-Id", () => {
    const found = operationsFound(runs.vulnerable);
    assert.ok(found.includes('scan/api1-bola-read getProfile'), found.join('\n'));
    assert.ok(found.includes('scan/api1-bola-read listWorkouts'), found.join('\n'));
    const f = runs.vulnerable.findings.find((x) => x.operation?.operationId === 'getProfile');
    assert.match(f?.message ?? '', /header X-User-Id/);
  });

  test('the fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });

  test('the seeded members and workouts are unchanged', () => {
    assert.equal(JSON.stringify({ MEMBERS, WORKOUTS }), SEEDED);
  });
});

describe("the same header left out of the document, configured beside each member's token", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    // The document says nothing of X-User-Id: the user configures it with each identity, as the app sends it.
    const paths = Object.fromEntries(
      Object.entries(SPEC.paths).map(([path, ops]) => [
        path,
        Object.fromEntries(
          Object.entries(ops).map(([method, op]) => [
            method,
            {
              ...op,
              parameters: ((op as { parameters?: { in: string }[] }).parameters ?? []).filter(
                (p) => p.in !== 'header',
              ),
            },
          ]),
        ),
      ]),
    );
    const member = (m: (typeof MEMBERS)[number]) => ({
      name: m.email.split('@')[0],
      headers: { Authorization: `Bearer pat_${m.id}_${m.email.split('@')[0]}_k7`, 'X-User-Id': String(m.id) },
    });
    const scans = await scanTwins({ ...SPEC, paths }, startPulse, {
      identities: [member(MEMBERS[0]), member(MEMBERS[1])],
      checks: ['API1'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test("another member's profile read with one's own token and that member's X-User-Id", () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api1-bola-read' && x.operation?.operationId === 'getProfile',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /with its own credential and ines's x-user-id header/i);
  });

  test('the fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
