import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { runScan, ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { scanTwins } from './twins.ts';

/**
 * The scan must never write to a given identity's account, nor to a stranger's record, by mistake (fe8d027).
 * Each API here records every write it receives, so the tests read what reached it, not what the scan says:
 *
 * (a) API1 on accounts the scan registers: V's user id also numbers someone else's record under `/profiles/{id}`,
 *     a route with no GET (V never reads itself there); no write may reach `/profiles/...`.
 * (b) API3 on an identity's own account named by id (`PUT /api/users/{user_id}`, the id from its login answer),
 *     with no read that shows what the record holds: the sampled body (an e-mail, a password) must not be sent.
 * (c) API2's weak-password probe on a sign-up whose documented example is a given identity's name, and which
 *     sets the password of a name that exists (an upsert): it registers a name of its own (`pcw<hex>`).
 */

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwt = (claims: Record<string, unknown>, n: number) =>
  `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.${b64(n)}`;

interface Recording {
  readonly url: string;
  readonly server: Server;
  /** `METHOD /path` of every write (PUT, PATCH, DELETE) and its JSON body. */
  readonly writes: { line: string; body: Record<string, unknown> }[];
  readonly users: Map<string, { id: number; password: string; email: string }>;
}

/** The JSON body of a request, `{}` when none or not JSON. */
function parse(raw: string): Record<string, unknown> {
  try {
    const v = raw === '' ? {} : JSON.parse(raw);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

// (a) ------------------------------------------------------------------------------------------------------

const USER = {
  type: 'object',
  properties: { id: { type: 'integer' }, username: { type: 'string' }, bio: { type: 'string' } },
};
const ACCOUNTS_SPEC = {
  openapi: '3.0.3',
  info: { title: 'club members', version: '2.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  security: [{ bearer: [] }],
  paths: {
    '/auth/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' } },
      },
    },
    '/auth/signup': {
      post: {
        operationId: 'signup',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['username', 'password'],
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: {
          '201': { description: 'the member', content: { 'application/json': { schema: USER } } },
        },
      },
    },
    '/users/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'getUser',
        responses: { '200': { description: 'a member', content: { 'application/json': { schema: USER } } } },
      },
      put: {
        operationId: 'updateUser',
        requestBody: {
          content: {
            'application/json': { schema: { type: 'object', properties: { bio: { type: 'string' } } } },
          },
        },
        responses: { '200': { description: 'updated' } },
      },
    },
    // Profiles have ids of their own, numbered like the users' (profile 3 is not user 3's), and no GET.
    '/profiles/{profile_id}': {
      put: {
        operationId: 'updateProfile',
        parameters: [{ name: 'profile_id', in: 'path', required: true, schema: { type: 'integer' } }],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { headline: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'updated' } },
      },
    },
  },
};

async function startClub(): Promise<Recording> {
  const users = new Map<string, { id: number; password: string; email: string }>();
  const bios = new Map<number, string>();
  const tokens = new Map<string, string>();
  const writes: Recording['writes'] = [];
  let next = 1;
  for (const name of ['alice', 'bob'])
    users.set(name, { id: next++, password: `${name}-Pw-77`, email: `${name}@club.example` });
  const api = await startServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      const body = parse(raw);
      if (req.method === 'PUT' || req.method === 'PATCH' || req.method === 'DELETE')
        writes.push({ line: `${req.method} ${path}`, body });
      if (req.method === 'POST' && path === '/auth/signup') {
        const { username, password } = body;
        if (typeof username !== 'string' || typeof password !== 'string' || users.has(username))
          return send(400, { message: 'invalid' });
        users.set(username, { id: next++, password, email: '' });
        return send(201, { id: users.get(username)?.id, username });
      }
      if (req.method === 'POST' && path === '/auth/login') {
        const u = users.get(String(body.username));
        if (!u || u.password !== body.password) return send(401, { message: 'bad credentials' });
        const token = jwt({ sub: String(body.username), user_id: u.id }, next++);
        tokens.set(token, String(body.username));
        return send(200, { token });
      }
      const caller = tokens.get(String(req.headers.authorization).replace(/^Bearer /, ''));
      if (caller === undefined) return send(401, { message: 'unauthenticated' });
      const user = /^\/users\/(\d+)$/.exec(path);
      if (user) {
        const found = [...users].find(([, u]) => u.id === Number(user[1]));
        if (!found) return send(404, { message: 'no such member' });
        const [name, u] = found;
        if (req.method === 'PUT' && typeof body.bio === 'string') bios.set(u.id, body.bio);
        return send(200, { id: u.id, username: name, bio: bios.get(u.id) ?? '' });
      }
      // Every profile exists (they belong to members the scan does not know) and anyone may update it.
      if (/^\/profiles\/\d+$/.test(path) && req.method === 'PUT') return send(200, { updated: true });
      return send(404, { message: 'not found' });
    });
  });
  return { ...api, writes, users };
}

