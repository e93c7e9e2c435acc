import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Identity } from './context.ts';
import { isOwnAccount, selfIds } from './self.ts';

const claims = Buffer.from(JSON.stringify({ user_id: 6 })).toString('base64url');
const carol = {
  name: 'carol',
  session: {},
  token: `e30.${claims}.sig`,
  login: { answer: { id: 6, data: { id: 42 } } },
} as unknown as Identity;

describe('the caller’s own account by id', () => {
  test('collects the ids its token claims and its login answer give', () => {
    assert.deepEqual([...selfIds(carol)].sort(), ['42', '6']);
  });

  test('is its id under a users collection, and nothing else', () => {
    assert.equal(isOwnAccount('/users/6', carol), true);
    assert.equal(isOwnAccount('/api/user/42/', carol), true);
    // The same numbers in other collections name other records: a customer, a profile, a bank account.
    for (const path of [
      '/customers/42',
      '/profiles/6',
      '/accounts/6',
      '/members/6',
      '/users/7',
      '/users/6/orders',
    ])
      assert.equal(isOwnAccount(path, carol), false, path);
  });

  test('a token whose account_id is shared names no user by it (a tenant, not the caller)', () => {
    const part = Buffer.from(JSON.stringify({ account_id: 1, user_id: 2 })).toString('base64url');
    const bob = { name: 'bob', session: {}, token: `e30.${part}.sig` } as unknown as Identity;
    assert.equal(isOwnAccount('/users/2', bob), true);
    assert.equal(isOwnAccount('/users/1', bob), false);
  });
});
