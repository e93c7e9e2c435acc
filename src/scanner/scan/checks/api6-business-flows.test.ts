import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildApiDocument } from '../../../openapi/load.ts';
import type { ScanResponse } from '../client.ts';
import {
  answersGain,
  balanceIn,
  changesMoney,
  flowInputs,
  handlesIn,
  isFlowCandidate,
  judgeFlow,
  movesMoneyOut,
  readGain,
  sendsMoneyTo,
  wordsOf,
} from './api6-business-flows.ts';

const ok = { responses: { '200': { description: 'ok' } } };
const body = (properties: Record<string, unknown>) => ({
  requestBody: { content: { 'application/json': { schema: { type: 'object', properties } } } },
});
const str = { type: 'string' };
const answer = (properties: Record<string, unknown>) => ({
  responses: {
    '200': {
      description: 'ok',
      content: { 'application/json': { schema: { type: 'object', properties } } },
    },
  },
});

const doc = buildApiDocument('/flows.yaml', '3.1', {
  openapi: '3.1.0',
  info: { title: 't', version: '1' },
  paths: {
    '/api/groups': { post: { ...ok, operationId: 'createGroup' } },
    '/api/groups/{id}': { get: { ...ok, operationId: 'getGroup' } },
    '/api/groups/{id}/refresh-invite': { post: { ...ok, operationId: 'refreshInvite' } },
    '/api/groups/{id}/invite': { post: { ...ok, ...body({ email: str }), operationId: 'inviteMember' } },
    '/api/invitations/{id}/resend': { post: { ...ok, operationId: 'resendInvitation' } },
    '/api/me/confirmation/resend': { post: { ...ok, operationId: 'resendConfirmation' } },
    '/api/invites/accept': { post: { ...ok, ...body({ code: str }), operationId: 'acceptInvite' } },
    '/api/coupons/redeem': { post: { ...ok, ...body({ code: str }), operationId: 'redeemCoupon' } },
    '/api/referral-code/regenerate': { post: { ...ok, operationId: 'regenerateReferralCode' } },
    '/api/orders/api-key/rotate': { post: { ...ok, operationId: 'rotateOrderKey' } },
    '/api/orders/{id}/cancel': { post: { ...ok, operationId: 'cancelOrder' } },
    '/api/vouchers/validate': { post: { ...ok, ...body({ code: str }), operationId: 'validateVoucher' } },
    '/api/wallet/top-up': { post: { ...ok, ...body({ amount: { type: 'number' } }), operationId: 'topUp' } },
    '/api/daily/claim': { post: { ...ok, operationId: 'claimDaily' } },
    '/api/streaks/collect': {
      post: { ...answer({ points: { type: 'integer' } }), operationId: 'collectStreak' },
    },
    '/api/reports/export': { post: { ...ok, operationId: 'exportReport' } },
    // A query on a thing of value is no action that takes it.
    '/api/stock/select': { post: { ...ok, ...body({ scope: str }), operationId: 'selectStock' } },
    '/api/likely/stuff': { post: { ...ok, operationId: 'likelyStuff' } },
    '/api/promote': { post: { ...ok, ...body({ username: str, role: str }), operationId: 'promote' } },
  },
});
const op = (id: string) => doc.operations.find((o) => o.id === id)!;

function res(json: unknown): ScanResponse {
  return {
    status: 200,
    headers: {},
    text: JSON.stringify(json),
    json,
    durationMs: 1,
    sent: { method: 'POST', url: 'x' },
  };
}

