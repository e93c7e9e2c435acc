import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retryAfterMs } from './client.ts';
import { CLEANUP_RESERVE_MS, estimateWork, MIN_PHASE_MS, MIN_SHARE, phaseBudget } from './time-budget.ts';

const ops = (n: number) => ({ operations: Array.from({ length: n }) as never[] });

test('a phase gets its share of the time left by its work, the fixed parts kept whole first', () => {
  // 50 s left (after the reserve) at 20 requests a second buys 1000 requests: both fixed parts (100 + 100) fit,
  // the per-operation parts (800 + 0) shrink to what is left (800): the first phase gets 900/1000 of the time.
  const work = [
    { fixed: 100, variable: 800 },
    { fixed: 100, variable: 0 },
  ];
  const ms = phaseBudget(0, 50_000 + CLEANUP_RESERVE_MS, work, 60_000, 20);
  assert.equal(ms, 45_000);
  // When the fixed parts alone do not fit, each shrinks alike.
  assert.equal(phaseBudget(0, 10_000 + CLEANUP_RESERVE_MS, work, 60_000, 10), 5000);
});

test('a large document shrinks the work per operation, not a check’s fixed probes', () => {
  const large = ops(113);
  const phases = ['API8', 'API9', 'API2', 'API4'].map((p) => estimateWork(p, large));
  const api2 = phaseBudget(0, 30_000, phases.slice(2), 60_000, 20);
  // API2's fixed 120 requests at 20 a second: at least 6 s of the 26 s left for API2 and API4.
  assert.ok(api2 >= 6000, String(api2));
});

test('no phase gets less than MIN_PHASE_MS while time is left, none more than the cap, none after the deadline', () => {
  const work = [
    { fixed: 1, variable: 0 },
    { fixed: 10_000, variable: 0 },
  ];
  assert.equal(phaseBudget(0, 40_000, work, 60_000, 20), MIN_PHASE_MS);
  assert.equal(phaseBudget(0, 100_000, [{ fixed: 10, variable: 10 }], 30_000, 20), 30_000);
  assert.equal(phaseBudget(50_000, 52_000, work, 30_000, 20), 0);
});

test('Retry-After is read as delay-seconds or an HTTP-date (RFC 9110 section 10.2.3)', () => {
  assert.equal(retryAfterMs('2'), 2000);
  assert.equal(retryAfterMs(' 900 '), 900_000);
  const now = Date.parse('Mon, 07 Dec 2026 18:00:00 GMT');
  assert.equal(retryAfterMs('Mon, 07 Dec 2026 18:00:03 GMT', now), 3000);
  assert.equal(retryAfterMs('Mon, 07 Dec 2026 17:59:00 GMT', now), 0);
  assert.equal(retryAfterMs('soon'), undefined);
  assert.equal(retryAfterMs('-1'), undefined);
  assert.equal(retryAfterMs(undefined), undefined);
});

test('a phase with a least share gets it of the time left when its work is small beside the fixed work after it', () => {
  // Discovery's 10 + 65 requests beside checks whose fixed parts alone (800) do not fit in 240 requests: by work it
  // gets the least phase time; with its least share, 30% of the 40 s left (after the reserve).
  const work = [
    { fixed: 10, variable: 65 },
    { fixed: 800, variable: 300 },
  ];
  const now = 0;
  const deadline = 40_000 + CLEANUP_RESERVE_MS;
  assert.equal(phaseBudget(now, deadline, work, 60_000, 6), MIN_PHASE_MS);
  assert.equal(phaseBudget(now, deadline, work, 60_000, 6, MIN_SHARE.discovery), 12_000);
  // Never past the per-check cap, and a phase whose own share is larger keeps it.
  assert.equal(phaseBudget(now, deadline, work, 10_000, 6, MIN_SHARE.discovery), 10_000);
  assert.equal(phaseBudget(now, deadline, [{ fixed: 900, variable: 0 }], 60_000, 6, MIN_SHARE.API1), 40_000);
});
