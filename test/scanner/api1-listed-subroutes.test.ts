import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A credit union's member API (`X-Session-Token` header from `POST /session`, which answers `{"sessionToken",
 * "user": {"id"}}`; refusals 403 `{"message", "code"}`). `GET /accounts` is a directory every member sees (each
 * account's `id`, `memberId` and nickname: whom to pay), and `GET /accounts/{accountId}` shows one entry of it, so
 * reading another member's entry is by design. What lies below an account is not: `GET
 * /accounts/{accountId}/transactions` and `GET /accounts/{accountId}/balance`. Vulnerable: anyone's; fixed twin:
 * the holder's only. Accounts are seeded: the scan creates none.
 */
const idParam = [{ name: 'accountId', in: 'path', required: true, schema: { type: 'integer' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'credit union', version: '1' },
  components: { securitySchemes: { session: { type: 'apiKey', in: 'header', name: 'X-Session-Token' } } },
  security: [{ session: [] }],
  paths: {
    '/session': {
      post: {
        operationId: 'openSession',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: { type: 'object', properties: { member: { type: 'string' }, pin: { type: 'string' } } },
            },
          },
        },
        responses: { '200': { description: 'a session' } },
      },
    },
    '/accounts': { get: { operationId: 'directory', responses: { '200': { description: 'all accounts' } } } },
    '/accounts/{accountId}': {
      get: { operationId: 'entry', parameters: idParam, responses: { '200': { description: 'an entry' } } },
    },
    '/accounts/{accountId}/transactions': {
      get: {
        operationId: 'transactions',
        parameters: idParam,
        responses: { '200': { description: 'transactions' }, '403': { description: 'not yours' } },
      },
    },
    '/accounts/{accountId}/balance': {
      get: {
        operationId: 'balance',
        parameters: idParam,
        responses: { '200': { description: 'the balance' }, '403': { description: 'not yours' } },
      },
    },
  },
};

const MEMBERS = [
  { id: 801, member: 'ruth', pin: 'Ruth-cu-4471' },
  { id: 802, member: 'sami', pin: 'Sami-cu-9030' },
  { id: 803, member: 'teo', pin: 'Teo-cu-1188' },
];
const ACCOUNTS = [
  { id: 61001, memberId: 801, nickname: 'Ruth household', balance: 2310.55 },
  { id: 61002, memberId: 802, nickname: 'Sami savings', balance: 9120.0 },
  { id: 61003, memberId: 803, nickname: 'Teo current', balance: 48.2 },
];
const MOVES: Record<number, { on: string; amount: number; counterparty: string }[]> = {
  61001: [{ on: '2026-11-29', amount: -62.4, counterparty: 'Greengrocer' }],
  61002: [{ on: '2026-11-30', amount: 1500, counterparty: 'Payroll' }],
  61003: [{ on: '2026-12-01', amount: -9.99, counterparty: 'Streaming' }],
};

function startUnion(fixed: boolean) {
  const sessions = new Map<string, number>();
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://union');
    if (url.pathname === '/session' && req.method === 'POST') {
      const body = await readJson(req);
      const m = MEMBERS.find((x) => x.member === body?.member && x.pin === body?.pin);
      if (!m) return sendJson(res, 403, { message: 'Wrong member or PIN', code: 'AUTH' });
      const token = `st-${m.id}-${sessions.size}-e1`;
      sessions.set(token, m.id);
      return sendJson(res, 200, { sessionToken: token, user: { id: m.id } });
    }
    const me = sessions.get(String(req.headers['x-session-token'] ?? ''));
    if (me === undefined) return sendJson(res, 401, { message: 'No session', code: 'AUTH' });
    if (req.method !== 'GET') return sendJson(res, 405, { message: 'Not allowed', code: 'METHOD' });
    if (url.pathname === '/accounts')
      return sendJson(
        res,
        200,
        ACCOUNTS.map(({ id, memberId, nickname }) => ({ id, memberId, nickname })),
      );
    const m = /^\/accounts\/(\d+)(?:\/(transactions|balance))?$/.exec(url.pathname);
    const account = m ? ACCOUNTS.find((a) => a.id === Number(m[1])) : undefined;
    if (!m || !account) return sendJson(res, 404, { message: 'Unknown account', code: 'NOT_FOUND' });
    if (m[2] === undefined)
      return sendJson(res, 200, { id: account.id, memberId: account.memberId, nickname: account.nickname });
    if (fixed && account.memberId !== me)
      return sendJson(res, 403, { message: 'Not your account', code: 'DENIED' });
    if (m[2] === 'balance') return sendJson(res, 200, { accountId: account.id, balance: account.balance });
    return sendJson(res, 200, { accountId: account.id, transactions: MOVES[account.id] });
  });
}

describe("API1 reads what lies below another member's account in a directory everyone sees", () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startUnion>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startUnion, {
        identities: MEMBERS.slice(0, 2).map((m) => ({
          name: m.member,
          login: {
            path: '/session',
            body: { member: m.member, pin: m.pin },
            tokenPointer: '/sessionToken',
            header: 'X-Session-Token',
          },
        })),
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test("vulnerable: another member's transactions and balance are found", () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-read transactions'), found.join());
    assert.ok(found.includes('scan/api1-bola-read balance'), found.join());
  });

  test('vulnerable: the directory entry, open to every member by design, is not reported', () => {
    assert.ok(!operationsFound(scans.vulnerable.result).some((f) => / entry$/.test(f)));
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
