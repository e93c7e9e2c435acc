import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A ledger API in an OAuth2 style: `POST /oauth/token` (password grant, form) gives an `access_token`, `POST
 * /api/users {username, password}` signs up (user ids from 10, one account of 50 each, account ids from 1, so a
 * user's id is another person's account id), `GET /api/accounts` lists the caller's accounts as `[{id, currency,
 * balance}]`, `POST /api/transactions {from_account_id, to_account_id, amount}` (integers) moves money. The only
 * values that name an account are bare ids in the account list. The vulnerable twin takes any amount and never
 * checks that the source account is the caller's; the fixed one takes 1 up to the balance, the caller's own
 * account, another account, three transactions a minute. The scan must move money only between its own accounts:
 * alice's, bob's and root's balances stay as they were. The documented example ids (900, 901) are no one's: with
 * alice's and bob's real ids there (1, 2), API3's mass-assignment probe moved alice's money to bob (not API6's).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'ledger', version: '0.9' },
  components: {
    securitySchemes: {
      oauth: { type: 'oauth2', flows: { password: { tokenUrl: '/oauth/token', scopes: {} } } },
    },
  },
  security: [{ oauth: [] }],
  paths: {
    '/oauth/token': {
      post: {
        operationId: 'token',
        security: [],
        requestBody: {
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                properties: {
                  grant_type: { type: 'string' },
                  username: { type: 'string' },
                  password: { type: 'string' },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' } },
      },
    },
    '/api/users': {
      post: {
        operationId: 'register',
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
        responses: { '201': { description: 'registered' } },
      },
    },
    '/api/accounts': {
      get: { operationId: 'accounts', responses: { '200': { description: 'my accounts' } } },
    },
    '/api/transactions': {
      post: {
        operationId: 'transact',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['from_account_id', 'to_account_id', 'amount'],
                properties: {
                  from_account_id: { type: 'integer', example: 900 },
                  to_account_id: { type: 'integer', example: 901 },
                  amount: { type: 'integer', example: 5 },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'done' }, '400': { description: 'refused' } },
      },
    },
  },
};

interface Account {
  id: number;
  owner: string;
  balance: number;
}

const users = () => [
  { id: 1, username: 'alice', password: 'alice-ledger-1' },
  { id: 2, username: 'bob', password: 'bob-ledger-2' },
  { id: 3, username: 'root', password: 'root-ledger-3' },
];
const accounts = (): Account[] => [
  { id: 1, owner: 'alice', balance: 300 },
  { id: 2, owner: 'bob', balance: 300 },
  { id: 3, owner: 'root', balance: 300 },
];

interface Ledger extends TwinTarget {
  readonly accounts: Account[];
}

async function startLedger(fixed: boolean): Promise<Ledger> {
  const people = users();
  const books = accounts();
  const tokens = new Map<string, string>();
  const recent = new Map<string, number[]>();
  let nextUser = 10;
  const { url, server } = await startServer(async (req, res) => {
    const text = await readText(req);
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/oauth/token') {
      const form = new URLSearchParams(text);
      const u = people.find(
        (p) => p.username === form.get('username') && p.password === form.get('password'),
      );
      if (!u || form.get('grant_type') !== 'password') return send(400, { error: 'invalid_grant' });
      const token = randomBytes(16).toString('hex');
      tokens.set(token, u.username);
      return send(200, { access_token: token, token_type: 'bearer' });
    }
    let body: Record<string, unknown> = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      return send(400, { detail: 'bad JSON' });
    }
    if (req.method === 'POST' && path === '/api/users') {
      if (typeof body.username !== 'string' || typeof body.password !== 'string')
        return send(400, { detail: 'username and password' });
      if (people.some((p) => p.username === body.username)) return send(409, { detail: 'taken' });
      const id = nextUser++;
      people.push({ id, username: body.username, password: body.password });
      books.push({ id: books.length + 1, owner: body.username, balance: 50 });
      return send(201, { id, username: body.username });
    }
    const who = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!who) return send(401, { detail: 'not authenticated' });
    if (req.method === 'GET' && path === '/api/accounts')
      return send(
        200,
        books.filter((a) => a.owner === who).map((a) => ({ id: a.id, currency: 'EUR', balance: a.balance })),
      );
    if (req.method === 'POST' && path === '/api/transactions') {
      const from = books.find((a) => a.id === body.from_account_id);
      const to = books.find((a) => a.id === body.to_account_id);
      const amount = body.amount;
      if (!from || !to || typeof amount !== 'number') return send(400, { detail: 'accounts and amount' });
      if (fixed) {
        if (from.owner !== who) return send(403, { detail: 'not your account' });
        if (!Number.isInteger(amount) || amount < 1 || amount > from.balance)
          return send(400, { detail: 'amount' });
        if (from === to) return send(400, { detail: 'same account' });
        const now = Date.now();
        const times = (recent.get(who) ?? []).filter((t) => now - t < 60_000);
        if (times.length >= 3) return send(429, { detail: 'slow down' });
        recent.set(who, [...times, now]);
      }
      const a = from.balance;
      const b = to.balance;
      from.balance = a - amount;
      to.balance = b + amount;
      return send(201, { from: from.id, to: to.id, amount });
    }
    return send(404, { detail: 'not found' });
  });
  return { url, server, accounts: books };
}

const identity = (u: { username: string; password: string }) => ({
  name: u.username,
  login: {
    path: '/oauth/token',
    grantType: 'password' as const,
    body: { username: u.username, password: u.password },
  },
});

describe('API6 between accounts the scan knows only by the bare ids of its own account list', () => {
  let runs: TwinScans<Ledger>;
  before(async () => {
    const [alice, bob, root] = users();
    runs = await scanTwins(SPEC, startLedger, {
      identities: [identity(alice), identity(bob)],
      admin: identity(root),
      ratePerSecond: 200,
    });
  });

  const flows = (kind: 'vulnerable' | 'fixed') =>
    runs[kind].result.findings
      .filter(
        (f) => f.rule.id === 'scan/api6-repeatable-business-flow' && f.operation?.operationId === 'transact',
      )
      .map((f) => f.message)
      .join('\n');

  test('vulnerable: a negative amount, more than the balance and a move to the same account', () => {
    const text = flows('vulnerable');
    assert.match(text, /negative/, text);
    assert.match(text, /more than/, text);
    assert.match(text, /itself/, text);
  });

  test('fixed: no API6 finding on the transaction', () => {
    assert.equal(flows('fixed'), '', operationsFound(runs.fixed.result).join('\n'));
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: alice's, bob's and root's balances as they were`, () => {
      assert.deepEqual(runs[kind].api.accounts.slice(0, 3), accounts());
    });
  }
});
