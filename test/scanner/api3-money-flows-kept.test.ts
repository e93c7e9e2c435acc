import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans } from './twins.ts';

/**
 * A tip-jar API in an Express style with API keys in `Authorization: Key <key>` (no login, no sign-up): `GET
 * /api/wallet` shows the caller's balance, `POST /api/wallet/topup {amount}` adds to it, `POST /api/tips {to_user,
 * amount}` moves money from the caller to another member by user name. The vulnerable twin takes any member of a
 * tip's body into the tip record it answers (`{"tip": {..., "fee_waived": true}}`); the fixed twin only its two.
 * A plain scan must move no given identity's money: discovery (the tip as a creation, the top-up as an action) and
 * API3's mass-assignment probe and its control, sent as the first identity, each topped up or tipped with alice's
 * real balance before (nothing sets a top-up or a tip back).
 */
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'tip jar', version: '2' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ key: [] }],
  paths: {
    '/api/wallet': {
      get: {
        operationId: 'wallet',
        responses: {
          '200': {
            description: 'mine',
            ...json({
              type: 'object',
              properties: { user: { type: 'string' }, balance: { type: 'number' } },
            }),
          },
        },
      },
    },
    '/api/wallet/topup': {
      post: {
        operationId: 'topUp',
        requestBody: {
          required: true,
          ...json({
            type: 'object',
            required: ['amount'],
            properties: { amount: { type: 'number', example: 5 } },
          }),
        },
        responses: { '200': { description: 'topped up' } },
      },
    },
    '/api/tips': {
      post: {
        operationId: 'tip',
        requestBody: {
          required: true,
          ...json({
            type: 'object',
            required: ['to_user', 'amount'],
            properties: {
              to_user: { type: 'string', example: 'bob' },
              amount: { type: 'number', example: 2 },
            },
          }),
        },
        responses: { '201': { description: 'tipped' } },
      },
    },
  },
};

const KEYS: Record<string, string> = {
  'Key k-alice-5d1e': 'alice',
  'Key k-bob-77a0': 'bob',
  'Key k-root-903c': 'root',
};
const IDENTITIES = {
  identities: [
    { name: 'alice', headers: { Authorization: 'Key k-alice-5d1e' } },
    { name: 'bob', headers: { Authorization: 'Key k-bob-77a0' } },
  ],
  admin: { name: 'root', headers: { Authorization: 'Key k-root-903c' } },
  ratePerSecond: 400,
};
const SEEDED = { alice: 50, bob: 30, root: 100 };

interface TipJar extends TestServer {
  readonly balances: Record<string, number>;
}

async function startTipJar(fixed: boolean): Promise<TipJar> {
  const balances: Record<string, number> = { ...SEEDED };
  const server = await startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const who = KEYS[String(req.headers.authorization ?? '')];
    if (!who) return sendJson(res, 401, { message: 'unknown key' });
    if (req.method === 'GET' && path === '/api/wallet')
      return sendJson(res, 200, { user: who, balance: balances[who] });
    const body = await readJson(req);
    const amount = Number(body?.amount);
    if (!Number.isFinite(amount) || amount <= 0) return sendJson(res, 400, { message: 'amount' });
    if (req.method === 'POST' && path === '/api/wallet/topup') {
      balances[who] += amount;
      return sendJson(res, 200, { user: who, balance: balances[who] });
    }
    if (req.method === 'POST' && path === '/api/tips') {
      const to = String(body?.to_user ?? '');
      if (!(to in balances) || to === who) return sendJson(res, 404, { message: 'no such member' });
      if (balances[who] < amount) return sendJson(res, 409, { message: 'not enough' });
      balances[who] -= amount;
      balances[to] += amount;
      const extra = fixed
        ? {}
        : Object.fromEntries(Object.entries(body ?? {}).filter(([k]) => k !== 'amount'));
      return sendJson(res, 201, { tip: { ...extra, from: who, to_user: to, amount } });
    }
    return sendJson(res, 404, { message: 'no route' });
  });
  return { ...server, balances };
}

describe('API3 sends no mass-assignment probe to a money flow as a given identity (a top-up, a tip to another member)', () => {
  let runs: TwinScans<TipJar>;
  before(async () => {
    // Discovery and API3 (the injection probes' baselines are another check's: left out here).
    runs = await scanTwins(SPEC, startTipJar, { ...IDENTITIES, checks: ['API3'] });
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: every given identity's balance is as seeded`, () => {
      assert.deepEqual(runs[kind].api.balances, SEEDED);
    });

    test(`${kind}: API3 says why it did not probe the two flows`, () => {
      const cells = runs[kind].result.coverage.matrix.filter(
        (c) => c.check === 'API3' && /wallet\/topup|tips/.test(c.operation),
      );
      assert.equal(cells.length, 2, JSON.stringify(cells));
      for (const c of cells)
        assert.match(`${c.reason} ${(c.notes ?? []).join(' ')}`, /money flow/, c.operation);
    });
  }
});
