import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * Review finding (session 13, R): a plain scan moves a given identity's money. A small bank whose transfers are
 * a creation at `POST /api/transfers {from_account_id, to_account_number, amount, memo}` (planner's movesMoney
 * says yes: `transfers`). Its document's example recipient is bob's real account number, as documents often show
 * a seeded test account; alice's `GET /api/accounts` gives her own account id. API6 rightly refuses to run the
 * flow as a given identity, but the injection check (API8) sends its plain request and its probes as alice:
 * each one a real transfer of 10.50 from alice to bob (23 on a vulnerable JSON:API twin, 11 on a fixed one,
 * until alice's balance ran out). This API is the fixed kind (owner check, amount from 0.01 to the balance).
 * The runner refuses centrally any money flow sent as a given identity or the admin (unless a check vouches
 * `moneySafe`), whichever check sends it.
 */
const body = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'review bank', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: body({ email: { type: 'string' }, password: { type: 'string' } }, ['email', 'password']),
        responses: { '200': { description: 'token' }, '401': { description: 'refused' } },
      },
    },
    '/api/accounts': {
      get: { operationId: 'myAccounts', responses: { '200': { description: "the caller's accounts" } } },
    },
    '/api/transfers': {
      get: { operationId: 'myTransfers', responses: { '200': { description: "the caller's transfers" } } },
      post: {
        operationId: 'createTransfer',
        requestBody: body(
          {
            from_account_id: { type: 'integer' },
            to_account_number: { type: 'string', example: 'LG-1002' },
            amount: { type: 'number', example: 10.5 },
            memo: { type: 'string' },
          },
          ['from_account_id', 'to_account_number', 'amount'],
        ),
        responses: { '201': { description: 'sent' }, '422': { description: 'refused' } },
      },
    },
  },
};

interface Account {
  id: number;
  owner: string;
  number: string;
  cents: number;
}
const USERS = [
  { email: 'alice@bank.test', password: 'Alice-pass-1' },
  { email: 'bob@bank.test', password: 'Bob-pass-2' },
  { email: 'root@bank.test', password: 'Root-pass-3' },
];
const seeded = (): Account[] => [
  { id: 1, owner: 'alice@bank.test', number: 'LG-1001', cents: 12000 },
  { id: 2, owner: 'bob@bank.test', number: 'LG-1002', cents: 8000 },
  { id: 3, owner: 'root@bank.test', number: 'LG-1003', cents: 50000 },
];

async function startBank() {
  const accounts = seeded();
  const transfers: string[] = [];
  const sessions = new Map<string, string>();
  const { url, server } = await startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/login') {
      const u = USERS.find((x) => x.email === b.email && x.password === b.password);
      if (!u) return sendJson(res, 401, { error: 'invalid credentials' });
      const token = randomBytes(16).toString('hex');
      sessions.set(token, u.email);
      return sendJson(res, 200, { token });
    }
    const me = sessions.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!me) return sendJson(res, 401, { error: 'sign in' });
    const view = (a: Account) => ({ id: a.id, number: a.number, balance: a.cents / 100 });
    if (req.method === 'GET' && path === '/api/accounts')
      return sendJson(res, 200, { accounts: accounts.filter((a) => a.owner === me).map(view) });
    if (req.method === 'GET' && path === '/api/transfers') return sendJson(res, 200, { transfers: [] });
    if (req.method === 'POST' && path === '/api/transfers') {
      const from = accounts.find((a) => a.id === Number(b.from_account_id) && a.owner === me);
      if (!from) return sendJson(res, 422, { error: 'not one of your accounts' });
      const to = accounts.find((a) => a.number === b.to_account_number);
      if (!to || to === from) return sendJson(res, 422, { error: 'no such recipient' });
      const cents = Math.round(Number(b.amount) * 100);
      if (!Number.isFinite(cents) || cents < 1 || cents > from.cents)
        return sendJson(res, 422, { error: 'amount must be positive and covered' });
      from.cents -= cents;
      to.cents += cents;
      transfers.push(`${me} ${from.number} -> ${to.number} ${cents}`);
      return sendJson(res, 201, { transfer: { from: from.number, to: to.number, amount: cents / 100 } });
    }
    return sendJson(res, 404, { error: 'not found' });
  });
  return { url, server, accounts, transfers };
}

const identity = (i: number) => ({
  name: USERS[i].email.split('@')[0],
  login: { path: '/api/login', body: { ...USERS[i] } },
});

describe('review: a plain scan never moves a given identity money', () => {
  let bank: Awaited<ReturnType<typeof startBank>>;
  let result: ScanResult;
  before(async () => {
    bank = await startBank();
    try {
      result = await scanDocument(SPEC, bank.url, {
        identities: [identity(0), identity(1)],
        admin: identity(2),
        ratePerSecond: 200,
      });
    } finally {
      bank.server.close();
    }
  });

  test("alice's, bob's and root's balances are as seeded and none of them made a transfer", () => {
    assert.ok(result);
    assert.deepEqual(bank.transfers, []);
    assert.deepEqual(bank.accounts, seeded());
  });

  test('the refused transfers are noted in the coverage', () => {
    const text = JSON.stringify(result.coverage);
    assert.match(text, /it moves money, and a given identity's money is never moved/);
  });
});
