import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { pino } from 'pino';
import { createMetrics } from '../../core/metrics.ts';
import type { TraceStart } from '../../core/tracing.ts';
import { resolveTracingConfig, type TracingConfigInput } from './schema.ts';
import { createTracer, unixNanos } from './tracer.ts';

function tracer(input: TracingConfigInput) {
  return createTracer(resolveTracingConfig({ enabled: true, ...input }), {
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(),
  });
}

/** A new trace (no parent) whose id ends in the 13 hex digits `low`. */
const fresh = (low: string, extra: Partial<TraceStart> = {}): TraceStart => ({
  traceId: `0123456789abcdeff${low}`.slice(-32).padStart(32, '0'),
  spanId: '1111111111111111',
  parentSpanId: undefined,
  parentSampled: undefined,
  trustedPeer: false,
  startMs: 0,
  ...extra,
});

test('sampleRatio samples new traces by the low 52 bits of their id: below ratio × 2^52 is recorded', () => {
  const t = tracer({ sampleRatio: 0.5 });
  assert.notEqual(t.startRequest(fresh('0000000000000')), null);
  assert.notEqual(t.startRequest(fresh('7ffffffffffff')), null);
  assert.equal(t.startRequest(fresh('8000000000000')), null);
  assert.equal(t.startRequest(fresh('fffffffffffff')), null);
});

test('sampleRatio 0 records no new trace and 1 records every one', () => {
  const none = tracer({ sampleRatio: 0 });
  const all = tracer({ sampleRatio: 1 });
  for (const low of ['0000000000000', '0000000000001', 'fffffffffffff']) {
    assert.equal(none.startRequest(fresh(low)), null);
    assert.notEqual(all.startRequest(fresh(low)), null);
  }
});

test("a continued trace follows the caller's sampled flag as parentSampled says", () => {
  const parent = (sampled: boolean, trustedPeer: boolean) =>
    fresh('fffffffffffff', { parentSpanId: '2222222222222222', parentSampled: sampled, trustedPeer });
  const honor = tracer({ sampleRatio: 0, parentSampled: 'honor' });
  assert.notEqual(honor.startRequest(parent(true, false)), null);
  const honorAll = tracer({ sampleRatio: 1, parentSampled: 'honor' });
  assert.equal(honorAll.startRequest(parent(false, false)), null);
  const trusted = tracer({ sampleRatio: 0, parentSampled: 'trustedProxies' });
  assert.equal(trusted.startRequest(parent(true, false)), null);
  assert.notEqual(trusted.startRequest(parent(true, true)), null);
  const ignore = tracer({ sampleRatio: 0, parentSampled: 'ignore' });
  assert.equal(ignore.startRequest(parent(true, true)), null);
});

test('span times are Unix nanoseconds as decimal strings, in the order of the clock', () => {
  const now = performance.now();
  const ns = unixNanos(now);
  assert.match(ns, /^\d{19}$/);
  const ms = Number(BigInt(ns) / 1_000_000n);
  assert.ok(Math.abs(ms - Date.now()) < 1000);
  assert.ok(BigInt(unixNanos(now + 0.001)) > BigInt(ns));
});

test('a request whose spans do not fit the queue is dropped whole and counted', () => {
  const metrics = createMetrics();
  const t = createTracer(
    resolveTracingConfig({ enabled: true, sampleRatio: 1, batch: { maxQueueSpans: 3, delayMs: 60_000 } }),
    { logger: pino({ level: 'silent' }), metrics },
  );
  const one = t.startRequest(fresh('0000000000000'))!;
  one.child('ban ban', 1, 0, 1, {});
  one.end('GET', 2, {});
  assert.equal(t.queuedSpans, 2);
  const two = t.startRequest(fresh('0000000000001'))!;
  two.child('ban ban', 1, 0, 1, {});
  two.end('GET', 2, {});
  assert.equal(t.queuedSpans, 2);
  assert.match(metrics.render(), /portcullis_tracing_spans_dropped_total\{reason="queue_full"\} 2/);
});
