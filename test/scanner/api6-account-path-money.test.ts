import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A versioned Express-like bank whose money routes name the account in the path: sign-up at `POST
 * /api/v1/signup {email, pwd, full_name}` (100.00 to start), sign-in at `POST /api/v1/auth {email, pwd}` answering
 * `{token, account_no}` (a bearer token), `GET /api/v1/accounts/{account_no}/balance` (`{available_balance:
 * "100.00"}`, the owner only), `POST /api/v1/accounts/{account_no}/withdraw {amount}` and `POST
 * /api/v1/accounts/{account_no}/transfer {to_account_no, amount}`. No read without a path parameter shows a
 * balance: the scan's accounts' numbers come from their sign-in answers. The vulnerable twin takes any amount
 * (negative, more than the balance) and a transfer to the same account; the fixed one takes 0.01 up to the balance,
 * another account, three moves a minute. alice's and bob's accounts must be as they were. The second describe
 * runs the same with a sign-in answer that carries only the token: the account number is in the sign-up's answer.
 */
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const accountNo = { name: 'account_no', in: 'path', required: true, schema: { type: 'string' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'v1 bank', version: '1.0.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/v1/signup': {
      post: {
        operationId: 'signup',
        security: [],
        requestBody: json(
          { email: { type: 'string' }, pwd: { type: 'string' }, full_name: { type: 'string' } },
          ['email', 'pwd'],
        ),
        responses: { '201': { description: 'signed up' } },
      },
    },
    '/api/v1/auth': {
      post: {
        operationId: 'auth',
        security: [],
        requestBody: json({ email: { type: 'string' }, pwd: { type: 'string' } }, ['email', 'pwd']),
        responses: { '200': { description: 'a token and the account number' } },
      },
    },
    '/api/v1/accounts/{account_no}/balance': {
      get: {
        operationId: 'balance',
        parameters: [accountNo],
        responses: { '200': { description: 'balance' } },
      },
    },
    '/api/v1/accounts/{account_no}/withdraw': {
      post: {
        operationId: 'withdraw',
        parameters: [accountNo],
        requestBody: json({ amount: { type: 'number', example: 20 } }, ['amount']),
        responses: { '200': { description: 'withdrawn' }, '400': { description: 'refused' } },
      },
    },
    '/api/v1/accounts/{account_no}/transfer': {
      post: {
        operationId: 'transfer',
        parameters: [accountNo],
        requestBody: json(
          { to_account_no: { type: 'string', example: 'AC-00000' }, amount: { type: 'number', example: 20 } },
          ['to_account_no', 'amount'],
        ),
        responses: { '200': { description: 'moved' }, '400': { description: 'refused' } },
      },
    },
  },
};

interface Holder {
  email: string;
  pwd: string;
  account: string;
  balance: number;
}

const seeded = (): Holder[] => [
  { email: 'alice@v1bank.test', pwd: 'alice-pwd-5150', account: 'AC-10001', balance: 700 },
  { email: 'bob@v1bank.test', pwd: 'bob-pwd-8080', account: 'AC-10002', balance: 700 },
  { email: 'root@v1bank.test', pwd: 'root-pwd-4040', account: 'AC-10003', balance: 700 },
];

interface Bank extends TwinTarget {
  readonly holders: Holder[];
  /** `holder account amount` of every move the API carried out. */
  readonly moves: string[];
}

async function startBank(fixed: boolean, inLogin = true): Promise<Bank> {
  const holders = seeded();
  const tokens = new Map<string, Holder>();
  const moves: string[] = [];
  const recent = new Map<string, number[]>();
  let next = 20001;
  const { url, server } = await startServer(async (req, res) => {
    const text = await readText(req);
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    let body: Record<string, unknown> = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      return send(400, { message: 'bad JSON' });
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/v1/signup') {
      if (typeof body.email !== 'string' || typeof body.pwd !== 'string')
        return send(400, { message: 'email and pwd' });
      if (holders.some((h) => h.email === body.email)) return send(409, { message: 'taken' });
      const h = { email: body.email, pwd: body.pwd, account: `AC-${next++}`, balance: 100 };
      holders.push(h);
      return send(201, { user: { email: h.email, account_no: h.account } });
    }
    if (req.method === 'POST' && path === '/api/v1/auth') {
      const h = holders.find((x) => x.email === body.email && x.pwd === body.pwd);
      if (!h) return send(401, { message: 'bad credentials' });
      const token = randomBytes(18).toString('base64url');
      tokens.set(token, h);
      return send(200, inLogin ? { token, account_no: h.account } : { token });
    }
    const who = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!who) return send(401, { message: 'unauthorized' });
    const m = /^\/api\/v1\/accounts\/([^/]+)\/(balance|withdraw|transfer)$/.exec(path);
    if (!m) return send(404, { message: 'not found' });
    const account = holders.find((h) => h.account === decodeURIComponent(m[1]));
    if (!account || account !== who) return send(404, { message: 'no such account' });
    if (req.method === 'GET' && m[2] === 'balance')
      return send(200, { account_no: account.account, available_balance: account.balance.toFixed(2) });
    if (req.method !== 'POST') return send(405, { message: 'method' });
    const amount = Number(body.amount);
    if (!Number.isFinite(amount)) return send(400, { message: 'amount' });
    const to = m[2] === 'transfer' ? holders.find((h) => h.account === body.to_account_no) : undefined;
    if (m[2] === 'transfer' && !to) return send(400, { message: 'no such recipient' });
    if (fixed) {
      if (amount < 0.01 || amount > account.balance) return send(400, { message: 'amount' });
      if (to === account) return send(400, { message: 'same account' });
      const now = Date.now();
      const times = (recent.get(account.account) ?? []).filter((t) => now - t < 60_000);
      if (times.length >= 3) return send(429, { message: 'three moves a minute' });
      recent.set(account.account, [...times, now]);
    }
    moves.push(`${who.email} ${m[2]} ${amount}`);
    const mine = account.balance;
    if (to) {
      const theirs = to.balance;
      account.balance = mine - amount;
      to.balance = theirs + amount;
    } else account.balance = mine - amount;
    return send(200, { ok: true, available_balance: account.balance.toFixed(2) });
  });
  return { url, server, holders, moves };
}

