import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createManualClock } from '../core/clock.ts';
import { type CircuitState, createCircuitBreaker } from './circuit-breaker.ts';

function setup(over: Parameters<typeof createCircuitBreaker>[0] extends infer O ? Partial<O> : never = {}) {
  const clock = createManualClock();
  const changes: Array<[CircuitState, CircuitState, string]> = [];
  const breaker = createCircuitBreaker({
    clock,
    windowMs: 10_000,
    minCalls: 10,
    failureRateThreshold: 0.5,
    slowCallMs: 1000,
    slowCallRateThreshold: 0.8,
    openMs: 5000,
    halfOpenCalls: 2,
    onStateChange: (from, to, reason) => changes.push([from, to, reason]),
    ...over,
  });
  const call = (ok: boolean, ms = 10) => {
    const p = breaker.acquire();
    assert.ok(p, 'expected a permit');
    p.done(ok, ms);
  };
  return { clock, breaker, changes, call };
}

describe('circuit breaker', () => {
  test('stays closed below the minimum number of calls even when all fail', () => {
    const { breaker, call } = setup();
    for (let i = 0; i < 9; i++) call(false);
    assert.equal(breaker.state, 'closed');
  });

  test('opens when the failure rate reaches the threshold and refuses calls while open', () => {
    const { breaker, call, changes } = setup();
    for (let i = 0; i < 5; i++) call(true);
    for (let i = 0; i < 4; i++) call(false);
    assert.equal(breaker.state, 'closed');
    call(false);
    assert.equal(breaker.state, 'open');
    assert.deepEqual(changes, [['closed', 'open', 'failure_rate']]);
    assert.equal(breaker.acquire(), undefined);
    assert.equal(breaker.retryAfterMs(), 5000);
  });

  test('opens on the slow-call rate even when every call succeeds', () => {
    const { breaker, call, changes } = setup();
    for (let i = 0; i < 2; i++) call(true, 10);
    for (let i = 0; i < 8; i++) call(true, 1500);
    assert.equal(breaker.state, 'open');
    assert.equal(changes[0][2], 'slow_call_rate');
  });

  test('forgets failures older than the rolling window', () => {
    const { clock, breaker, call } = setup();
    for (let i = 0; i < 9; i++) call(false);
    clock.advance(10_000);
    for (let i = 0; i < 9; i++) call(true);
    call(false);
    assert.equal(breaker.state, 'closed');
  });

  test('lets a bounded number of trial calls through after the open time and closes when they succeed', () => {
    const { clock, breaker, call, changes } = setup();
    for (let i = 0; i < 10; i++) call(false);
    clock.advance(4999);
    assert.equal(breaker.acquire(), undefined);
    clock.advance(1);
    assert.equal(breaker.state, 'half-open');
    const a = breaker.acquire();
    const b = breaker.acquire();
    assert.ok(a && b);
    assert.equal(breaker.acquire(), undefined, 'only halfOpenCalls trials at once');
    a.done(true, 5);
    b.done(true, 5);
    assert.equal(breaker.state, 'closed');
    assert.deepEqual(
      changes.map((c) => c[1]),
      ['open', 'half-open', 'closed'],
    );
  });

  test('reopens on a failed trial call and waits the open time again', () => {
    const { clock, breaker, call } = setup();
    for (let i = 0; i < 10; i++) call(false);
    clock.advance(5000);
    const trial = breaker.acquire();
    assert.ok(trial);
    trial.done(false, 5);
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.retryAfterMs(), 5000);
  });

  test('ignores late results of calls admitted before the circuit changed state', () => {
    const { clock, breaker, call } = setup();
    const late = breaker.acquire()!;
    for (let i = 0; i < 10; i++) call(false);
    clock.advance(5000);
    const trial = breaker.acquire()!;
    late.done(false, 5);
    assert.equal(breaker.state, 'half-open');
    trial.done(true, 5);
    late.done(true, 5);
    assert.equal(breaker.state, 'half-open');
  });
});
