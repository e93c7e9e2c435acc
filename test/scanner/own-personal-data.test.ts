import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A document that declares no response schema at all (NestJS `@ApiResponse({description})` only) makes every member
 * "outside the schema"; a third-party NestJS shop measured at the start of session 14 had eight API3 findings of
 * "personal data outside the schema" that were the caller's own or no personal data: the e-mail it had just signed
 * in or up with, the address it had just sent, its own e-mail as `createdBy`, its own query echoed in
 * `searchCriteria`, and `emailService: "connected"` in a health answer.
 *
 * Style: NestJS-like (`{success, data}` envelopes, 201 for every POST, `{statusCode, message}` errors, bearer
 * `access_token` from `POST /auth/login {email, password}`, sign-up at `POST /auth/register`, numeric ids). The fixed
 * twin lists the caller's own addresses only; the vulnerable twin lists everyone's (bob's phone and street to alice),
 * which is still reported.
 */
const say = (description: string) => ({ description });
const body = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties, required } } },
});
const SPEC = {
  openapi: '3.0.0',
  info: { title: 'address book', version: '1.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  paths: {
    '/auth/register': {
      post: {
        operationId: 'AuthController_register',
        requestBody: body(
          { email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' } },
          ['email', 'password'],
        ),
        responses: { '201': say('registered'), '409': say('taken') },
      },
    },
    '/auth/login': {
      post: {
        operationId: 'AuthController_login',
        requestBody: body({ email: { type: 'string' }, password: { type: 'string' } }, ['email', 'password']),
        responses: { '201': say('signed in'), '401': say('refused') },
      },
    },
    '/auth/profile': {
      get: {
        operationId: 'AuthController_profile',
        security: [{ bearer: [] }],
        responses: { '200': say('you') },
      },
    },
    '/api/health': { get: { operationId: 'HealthController_check', responses: { '200': say('health') } } },
    '/addresses': {
      get: {
        operationId: 'AddressController_list',
        security: [{ bearer: [] }],
        responses: { '200': say('addresses') },
      },
      post: {
        operationId: 'AddressController_create',
        security: [{ bearer: [] }],
        requestBody: body(
          {
            label: { type: 'string', example: 'home' },
            street: { type: 'string', example: '12 Harbour Road' },
            city: { type: 'string', example: 'Porto' },
            phone: { type: 'string', example: '+351 910 000 000' },
          },
          ['label', 'street'],
        ),
        responses: { '201': say('created') },
      },
    },
    '/addresses/search': {
      get: {
        operationId: 'AddressController_search',
        security: [{ bearer: [] }],
        parameters: [{ name: 'email', in: 'query', required: true, schema: { type: 'string' } }],
        responses: { '200': say('matches') },
      },
    },
  },
};

interface User {
  id: number;
  email: string;
  password: string;
  name: string;
}
interface Address {
  id: number;
  ownerEmail: string;
  label: string;
  street: string;
  city: string;
  phone: string;
}

const GIVEN: readonly User[] = [
  { id: 1, email: 'alice@book.test', password: 'alice-pw-2024', name: 'Alice' },
  { id: 2, email: 'bob@book.test', password: 'bob-pw-2024', name: 'Bob' },
  { id: 3, email: 'root@book.test', password: 'root-pw-2024', name: 'Root' },
];

type Book = TwinTarget & { addresses: Address[] };

function startBook(fixed: boolean): Promise<Book> {
  const users = GIVEN.map((u) => ({ ...u }));
  const addresses: Address[] = [
    {
      id: 1,
      ownerEmail: 'alice@book.test',
      label: 'home',
      street: '1 Elm Street',
      city: 'Leeds',
      phone: '+44 113 496 0101',
    },
    {
      id: 2,
      ownerEmail: 'bob@book.test',
      label: 'home',
      street: '9 Oak Avenue',
      city: 'York',
      phone: '+44 190 496 0199',
    },
  ];
  const tokens = new Map<string, User>();
  const error = (res: Parameters<typeof sendJson>[0], statusCode: number, message: string) =>
    sendJson(res, statusCode, { statusCode, message }, GUARDED_JSON);
  return startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, payload: unknown) =>
      sendJson(res, status, payload, { ...GUARDED_JSON, 'ratelimit-limit': '100' });
    if (req.method === 'POST' && url.pathname === '/auth/register') {
      if (typeof b.email !== 'string' || typeof b.password !== 'string' || b.password.length < 8)
        return error(res, 400, 'email and a password of 8 or more are required');
      if (users.some((u) => u.email === b.email) || users.length > 60) return error(res, 409, 'taken');
      const u = { id: users.length + 1, email: b.email, password: b.password, name: String(b.name ?? '') };
      users.push(u);
      return send(201, { success: true, user: { id: u.id, email: u.email, name: u.name } });
    }
    if (req.method === 'POST' && url.pathname === '/auth/login') {
      const u = users.find((x) => x.email === b.email && x.password === b.password);
      if (!u) return error(res, 401, 'Invalid credentials');
      const t = randomBytes(20).toString('hex');
      tokens.set(t, u);
      return send(201, { success: true, access_token: t, user: { id: u.id, email: u.email, name: u.name } });
    }
    if (req.method === 'GET' && url.pathname === '/api/health')
      return send(200, {
        status: 'ok',
        services: { database: 'connected', emailService: 'connected', smsGateway: 'disconnected' },
      });
    const me = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!me) return error(res, 401, 'Unauthorized');
    if (req.method === 'GET' && url.pathname === '/auth/profile')
      return send(200, { success: true, data: { id: me.id, email: me.email, name: me.name } });
    const visible = () => (fixed ? addresses.filter((a) => a.ownerEmail === me.email) : addresses);
    if (req.method === 'GET' && url.pathname === '/addresses')
      return send(200, { success: true, data: visible() });
    if (req.method === 'GET' && url.pathname === '/addresses/search') {
      const email = url.searchParams.get('email') ?? '';
      return send(200, {
        success: true,
        searchCriteria: { email },
        results: visible().filter((a) => a.ownerEmail === email),
      });
    }
    if (req.method === 'POST' && url.pathname === '/addresses') {
      if (typeof b.label !== 'string' || typeof b.street !== 'string' || addresses.length > 200)
        return error(res, 400, 'label and street are required');
      const a: Address = {
        id: addresses.length + 1,
        ownerEmail: me.email,
        label: b.label,
        street: b.street,
        city: String(b.city ?? ''),
        phone: String(b.phone ?? ''),
      };
      addresses.push(a);
      const { ownerEmail: _, ...shown } = a;
      return send(201, { success: true, data: shown, createdBy: { id: me.id, email: me.email } });
    }
    return error(res, 404, `Cannot ${req.method} ${url.pathname}`);
  }).then((api) => Object.assign(api, { addresses }));
}

const sensitive = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api3-sensitive-data-exposure').map((f) => f.message);

describe("personal data outside a schema that is the caller's own, or no personal data", () => {
  let runs: TwinScans<Book>;
  before(async () => {
    const login = (u: User) => ({
      name: u.name.toLowerCase(),
      login: { path: '/auth/login', body: { email: u.email, password: u.password } },
    });
    runs = await scanTwins(SPEC, startBook, {
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

  test("vulnerable: bob's phone and e-mail in alice's list are still reported", () => {
    const found = sensitive(runs.vulnerable.result);
    assert.ok(
      found.some((m) => m.startsWith('GET /addresses returned') && m.includes('/data/*/phone')),
      JSON.stringify(found),
    );
    assert.ok(!found.some((m) => /health|auth\/login|auth\/register/.test(m)), JSON.stringify(found));
  });

  test("neither twin changed alice's or bob's addresses", () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        runs[kind].api.addresses.slice(0, 2).map((a) => `${a.ownerEmail} ${a.street} ${a.phone}`),
        ['alice@book.test 1 Elm Street +44 113 496 0101', 'bob@book.test 9 Oak Avenue +44 190 496 0199'],
      );
  });
});