// (b) ------------------------------------------------------------------------------------------------------

const SHOP_SPEC = {
  openapi: '3.0.3',
  info: { title: 'shop accounts', version: '1.4' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { email: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a session' } },
      },
    },
    '/api/users/{user_id}': {
      put: {
        operationId: 'replaceUser',
        parameters: [{ name: 'user_id', in: 'path', required: true, schema: { type: 'integer' } }],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  email: { type: 'string', format: 'email' },
                  password: { type: 'string' },
                  display_name: { type: 'string' },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'replaced' } },
      },
    },
  },
};

async function startShop(): Promise<Recording> {
  const users = new Map<string, { id: number; password: string; email: string }>();
  const tokens = new Map<string, string>();
  const writes: Recording['writes'] = [];
  users.set('alice', { id: 11, password: 'alice-Shop-1', email: 'alice@shop.example' });
  users.set('bob', { id: 12, password: 'bob-Shop-1', email: 'bob@shop.example' });
  let n = 0;
  const api = await startServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      const body = parse(raw);
      if (req.method === 'PUT' || req.method === 'PATCH' || req.method === 'DELETE')
        writes.push({ line: `${req.method} ${path}`, body });
      if (req.method === 'POST' && path === '/api/login') {
        const found = [...users].find(([, u]) => u.email === body.email && u.password === body.password);
        if (!found) return send(401, { error: 'invalid login' });
        const token = `s-${found[0]}-${n++}-${randomUUID()}`;
        tokens.set(token, found[0]);
        return send(200, { token, user: { id: found[1].id, email: found[1].email } });
      }
      const caller = tokens.get(String(req.headers.authorization).replace(/^Bearer /, ''));
      if (caller === undefined) return send(401, { error: 'unauthenticated' });
      const m = /^\/api\/users\/(\d+)$/.exec(path);
      const me = users.get(caller);
      if (m && req.method === 'PUT' && me && me.id === Number(m[1])) {
        // A PUT replaces the account: whatever e-mail and password it carries become the account's.
        if (typeof body.email === 'string') me.email = body.email;
        if (typeof body.password === 'string') me.password = body.password;
        return send(200, { id: me.id, email: me.email });
      }
      return send(m ? 403 : 404, { error: m ? 'forbidden' : 'not found' });
    });
  });
  return { ...api, writes, users };
}

// (c) ------------------------------------------------------------------------------------------------------

const SIGNUP_SPEC = {
  openapi: '3.0.3',
  info: { title: 'newsletter', version: '0.9' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/signin': {
      post: {
        operationId: 'signin',
        security: [],
        requestBody: {
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' } },
      },
    },
    '/register': {
      post: {
        operationId: 'register',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['username', 'password'],
                properties: {
                  username: { type: 'string', example: 'alice' },
                  email: { type: 'string', example: 'alice@letters.example' },
                  password: { type: 'string', example: 'S3cure!pass' },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'registered' } },
      },
    },
    '/subscriptions': {
      get: { operationId: 'subscriptions', responses: { '200': { description: 'the list' } } },
    },
  },
};

async function startNewsletter(): Promise<Recording & { registered: { name: string; password: string }[] }> {
  const users = new Map<string, { id: number; password: string; email: string }>();
  const tokens = new Set<string>();
  const registered: { name: string; password: string }[] = [];
  users.set('alice', { id: 1, password: 'alice-News-1', email: 'alice@letters.example' });
  users.set('bob', { id: 2, password: 'bob-News-1', email: 'bob@letters.example' });
  let n = 0;
  const api = await startServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/signin') {
        const form = new URLSearchParams(raw);
        const u = users.get(form.get('username') ?? '');
        if (!u || u.password !== form.get('password')) return send(401, { detail: 'bad credentials' });
        const token = `nl-${n++}-${randomUUID()}`;
        tokens.add(token);
        return send(200, { access_token: token, token_type: 'bearer' });
      }
      if (req.method === 'POST' && path === '/register') {
        const body = parse(raw);
        if (typeof body.username !== 'string' || typeof body.password !== 'string')
          return send(422, { detail: 'username and password required' });
        registered.push({ name: body.username, password: body.password });
        // An upsert, and no password policy: a name that exists gets the new password.
        const old = users.get(body.username);
        users.set(body.username, {
          id: old?.id ?? users.size + 1,
          password: body.password,
          email: String(body.email ?? ''),
        });
        return send(200, { message: 'welcome' });
      }
      if (!tokens.has(String(req.headers.authorization).replace(/^Bearer /, '')))
        return send(401, { detail: 'unauthenticated' });
      if (req.method === 'GET' && path === '/subscriptions') return send(200, [{ list: 'weekly' }]);
      return send(404, { detail: 'not found' });
    });
  });
  return { ...api, writes: [], users, registered };
}

