import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createManualClock } from './clock.ts';
import { type LimitCheck, StoreCapacityError } from './limiter.ts';
import { limiterSuite } from './limiter-suite.ts';
import { createMemoryStore } from './memory-store.ts';

describe('memory store limiter', () => {
  const store = createMemoryStore({ clock: createManualClock() });
  limiterSuite(
    () => store,
    () => 'm:',
  );
});

describe('memory store bounds', () => {
  const T0 = Date.UTC(2026, 0, 1);
  const gcra = (key: string): LimitCheck => ({
    key,
    algorithm: 'gcra',
    limit: 1,
    burst: 1,
    windowMs: 10_000,
    windowEndMs: 0,
    subWindows: 10,
    cost: 1,
    countRejected: false,
  });

  test('refuses a new key with StoreCapacityError instead of evicting live limiter state', () => {
    const store = createMemoryStore({ clock: createManualClock(), maxLimiterKeys: 3 });
    for (const k of ['a', 'b', 'c']) {
      const r = store.consume({ nowMs: T0, limits: [gcra(k)], leaseId: '' }) as { allowed: boolean };
      assert.equal(r.allowed, true);
    }
    assert.throws(
      () => store.consume({ nowMs: T0 + 1, limits: [gcra('d')], leaseId: '' }),
      (e: unknown) => e instanceof StoreCapacityError && e.code === 'ERR_STORE_CAPACITY',
    );
    // The live key 'a' was kept: it is still limited.
    const again = store.consume({ nowMs: T0 + 2, limits: [gcra('a')], leaseId: '' });
    assert.equal(again instanceof Promise, false);
    assert.equal((again as { allowed: boolean }).allowed, false);
  });

  test('makes room by sweeping state that has expired, which loses nothing', () => {
    const store = createMemoryStore({ clock: createManualClock(), maxLimiterKeys: 3 });
    for (const k of ['a', 'b', 'c']) store.consume({ nowMs: T0, limits: [gcra(k)], leaseId: '' });
    const later = store.consume({ nowMs: T0 + 10_000, limits: [gcra('d')], leaseId: '' });
    assert.equal((later as { allowed: boolean }).allowed, true);
    assert.equal(store.limiterSize(), 1);
  });

  test('answers a decision synchronously', () => {
    const store = createMemoryStore({ clock: createManualClock() });
    const r = store.consume({ nowMs: T0, limits: [gcra('s')], leaseId: '' });
    assert.equal(r instanceof Promise, false);
  });
});
