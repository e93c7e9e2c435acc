import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsumeResult, LimitCheck } from './limiter.ts';
import type { StateStore } from './store.ts';

/**
 * Behaviour every store's limiter must show, run by `memory-store.test.ts` and `redis-store.test.ts` so both
 * backends are held to the same decisions. Time is passed explicitly (`nowMs`), so no clock is faked here.
 */
export function limiterSuite(getStore: () => StateStore, keyPrefix: () => string): void {
  const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
  let n = 0;
  const key = (name: string) => `${keyPrefix()}{t${n++}}:${name}`;
  function check(over: Partial<LimitCheck> & Pick<LimitCheck, 'algorithm' | 'limit'>): LimitCheck {
    return {
      key: key(over.algorithm),
      windowMs: 10_000,
      burst: over.limit,
      windowEndMs: 0,
      subWindows: 10,
      cost: 1,
      countRejected: false,
      ...over,
    };
  }
  async function run(nowMs: number, ...limits: LimitCheck[]): Promise<ConsumeResult> {
    return getStore().consume({ nowMs, limits, leaseId: `lease-${nowMs}-${n++}` });
  }
  async function admitted(nowMs: number, times: number, ...limits: LimitCheck[]): Promise<number> {
    let ok = 0;
    for (let i = 0; i < times; i++) if ((await run(nowMs, ...limits)).allowed) ok++;
    return ok;
  }

  test('GCRA admits exactly the burst at once, then one unit per emission interval', async () => {
    const c = check({ algorithm: 'gcra', limit: 10, burst: 5, windowMs: 10_000 });
    assert.equal(await admitted(T0, 8, c), 5);
    assert.equal(await admitted(T0 + 999, 1, c), 0);
    assert.equal(await admitted(T0 + 1000, 2, c), 1);
    assert.equal(await admitted(T0 + 5000, 10, c), 4);
  });

  test('GCRA reports remaining units, the time until one more unit and an exact retry-after', async () => {
    const c = check({ algorithm: 'gcra', limit: 3, burst: 3, windowMs: 3000 });
    const first = await run(T0, c);
    assert.deepEqual(first.results[0], { allowed: true, remaining: 2, resetMs: 1000, retryAfterMs: 0 });
    await run(T0, c);
    await run(T0, c);
    const rejected = await run(T0 + 200, c);
    assert.equal(rejected.allowed, false);
    assert.deepEqual(rejected.results[0], { allowed: false, remaining: 0, resetMs: 800, retryAfterMs: 800 });
    assert.equal((await run(T0 + 999, c)).allowed, false);
    assert.equal((await run(T0 + 1000, c)).allowed, true);
  });

  test('GCRA says when the next unit is earned, not when the bucket is full again', async () => {
    // T = 1 s per unit, bucket of 10: after 5 units at once, 5 remain and the 6th comes back in 1 s (the
    // bucket is full only in 5 s).
    const c = check({ algorithm: 'gcra', limit: 10, burst: 10, windowMs: 10_000 });
    let last = await run(T0, c);
    for (let i = 1; i < 5; i++) last = await run(T0, c);
    assert.deepEqual(last.results[0], { allowed: true, remaining: 5, resetMs: 1000, retryAfterMs: 0 });
    // 300 ms later one unit is part earned: 4.3 units of credit after this request, the 5th in 700 ms.
    const next = await run(T0 + 300, c);
    assert.deepEqual(next.results[0], { allowed: true, remaining: 4, resetMs: 700, retryAfterMs: 0 });
    const sub = check({ algorithm: 'gcra', limit: 3, burst: 2, windowMs: 1000 });
    const one = await run(T0, sub);
    assert.deepEqual(one.results[0], { allowed: true, remaining: 1, resetMs: 334, retryAfterMs: 0 });
  });

  test('GCRA reports no wait on a bucket that is already full', async () => {
    const c = check({ algorithm: 'gcra', limit: 10, burst: 4, cost: 0 });
    assert.deepEqual((await run(T0, c)).results[0], {
      allowed: true,
      remaining: 4,
      resetMs: 0,
      retryAfterMs: 0,
    });
  });

  test('GCRA with a cost consumes that many units', async () => {
    const c = check({ algorithm: 'gcra', limit: 10, burst: 10, cost: 4 });
    assert.equal(await admitted(T0, 5, c), 2);
    const r = await run(T0, { ...c, cost: 2 });
    assert.equal(r.allowed, true);
    assert.equal(r.results[0].remaining, 0);
  });

  test('GCRA stays exact with an emission interval that is not a whole millisecond', async () => {
    const c = check({ algorithm: 'gcra', limit: 3, burst: 1, windowMs: 1000 });
    assert.equal(await admitted(T0, 2, c), 1);
    assert.equal(await admitted(T0 + 333, 1, c), 0);
    assert.equal(await admitted(T0 + 334, 1, c), 1);
    const full = check({ algorithm: 'gcra', limit: 3, burst: 3, windowMs: 1000 });
    for (let w = 0; w < 50; w++) assert.equal(await admitted(T0 + w * 1000, 4, full), 3, `window ${w}`);
  });

  test('fixed window admits the limit per window and starts afresh in the next window', async () => {
    const end = T0 + 10_000;
    const c = check({ algorithm: 'fixed-window', limit: 4, windowEndMs: end });
    assert.equal(await admitted(T0 + 100, 6, c), 4);
    const r = await run(T0 + 2500, c);
    assert.deepEqual(r.results[0], { allowed: false, remaining: 0, resetMs: 7500, retryAfterMs: 7500 });
    const next = { ...c, key: `${c.key}:next`, windowEndMs: end + 10_000 };
    assert.equal(await admitted(end, 6, next), 4);
  });

  test('sliding window never admits more than the limit in any window-long interval', async () => {
    // A minute-long window, so that Redis, which expires keys in its own real time while this test drives
    // logical time, never drops a key before the logical clock says so: a pause of up to a window between
    // two calls (a loaded machine, a GC) cannot fake an early expiry.
    const windowMs = 60_000;
    const c = check({ algorithm: 'sliding-window', limit: 20, windowMs, subWindows: 10 });
    const times: number[] = [];
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let t = 0; t < 5 * windowMs; t += Math.floor(rand() * 20) * (windowMs / 1000)) {
      if ((await run(T0 + t, c)).allowed) times.push(t);
    }
    for (let i = 0; i < times.length; i++) {
      const inWindow = times.filter((x) => x > times[i] - windowMs && x <= times[i]).length;
      assert.ok(inWindow <= 20, `at ${times[i]} ms: ${inWindow} admitted in the last window`);
    }
    // Units come back at most one sub-window late, so a saturating client gets ≥ limit·k/(k+1) per window.
    assert.ok(times.length >= Math.floor((20 * 5 * 10) / 11), `only ${times.length} admitted`);
  });

  test('sliding window gives a unit back one window after its sub-window ends, and says when', async () => {
    const c = check({ algorithm: 'sliding-window', limit: 2, windowMs: 1000, subWindows: 10 });
    assert.equal(await admitted(T0 + 50, 2, c), 2);
    const r = await run(T0 + 500, c);
    assert.equal(r.allowed, false);
    assert.equal(r.results[0].retryAfterMs, 600);
    assert.equal((await run(T0 + 1099, c)).allowed, false);
    assert.equal(await admitted(T0 + 1100, 3, c), 2);
  });

  test('sliding window says when the oldest counted unit leaves the window, not the newest', async () => {
    const c = check({ algorithm: 'sliding-window', limit: 5, windowMs: 1000, subWindows: 10 });
    assert.equal(await admitted(T0 + 50, 2, c), 2);
    const r = await run(T0 + 350, c);
    // Units in sub-window 0 count until 1100 ms; the one just taken, in sub-window 3, until 1400 ms.
    assert.deepEqual(r.results[0], { allowed: true, remaining: 2, resetMs: 750, retryAfterMs: 0 });
    const first = check({ algorithm: 'sliding-window', limit: 5, windowMs: 1000, subWindows: 10 });
    assert.deepEqual((await run(T0 + 420, first)).results[0], {
      allowed: true,
      remaining: 4,
      resetMs: 1080,
      retryAfterMs: 0,
    });
  });

  test('sliding window past its limit says when remaining grows, not when the first unit leaves', async () => {
    const c = check({
      algorithm: 'sliding-window',
      limit: 2,
      windowMs: 1000,
      subWindows: 10,
      countRejected: true,
    });
    assert.equal(await admitted(T0 + 50, 2, c), 2);
    assert.equal(await admitted(T0 + 250, 1, c), 0); // refused, and still counted: 3 units, one over the limit
    const r = await run(T0 + 260, c);
    assert.equal(r.allowed, false);
    assert.equal(r.results[0].remaining, 0);
    // Two units must leave for one to be free: both of sub-window 0 leave at 1100 ms.
    assert.equal(r.results[0].resetMs, 840);
  });

  test('fixed window says its end as the time until more quota', async () => {
    const c = check({ algorithm: 'fixed-window', limit: 4, windowEndMs: T0 + 10_000 });
    assert.deepEqual((await run(T0 + 2500, c)).results[0], {
      allowed: true,
      remaining: 3,
      resetMs: 7500,
      retryAfterMs: 0,
    });
  });

  test('concurrency admits up to the limit in flight and a release frees a slot', async () => {
    const c = check({ algorithm: 'concurrency', limit: 2, windowMs: 60_000 });
    const store = getStore();
    const a = await store.consume({ nowMs: T0, limits: [c], leaseId: 'a' });
    const b = await store.consume({ nowMs: T0, limits: [c], leaseId: 'b' });
    const x = await store.consume({ nowMs: T0, limits: [c], leaseId: 'x' });
    assert.deepEqual([a.allowed, b.allowed, x.allowed], [true, true, false]);
    assert.equal(b.results[0].remaining, 0);
    await store.release([{ key: c.key, leaseId: 'a' }]);
    assert.equal((await store.consume({ nowMs: T0, limits: [c], leaseId: 'y' })).allowed, true);
  });

  test('a concurrency lease that is never released expires after its time to live', async () => {
    const c = check({ algorithm: 'concurrency', limit: 1, windowMs: 5000 });
    assert.equal((await run(T0, c)).allowed, true);
    assert.equal((await run(T0 + 4999, c)).allowed, false);
    assert.equal((await run(T0 + 5000, c)).allowed, true);
  });

  test('a request rejected by one limit consumes nothing from the others', async () => {
    const perSecond = check({ algorithm: 'gcra', limit: 1, burst: 1, windowMs: 1000 });
    const daily = check({ algorithm: 'fixed-window', limit: 100, windowEndMs: T0 + 86_400_000 });
    const sliding = check({ algorithm: 'sliding-window', limit: 100, windowMs: 60_000 });
    const conc = check({ algorithm: 'concurrency', limit: 5, windowMs: 60_000 });
    assert.equal((await run(T0, perSecond, daily, sliding, conc)).allowed, true);
    for (let i = 0; i < 10; i++) {
      const r = await run(T0 + 1, perSecond, daily, sliding, conc);
      assert.equal(r.allowed, false);
      assert.deepEqual(
        r.results.map((x) => x.allowed),
        [false, true, true, true],
      );
    }
    const r = await run(T0 + 1000, perSecond, daily, sliding, conc);
    assert.equal(r.allowed, true);
    assert.deepEqual(
      r.results.map((x) => x.remaining),
      [0, 98, 98, 3],
    );
  });

  test('a limit with countRejected consumes even when another limit rejects', async () => {
    const perSecond = check({ algorithm: 'gcra', limit: 1, burst: 1, windowMs: 1000 });
    const daily = check({
      algorithm: 'fixed-window',
      limit: 100,
      windowEndMs: T0 + 86_400_000,
      countRejected: true,
    });
    await run(T0, perSecond, daily);
    for (let i = 0; i < 5; i++) await run(T0 + 1, perSecond, daily);
    const r = await run(T0 + 1000, perSecond, daily);
    assert.equal(r.allowed, true);
    assert.equal(r.results[1].remaining, 93);
  });
}
