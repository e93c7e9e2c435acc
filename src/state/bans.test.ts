import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createManualClock } from '../core/clock.ts';
import { createBanChecker, createBanList } from './bans.ts';
import { createMemoryStore } from './memory-store.ts';

function setup() {
  const clock = createManualClock();
  const store = createMemoryStore({ clock });
  const bans = createBanList({ store, clock, policy: { baseSeconds: 60, multiplier: 4, maxSeconds: 3000 } });
  return { clock, store, bans };
}

describe('ban list', () => {
  test('a manual ban lasts ttlSeconds and is then gone', async () => {
    const { clock, bans } = setup();
    const ban = await bans.ban('ip', '203.0.113.7', {
      reason: 'abuse report',
      source: 'manual',
      ttlSeconds: 120,
    });
    assert.equal(ban.expiresAt - ban.createdAt, 120_000);
    assert.equal((await bans.get('ip', '203.0.113.7'))?.reason, 'abuse report');
    clock.advance(120_001);
    assert.equal(await bans.get('ip', '203.0.113.7'), undefined);
  });

  test('automatic bans escalate 60s, 240s, 960s, then stop at maxSeconds', async () => {
    const { clock, bans } = setup();
    const durations: number[] = [];
    for (let i = 0; i < 4; i++) {
      const b = await bans.ban('subject', 'mallory', { reason: 'enumeration', source: 'auto' });
      durations.push((b.expiresAt - b.createdAt) / 1000);
      clock.advance(b.expiresAt - b.createdAt + 1);
    }
    assert.deepEqual(durations, [60, 240, 960, 3000]);
  });

  test('unban lifts the ban but a repeat offence still escalates', async () => {
    const { bans } = setup();
    await bans.ban('consumer', 'acme', { reason: 'x', source: 'auto' });
    assert.equal(await bans.unban('consumer', 'acme'), true);
    assert.equal(await bans.get('consumer', 'acme'), undefined);
    assert.equal(await bans.unban('consumer', 'acme'), false);
    const again = await bans.ban('consumer', 'acme', { reason: 'x', source: 'auto' });
    assert.equal(again.level, 2);
  });

  test('an automatic ban never shortens a longer ban in force', async () => {
    const { bans } = setup();
    const manual = await bans.ban('ip', '198.51.100.1', {
      reason: 'manual',
      source: 'manual',
      ttlSeconds: 86_400,
    });
    const auto = await bans.ban('ip', '198.51.100.1', { reason: 'auto', source: 'auto' });
    assert.deepEqual(auto, manual);
  });

  test('alerts during a ban in force do not escalate it (one burst seen by two instances is one offence)', async () => {
    const { bans, clock } = setup();
    const first = await bans.ban('subject', 'mallory', { reason: 'a', source: 'auto' });
    clock.advance(1000);
    const again = await bans.ban('subject', 'mallory', { reason: 'b', source: 'auto' });
    assert.deepEqual(again, first);
    clock.advance(60_000);
    const next = await bans.ban('subject', 'mallory', { reason: 'c', source: 'auto' });
    assert.deepEqual([next.level, (next.expiresAt - next.createdAt) / 1000], [2, 240]);
  });

  test('lists live bans newest first', async () => {
    const { clock, bans } = setup();
    await bans.ban('ip', '198.51.100.1', { reason: 'a', source: 'manual', ttlSeconds: 10 });
    clock.advance(1000);
    await bans.ban('token', 'ab12'.repeat(8), { reason: 'b', source: 'manual', ttlSeconds: 100 });
    clock.advance(1000);
    await bans.ban('subject', 'eve', { reason: 'c', source: 'manual', ttlSeconds: 100 });
    clock.advance(9000);
    assert.deepEqual(
      (await bans.list()).map((b) => `${b.kind}:${b.value}`),
      ['subject:eve', `token:${'ab12'.repeat(8)}`],
    );
  });

  test('rejects an unknown kind, an empty value, a non-address ip, a raw token and a zero ttl with ERR_BAN_INVALID', async () => {
    const { bans } = setup();
    // biome-ignore lint/suspicious/noExplicitAny: an invalid kind on purpose
    await assert.rejects(bans.ban('user' as any, 'x', { reason: 'r', source: 'manual', ttlSeconds: 1 }), {
      code: 'ERR_BAN_INVALID',
    });
    await assert.rejects(bans.unban('ip', ''), { code: 'ERR_BAN_INVALID' });
    await assert.rejects(bans.ban('ip', 'not-an-ip', { reason: 'r', source: 'manual', ttlSeconds: 1 }), {
      code: 'ERR_BAN_INVALID',
    });
    await assert.rejects(
      bans.ban('token', 'eyJhbGciOi.raw.token', { reason: 'r', source: 'manual', ttlSeconds: 1 }),
      {
        code: 'ERR_BAN_INVALID',
      },
    );
    await assert.rejects(bans.ban('ip', '192.0.2.1', { reason: 'r', source: 'manual', ttlSeconds: 0 }), {
      code: 'ERR_BAN_INVALID',
    });
  });
});

describe('ban checker', () => {
  test('sees a ban made after its cached "not banned" answer once cacheMs has passed', async () => {
    const { clock, store, bans } = setup();
    const checker = createBanChecker({ store, clock, cacheMs: 1000 });
    assert.equal(await checker.find('ip', '192.0.2.1'), undefined);
    await bans.ban('ip', '192.0.2.1', { reason: 'r', source: 'manual', ttlSeconds: 60 });
    assert.equal(checker.find('ip', '192.0.2.1'), undefined, 'cached answer within cacheMs');
    clock.advance(1001);
    assert.equal((await checker.find('ip', '192.0.2.1'))?.reason, 'r');
  });

  test('answers from its cache synchronously and stops refusing when the cached ban expires', async () => {
    const { clock, store, bans } = setup();
    const checker = createBanChecker({ store, clock, cacheMs: 60_000 });
    await bans.ban('ip', '192.0.2.2', { reason: 'r', source: 'manual', ttlSeconds: 5 });
    assert.ok(await checker.find('ip', '192.0.2.2'));
    assert.ok(!(checker.find('ip', '192.0.2.2') instanceof Promise));
    clock.advance(5001);
    assert.equal(checker.find('ip', '192.0.2.2'), undefined);
  });

  test('keeps at most maxEntries cached answers', async () => {
    const { clock, store } = setup();
    const checker = createBanChecker({ store, clock, cacheMs: 60_000, maxEntries: 3 });
    for (let i = 0; i < 5; i++) await checker.find('ip', `10.0.0.${i}`);
    // The two oldest were evicted: looking them up goes to the store again (a Promise).
    assert.ok(checker.find('ip', '10.0.0.0') instanceof Promise);
    assert.ok(!(checker.find('ip', '10.0.0.4') instanceof Promise));
  });
});
