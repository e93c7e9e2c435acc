import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SCAN_RULES } from './rules.ts';
import { CHECKS, isOwnProfile, ownRecordWrite } from './runner.ts';

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
