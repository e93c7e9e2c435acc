import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics, renderFamilies } from './metrics.ts';

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

test('exports the registry as plain data that renders to the same text', () => {
  const m = createMetrics();
  const c = m.counter('portcullis_things_total', 'Things.', ['kind']);
  c.inc({ kind: 'a' }, 3);
  let inFlight = 7;
  m.gauge('portcullis_in_flight', 'In flight.', [], () => inFlight);
  m.gauge('portcullis_healthy', 'Healthy.', [], () => 1, 'min');
  const h = m.histogram('portcullis_duration_seconds', 'Duration.', ['route'], [1, 0.1]);
  h.observe(0.05, { route: '/x' });
  h.observe(0.5, { route: '/x' });
  h.observe(3, { route: '/x' });

  const families = m.snapshot();
  assert.deepEqual(JSON.parse(JSON.stringify(families)), [
    {
      type: 'counter',
      name: 'portcullis_things_total',
      help: 'Things.',
      labelNames: ['kind'],
      series: [{ labels: ['a'], value: 3 }],
    },
    {
      type: 'gauge',
      name: 'portcullis_in_flight',
      help: 'In flight.',
      labelNames: [],
      merge: 'sum',
      series: [{ labels: [], value: 7 }],
    },
    {
      type: 'gauge',
      name: 'portcullis_healthy',
      help: 'Healthy.',
      labelNames: [],
      merge: 'min',
      series: [{ labels: [], value: 1 }],
    },
    {
      type: 'histogram',
      name: 'portcullis_duration_seconds',
      help: 'Duration.',
      labelNames: ['route'],
      bounds: [0.1, 1],
      series: [{ labels: ['/x'], buckets: [1, 2], sum: 3.55, count: 3 }],
    },
  ]);
  assert.equal(renderFamilies(families), m.render());
  inFlight = 2;
  const gauge = m.snapshot()[1];
  assert.equal(gauge.type === 'gauge' && gauge.series[0].value, 2, 'collected again at each snapshot');
});
