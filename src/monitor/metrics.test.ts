import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from './metrics.ts';

test('renders counters, gauges and cumulative histogram buckets in Prometheus text format', () => {
  const m = createMetrics();
  const c = m.counter('portcullis_things_total', 'Things.', ['kind']);
  c.inc({ kind: 'a' });
  c.bind({ kind: 'b' }).inc(2);
  m.gauge('portcullis_in_flight', 'In flight.').inc();
  const h = m.histogram('portcullis_duration_seconds', 'Duration.', ['route'], [0.1, 1]);
  h.observe(0.05, { route: '/x' });
  h.observe(0.5, { route: '/x' });
  h.observe(3, { route: '/x' });
  const text = m.render();
  assert.match(text, /^portcullis_things_total\{kind="a"\} 1$/m);
  assert.match(text, /^portcullis_things_total\{kind="b"\} 2$/m);
  assert.match(text, /^portcullis_in_flight 1$/m);
  assert.match(text, /^portcullis_duration_seconds_bucket\{route="\/x",le="0.1"\} 1$/m);
  assert.match(text, /^portcullis_duration_seconds_bucket\{route="\/x",le="1"\} 2$/m);
  assert.match(text, /^portcullis_duration_seconds_bucket\{route="\/x",le="\+Inf"\} 3$/m);
  assert.match(text, /^portcullis_duration_seconds_sum\{route="\/x"\} 3.55$/m);
  assert.match(text, /^# TYPE portcullis_duration_seconds histogram$/m);
});

test('escapes label values', () => {
  const m = createMetrics();
  m.counter('x_total', 'X.', ['v']).inc({ v: 'a"b\\c\nd' });
  assert.match(m.render(), /^x_total\{v="a\\"b\\\\c\\nd"\} 1$/m);
});