/** One scan of an API started for it (scanTwins with the same API as both twins would scan it twice). */
async function scanOnce<T extends Recording>(
  spec: unknown,
  start: () => Promise<T>,
  options: Omit<Parameters<typeof runScan>[0], 'spec' | 'target'>,
): Promise<{ result: ScanResult; api: T }> {
  const scans = await scanTwins(spec, async (fixed) => (fixed ? start() : start()), options);
  return scans.vulnerable;
}

describe('safety mends of fe8d027: no write to a given identity or a stranger by mistake', () => {
  const runs = {} as {
    club: { result: ScanResult; api: Recording };
    shop: { result: ScanResult; api: Recording };
    letters: { result: ScanResult; api: Recording & { registered: { name: string; password: string }[] } };
  };
  before(async () => {
    runs.club = await scanOnce(ACCOUNTS_SPEC, startClub, {
      identities: ['alice', 'bob'].map((name) => ({
        name,
        login: { path: '/auth/login', body: { username: name, password: `${name}-Pw-77` } },
      })),
      checks: ['API1'],
      ratePerSecond: 200,
    });
    runs.shop = await scanOnce(SHOP_SPEC, startShop, {
      identities: ['alice', 'bob'].map((name) => ({
        name,
        login: {
          path: '/api/login',
          tokenPointer: '/token',
          body: { email: `${name}@shop.example`, password: `${name}-Shop-1` },
        },
      })),
      checks: ['API3'],
      ratePerSecond: 200,
    });
    runs.letters = await scanOnce(SIGNUP_SPEC, startNewsletter, {
      identities: ['alice', 'bob'].map((name) => ({
        name,
        login: {
          path: '/signin',
          encoding: 'form' as const,
          body: { username: name, password: `${name}-News-1` },
        },
      })),
      checks: ['API2'],
      ratePerSecond: 200,
    });
  });

  test('(a) API1 accounts: no write to a route where the registered account never read itself', () => {
    const { writes } = runs.club.api;
    // The check ran: it registered V and wrote to V's own account, which V read at /users/{id}.
    const v = [...runs.club.api.users].find(([name]) => name.startsWith('pcv'));
    assert.ok(v, [...runs.club.api.users.keys()].join(', '));
    assert.ok(
      writes.some((w) => w.line === `PUT /users/${v[1].id}`),
      writes.map((w) => w.line).join(', '),
    );
    assert.deepEqual(
      writes.filter((w) => w.line.includes('/profiles/')).map((w) => w.line),
      [],
    );
  });

  test("(b) API3: an identity's account named by its id never gets the sampled e-mail or password", () => {
    const { users, writes } = runs.shop.api;
    for (const name of ['alice', 'bob']) {
      assert.equal(users.get(name)?.password, `${name}-Shop-1`, `${name}'s password`);
      assert.equal(users.get(name)?.email, `${name}@shop.example`, `${name}'s e-mail`);
    }
    assert.deepEqual(
      writes.filter((w) => 'password' in w.body || 'email' in w.body).map((w) => w.line),
      [],
    );
  });

  test('(c) API2 weak passwords: registers pcw<hex> names, never the documented example (a given user)', () => {
    const weak = runs.letters.api.registered.filter((r) => r.password === '1' || r.password === 'password');
    assert.ok(weak.length > 0, 'the probe registered nothing');
    for (const { name } of weak) assert.match(name, /^pcw[0-9a-f]{10}$/);
    const f = runs.letters.result.findings.find((x) => x.rule.id === 'scan/api2-weak-password-policy');
    assert.ok(f, runs.letters.result.findings.map((x) => x.rule.id).join(', '));
  });

  test("(d) discovery: the sign-up is never sent with a given identity's own name (an upsert resets it)", () => {
    const { users, registered } = runs.letters.api;
    assert.deepEqual(
      registered.filter((r) => r.name === 'alice' || r.name === 'bob'),
      [],
    );
    assert.equal(users.get('alice')?.password, 'alice-News-1');
    assert.equal(users.get('bob')?.password, 'bob-News-1');
  });
});