const identity = (h: Holder) => ({
  name: h.email.split('@')[0],
  login: { path: '/api/v1/auth', body: { email: h.email, pwd: h.pwd } },
});

describe("API6 on money routes that name the scan's own account in the path", () => {
  let runs: TwinScans<Bank>;
  before(async () => {
    const [alice, bob, root] = seeded();
    runs = await scanTwins(SPEC, startBank, {
      identities: [identity(alice), identity(bob)],
      admin: identity(root),
      ratePerSecond: 200,
    });
  });

  const flows = (kind: 'vulnerable' | 'fixed', id: string) =>
    runs[kind].result.findings
      .filter((f) => f.rule.id === 'scan/api6-repeatable-business-flow' && f.operation?.operationId === id)
      .map((f) => f.message)
      .join('\n');

  test('vulnerable: a negative and an over-balance withdrawal, a negative transfer and one to itself', () => {
    const withdraw = flows('vulnerable', 'withdraw');
    assert.match(withdraw, /negative/, withdraw);
    assert.match(withdraw, /more than/, withdraw);
    const transfer = flows('vulnerable', 'transfer');
    assert.match(transfer, /negative/, transfer);
    assert.match(transfer, /itself/, transfer);
  });

  test('fixed: no API6 finding on either', () => {
    assert.equal(
      flows('fixed', 'withdraw') + flows('fixed', 'transfer'),
      '',
      operationsFound(runs.fixed.result).join('\n'),
    );
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: alice's, bob's and root's accounts as they were, and none of them moved money`, () => {
      const { holders, moves } = runs[kind].api;
      assert.deepEqual(holders.slice(0, 3), seeded());
      assert.deepEqual(
        moves.filter((m) => /^(alice|bob|root)@/.test(m)),
        [],
      );
    });
  }
});

describe("the same, the account number told only by the sign-up's answer", () => {
  let runs: TwinScans<Bank>;
  before(async () => {
    const [alice, bob, root] = seeded();
    runs = await scanTwins(SPEC, (fixed) => startBank(fixed, false), {
      identities: [identity(alice), identity(bob)],
      admin: identity(root),
      ratePerSecond: 200,
    });
  });

  const flows = (kind: 'vulnerable' | 'fixed', id: string) =>
    runs[kind].result.findings
      .filter((f) => f.rule.id === 'scan/api6-repeatable-business-flow' && f.operation?.operationId === id)
      .map((f) => f.message)
      .join('\n');

  test('vulnerable: a negative and an over-balance withdrawal, a negative transfer and one to itself', () => {
    const withdraw = flows('vulnerable', 'withdraw');
    assert.match(withdraw, /negative/, withdraw);
    assert.match(withdraw, /more than/, withdraw);
    const transfer = flows('vulnerable', 'transfer');
    assert.match(transfer, /negative/, transfer);
    assert.match(transfer, /itself/, transfer);
  });

  test('fixed: no API6 finding on either', () => {
    assert.equal(
      flows('fixed', 'withdraw') + flows('fixed', 'transfer'),
      '',
      operationsFound(runs.fixed.result).join('\n'),
    );
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: alice's, bob's and root's accounts as they were, and none of them moved money`, () => {
      const { holders, moves } = runs[kind].api;
      assert.deepEqual(holders.slice(0, 3), seeded());
      assert.deepEqual(
        moves.filter((m) => /^(alice|bob|root)@/.test(m)),
        [],
      );
    });
  }
});
