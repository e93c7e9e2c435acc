import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isOwnProfile } from './runner.ts';

describe('the safety rule', () => {
  test('lets an identity change its own profile, and nothing else it did not create', () => {
    for (const p of ['/api/v2/users/me/', '/me', '/account/profile', '/users/current_user?x=1']) {
      assert.equal(isOwnProfile(p), true, p);
    }
    for (const p of ['/users/7', '/users/me/tokens', '/memes', '/profiles/bob']) {
      assert.equal(isOwnProfile(p), false, p);
    }
  });
});
