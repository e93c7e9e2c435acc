import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildApiDocument } from '../../openapi/load.ts';
import { madeUpUuid } from './planner.ts';
import { SCAN_RULES } from './rules.ts';
import {
  actsOnAll,
  CHECKS,
  documentedCodes,
  isOwnProfile,
  mayStartSession,
  namesNothing,
  ownIdPath,
  ownRecordWrite,
  ownSession,
  quantityOnly,
  recordIds,
  submitsCode,
  valueBearing,
  withoutDocumentedCodes,
} from './runner.ts';

describe('documented codes of value-bearing members', () => {
  test('names of coupons, vouchers, promo codes, gift cards and referrals, not of amounts or discounts', () => {
    for (const n of [
      'coupon',
      'couponCode',
      'voucher_code',
      'promo',
      'promoCode',
      'gift_card',
      'giftCardCode',
      'referral',
      'discount_code',
    ])
      assert.ok(valueBearing(n), n);
    for (const n of ['discount', 'amount', 'code', 'product_id', 'couponing']) assert.ok(!valueBearing(n), n);
  });

  test('the document gives them as property examples, enums and example payloads', () => {
    const codes = documentedCodes({
      paths: {
        '/orders': {
          post: {
            requestBody: {
              content: {
                'application/json': {
                  schema: { properties: { coupon: { type: 'string', example: 'WELCOME10' } } },
                  example: { sku: 'MUG', promoCode: 'SPRING25' },
                },
              },
            },
          },
        },
      },
      components: {
        schemas: { Card: { properties: { gift_card: { enum: ['GC-1', 'GC-2'] }, note: { example: 'x' } } } },
      },
    });
    assert.deepEqual([...codes].sort(), ['GC-1', 'GC-2', 'SPRING25', 'WELCOME10']);
  });

  test('a write leaves out the member holding one (or a probe made of one), at any depth and in a form', () => {
    const codes = new Set(['WELCOME10']);
    assert.deepEqual(withoutDocumentedCodes({ sku: 'MUG', qty: 1, coupon: 'WELCOME10' }, codes), {
      body: { sku: 'MUG', qty: 1 },
      dropped: ['coupon'],
    });
    assert.deepEqual(withoutDocumentedCodes({ order: { couponCode: "WELCOME10' OR '1'='1" } }, codes), {
      body: { order: {} },
      dropped: ['couponCode'],
    });
    assert.deepEqual(withoutDocumentedCodes('sku=MUG&coupon=WELCOME10', codes), {
      body: 'sku=MUG',
      dropped: ['coupon'],
    });
    // A value the scan made up, or a documented value under another name, stays.
    const kept = { coupon: 'pc1234', note: 'WELCOME10' };
    assert.deepEqual(withoutDocumentedCodes(kept, codes), { body: kept, dropped: [] });
  });
});

describe('the safety rule', () => {
  test('lets an identity change its own profile, and nothing else it did not create', () => {
    for (const p of ['/api/v2/users/me/', '/me', '/account/profile', '/users/current_user?x=1']) {
      assert.equal(isOwnProfile(p), true, p);
    }
    for (const p of ['/users/7', '/users/me/tokens', '/memes', '/profiles/bob']) {
      assert.equal(isOwnProfile(p), false, p);
    }
  });

  test("knows a write of the sender's own record by its words, before or after the noun, with an extension", () => {
    for (const p of [
      '/profile.php',
      '/me.php',
      '/user/profile/update',
      '/api/profile/edit',
      '/update_profile.php',
      '/rpc/myProfileUpdate',
      '/api/account/settings',
    ]) {
      assert.equal(ownRecordWrite(p), true, p);
    }
    for (const p of [
      '/transfer.php',
      '/account/transfer',
      '/accounts.php',
      '/users/update',
      '/users/{id}/profile',
    ]) {
      assert.equal(ownRecordWrite(p), false, p);
    }
  });

  test("takes the ids an own-profile read shows as the caller's, and a users item named by one as its record", () => {
    assert.deepEqual(recordIds({ uid: 2, username: 'bob', account_no: 'CO-1' }), ['2']);
    assert.deepEqual(recordIds({ data: { user_id: 'u-7', owner_id: 9 } }), ['u-7']);
    assert.deepEqual(recordIds([{ id: 1 }]), []);
    assert.deepEqual(recordIds({ items: [{ id: 1 }], meta: { id: 3 } }), []);
    const mine = new Set(['2']);
    assert.equal(ownIdPath('/v1/user/2', mine), true);
    assert.equal(ownIdPath('/api/users/2/', mine), true);
    for (const p of ['/v1/user/3', '/v1/orders/2', '/v1/user/2/cards', '/2'])
      assert.equal(ownIdPath(p, mine), false, p);
    assert.equal(ownIdPath('/v1/user/2', undefined), false);
  });
});

