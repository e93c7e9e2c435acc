import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A savings bank in an Express style (`{"error"}` answers): each customer's account is seeded (the scan makes none),
 * and its number is known only from the login answer (`{"token", "customer": {"id", "account_no"}}`); no list shows
 * it. `GET /accounts/{accountNo}` checks the holder on both twins; `GET /accounts/{accountNo}/transactions` and
 * `GET /transactions?account_no=` check nothing on the vulnerable twin, the holder on the fixed one.
 */
const accountNo = { name: 'accountNo', in: 'path', required: true, schema: { type: 'string' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'savings bank', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/login': {
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
        responses: { '200': { description: 'token' } },
      },
    },
    '/accounts/{accountNo}': {
      get: {
        operationId: 'getAccount',
        parameters: [accountNo],
        responses: { '200': { description: 'account' } },
      },
    },
    '/accounts/{accountNo}/transactions': {
      get: {
        operationId: 'accountTransactions',
        parameters: [accountNo],
        responses: { '200': { description: 'list' } },
      },
    },
    '/transactions': {
      get: {
        operationId: 'transactions',
        parameters: [{ name: 'account_no', in: 'query', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'list' } },
      },
    },
  },
};

const CUSTOMERS = [
  { id: 31, email: 'alice@bank.example', password: 'Alice-pw-55', account_no: 'SB-40917', balance: 1520.4 },
  { id: 32, email: 'bob@bank.example', password: 'Bob-pw-55', account_no: 'SB-77302', balance: 88.1 },
];
const TX: Record<string, object[]> = {
  'SB-40917': [
    { date: '2026-11-30', amount: -42.5, counterparty: 'Grocer Ltd', iban: 'GB33BUKB20201555555555' },
  ],
  'SB-77302': [
    { date: '2026-12-01', amount: 300, counterparty: 'Employer plc', iban: 'GB94BARC10201530093459' },
  ],
};

function startBank(fixed: boolean) {
  const tokens = new Map<string, (typeof CUSTOMERS)[number]>();
  return startServer(async (req, res) => {
    const body = await readJson(req);
    const url = new URL(req.url ?? '/', 'http://bank');
    const error = (status: number, text: string) => sendJson(res, status, { error: text });
    if (req.method === 'POST' && url.pathname === '/login') {
      const c = CUSTOMERS.find((x) => x.email === body?.email && x.password === body?.password);
      if (!c) return error(401, 'bad credentials');
      const token = randomBytes(12).toString('hex');
      tokens.set(token, c);
      return sendJson(res, 200, { token, customer: { id: c.id, account_no: c.account_no } });
    }
    const me = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!me) return error(401, 'login first');
    const m = /^\/accounts\/([^/]+)(\/transactions)?$/.exec(url.pathname);
    const no = m
      ? decodeURIComponent(m[1])
      : url.pathname === '/transactions'
        ? url.searchParams.get('account_no')
        : null;
    const account = CUSTOMERS.find((c) => c.account_no === no);
    if (!account) return error(404, 'no such account');
    const own = account.id === me.id;
    if (m && !m[2])
      return own ? sendJson(res, 200, { account_no: no, balance: account.balance }) : error(403, 'not yours');
    if (fixed && !own) return error(403, 'not yours');
    return sendJson(res, 200, { account_no: no, transactions: TX[no ?? ''] });
  });
}

const login = (email: string, password: string) => ({
  name: email.split('@')[0],
  login: { path: '/login', body: { email, password } },
});

describe('API1 replays second routes of an account known only from the login answer', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startBank>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startBank, {
        identities: [login('alice@bank.example', 'Alice-pw-55'), login('bob@bank.example', 'Bob-pw-55')],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test('vulnerable: both second routes', () => {
    assert.deepEqual(operationsFound(scans.vulnerable.result), [
      'scan/api1-bola-read accountTransactions',
      'scan/api1-bola-read transactions',
    ]);
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
