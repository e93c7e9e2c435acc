import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { scanTwins } from './twins.ts';

/**
 * Accounts as the only objects, in a FastAPI style: OAuth2 form login at `POST /token` (a JWT whose claims carry
 * `user_id`), sign-up at `POST /register` answering the new user, and `GET/PUT/DELETE /users/{user_id}`. No
 * `POST /users` beside the item, so discovery creates nothing: the scan has no object of its own unless it
 * registers an account. Vulnerable: any logged-in user reads, changes and deletes any account. Fixed twin: only
 * the owner (others get 403).
 */
const USER = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    username: { type: 'string' },
    email: { type: 'string', format: 'email' },
    full_name: { type: 'string' },
  },
};
const ITEM_PARAM = [{ name: 'user_id', in: 'path', required: true, schema: { type: 'integer' } }];
const ok = { '200': { description: 'a user', content: { 'application/json': { schema: USER } } } };
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'accounts only', version: '1.0' },
  components: {
    securitySchemes: {
      oauth2: { type: 'oauth2', flows: { password: { tokenUrl: '/token', scopes: {} } } },
    },
  },
  paths: {
    '/token': {
      post: {
        operationId: 'login_token',
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                required: ['username', 'password'],
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
        operationId: 'register_user',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['username', 'email', 'password'],
                properties: {
                  username: { type: 'string' },
                  email: { type: 'string', format: 'email' },
                  password: { type: 'string' },
                  full_name: { type: 'string' },
                },
              },
            },
          },
        },
        responses: {
          '201': { description: 'the new user', content: { 'application/json': { schema: USER } } },
        },
      },
    },
    '/users/{user_id}': {
      parameters: ITEM_PARAM,
      get: { operationId: 'get_user', security: [{ oauth2: [] }], responses: ok },
      put: {
        operationId: 'update_user',
        security: [{ oauth2: [] }],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { email: { type: 'string', format: 'email' }, full_name: { type: 'string' } },
              },
            },
          },
        },
        responses: ok,
      },
      delete: {
        operationId: 'delete_user',
        security: [{ oauth2: [] }],
        responses: { '204': { description: 'deleted' } },
      },
    },
    '/users/{user_id}/change-email': {
      parameters: ITEM_PARAM,
      post: {
        operationId: 'change_email',
        security: [{ oauth2: [] }],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { type: 'object', properties: { new_email: { type: 'string', format: 'email' } } },
            },
          },
        },
        responses: ok,
      },
    },
  },
};

