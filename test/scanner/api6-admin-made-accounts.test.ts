import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A teller-run savings bank in a Flask-like style: there is no public sign-up, only the admin makes users
 * (`POST /admin/users {username, password, role}`, role one of teller, customer, admin: a teller may move anyone's
 * money); a form login (`POST /auth/login`) sets a `sid` cookie; `GET /accounts/mine` lists the caller's accounts
 * (`{owner, accounts: [{iban, balance}]}`, 25.00 for a new user); `POST /payments {from_iban, to_iban, amount}`
 * takes the amount as text and answers refusals as `200 {ok: false, error}`; `DELETE /admin/users/{username}`.
 * The vulnerable twin takes any amount (negative, more than the balance); the fixed one takes 0.01 up to the
 * balance, from the caller's own account, and three payments a day. A payment moves money out of the caller's
 * account, so API6 runs it only between accounts of the scan's own: here the admin must make them, as customers
 * (never a teller or an admin), and the scan deletes them at the end.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'savings bank', version: '1.4' },
  components: { securitySchemes: { sid: { type: 'apiKey', in: 'cookie', name: 'sid' } } },
  security: [{ sid: [] }],
  paths: {
    '/auth/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
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
        responses: { '200': { description: 'signed in' }, '401': { description: 'refused' } },
      },
    },
    '/admin/users': {
      post: {
        operationId: 'createUser',
        summary: 'Admin only: open a user',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['username', 'password', 'role'],
                properties: {
                  username: { type: 'string' },
                  password: { type: 'string' },
                  role: { type: 'string', enum: ['teller', 'customer', 'admin'] },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'opened' }, '403': { description: 'admins only' } },
      },
    },
    '/admin/users/{username}': {
      delete: {
        operationId: 'deleteUser',
        parameters: [{ name: 'username', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '204': { description: 'closed' }, '403': { description: 'admins only' } },
      },
    },
    '/accounts/mine': {
      get: { operationId: 'myAccounts', responses: { '200': { description: 'the caller accounts' } } },
    },
    '/payments': {
      post: {
        operationId: 'pay',
        summary: 'Pay from one of my accounts to another account',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['from_iban', 'to_iban', 'amount'],
                properties: {
                  from_iban: { type: 'string', example: 'SB00-0000' },
                  to_iban: { type: 'string', example: 'SB00-0000' },
                  amount: { type: 'string', example: '10.00' },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'paid, or {ok: false, error}' } },
      },
    },
  },
};

interface User {
  username: string;
  password: string;
  role: string;
  iban: string;
  balance: number;
}

const seeded = (): User[] => [
  { username: 'alice', password: 'alice-pw-314', role: 'customer', iban: 'SB00-1001', balance: 900 },
  { username: 'bob', password: 'bob-pw-271', role: 'customer', iban: 'SB00-1002', balance: 900 },
  { username: 'root', password: 'root-pw-161', role: 'admin', iban: 'SB00-1003', balance: 900 },
];

interface Bank extends TwinTarget {
  readonly users: User[];
  /** Every user the admin made: its name and role. */
  readonly made: { username: string; role: string }[];
  readonly deleted: string[];
  readonly payers: string[];
  /** Users that signed in. */
  readonly signedIn: Set<string>;
}

