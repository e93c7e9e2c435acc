import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A tipping wallet whose read carries its history: `GET /api/wallet` answers `{balance, history: [{amount,
 * balance_after}]}`, so anything that sums balance-like members over the history sees the balance grow with every
 * move. Sign-up `POST /api/signup {login, password, email}` (100 to start), sign-in `POST /api/session {login,
 * password}` answering `{jwt}`, `POST /api/wallet/transfer {to_user, amount}` names the recipient by login. The
 * fixed twin takes 1 up to the balance, three moves a minute, and takes a transfer to oneself as a no-op (written
 * to the history, the balance unchanged): no finding. The vulnerable twin keeps the credit of a transfer to
 * oneself (balances read first, written after) and takes any amount.
 */
const body = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'tips', version: '5' },
  components: { securitySchemes: { jwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  security: [{ jwt: [] }],
  paths: {
    '/api/signup': {
      post: {
        operationId: 'signup',
        security: [],
        requestBody: body(
          { login: { type: 'string' }, password: { type: 'string' }, email: { type: 'string' } },
          ['login', 'password'],
        ),
        responses: { '201': { description: 'ok' } },
      },
    },
    '/api/session': {
      post: {
        operationId: 'session',
        security: [],
        requestBody: body({ login: { type: 'string' }, password: { type: 'string' } }, ['login', 'password']),
        responses: { '200': { description: 'ok' } },
      },
    },
    '/api/wallet': {
      get: { operationId: 'wallet', responses: { '200': { description: 'balance and history' } } },
    },
    '/api/wallet/transfer': {
      post: {
        operationId: 'transfer',
        requestBody: body({ to_user: { type: 'string' }, amount: { type: 'integer' } }, [
          'to_user',
          'amount',
        ]),
        responses: { '200': { description: 'ok' }, '422': { description: 'refused' } },
      },
    },
  },
};

interface Holder {
  login: string;
  password: string;
  balance: number;
  history: { amount: number; balance_after: number }[];
}

const seeded = (): Holder[] => [
  { login: 'alice', password: 'alice-tips-9', balance: 100, history: [] },
  { login: 'bob', password: 'bob-tips-8', balance: 100, history: [] },
  { login: 'root', password: 'root-tips-7', balance: 100, history: [] },
];

interface Tips extends TwinTarget {
  readonly holders: Holder[];
}

async function startTips(fixed: boolean): Promise<Tips> {
  const holders = seeded();
  const tokens = new Map<string, Holder>();
  const recent = new Map<string, number[]>();
  const { url, server } = await startServer(async (req, res) => {
    const text = await readText(req);
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    let b: Record<string, unknown> = {};
    try {
      b = text ? JSON.parse(text) : {};
    } catch {
      return send(400, { error: 'json' });
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/signup') {
      if (typeof b.login !== 'string' || typeof b.password !== 'string')
        return send(422, { error: 'fields' });
      if (holders.some((h) => h.login === b.login)) return send(409, { error: 'taken' });
      holders.push({ login: b.login, password: b.password, balance: 100, history: [] });
      return send(201, { login: b.login });
    }
    if (req.method === 'POST' && path === '/api/session') {
      const h = holders.find((x) => x.login === b.login && x.password === b.password);
      if (!h) return send(401, { error: 'credentials' });
      const jwt = randomBytes(20).toString('hex');
      tokens.set(jwt, h);
      return send(200, { jwt });
    }
    const who = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!who) return send(401, { error: 'token' });
    if (req.method === 'GET' && path === '/api/wallet')
      return send(200, { login: who.login, balance: who.balance, history: who.history.slice(-20) });
    if (req.method === 'POST' && path === '/api/wallet/transfer') {
      const to = holders.find((h) => h.login === b.to_user);
      const amount = b.amount;
      if (!to || typeof amount !== 'number') return send(422, { error: 'to_user and amount' });
      if (fixed) {
        if (!Number.isInteger(amount) || amount < 1 || amount > who.balance)
          return send(422, { error: 'amount' });
        const now = Date.now();
        const times = (recent.get(who.login) ?? []).filter((t) => now - t < 60_000);
        if (times.length >= 3) return send(429, { error: 'slow down' });
        recent.set(who.login, [...times, now]);
        if (to === who) {
          who.history.push({ amount: 0, balance_after: who.balance });
          return send(200, { ok: true, note: 'nothing to move' });
        }
      }
      const mine = who.balance;
      const theirs = to.balance;
      who.balance = mine - amount;
      to.balance = theirs + amount;
      who.history.push({ amount: -amount, balance_after: who.balance });
      to.history.push({ amount, balance_after: to.balance });
      return send(200, { ok: true });
    }
    return send(404, { error: 'not found' });
  });
  return { url, server, holders };
}

const identity = (h: Holder) => ({
  name: h.login,
  login: { path: '/api/session', body: { login: h.login, password: h.password } },
});

describe('API6 reads a balance, not a history that grows with every move', () => {
  let runs: TwinScans<Tips>;
  before(async () => {
    const [alice, bob, root] = seeded();
    runs = await scanTwins(SPEC, startTips, {
      identities: [identity(alice), identity(bob)],
      admin: identity(root),
      ratePerSecond: 200,
    });
  });

  const flows = (kind: 'vulnerable' | 'fixed') =>
    runs[kind].result.findings
      .filter(
        (f) => f.rule.id === 'scan/api6-repeatable-business-flow' && f.operation?.operationId === 'transfer',
      )
      .map((f) => f.message)
      .join('\n');

  test('vulnerable: the transfer to itself and the negative amount are found', () => {
    const text = flows('vulnerable');
    assert.match(text, /itself/, text);
    assert.match(text, /negative/, text);
  });

  test('fixed: no API6 finding (the no-op transfer to oneself adds to the history only)', () => {
    assert.equal(flows('fixed'), '', operationsFound(runs.fixed.result).join('\n'));
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: alice's, bob's and root's wallets as they were`, () => {
      assert.deepEqual(runs[kind].api.holders.slice(0, 3), seeded());
    });
  }
});
