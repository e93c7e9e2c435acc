import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A Hapi-like API that takes two sign-ups from a client and refuses the next with 429: API3's mass-assignment
 * probe of the sign-up takes one, so API6 gets one account of its own, not two. The session token comes back in an `x-access-token` response header and goes in the same
 * request header. `POST /v2/wallet/deposit {amount}` brings money in, `GET /v2/wallet` shows `{owner, balance}`.
 * A deposit needs no second account: API6 repeats it as the one account the scan has, never as alice or bob. The
 * vulnerable twin takes any amount without limit; the fixed one 1 to 100, twice a minute.
 */
const body = (properties: Record<string, unknown>) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'one sign-up', version: '2' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'x-access-token' } } },
  security: [{ token: [] }],
  paths: {
    '/v2/users/register': {
      post: {
        operationId: 'register',
        security: [],
        requestBody: body({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: { '201': { description: 'ok' }, '429': { description: 'two sign-ups per client' } },
      },
    },
    '/v2/users/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: body({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: { '204': { description: 'token in x-access-token' } },
      },
    },
    '/v2/wallet': { get: { operationId: 'wallet', responses: { '200': { description: 'balance' } } } },
    '/v2/wallet/deposit': {
      post: {
        operationId: 'deposit',
        requestBody: body({ amount: { type: 'number', example: 10 } }),
        responses: { '200': { description: 'deposited' } },
      },
    },
  },
};

interface User {
  username: string;
  password: string;
  balance: number;
}

const seeded = (): User[] => [
  { username: 'alice', password: 'alice-one-1', balance: 60 },
  { username: 'bob', password: 'bob-one-2', balance: 60 },
  { username: 'root', password: 'root-one-3', balance: 60 },
];

interface Api extends TwinTarget {
  readonly users: User[];
  readonly deposits: string[];
}

async function startApi(fixed: boolean): Promise<Api> {
  const users = seeded();
  const tokens = new Map<string, User>();
  const recent = new Map<string, number[]>();
  const deposits: string[] = [];
  let signups = 0;
  const { url, server } = await startServer(async (req, res) => {
    const text = await readText(req);
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    let b: Record<string, unknown> = {};
    try {
      b = text ? JSON.parse(text) : {};
    } catch {
      return send(400, { statusCode: 400, message: 'json' });
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/v2/users/register') {
      if (typeof b.username !== 'string' || typeof b.password !== 'string')
        return send(400, { statusCode: 400, message: 'username and password' });
      if (signups >= 2) return send(429, { statusCode: 429, message: 'two sign-ups per client' });
      if (users.some((u) => u.username === b.username))
        return send(409, { statusCode: 409, message: 'taken' });
      signups++;
      users.push({ username: b.username, password: b.password, balance: 0 });
      return send(201, { username: b.username });
    }
    if (req.method === 'POST' && path === '/v2/users/login') {
      const u = users.find((x) => x.username === b.username && x.password === b.password);
      if (!u) return send(401, { statusCode: 401, message: 'bad credentials' });
      const token = randomBytes(16).toString('hex');
      tokens.set(token, u);
      res.setHeader('x-access-token', token);
      res.writeHead(204).end();
      return;
    }
    const who = tokens.get(String(req.headers['x-access-token'] ?? ''));
    if (!who) return send(401, { statusCode: 401, message: 'token' });
    if (req.method === 'GET' && path === '/v2/wallet')
      return send(200, { owner: who.username, balance: who.balance });
    if (req.method === 'POST' && path === '/v2/wallet/deposit') {
      const amount = Number(b.amount);
      if (!Number.isFinite(amount)) return send(400, { statusCode: 400, message: 'amount' });
      if (fixed) {
        if (amount < 1 || amount > 100) return send(400, { statusCode: 400, message: 'amount 1 to 100' });
        const now = Date.now();
        const times = (recent.get(who.username) ?? []).filter((t) => now - t < 60_000);
        if (times.length >= 2) return send(429, { statusCode: 429, message: 'twice a minute' });
        recent.set(who.username, [...times, now]);
      }
      deposits.push(`${who.username} ${text}`);
      who.balance += amount;
      return send(200, { owner: who.username, balance: who.balance });
    }
    return send(404, { statusCode: 404, message: 'not found' });
  });
  return { url, server, users, deposits };
}

const identity = (u: User) => ({
  name: u.username,
  login: {
    path: '/v2/users/login',
    body: { username: u.username, password: u.password },
    tokenHeader: 'x-access-token',
    header: 'x-access-token',
  },
});

describe("with one sign-up left, API6 repeats a deposit as the scan's one account", () => {
  let runs: TwinScans<Api>;
  before(async () => {
    const [alice, bob, root] = seeded();
    runs = await scanTwins(SPEC, startApi, {
      identities: [identity(alice), identity(bob)],
      admin: identity(root),
      ratePerSecond: 200,
    });
  });

  const flows = (kind: 'vulnerable' | 'fixed') =>
    runs[kind].result.findings
      .filter(
        (f) => f.rule.id === 'scan/api6-repeatable-business-flow' && f.operation?.operationId === 'deposit',
      )
      .map((f) => f.message)
      .join('\n');

  test("vulnerable: five deposits in a row on the scan's own account", () => {
    const text = flows('vulnerable');
    assert.match(text, /succeeded 5 times in a row for pc\w+, an account of the scan's own/, text);
  });

  test('fixed: no API6 finding on the deposit', () => {
    assert.equal(flows('fixed'), '', operationsFound(runs.fixed.result).join('\n'));
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: API6 deposited nothing for alice, bob or root (API3's mass-assignment pair aside)`, () => {
      const { users, deposits } = runs[kind].api;
      const given = deposits.filter((d) => /^(alice|bob|root) /.test(d));
      const probes = given.filter((d) => /portcullisProbe/.test(d));
      assert.ok(given.length - probes.length <= probes.length, given.join('\n'));
      const [, bob, root] = seeded();
      assert.deepEqual(users.slice(1, 3), [bob, root]);
    });
  }
});
