import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createManualClock } from '../core/clock.ts';
import { createAuthLockout, lockoutKey } from './auth-lockout.ts';

function lockout(maxClients = 100) {
  const clock = createManualClock();
  return { clock, l: createAuthLockout({ clock, maxFailures: 3, windowMs: 60_000, maxClients }) };
}

describe('admin auth lockout', () => {
  test('locks a client out after its allowance of failures until its window ends', () => {
    const { clock, l } = lockout();
    for (let i = 0; i < 3; i++) {
      assert.equal(l.retryAfterSeconds('192.0.2.1'), undefined);
      l.fail('192.0.2.1');
    }
    assert.equal(l.retryAfterSeconds('192.0.2.1'), 60);
    clock.advance(59_500);
    assert.equal(l.retryAfterSeconds('192.0.2.1'), 1);
    clock.advance(500);
    assert.equal(l.retryAfterSeconds('192.0.2.1'), undefined);
  });

  test('keeps another client free while one is locked out', () => {
    const { l } = lockout();
    for (let i = 0; i < 3; i++) l.fail('192.0.2.1');
    assert.notEqual(l.retryAfterSeconds('192.0.2.1'), undefined);
    assert.equal(l.retryAfterSeconds('192.0.2.2'), undefined);
  });

  test('counts an IPv4-mapped address as its IPv4 address and IPv6 addresses by /64', () => {
    assert.equal(lockoutKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(lockoutKey('2001:db8:1:2::5'), '2001:db8:1:2:0:0:0:0/64');
    assert.equal(lockoutKey('2001:DB8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2:0:0:0:0/64');
    assert.equal(lockoutKey('::1'), '0:0:0:0:0:0:0:0/64');
    const { l } = lockout();
    l.fail('2001:db8::1');
    l.fail('2001:db8::2');
    l.fail('2001:db8::3');
    assert.notEqual(l.retryAfterSeconds('2001:db8::ffff'), undefined);
    assert.equal(l.retryAfterSeconds('2001:db8:0:1::1'), undefined);
  });

  test('bounds its table: clients beyond it share one allowance, and expired windows make room', () => {
    const { clock, l } = lockout(2);
    l.fail('192.0.2.1');
    l.fail('192.0.2.2');
    assert.equal(l.size(), 2);
    for (let i = 0; i < 3; i++) l.fail(`198.51.100.${i}`);
    assert.equal(l.size(), 2);
    assert.notEqual(
      l.retryAfterSeconds('198.51.100.200'),
      undefined,
      'an untracked client shares the allowance',
    );
    assert.equal(l.retryAfterSeconds('192.0.2.1'), undefined, 'a tracked client keeps its own');
    clock.advance(60_000);
    assert.equal(l.retryAfterSeconds('198.51.100.200'), undefined);
    l.fail('198.51.100.200');
    assert.equal(l.size(), 1);
  });
});