describe('a DELETE of made-up values', () => {
  const spec = buildApiDocument('/cards.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/cards/{card_id}': {
        delete: {
          parameters: [
            { name: 'card_id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
          ],
          responses: { '204': { description: 'gone' } },
        },
      },
    },
  });
  const op = spec.operations[0];
  test('names nothing with a made-up uuid, bare or with an injection probe after it that widens nothing', () => {
    const made = madeUpUuid();
    assert.equal(namesNothing(spec, op, `/cards/${made}`), true);
    assert.equal(namesNothing(spec, op, `/cards/${encodeURIComponent(`${made}'`)}`), true);
    assert.equal(namesNothing(spec, op, `/cards/${encodeURIComponent(`${made}' OR '1'='1`)}`), false);
    assert.equal(namesNothing(spec, op, '/cards/3f2b8c1e-9d4a-4e2b-a1c3-5d6e7f809a1b'), false);
  });
});

describe('the rule table', () => {
  test('every rule a check reports is an entry of the rule table, with a unique id', () => {
    const table = new Set<unknown>(Object.values(SCAN_RULES));
    const ids = Object.values(SCAN_RULES).map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length);
    const outside = CHECKS.flatMap((c) => c.rules.filter((r) => !table.has(r)).map((r) => `${c.id} ${r.id}`));
    assert.deepEqual(outside, []);
  });
});

test('mayStartSession: sign-ups, logins and anything carrying a password, not ordinary writes', () => {
  const yes = [
    { method: 'POST', path: '/users', body: { email: 'a@b.c', password: 'x', name: 'n' } },
    { method: 'POST', path: '/users', body: { user: { email: 'a@b.c', password: 'x' } } },
    { method: 'POST', path: '/accounts/signup/', body: 'username=a&password1=x&password2=x' },
    { method: 'POST', path: '/api/register', body: { email: 'a@b.c' } },
    { method: 'GET', path: '/login.php?user=a&pwd=x' },
    {
      method: 'POST',
      path: '/api/v1/session',
      body: { data: { attributes: { email: 'a', password: 'x' } } },
    },
    { method: 'POST', path: '/oauth/token', body: 'grant_type=password&username=a&password=x' },
  ];
  for (const r of yes) assert.equal(mayStartSession(r), true, JSON.stringify(r));
  const no = [
    { method: 'POST', path: '/notes', body: { text: 'hi' } },
    { method: 'GET', path: '/notes/1' },
    { method: 'PATCH', path: '/users/me', body: { name: 'n' } },
    { method: 'OPTIONS', path: '/login' },
    { method: 'POST', path: '/auth/token/refresh', body: { refresh_token: 'r' } },
  ];
  for (const r of no) assert.equal(mayStartSession(r), false, JSON.stringify(r));
});

test("an action on the caller's whole collection: a path that acts and names no object (R1-S7)", () => {
  const op = (path: string) =>
    buildApiDocument('/bulk.yaml', '3.0', {
      openapi: '3.0.3',
      info: { title: 't', version: '1' },
      paths: { [path]: { post: { responses: { '200': { description: 'ok' } } } } },
    }).operations[0]!;
  assert.ok(actsOnAll(op('/jobs/cancel-all'), { path: '/jobs/cancel-all', body: { reason: 'x' } }));
  assert.ok(actsOnAll(op('/jobs/flush'), { path: '/jobs/flush' }));
  assert.ok(actsOnAll(op('/notifications/mark-all-read'), { path: '/notifications/mark-all-read' }));
  // An action that names its object by an input, or one on an object of the path, or no action at all.
  assert.ok(!actsOnAll(op('/jobs/stop'), { path: '/jobs/stop', body: { job_id: 7 } }));
  assert.ok(!actsOnAll(op('/jobs/{id}/cancel'), { path: '/jobs/7/cancel' }));
  assert.ok(!actsOnAll(op('/notes'), { path: '/notes' }));
});