describe('API6: what repeating an action gains', () => {
  test('words of names in any case, two-word verbs as one', () => {
    assert.deepEqual(wordsOf('/api/groups/refresh-invite'), ['api', 'groups', 'refresh', 'invite']);
    assert.deepEqual(wordsOf('topUpWallet'), ['topup', 'wallet']);
    assert.deepEqual(wordsOf('cash_out check-out'), ['cashout', 'checkout']);
  });

  test('the operations it repeats: named flows and POST actions whose verb takes a gain, never a creation', () => {
    assert.deepEqual(
      doc.operations.filter((o) => isFlowCandidate(doc, o)).map((o) => o.id),
      [
        'refreshInvite',
        'inviteMember',
        'resendInvitation',
        'acceptInvite',
        'redeemCoupon',
        'regenerateReferralCode',
        'rotateOrderKey',
        'cancelOrder',
        'validateVoucher',
        'topUp',
        'claimDaily',
        'collectStreak',
        // The planner's business words match inside words: a candidate, but no gain by name (below).
        'likelyStuff',
      ],
    );
  });

  test("a renewal of the caller's own code gains nothing by its name; of a credential, it is not sent", () => {
    assert.deepEqual(judgeFlow(doc, op('refreshInvite')), { kind: 'renewal' });
    assert.deepEqual(judgeFlow(doc, op('regenerateReferralCode')), { kind: 'renewal' });
    // A confirmation re-sent to oneself is a renewal; an invitation re-sent reaches someone else again.
    assert.deepEqual(judgeFlow(doc, op('resendConfirmation')), { kind: 'renewal' });
    assert.deepEqual(judgeFlow(doc, op('resendInvitation')), {
      kind: 'flow',
      gain: 'messages sent to others',
    });
    assert.deepEqual(judgeFlow(doc, op('rotateOrderKey')), { kind: 'credential' });
  });

  test('coupons, money, rewards and messages to others are gains; undoing and checking are not', () => {
    assert.deepEqual(judgeFlow(doc, op('redeemCoupon')), { kind: 'flow', gain: 'a coupon or reward' });
    assert.deepEqual(judgeFlow(doc, op('topUp')), { kind: 'flow', gain: 'money or credit' });
    assert.deepEqual(judgeFlow(doc, op('claimDaily')), { kind: 'flow', gain: 'a coupon or reward' });
    // By an answer's documented member alone.
    assert.deepEqual(judgeFlow(doc, op('collectStreak')), { kind: 'flow', gain: 'a coupon or reward' });
    assert.deepEqual(judgeFlow(doc, op('inviteMember')), { kind: 'flow', gain: 'messages sent to others' });
    // An invite without a recipient (accepting one) sends nothing to anyone.
    assert.deepEqual(judgeFlow(doc, op('acceptInvite')), { kind: 'no-gain' });
    assert.deepEqual(judgeFlow(doc, op('cancelOrder')), { kind: 'no-gain' });
    assert.deepEqual(judgeFlow(doc, op('validateVoucher')), { kind: 'read' });
    assert.deepEqual(judgeFlow(doc, op('likelyStuff')), { kind: 'no-gain' });
  });

  test('a marked flow is one whatever its name', () => {
    const marked = buildApiDocument('/m.yaml', '3.1', {
      openapi: '3.1.0',
      info: { title: 't', version: '1' },
      paths: { '/x/refresh': { post: { ...ok, operationId: 'x', 'x-portcullis-business-flow': true } } },
    });
    assert.deepEqual(judgeFlow(marked, marked.operations[0]!), { kind: 'flow', gain: 'marked' });
    assert.equal(isFlowCandidate(marked, marked.operations[0]!), true);
  });

  test('answers: a counter moving with every repetition, a list growing, a new object each time', () => {
    const points = [10, 20, 30, 40, 50].map((p) => res({ user: { name: 'ana', points: p }, ok: true }));
    assert.equal(answersGain(points, false), 'user/points went 10, 20, 30, 40, 50');
    const stock = [5, 4, 3, 2, 1].map((n) => res({ stock: n }));
    assert.equal(answersGain(stock, false), 'stock went 5, 4, 3, 2, 1');
    const items = [1, 2, 3, 4, 5].map((n) => res({ items: Array.from({ length: n }, () => 'x') }));
    assert.equal(answersGain(items, true), 'items (items) went 1, 2, 3, 4, 5');
    // A renewal's history of old codes is no gain.
    assert.equal(answersGain(items, false), undefined);
    const made = [7, 8, 9, 10, 11].map((id) => res({ id, code: `c${id}` }));
    assert.equal(answersGain(made, true), 'each answer named a new object (id 7, 8, 9, 10, 11)');
    assert.equal(answersGain(made, false), undefined);
  });

  test('answers: a new code, times, versions and a balance that does not move are no gain', () => {
    const codes = ['a1', 'b2', 'c3', 'd4', 'e5'].map((code, i) =>
      res({
        invite_code: code,
        expires_at: 1000 + i,
        updatedAt: 2000 + i,
        version: i,
        balance: 10,
        seat_count: i % 2,
        discount: 5 + i,
      }),
    );
    assert.equal(answersGain(codes, true), undefined);
    assert.equal(answersGain([res({ points: 1 }), res({ points: 2 }), res({})], true), undefined);
  });
});