interface Accounts {
  readonly url: string;
  readonly server: Server;
  readonly users: Map<number, Record<string, unknown>>;
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/**
 * `caller`: every `/users/{user_id}` operation acts on the caller's own account, whatever id the path names
 * (not a flaw, but B's write "at V's path" would change B). `quota`: owner only, but a non-owner's PUT and
 * DELETE answer 2xx and do nothing, and a user may log in once only (a failed re-login is no proof of a delete).
 * `scarce`: vulnerable, but the sign-up takes one account in all (as an API allowing one sign-up an hour).
 */
type Mode = 'vulnerable' | 'fixed' | 'caller' | 'quota' | 'scarce';

async function startAccounts(fixedOrMode: boolean | Mode): Promise<Accounts> {
  const mode: Mode = fixedOrMode === true ? 'fixed' : fixedOrMode === false ? 'vulnerable' : fixedOrMode;
  const fixed = mode === 'fixed';
  const logins = new Map<string, number>();
  let signups = 0;
  const users = new Map<number, Record<string, unknown>>();
  const passwords = new Map<string, string>();
  const tokens = new Map<string, number>();
  let next = 1;
  const add = (username: string, password: string, email: string, fullName = '') => {
    const id = next++;
    users.set(id, { id, username, email, full_name: fullName });
    passwords.set(username, password);
    return users.get(id)!;
  };
  add('alice', 'Alice-pw-1', 'alice@example.com', 'Alice');
  add('bob', 'Bob-pw-1', 'bob@example.com', 'Bob');
  const server = await startServer((req, res) => {
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/token') {
        const form = new URLSearchParams(raw);
        const name = form.get('username') ?? '';
        const user = [...users.values()].find((u) => u.username === name);
        if (!user || passwords.get(name) !== form.get('password'))
          return send(401, { detail: 'Incorrect username or password' });
        logins.set(name, (logins.get(name) ?? 0) + 1);
        if (mode === 'quota' && name.startsWith('pcv') && (logins.get(name) ?? 0) > 1)
          return send(429, { detail: 'Too many logins' });
        const token = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: name, user_id: user.id })}.${b64(next++)}`;
        tokens.set(token, user.id as number);
        return send(200, { access_token: token, token_type: 'bearer' });
      }
      let body: Record<string, unknown> = {};
      try {
        body = raw === '' ? {} : JSON.parse(raw);
      } catch {
        return send(422, { detail: [{ msg: 'JSON decode error' }] });
      }
      if (req.method === 'POST' && path === '/register') {
        if (mode === 'scarce' && signups++ >= 1) return send(429, { detail: 'Too many sign-ups' });
        const { username, email, password, full_name } = body as Record<string, string>;
        if (typeof username !== 'string' || typeof password !== 'string' || typeof email !== 'string')
          return send(422, { detail: [{ msg: 'field required' }] });
        if ([...users.values()].some((u) => u.username === username))
          return send(400, { detail: 'Username already registered' });
        return send(201, add(username, password, email, full_name ?? ''));
      }
      const caller = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (caller === undefined || !users.has(caller)) return send(401, { detail: 'Not authenticated' });
      const m = /^\/users\/(\d+)(\/change-email)?$/.exec(path);
      const id = m ? (mode === 'caller' ? caller : Number(m[1])) : Number.NaN;
      const user = users.get(id);
      if (!m || !user) return send(404, { detail: 'User not found' });
      if (fixed && id !== caller) return send(403, { detail: 'Not your account' });
      if (mode === 'quota' && id !== caller)
        return req.method === 'GET'
          ? send(403, { detail: 'Not your account' })
          : send(req.method === 'DELETE' ? 204 : 200, {});
      if (m[2] !== undefined) {
        if (req.method !== 'POST' || typeof body.new_email !== 'string')
          return send(422, { detail: 'new_email' });
        user.email = body.new_email;
        return send(200, user);
      }
      if (req.method === 'GET') return send(200, user);
      if (req.method === 'PUT') {
        for (const k of ['email', 'full_name']) if (typeof body[k] === 'string') user[k] = body[k];
        return send(200, user);
      }
      if (req.method === 'DELETE') {
        users.delete(id);
        return send(204);
      }
      return send(405, { detail: 'Method Not Allowed' });
    });
  });
  return { url: server.url, server: server.server, users };
}

const byRule = (r: ScanResult) =>
  [...new Set(r.findings.map((f) => `${f.rule.id} ${f.operation?.method} ${f.operation?.path}`))].sort();

describe('API1 on accounts the scan registers itself (sign-up beside /users/{user_id})', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Accounts>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startAccounts, {
        identities: [
          {
            name: 'alice',
            login: { path: '/token', body: { username: 'alice', password: 'Alice-pw-1' }, encoding: 'form' },
          },
          {
            name: 'bob',
            login: { path: '/token', body: { username: 'bob', password: 'Bob-pw-1' }, encoding: 'form' },
          },
        ],
        checks: ['API1'],
        ratePerSecond: 200,
      }),
    );
  });

  test('vulnerable: another user changes and deletes the scan-registered account, reported as API1', () => {
    const found = byRule(scans.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-write PUT /users/{user_id}'), found.join('\n'));
    assert.ok(found.includes('scan/api1-bola-delete DELETE /users/{user_id}'), found.join('\n'));
    assert.ok(found.includes('scan/api1-bola-write POST /users/{user_id}/change-email'), found.join('\n'));
  });

  test('the given identities keep their accounts, untouched', () => {
    for (const { api } of [scans.vulnerable, scans.fixed]) {
      const names = [...api.users.values()].map((u) => u.username);
      assert.ok(names.includes('alice') && names.includes('bob'), names.join(','));
      for (const u of api.users.values()) {
        if (u.username === 'alice' || u.username === 'bob') {
          assert.equal(u.full_name, u.username === 'alice' ? 'Alice' : 'Bob');
          assert.equal(u.email, `${u.username}@example.com`);
        }
      }
    }
  });

  test('vulnerable: the registered account is gone after the delete', () => {
    const left = [...scans.vulnerable.api.users.values()].filter((u) => String(u.username).startsWith('pcv'));
    assert.equal(left.length, 0);
  });

  test('fixed twin (owner only): no API1 finding', () => {
    const found = byRule(scans.fixed.result).filter((f) => f.startsWith('scan/api1'));
    assert.deepEqual(found, []);
  });
});

describe('API1 accounts, safety: routes that act on the caller, and a failed re-login that is no delete', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Accounts>>>;
  before(async () => {
    Object.assign(
      scans,
      // "vulnerable" slot: the caller-acting API; "fixed" slot: the login-quota API. Neither has a flaw.
      await scanTwins(SPEC, (fixed) => startAccounts(fixed ? 'quota' : 'caller'), {
        identities: [
          {
            name: 'alice',
            login: { path: '/token', body: { username: 'alice', password: 'Alice-pw-1' }, encoding: 'form' },
          },
          {
            name: 'bob',
            login: { path: '/token', body: { username: 'bob', password: 'Bob-pw-1' }, encoding: 'form' },
          },
        ],
        checks: ['API1'],
        ratePerSecond: 200,
      }),
    );
  });

  test('an API that ignores the path id: B never writes, its own record is untouched, no finding', () => {
    const { api, result } = scans.vulnerable;
    const bob = [...api.users.values()].find((u) => u.username === 'bob');
    assert.deepEqual(bob, { id: 2, username: 'bob', email: 'bob@example.com', full_name: 'Bob' });
    assert.deepEqual(
      byRule(result).filter((f) => f.startsWith('scan/api1')),
      [],
    );
  });

  test('a delete answered 204 that deleted nothing, with V unable to log in again: no finding', () => {
    const { api, result } = scans.fixed;
    // B's delete did nothing: V was still there for the scan's clean-up, which deleted it as itself at the end.
    assert.ok(
      result.notes.some((n) =>
        /^clean-up: pcv\w+: deleted with DELETE \/users\/\d+ \(204, as itself\)/.test(n),
      ),
      result.notes.join(' | '),
    );
    assert.ok(![...api.users.values()].some((u) => String(u.username).startsWith('pcv')));
    assert.deepEqual(
      byRule(result).filter((f) => f.startsWith('scan/api1')),
      [],
    );
  });
});

describe('API1 accounts when the API allows a single sign-up: discovery leaves it to the throwaway account', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Accounts>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, (fixed) => startAccounts(fixed ? 'fixed' : 'scarce'), {
        identities: [
          {
            name: 'alice',
            login: { path: '/token', body: { username: 'alice', password: 'Alice-pw-1' }, encoding: 'form' },
          },
          {
            name: 'bob',
            login: { path: '/token', body: { username: 'bob', password: 'Bob-pw-1' }, encoding: 'form' },
          },
        ],
        checks: ['API1'],
        ratePerSecond: 200,
      }),
    );
  });

  test('the one sign-up goes to V, and the change and delete of V by another user are found', () => {
    const found = byRule(scans.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-write PUT /users/{user_id}'), found.join('\n'));
    assert.ok(found.includes('scan/api1-bola-delete DELETE /users/{user_id}'), found.join('\n'));
    assert.deepEqual(
      byRule(scans.fixed.result).filter((f) => f.startsWith('scan/api1')),
      [],
    );
  });
});