async function startBank(fixed: boolean): Promise<Bank> {
  const users = seeded();
  const sessions = new Map<string, User>();
  const made: Bank['made'] = [];
  const deleted: string[] = [];
  const payers: string[] = [];
  const signedIn = new Set<string>();
  const daily = new Map<string, number>();
  let next = 2001;
  const { url, server } = await startServer(async (req, res) => {
    const text = await readText(req);
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/auth/login') {
      const form = new URLSearchParams(text);
      const u = users.find((x) => x.username === form.get('username') && x.password === form.get('password'));
      if (!u) return send(401, { error: 'wrong username or password' });
      const sid = randomBytes(16).toString('hex');
      sessions.set(sid, u);
      signedIn.add(u.username);
      res.setHeader('set-cookie', `sid=${sid}; Path=/; HttpOnly`);
      return send(200, { ok: true, user: u.username });
    }
    const sid = /(?:^|;\s*)sid=([0-9a-f]+)/.exec(req.headers.cookie ?? '')?.[1];
    const who = sid ? sessions.get(sid) : undefined;
    if (!who) return send(401, { error: 'sign in first' });
    let body: Record<string, unknown> = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      return send(400, { error: 'bad JSON' });
    }
    if (req.method === 'POST' && path === '/admin/users') {
      if (who.role !== 'admin') return send(403, { error: 'admins only' });
      const { username, password, role } = body;
      if (typeof username !== 'string' || typeof password !== 'string' || typeof role !== 'string')
        return send(400, { error: 'username, password and role' });
      if (!['teller', 'customer', 'admin'].includes(role)) return send(400, { error: 'no such role' });
      if (users.some((u) => u.username === username)) return send(409, { error: 'taken' });
      users.push({ username, password, role, iban: `SB00-${next++}`, balance: 25 });
      made.push({ username, role });
      return send(201, { username, role });
    }
    const del = /^\/admin\/users\/([^/]+)$/.exec(path);
    if (req.method === 'DELETE' && del) {
      if (who.role !== 'admin') return send(403, { error: 'admins only' });
      const i = users.findIndex((u) => u.username === decodeURIComponent(del[1]));
      if (i < 3) return send(404, { error: 'no such user' });
      deleted.push(users[i].username);
      users.splice(i, 1);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'GET' && path === '/accounts/mine')
      return send(200, {
        owner: who.username,
        accounts: [{ iban: who.iban, balance: who.balance.toFixed(2) }],
      });
    if (req.method === 'POST' && path === '/payments') {
      const from = users.find((u) => u.iban === body.from_iban);
      const to = users.find((u) => u.iban === body.to_iban);
      if (!from || !to) return send(200, { ok: false, error: 'no such account' });
      const amount = Number(body.amount);
      if (!Number.isFinite(amount)) return send(200, { ok: false, error: 'amount' });
      if (fixed) {
        if (from !== who) return send(200, { ok: false, error: 'not your account' });
        if (amount < 0.01 || amount > from.balance) return send(200, { ok: false, error: 'amount' });
        const n = daily.get(who.username) ?? 0;
        if (n >= 3) return send(200, { ok: false, error: 'three payments a day' });
        daily.set(who.username, n + 1);
      }
      payers.push(from.username);
      from.balance -= amount;
      to.balance += amount;
      return send(200, { ok: true, paid: amount.toFixed(2) });
    }
    return send(404, { error: 'not found' });
  });
  return { url, server, users, made, deleted, payers, signedIn };
}

const identity = (u: User) => ({
  name: u.username,
  login: {
    path: '/auth/login',
    encoding: 'form' as const,
    body: { username: u.username, password: u.password },
  },
});

describe('where only the admin makes accounts, the scan has it make ordinary ones of its own', () => {
  let runs: TwinScans<Bank>;
  before(async () => {
    const [alice, bob, root] = seeded();
    runs = await scanTwins(SPEC, startBank, {
      identities: [identity(alice), identity(bob)],
      admin: identity(root),
      ratePerSecond: 200,
    });
  });

  const flows = (kind: 'vulnerable' | 'fixed') =>
    runs[kind].result.findings.filter(
      (f) => f.rule.id === 'scan/api6-repeatable-business-flow' && f.operation?.operationId === 'pay',
    );

  test('vulnerable: a negative amount and one over the balance are found on the payment', () => {
    const text = flows('vulnerable')
      .map((f) => f.message)
      .join('\n');
    assert.match(text, /negative/, `${text}\n${runs.vulnerable.result.notes.join('\n')}`);
    assert.match(text, /more than/, text);
  });

  test('fixed: no API6 finding on the payment', () => {
    assert.deepEqual(
      flows('fixed').map((f) => f.message),
      [],
      operationsFound(runs.fixed.result).join('\n'),
    );
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: the accounts the scan made to sign in as are customers, and it deleted them`, () => {
      const { made, deleted, signedIn } = runs[kind].api;
      // API5's confirmation that the admin's creation works makes an account it never signs in to: not these.
      const own = made.filter((m) => signedIn.has(m.username));
      assert.ok(own.length >= 2, JSON.stringify(made));
      assert.deepEqual(
        own.filter((m) => m.role !== 'customer'),
        [],
      );
      assert.deepEqual(
        own.filter((m) => !deleted.includes(m.username)).map((m) => m.username),
        [],
        runs[kind].result.notes.join('\n'),
      );
    });

    test(`${kind}: the given users are as they were, and none of them paid anything`, () => {
      const { users, payers } = runs[kind].api;
      assert.deepEqual(users.slice(0, 3), seeded());
      assert.deepEqual(
        payers.filter((p) => ['alice', 'bob', 'root'].includes(p)),
        [],
      );
    });
  }
});