describe("API6: money that leaves the caller's account", () => {
  const money = buildApiDocument('/money.yaml', '3.1', {
    openapi: '3.1.0',
    info: { title: 't', version: '1' },
    paths: {
      '/wallet/send': {
        post: { ...ok, ...body({ recipient_wallet: str, coins: { type: 'integer' } }), operationId: 'send' },
      },
      '/payments': {
        post: { ...ok, ...body({ from_iban: str, to_iban: str, amount: str }), operationId: 'pay' },
      },
      '/transfer': {
        post: {
          ...ok,
          ...body({ account_number: str, amount: { type: 'number' } }),
          operationId: 'transfer',
        },
      },
      '/wallet/top-up': {
        post: { ...ok, ...body({ amount: { type: 'number' } }), operationId: 'topUp' },
      },
      '/messages/send': { post: { ...ok, ...body({ to: str, text: str }), operationId: 'message' } },
    },
  });
  const op = (id: string) => money.operations.find((o) => o.id === id)!;

  test('the sum, where it goes and where it comes from, by the inputs’ names', () => {
    assert.deepEqual(flowInputs(money, op('send')), {
      amount: 'coins',
      to: ['recipient_wallet'],
      from: [],
      location: 'body',
    });
    assert.deepEqual(flowInputs(money, op('pay')), {
      amount: 'amount',
      to: ['to_iban'],
      from: ['from_iban'],
      location: 'body',
    });
    // No input says to or from: the one that names an account is where the money goes.
    assert.deepEqual(flowInputs(money, op('transfer'))?.to, ['account_number']);
    assert.equal(flowInputs(money, op('message')), undefined);
  });

  test('sending, paying to someone and transferring move money out; a top-up and a message do not', () => {
    assert.equal(movesMoneyOut(money, op('send')), true);
    assert.equal(movesMoneyOut(money, op('pay')), true);
    assert.equal(movesMoneyOut(money, op('transfer')), true);
    assert.equal(movesMoneyOut(money, op('topUp')), false);
    assert.equal(isFlowCandidate(money, op('send')), true);
    assert.equal(isFlowCandidate(money, op('message')), false);
    // A payment made as a collection's creation is probed too, its repetition alone no finding.
    assert.equal(sendsMoneyTo(money, op('pay')), true);
    assert.equal(sendsMoneyTo(money, op('topUp')), false);
  });

  test('what changes money, for the checks that must not send it as a given identity', () => {
    const bank = buildApiDocument('/bank.yaml', '3.1', {
      openapi: '3.1.0',
      info: { title: 't', version: '1' },
      paths: {
        '/move': {
          post: { ...ok, ...body({ to_account: str, amount: { type: 'number' } }), operationId: 'move' },
        },
        '/api/bills/create': {
          post: { ...ok, ...body({ biller_id: str, amount: { type: 'number' } }), operationId: 'bill' },
        },
        '/api/cards/{id}/update-limit': {
          post: { ...ok, ...body({ limit: { type: 'number' } }), operationId: 'limit' },
        },
        '/api/notes': { post: { ...ok, ...body({ text: str }), operationId: 'note' } },
        '/api/balance': { get: { ...ok, operationId: 'balance' } },
      },
    });
    const by = (id: string) => bank.operations.find((o) => o.id === id)!;
    assert.equal(changesMoney(bank, by('move')), true);
    assert.equal(changesMoney(bank, by('bill')), true);
    assert.equal(changesMoney(bank, by('note')), false);
    assert.equal(changesMoney(bank, by('balance')), false);
    assert.equal(changesMoney(money, op('topUp')), true);
    assert.equal(changesMoney(money, op('message')), false);
  });

  test("an account's balance and the values that name it, as its read shows them", () => {
    const read = {
      owner: 'pcg1',
      accounts: [
        { iban: 'SB00-7', balance: '25.00' },
        { iban: 'SB00-8', balance: 5 },
      ],
    };
    assert.equal(balanceIn(read), 30);
    assert.deepEqual(handlesIn(read), ['SB00-7', 'SB00-8']);
    assert.equal(balanceIn({ wallet_no: 'CW-1', holder: 'x', coins: 40 }), 40);
    assert.deepEqual(handlesIn({ wallet_no: 'CW-1', holder: 'x', coins: 40 }), ['CW-1']);
    // A bare id names the account only in a read of accounts, and only in a record that holds a balance.
    const list = [{ id: 5, currency: 'EUR', balance: 50 }];
    assert.deepEqual(handlesIn(list), []);
    assert.deepEqual(handlesIn(list, true), ['5']);
    assert.deepEqual(handlesIn({ id: 12, username: 'pcg1' }, true), []);
    // A history list is no balance, whatever its members: it grows with every move.
    assert.equal(balanceIn({ balance: 39, transactions: [{ amount: 1, balance_after: 39 }] }), 39);
    // No balance member: no balance (a count of items or a price is none).
    assert.equal(balanceIn({ items: 3, price: 9 }), undefined);
  });
});

describe('API6: a gain the reads show', () => {
  const m = (n: number) => new Map([['GET /posts/p1 votes', n]]);
  test('a count moved by the first action and again by the repetitions', () => {
    assert.match(readGain(m(3), m(3), m(4), m(8)) ?? '', /votes went 3, 4 after one, 8 after 5/);
    assert.ok(readGain(m(10), m(10), m(7), m(1)));
  });
  test('one per caller (moved once), nothing moved, or a count that moves by itself: no gain', () => {
    assert.equal(readGain(m(3), m(3), m(4), m(4)), undefined);
    assert.equal(readGain(m(3), m(3), m(3), m(3)), undefined);
    // A view counter: it moved between the two reads before any action.
    assert.equal(readGain(m(3), m(4), m(5), m(9)), undefined);
  });
});
