import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A bill-paying API in a Django REST style: trailing slashes, `Authorization: Token <key>` from `POST
 * /api/auth/login/ {username, password}` answering `{key}`, sign-up at `POST /api/auth/registration/ {username,
 * email, password}` (250.00 to start), `GET /api/me/balance/` answering `{balance: "250.00", currency}`, `POST
 * /api/bills/pay/ {biller_code, amount}` paying a biller from the caller's balance. Paying moves money out, but no
 * input names a recipient account, so API6 takes it as a flow of the caller's own money and runs it as an account
 * of the scan's own. The vulnerable twin takes a negative amount (the biller pays the caller); the fixed one takes
 * 0.01 up to the balance and sets no limit on how often (five bills paid are what an owner may do: no finding).
 */
const body = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'bills', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/api/auth/registration/': {
      post: {
        operationId: 'register',
        security: [],
        requestBody: body(
          { username: { type: 'string' }, email: { type: 'string' }, password: { type: 'string' } },
          ['username', 'email', 'password'],
        ),
        responses: { '201': { description: 'ok' } },
      },
    },
    '/api/auth/login/': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: body({ username: { type: 'string' }, password: { type: 'string' } }, [
          'username',
          'password',
        ]),
        responses: { '200': { description: '{key}' } },
      },
    },
    '/api/me/balance/': { get: { operationId: 'balance', responses: { '200': { description: 'balance' } } } },
    '/api/bills/pay/': {
      post: {
        operationId: 'payBill',
        requestBody: body(
          {
            biller_code: { type: 'string', example: 'WATER01' },
            amount: { type: 'string', example: '12.50' },
          },
          ['biller_code', 'amount'],
        ),
        responses: { '201': { description: 'paid' }, '400': { description: 'refused' } },
      },
    },
  },
};

interface Payer {
  username: string;
  password: string;
  balance: number;
}

const seeded = (): Payer[] => [
  { username: 'alice', password: 'alice-bills-1', balance: 250 },
  { username: 'bob', password: 'bob-bills-2', balance: 250 },
  { username: 'root', password: 'root-bills-3', balance: 250 },
];

interface Bills extends TwinTarget {
  readonly payers: Payer[];
  readonly paid: string[];
}

async function startBills(fixed: boolean): Promise<Bills> {
  const payers = seeded();
  const keys = new Map<string, Payer>();
  const paid: string[] = [];
  const { url, server } = await startServer(async (req, res) => {
    const text = await readText(req);
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    let b: Record<string, unknown> = {};
    try {
      b = text ? JSON.parse(text) : {};
    } catch {
      return send(400, { detail: 'JSON parse error' });
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/auth/registration/') {
      if (typeof b.username !== 'string' || typeof b.password !== 'string' || typeof b.email !== 'string')
        return send(400, { username: ['This field is required.'] });
      if (payers.some((p) => p.username === b.username)) return send(400, { username: ['taken'] });
      payers.push({ username: b.username, password: b.password, balance: 250 });
      return send(201, { username: b.username });
    }
    if (req.method === 'POST' && path === '/api/auth/login/') {
      const p = payers.find((x) => x.username === b.username && x.password === b.password);
      if (!p) return send(400, { non_field_errors: ['Unable to log in with provided credentials.'] });
      const key = randomBytes(20).toString('hex');
      keys.set(key, p);
      return send(200, { key });
    }
    const who = keys.get((req.headers.authorization ?? '').replace(/^Token /, ''));
    if (!who) return send(401, { detail: 'Authentication credentials were not provided.' });
    if (req.method === 'GET' && path === '/api/me/balance/')
      return send(200, { balance: who.balance.toFixed(2), currency: 'EUR' });
    if (req.method === 'POST' && path === '/api/bills/pay/') {
      const amount = Number(b.amount);
      if (typeof b.biller_code !== 'string' || !Number.isFinite(amount))
        return send(400, { amount: ['invalid'] });
      if (fixed && (amount < 0.01 || amount > who.balance)) return send(400, { amount: ['out of range'] });
      paid.push(`${who.username} ${amount} ${text.slice(0, 80)}`);
      who.balance -= amount;
      return send(201, { biller_code: b.biller_code, amount: amount.toFixed(2) });
    }
    return send(404, { detail: 'Not found.' });
  });
  return { url, server, payers, paid };
}

const identity = (p: Payer) => ({
  name: p.username,
  login: {
    path: '/api/auth/login/',
    body: { username: p.username, password: p.password },
    tokenPointer: '/key',
    scheme: 'Token',
  },
});

describe("API6 pays bills as an account of the scan's own: a negative amount, not the repetition", () => {
  let runs: TwinScans<Bills>;
  before(async () => {
    const [alice, bob, root] = seeded();
    runs = await scanTwins(SPEC, startBills, {
      identities: [identity(alice), identity(bob)],
      admin: identity(root),
      ratePerSecond: 200,
    });
  });

  const flows = (kind: 'vulnerable' | 'fixed') =>
    runs[kind].result.findings
      .filter(
        (f) => f.rule.id === 'scan/api6-repeatable-business-flow' && f.operation?.operationId === 'payBill',
      )
      .map((f) => f.message)
      .join('\n');

  test('vulnerable: a negative amount pays the scan account; five bills paid are no finding', () => {
    const text = flows('vulnerable');
    assert.match(text, /negative amount .*paid to it instead of by it/, text);
    assert.doesNotMatch(text, /succeeded 5 times/, text);
  });

  test('fixed: no API6 finding on paying a bill', () => {
    assert.equal(flows('fixed'), '', operationsFound(runs.fixed.result).join('\n'));
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: API6 paid no bill for alice, bob or root (the other checks' probes aside)`, () => {
      // Discovery's plain request and the injection probes pay as alice (reported: not API6's); API6 as a
      // given identity would add five plain payments of the example.
      const plain = runs[kind].api.paid.filter((p) =>
        /^(alice|bob|root) 12\.5 \{"biller_code":"WATER01","amount"/.test(p),
      );
      assert.ok(plain.length <= 2, plain.join('\n'));
      const [, bob, root] = seeded();
      assert.deepEqual(runs[kind].api.payers.slice(1, 3), [bob, root]);
    });
  }
});
