import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A fleet depot's dispatch API in an Express style (`{"message": ...}` errors): drivers sign in at
 * `POST /api/login {username, password}` (`{token, user: {id, username}}`, an opaque bearer token), read their own
 * record at `GET /api/profile`, dispatchers (role `admin`) list every driver at `GET /api/admin/drivers`, and a
 * reporting tool pulls `GET /api/export` with a static key in `X-Export-Key` (a declared `apiKey` scheme).
 *
 * Vulnerable: behind its old proxy the API still trusts `X-Forwarded-User` (anyone who names a driver gets that
 * driver's record, with or without a token), the shift planner (`GET /api/my/shifts`) takes `X-User-Id`, takes `X-Role: admin` from a signed-in driver, opens the dispatcher
 * list to `X-Admin-Key: changeme` (a header the document never mentions), and its export key is
 * `fleet-depot-key`. Fixed twin: the caller is the token's user alone, the role is the stored one, there is no
 * admin key, and the export key is 32 random bytes. Both lock a user name out after five failed sign-ins.
 */
const bearer = { session: [] as string[] };
const answer = {
  '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'fleet depot', version: '3.0.0' },
  components: {
    securitySchemes: {
      session: { type: 'http', scheme: 'bearer' },
      exportKey: { type: 'apiKey', in: 'header', name: 'X-Export-Key' },
    },
  },
  security: [bearer],
  paths: {
    '/api/login': {
      post: {
        operationId: 'login',
        security: [],
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
        responses: answer,
      },
    },
    '/api/profile': { get: { operationId: 'profile', responses: answer } },
    '/api/my/shifts': { get: { operationId: 'myShifts', responses: answer } },
    '/api/admin/drivers': { get: { operationId: 'listDrivers', responses: answer } },
    '/api/export': { get: { operationId: 'exportTrips', security: [{ exportKey: [] }], responses: answer } },
  },
};

interface Driver {
  id: number;
  username: string;
  password: string;
  email: string;
  role: 'driver' | 'admin';
}

const DRIVERS: readonly Driver[] = [
  { id: 1, username: 'marta', password: 'Marta-van-5521', email: 'marta@depot.example', role: 'driver' },
  { id: 2, username: 'joost', password: 'Joost-van-7730', email: 'joost@depot.example', role: 'driver' },
  { id: 3, username: 'dispatch', password: 'Dispatch-hq-9014', email: 'hq@depot.example', role: 'admin' },
];

async function startDepot(fixed: boolean) {
  const tokens = new Map<string, Driver>();
  const failures = new Map<string, number>();
  const exportKey = fixed ? randomBytes(32).toString('hex') : 'fleet-depot-key';
  const header = (req: IncomingMessage, name: string) => {
    const v = req.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  const server = await startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    const body = req.method === 'POST' ? ((await readJson(req)) ?? {}) : {};
    if (req.method === 'POST' && path === '/api/login') {
      const name = String(body.username);
      if ((failures.get(name) ?? 0) >= 5) return send(429, { message: 'Too many attempts' });
      const d = DRIVERS.find((x) => x.username === body.username && x.password === body.password);
      if (!d) {
        failures.set(name, (failures.get(name) ?? 0) + 1);
        return send(401, { message: 'Invalid credentials' });
      }
      const token = randomBytes(20).toString('hex');
      tokens.set(token, d);
      return send(200, { token, user: { id: d.id, username: d.username } });
    }
    if (req.method !== 'GET') return send(404, { message: 'Not found' });
    if (path === '/api/export') {
      if (header(req, 'x-export-key') !== exportKey) return send(401, { message: 'Export key required' });
      return send(200, {
        trips: [
          { van: 'VN-12', km: 212 },
          { van: 'VN-31', km: 97 },
        ],
      });
    }
    let caller = tokens.get((header(req, 'authorization') ?? '').replace(/^Bearer /, ''));
    const forwarded = header(req, 'x-forwarded-user');
    if (!fixed && forwarded !== undefined) caller = DRIVERS.find((d) => d.username === forwarded) ?? caller;
    const adminKey = !fixed && header(req, 'x-admin-key') === 'changeme';
    if (path === '/api/admin/drivers') {
      const admin = caller?.role === 'admin' || (!fixed && caller && header(req, 'x-role') === 'admin');
      if (!admin && !adminKey) return send(caller ? 403 : 401, { message: 'Dispatchers only' });
      return send(200, {
        drivers: DRIVERS.map(({ id, username, email, role }) => ({ id, username, email, role })),
      });
    }
    // The shift planner's own proxy sends the driver's id; the vulnerable twin takes it from anyone.
    const byId = header(req, 'x-user-id');
    if (path === '/api/my/shifts') {
      const who =
        !fixed && byId !== undefined ? (DRIVERS.find((d) => String(d.id) === byId) ?? caller) : caller;
      if (!who) return send(401, { message: 'Sign in first' });
      return send(200, { driver: who.username, shifts: [`${who.username}-mon`, `${who.username}-thu`] });
    }
    if (!caller) return send(401, { message: 'Sign in first' });
    if (path === '/api/profile')
      return send(200, { id: caller.id, username: caller.username, email: caller.email, role: caller.role });
    return send(404, { message: 'Not found' });
  });
  return server;
}

describe('guessable static keys and identity headers the API trusts', () => {
  let scans: Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startDepot>>>>>;
  before(async () => {
    const identity = (d: Driver) => ({
      name: d.username,
      login: { path: '/api/login', body: { username: d.username, password: d.password } },
    });
    scans = await scanTwins(SPEC, startDepot, {
      identities: [identity(DRIVERS[0]), identity(DRIVERS[1])],
      admin: identity(DRIVERS[2]),
      checks: ['API2'],
      ratePerSecond: 300,
    });
  });

  const find = (kind: 'vulnerable' | 'fixed', op: string, text: RegExp) =>
    scans[kind].result.findings.filter((f) => f.operation?.operationId === op && text.test(f.message));

  test('the vulnerable twin: the export key, the admin key, X-Forwarded-User and X-Role', () => {
    const all = scans.vulnerable.result.findings.map((f) => `${f.rule.id} ${f.message}`).join('\n');
    const exportKey = find('vulnerable', 'exportTrips', /guessable header X-Export-Key=fl…/);
    assert.equal(exportKey.length, 1, all);
    assert.equal(exportKey[0].rule.id, 'scan/api2-default-credentials');
    const adminKey = find(
      'vulnerable',
      'listDrivers',
      /joost in .*guessable header x-admin-key=ch….*declares no such key/,
    );
    assert.equal(adminKey.length, 1, all);
    assert.equal(adminKey[0].rule.id, 'scan/api2-default-credentials');
    const forwarded = find('vulnerable', 'profile', /sent x-forwarded-user: marta .*got marta's account/);
    assert.equal(forwarded.length, 1, all);
    assert.equal(forwarded[0].rule.id, 'scan/api2-no-credentials');
    const shifts = find('vulnerable', 'myShifts', /sent x-user-id: 1 .*got marta's account/);
    assert.equal(shifts.length, 1, all);
    const role = find('vulnerable', 'listDrivers', /once it sent x-role: admin/);
    assert.equal(role.length, 1, all);
    assert.equal(role[0].rule.id, 'scan/api2-no-credentials');
    // The keys never show in the report.
    const text = JSON.stringify(scans.vulnerable.result.findings);
    assert.doesNotMatch(text, /fleet-depot-key|changeme/);
  });

  test('the fixed twin: no finding at all', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });

  test('each scan stays small', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.ok(scans[kind].result.stats.requests < 400, `${kind}: ${scans[kind].result.stats.requests}`);
  });
});
