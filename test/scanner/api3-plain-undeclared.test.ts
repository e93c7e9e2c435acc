import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * Undeclared response fields that are no secret (a third-party Flask API measured in session 14 had one such
 * finding): the caller's own `role` and `is_admin: false` in its own record read at a route that is no `/users/{id}`
 * (`/climbers_strict/{climber_id}`), and members named like a token that hold no credential (`token_type: "bearer"`,
 * `token_expires_in: 300`). Only a sensitive undeclared field is a finding: the vulnerable twin's `password_hash` in
 * every climber's record (its own
 * hash to its owner too: a hash is shown to no one).
 *
 * Style: Flask-like (`{"error": "..."}` bodies, 200 for the login with `{"access_token"}`, snake_case, integer ids in
 * routes with an underscore suffix), response schemas that declare a few fields and not the rest.
 */
const climber = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    username: { type: 'string' },
    email: { type: 'string' },
    grade: { type: 'string' },
  },
};
const ok = (schema: unknown, description = 'ok') => ({
  description,
  content: { 'application/json': { schema } },
});
const idParam = [{ name: 'climber_id', in: 'path', required: true, schema: { type: 'integer' } }];
const bearer = [{ token: [] }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'boulder gym', version: '0.3' },
  components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/login': {
      post: {
        operationId: 'login',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
                required: ['username', 'password'],
              },
            },
          },
        },
        responses: {
          '200': ok({ type: 'object', properties: { access_token: { type: 'string' } } }),
          '401': { description: 'bad login' },
        },
      },
    },
    '/session_info': {
      get: {
        operationId: 'sessionInfo',
        security: bearer,
        responses: { '200': ok({ type: 'object', properties: { username: { type: 'string' } } }) },
      },
    },
    '/climbers_strict/{climber_id}': {
      get: {
        operationId: 'getClimberStrict',
        security: bearer,
        parameters: idParam,
        responses: { '200': ok(climber), '403': { description: 'not yours' } },
      },
    },
    '/climbers/{climber_id}': {
      get: {
        operationId: 'getClimber',
        security: bearer,
        parameters: idParam,
        responses: { '200': ok(climber), '404': { description: 'none' } },
      },
    },
  },
};

interface Climber {
  id: number;
  username: string;
  password: string;
  email: string;
  role: string;
  grade: string;
}
const GIVEN: readonly Climber[] = [
  {
    id: 1,
    username: 'kestrel',
    password: 'kestrel-pw-31',
    email: 'kestrel@gym.test',
    role: 'member',
    grade: '6a',
  },
  {
    id: 2,
    username: 'osprey',
    password: 'osprey-pw-31',
    email: 'osprey@gym.test',
    role: 'member',
    grade: '7b',
  },
  {
    id: 3,
    username: 'setter',
    password: 'setter-pw-31',
    email: 'setter@gym.test',
    role: 'admin',
    grade: '8a',
  },
];

function startGym(fixed: boolean): Promise<TwinTarget> {
  const sessions = new Map<string, { who: Climber; started: string }>();
  const record = (c: Climber) => ({
    id: c.id,
    username: c.username,
    email: c.email,
    grade: c.grade,
    role: c.role,
    is_admin: c.role === 'admin',
    ...(fixed
      ? {}
      : { password_hash: `$2b$12$${Buffer.from(c.password).toString('base64').padEnd(53, 'x')}` }),
  });
  return startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    if (req.method === 'POST' && url.pathname === '/login') {
      const c = GIVEN.find((g) => g.username === b.username && g.password === b.password);
      if (!c) return send(401, { error: 'invalid credentials' });
      const t = randomBytes(24).toString('base64url');
      sessions.set(t, { who: c, started: new Date().toISOString() });
      return send(200, { access_token: t });
    }
    const s = sessions.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!s) return send(401, { error: 'missing or invalid Authorization header' });
    if (req.method === 'GET' && url.pathname === '/session_info')
      return send(200, {
        username: s.who.username,
        token_type: 'bearer',
        token_expires_in: 300,
        session_started: s.started,
      });
    const strict = /^\/climbers_strict\/(\d+)$/.exec(url.pathname);
    const open = /^\/climbers\/(\d+)$/.exec(url.pathname);
    const at = strict ?? open;
    if (req.method === 'GET' && at) {
      const c = GIVEN.find((g) => g.id === Number(at[1]));
      if (!c) return send(404, { error: 'not found' });
      if ((strict || fixed) && c.id !== s.who.id) return send(403, { error: 'forbidden' });
      return send(200, record(c));
    }
    return send(404, { error: 'not found' });
  });
}

const undeclared = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api3-undeclared-response-fields').map((f) => f.message);

describe('undeclared response fields that are no secret', () => {
  let runs: TwinScans<TwinTarget>;
  before(async () => {
    const login = (c: Climber) => ({
      name: c.username,
      login: { path: '/login', body: { username: c.username, password: c.password } },
    });
    runs = await scanTwins(SPEC, startGym, {
      identities: [login(GIVEN[0]), login(GIVEN[1])],
      admin: login(GIVEN[2]),
      checks: ['API3'],
      ratePerSecond: 200,
    });
  });

  test('fixed: no finding at all', () => {
    assert.deepEqual(
      runs.fixed.result.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });

  test('vulnerable: the password hash is reported, the own role and the token type are not', () => {
    const found = undeclared(runs.vulnerable.result);
    assert.ok(
      found.some((m) => m.startsWith('GET /climbers/{climber_id} returned') && m.includes('/password_hash')),
      JSON.stringify(found),
    );
    // Its own hash is no more the caller's to see than anyone's; its own role is.
    const strict = found.filter((m) => m.startsWith('GET /climbers_strict/{climber_id} returned'));
    assert.deepEqual(
      strict.map((m) => m.split(': ')[1]),
      ['/password_hash (and 2 other undeclared fields).'],
      JSON.stringify(found),
    );
    assert.ok(!found.some((m) => /session_info/.test(m)), JSON.stringify(found));
  });
});