test('numbers an answer shows only as quantities are no value given out about anyone (R1-R2)', () => {
  const made = { id: 105, org_id: 2, sku: 'x', qty: 1, cost_cents: 1, unitPrice: 7 };
  assert.deepEqual([...quantityOnly(made)].sort(), ['1', '7']);
  // Shown under an id or a person member too, the number stays a value: org 1's item with qty 1, stock 5 of user 5.
  assert.deepEqual([...quantityOnly({ items: [{ id: 104, org_id: 1, qty: 1 }] })], []);
  assert.deepEqual([...quantityOnly({ stock: 5, owner: 5, total_count: 3 })], ['3']);
  assert.deepEqual([...quantityOnly({ count: 3, items: [{ id: 3 }] })], []);
  assert.deepEqual([...quantityOnly([1, 2])], []);
});

test('an account a given identity created is asked as itself with the token its creation answered, in its maker’s scheme', () => {
  const maker = (headers: Record<string, string>, token?: string) => ({
    name: 'rui',
    session: { name: 'rui', headers, cookies: new Map<string, string>() },
    ...(token ? { token } : {}),
  });
  const token = 'a1b2c3d4e5f6a7b8c9d0e1f2';
  assert.deepEqual(
    ownSession({ id: 10, token }, maker({ Authorization: 'Token fn-rui-7a01' }), '10')?.session.headers,
    {
      Authorization: `Token ${token}`,
    },
  );
  assert.deepEqual(
    ownSession({ user: { id: 3, jwt: token } }, maker({ 'X-Session': 'old-one-123' }, 'old-one-123'), '3')
      ?.session.headers,
    { 'X-Session': token },
  );
  assert.deepEqual(ownSession({ access_token: token }, maker({}), '4')?.session.headers, {
    Authorization: `Bearer ${token}`,
  });
  // No credential of its own in the answer (or the maker's own): nothing to ask as.
  assert.equal(
    ownSession({ id: 10, username: 'pcd1a2b' }, maker({ Authorization: 'Token x' }), '10'),
    undefined,
  );
  assert.equal(ownSession({ token: 'short' }, maker({}), '10'), undefined);
  assert.equal(ownSession({ token }, maker({ Authorization: `Bearer ${token}` }, token), '10'), undefined);
});

test('a one-time code submitted: a code input at a path that checks codes, or of an operation that documents a lock', () => {
  const spec = buildApiDocument('/codes.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 'codes', version: '1' },
    paths: {
      '/me/phone/verify': { post: { responses: { '422': { description: 'wrong' } } } },
      '/auth/step-two': { post: { responses: { '423': { description: 'locked' } } } },
      '/coupons/verify': { post: { responses: { '200': { description: 'ok' } } } },
      '/orders': { post: { responses: { '201': { description: 'ok' } } } },
    },
  });
  const op = (path: string) => spec.operations.find((o) => o.path === path)!;
  assert.equal(
    submitsCode(spec, op('/me/phone/verify'), { path: '/me/phone/verify', body: { code: '000000' } }),
    true,
  );
  assert.equal(
    submitsCode(spec, op('/me/phone/verify'), {
      path: '/me/phone/verify',
      body: '<r><smsCode>1</smsCode></r>',
    }),
    true,
  );
  assert.equal(
    submitsCode(spec, op('/auth/step-two'), { path: '/auth/step-two?otp=123456', body: undefined }),
    true,
  );
  assert.equal(
    submitsCode(spec, op('/coupons/verify'), { path: '/coupons/verify', body: { code: 'BAKE5' } }),
    false,
  );
  assert.equal(submitsCode(spec, op('/orders'), { path: '/orders', body: { code: 'A-1' } }), false);
  assert.equal(
    submitsCode(spec, op('/me/phone/verify'), { path: '/me/phone/verify', body: { phone: '+1555' } }),
    false,
  );
});
