import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A coin club in a Koa-like style: members sign up at `POST /members {handle, email, passphrase}` (40 welcome
 * coins), sign in at `POST /session {handle, passphrase}` and send the session in `X-Session`; `GET /wallet` shows
 * `{wallet_no, holder, coins}`, `POST /wallet/send {recipient_wallet, coins, memo}` sends coins to another wallet.
 * The vulnerable twin takes any number of coins (negative: the recipient pays; more than the wallet holds), lets a
 * wallet send to itself (the credit is written last: coins out of nothing). The fixed twin takes a whole number
 * from 1 to the wallet's coins and refuses a send to oneself; it sets no limit on how often (five sends of one
 * coin are what an owner may do: no finding).
 * Sending moves money out of the sender's wallet: never as the given members (alice, bob), so API6 runs it between
 * two accounts of the scan's own and reads their wallets back. alice's and bob's wallets must be as they were
 * (the document's example wallet, `CW-0000`, is no one's: the sends that use it find no wallet).
 */
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'coin club', version: '3' },
  components: { securitySchemes: { session: { type: 'apiKey', in: 'header', name: 'X-Session' } } },
  security: [{ session: [] }],
  paths: {
    '/members': {
      post: {
        operationId: 'join',
        security: [],
        requestBody: json(
          {
            handle: { type: 'string' },
            email: { type: 'string', format: 'email' },
            passphrase: { type: 'string' },
          },
          ['handle', 'email', 'passphrase'],
        ),
        responses: { '201': { description: 'joined' }, '409': { description: 'handle taken' } },
      },
    },
    '/session': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: json({ handle: { type: 'string' }, passphrase: { type: 'string' } }, [
          'handle',
          'passphrase',
        ]),
        responses: { '200': { description: 'a session' }, '403': { description: 'refused' } },
      },
    },
    '/wallet': {
      get: { operationId: 'myWallet', responses: { '200': { description: 'the caller wallet' } } },
    },
    '/wallet/send': {
      post: {
        operationId: 'sendCoins',
        summary: 'Send coins from my wallet to another wallet',
        requestBody: json(
          {
            recipient_wallet: { type: 'string', example: 'CW-0000' },
            coins: { type: 'integer', example: 10 },
            memo: { type: 'string' },
          },
          ['recipient_wallet', 'coins'],
        ),
        responses: { '200': { description: 'sent' }, '422': { description: 'refused' } },
      },
    },
  },
};

interface Member {
  handle: string;
  email: string;
  passphrase: string;
  wallet: string;
  coins: number;
}

const seeded = (): Member[] => [
  { handle: 'alice', email: 'alice@coins.test', passphrase: 'alice-pass-71', wallet: 'CW-1001', coins: 500 },
  { handle: 'bob', email: 'bob@coins.test', passphrase: 'bob-pass-52', wallet: 'CW-1002', coins: 500 },
  { handle: 'root', email: 'root@coins.test', passphrase: 'root-pass-93', wallet: 'CW-1003', coins: 500 },
];

interface Club extends TwinTarget {
  readonly members: Member[];
  readonly sends: string[];
}

async function startClub(fixed: boolean): Promise<Club> {
  const members = seeded();
  const sessions = new Map<string, Member>();
  const sends: string[] = [];
  let next = 2001;
  const { url, server } = await startServer(async (req, res) => {
    const text = await readText(req);
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    let body: Record<string, unknown> = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      return send(400, { problem: 'bad JSON' });
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/members') {
      const { handle, email, passphrase } = body;
      if (typeof handle !== 'string' || typeof email !== 'string' || typeof passphrase !== 'string')
        return send(422, { problem: 'handle, email and passphrase' });
      if (members.some((m) => m.handle === handle)) return send(409, { problem: 'handle taken' });
      const m = { handle, email, passphrase, wallet: `CW-${next++}`, coins: 40 };
      members.push(m);
      return send(201, { handle, wallet_no: m.wallet });
    }
    if (req.method === 'POST' && path === '/session') {
      const m = members.find((x) => x.handle === body.handle && x.passphrase === body.passphrase);
      if (!m) return send(403, { problem: 'wrong handle or passphrase' });
      const session = randomBytes(16).toString('hex');
      sessions.set(session, m);
      return send(200, { session });
    }
    const who = sessions.get(String(req.headers['x-session'] ?? ''));
    if (!who) return send(401, { problem: 'no session' });
    if (req.method === 'GET' && path === '/wallet')
      return send(200, { wallet_no: who.wallet, holder: who.handle, coins: who.coins });
    if (req.method === 'POST' && path === '/wallet/send') {
      const to = members.find((m) => m.wallet === body.recipient_wallet);
      if (!to) return send(404, { problem: 'no such wallet' });
      sends.push(`${who.handle} ${JSON.stringify(body)}`);
      const coins = Number(body.coins);
      if (!Number.isFinite(coins)) return send(422, { problem: 'coins must be a number' });
      if (fixed) {
        if (!Number.isInteger(coins) || coins < 1) return send(422, { problem: 'coins must be 1 or more' });
        if (coins > who.coins) return send(422, { problem: 'not enough coins' });
        if (to === who) return send(422, { problem: 'cannot send to yourself' });
      }
      // The balances are read first and written after: a send to oneself keeps only the credit.
      const mine = who.coins;
      const theirs = to.coins;
      who.coins = mine - coins;
      to.coins = theirs + coins;
      return send(200, { sent: coins, to: to.wallet });
    }
    return send(404, { problem: 'not found' });
  });
  return { url, server, members, sends };
}

const identity = (m: Member) => ({
  name: m.handle,
  login: {
    path: '/session',
    body: { handle: m.handle, passphrase: m.passphrase },
    tokenPointer: '/session',
    header: 'X-Session',
  },
});

describe("API6 sends money between the scan's own accounts, never the given members'", () => {
  let runs: TwinScans<Club>;
  before(async () => {
    const [alice, bob, root] = seeded();
    runs = await scanTwins(SPEC, startClub, {
      identities: [identity(alice), identity(bob)],
      admin: identity(root),
      ratePerSecond: 200,
    });
  });

  const flows = (kind: 'vulnerable' | 'fixed') =>
    runs[kind].result.findings.filter(
      (f) => f.rule.id === 'scan/api6-repeatable-business-flow' && f.operation?.operationId === 'sendCoins',
    );

  test('vulnerable: a negative amount, more than the balance and a send to oneself are found', () => {
    const messages = flows('vulnerable').map((f) => f.message);
    const text = messages.join('\n');
    assert.match(text, /negative/, text);
    assert.match(text, /more than/, text);
    assert.match(text, /itself/, text);
    // Five sends of one coin are what an owner may do: no finding by themselves.
    assert.doesNotMatch(text, /succeeded 5 times/, text);
  });

  test('fixed: no API6 finding on the send', () => {
    assert.deepEqual(
      flows('fixed').map((f) => f.message),
      [],
      operationsFound(runs.fixed.result).join('\n'),
    );
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: the given members' wallets are as they were, and none of them sent to a wallet`, () => {
      const { members, sends } = runs[kind].api;
      const given = members.slice(0, 3).map(({ handle, wallet, coins, passphrase, email }) => ({
        handle,
        wallet,
        coins,
        passphrase,
        email,
      }));
      assert.deepEqual(given, seeded());
      assert.deepEqual(
        sends.filter((s) => /^(alice|bob|root) /.test(s)),
        [],
      );
    });
  }
});
