import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createManualClock } from '../core/clock.ts';
import { type ConsumeResult, type LimitCheck, StoreCapacityError } from './limiter.ts';
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
  const allowed = (r: ConsumeResult | Promise<ConsumeResult>) => (r as ConsumeResult).allowed;
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

  test('keeps every key its own state after the limiter tables grow past their first size', () => {
    const store = createMemoryStore({ clock: createManualClock() });
    const keys = Array.from({ length: 500 }, (_, i) => `k${i}`);
    for (const k of keys)
      assert.equal(allowed(store.consume({ nowMs: T0, limits: [gcra(k)], leaseId: '' })), true);
    // Each key's one unit is spent, whatever its slot: none is admitted again, and a new key still is.
    for (const k of keys)
      assert.equal(allowed(store.consume({ nowMs: T0 + 1, limits: [gcra(k)], leaseId: '' })), false);
    assert.equal(allowed(store.consume({ nowMs: T0 + 1, limits: [gcra('new')], leaseId: '' })), true);
    assert.equal(store.limiterSize(), 501);
  });

  test('gives a key the place of an expired one without any of its state', () => {
    const store = createMemoryStore({ clock: createManualClock(), maxLimiterKeys: 2 });
    const fixed = (key: string): LimitCheck => ({
      ...gcra(key),
      algorithm: 'fixed-window',
      limit: 3,
      windowEndMs: T0 + 1000,
    });
    for (let i = 0; i < 3; i++) store.consume({ nowMs: T0, limits: [fixed('a')], leaseId: '' });
    store.consume({ nowMs: T0, limits: [fixed('b')], leaseId: '' });
    const next = { ...fixed('c'), windowEndMs: T0 + 2000 };
    const r = store.consume({ nowMs: T0 + 1000, limits: [next], leaseId: '' }) as ConsumeResult;
    assert.equal(r.allowed, true);
    assert.equal(r.results[0].remaining, 2);
    assert.equal(store.limiterSize(), 1);
  });

  test('keeps the sub-window counts of a sliding window between decisions', () => {
    const store = createMemoryStore({ clock: createManualClock() });
    const sliding: LimitCheck = { ...gcra('s'), algorithm: 'sliding-window', limit: 4 };
    // Sub-windows of 1 s: two units in the first, two in the third, then the window is full until the first
    // sub-window leaves it (11 s after its start).
    for (const at of [0, 10, 2000, 2010]) store.consume({ nowMs: T0 + at, limits: [sliding], leaseId: '' });
    assert.equal(allowed(store.consume({ nowMs: T0 + 10_999, limits: [sliding], leaseId: '' })), false);
    const r = store.consume({ nowMs: T0 + 11_000, limits: [sliding], leaseId: '' }) as ConsumeResult;
    assert.equal(r.allowed, true);
    assert.equal(r.results[0].remaining, 1);
  });

  test('frees a concurrency key when its last lease is given back', () => {
    const store = createMemoryStore({ clock: createManualClock() });
    const conc: LimitCheck = { ...gcra('c'), algorithm: 'concurrency', limit: 2 };
    store.consume({ nowMs: T0, limits: [conc], leaseId: 'one' });
    store.consume({ nowMs: T0, limits: [conc], leaseId: 'two' });
    assert.equal(allowed(store.consume({ nowMs: T0, limits: [conc], leaseId: 'three' })), false);
    store.release([{ key: 'c', leaseId: 'one' }]);
    assert.equal(store.limiterSize(), 1);
    store.release([{ key: 'c', leaseId: 'two' }]);
    assert.equal(store.limiterSize(), 0);
  });

  test('bounds the limiter by maxEntries when it has no bound of its own', () => {
    const store = createMemoryStore({ clock: createManualClock(), maxEntries: 2 });
    store.consume({ nowMs: T0, limits: [gcra('a')], leaseId: '' });
    store.consume({ nowMs: T0, limits: [gcra('b')], leaseId: '' });
    assert.throws(
      () => store.consume({ nowMs: T0, limits: [gcra('c')], leaseId: '' }),
      (e: unknown) => e instanceof StoreCapacityError,
    );
  });

  test('answers a decision synchronously', () => {
    const store = createMemoryStore({ clock: createManualClock() });
    const r = store.consume({ nowMs: T0, limits: [gcra('s')], leaseId: '' });
    assert.equal(r instanceof Promise, false);
  });
});
