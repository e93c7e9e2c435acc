import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics, type MetricFamily, type MetricsRegistry, renderFamilies } from '../core/metrics.ts';
import { mergeFamilies, monotonicFamilies } from './metrics-merge.ts';

/** A worker's registry with the shapes the gateway uses. */
function worker(): {
  m: MetricsRegistry;
  requests: ReturnType<MetricsRegistry['histogram']>;
  decisions: ReturnType<MetricsRegistry['counter']>;
  setActive(n: number): void;
  setHealthy(ok: boolean): void;
} {
  const m = createMetrics();
  let active = 0;
  let healthy = true;
  const requests = m.histogram('portcullis_req_seconds', 'Requests.', ['route', 'status'], [0.1, 1]);
  const decisions = m.counter('portcullis_decisions_total', 'Decisions.', ['policy']);
  m.gauge('portcullis_active_requests', 'Active.', [], () => active);
  m.gauge('portcullis_store_healthy', 'Healthy.', [], () => (healthy ? 1 : 0), 'min');
  return {
    m,
    requests,
    decisions,
    setActive: (n) => {
      active = n;
    },
    setHealthy: (ok) => {
      healthy = ok;
    },
  };
}

/** Through JSON, as between processes. */
const wire = (families: MetricFamily[]): MetricFamily[] => JSON.parse(JSON.stringify(families));

function family(families: MetricFamily[], name: string): MetricFamily {
  const f = families.find((x) => x.name === name);
  assert.ok(f, `family ${name}`);
  return f;
}

test('adds counters of the same name and labels, and keeps a label set seen in one worker only', () => {
  const a = worker();
  const b = worker();
  a.decisions.inc({ policy: 'allow' }, 5);
  b.decisions.inc({ policy: 'allow' }, 7);
  b.decisions.inc({ policy: 'rate-limit' }, 2);
  const merged = mergeFamilies([wire(a.m.snapshot()), wire(b.m.snapshot())]);
  assert.deepEqual(family(merged, 'portcullis_decisions_total'), {
    type: 'counter',
    name: 'portcullis_decisions_total',
    help: 'Decisions.',
    labelNames: ['policy'],
    series: [
      { labels: ['allow'], value: 12 },
      { labels: ['rate-limit'], value: 2 },
    ],
  });
});

test('adds histogram buckets, sums and counts per series', () => {
  const a = worker();
  const b = worker();
  a.requests.observe(0.05, { route: '/x', status: '200' });
  a.requests.observe(2, { route: '/x', status: '200' });
  b.requests.observe(0.5, { route: '/x', status: '200' });
  b.requests.observe(0.01, { route: '/y', status: '404' });
  const merged = mergeFamilies([wire(a.m.snapshot()), wire(b.m.snapshot())]);
  const h = family(merged, 'portcullis_req_seconds');
  assert.equal(h.type, 'histogram');
  assert.deepEqual(h.series, [
    { labels: ['/x', '200'], buckets: [1, 2], sum: 2.55, count: 3 },
    { labels: ['/y', '404'], buckets: [1, 1], sum: 0.01, count: 1 },
  ]);
  const text = renderFamilies(merged);
  assert.match(text, /^portcullis_req_seconds_bucket\{route="\/x",status="200",le="1"\} 2$/m);
  assert.match(text, /^portcullis_req_seconds_bucket\{route="\/x",status="200",le="\+Inf"\} 3$/m);
  assert.match(text, /^portcullis_req_seconds_count\{route="\/y",status="404"\} 1$/m);
});

test('sums gauges that add up and takes the minimum of all-is-well gauges', () => {
  const a = worker();
  const b = worker();
  a.setActive(3);
  b.setActive(4);
  b.setHealthy(false);
  const merged = mergeFamilies([wire(a.m.snapshot()), wire(b.m.snapshot())]);
  const active = family(merged, 'portcullis_active_requests');
  const healthy = family(merged, 'portcullis_store_healthy');
  assert.deepEqual(active.type === 'gauge' && active.series, [{ labels: [], value: 7 }]);
  assert.deepEqual(healthy.type === 'gauge' && healthy.series, [{ labels: [], value: 0 }]);
  b.setHealthy(true);
  const again = family(mergeFamilies([a.m.snapshot(), b.m.snapshot()]), 'portcullis_store_healthy');
  assert.deepEqual(again.type === 'gauge' && again.series, [{ labels: [], value: 1 }]);
});

test('renders every family once, with its lines together, in the order first seen', () => {
  const a = worker();
  const b = worker();
  b.m.counter('portcullis_only_in_b_total', 'Only b.').inc();
  a.decisions.inc({ policy: 'allow' });
  b.decisions.inc({ policy: 'deny' });
  b.requests.observe(0.2, { route: '/x', status: '200' });
  const text = renderFamilies(mergeFamilies([a.m.snapshot(), b.m.snapshot()]));
  const types: string[] = [];
  let current = '';
  for (const line of text.trimEnd().split('\n')) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) {
      current = type[1];
      types.push(current);
    } else if (!line.startsWith('# HELP ')) {
      const name = /^[a-z_]+/.exec(line)?.[0] ?? '';
      assert.ok(
        [current, `${current}_bucket`, `${current}_sum`, `${current}_count`].includes(name),
        `${line} is in the block of ${current}`,
      );
    }
  }
  assert.deepEqual(types, [
    'portcullis_req_seconds',
    'portcullis_decisions_total',
    'portcullis_active_requests',
    'portcullis_store_healthy',
    'portcullis_only_in_b_total',
  ]);
  assert.equal(text.match(/^# HELP /gm)?.length, types.length);
  assert.match(
    text,
    /^portcullis_decisions_total\{policy="allow"\} 1\nportcullis_decisions_total\{policy="deny"\} 1$/m,
  );
});

test('a missing worker leaves the others whole, and its last counters can stand in without its gauges', () => {
  const a = worker();
  const b = worker();
  a.decisions.inc({ policy: 'allow' }, 10);
  b.decisions.inc({ policy: 'allow' }, 5);
  b.setActive(9);
  const lastOfB = wire(b.m.snapshot());
  // b stops answering: only a is merged, plus what b last reported of its counters and histograms.
  a.decisions.inc({ policy: 'allow' }, 1);
  const onlyA = mergeFamilies([a.m.snapshot()]);
  assert.deepEqual(family(onlyA, 'portcullis_decisions_total').series, [{ labels: ['allow'], value: 11 }]);
  const withLast = mergeFamilies([a.m.snapshot(), monotonicFamilies(lastOfB)]);
  assert.deepEqual(family(withLast, 'portcullis_decisions_total').series, [{ labels: ['allow'], value: 16 }]);
  assert.deepEqual(family(withLast, 'portcullis_active_requests').series, [{ labels: [], value: 0 }]);
  assert.equal(
    monotonicFamilies(lastOfB).some((f) => f.type === 'gauge'),
    false,
  );
});

test('leaves out a family whose shape differs from the first one seen under its name', () => {
  const a = createMetrics();
  const b = createMetrics();
  a.counter('portcullis_x_total', 'X.', ['kind']).inc({ kind: 'k' }, 2);
  b.counter('portcullis_x_total', 'X.', ['other']).inc({ other: 'o' }, 3);
  b.histogram('portcullis_h_seconds', 'H.', [], [1]).observe(0.5);
  const c = createMetrics();
  c.histogram('portcullis_h_seconds', 'H.', [], [2]).observe(0.5);
  const merged = mergeFamilies([a.snapshot(), b.snapshot(), c.snapshot()]);
  assert.deepEqual(family(merged, 'portcullis_x_total').series, [{ labels: ['k'], value: 2 }]);
  assert.deepEqual(family(merged, 'portcullis_h_seconds').series, [
    { labels: [], buckets: [1], sum: 0.5, count: 1 },
  ]);
});

test('does not modify its inputs', () => {
  const a = worker();
  a.decisions.inc({ policy: 'allow' }, 2);
  a.requests.observe(0.5, { route: '/x', status: '200' });
  const snap = a.m.snapshot();
  const before = JSON.stringify(snap);
  mergeFamilies([snap, snap, snap]);
  assert.equal(JSON.stringify(snap), before);
});

test('values that JSON turned into null merge as NaN instead of throwing', () => {
  const a = createMetrics();
  a.gauge('portcullis_g', 'G.', [], () => Number.NaN);
  const merged = mergeFamilies([wire(a.snapshot())]);
  assert.match(renderFamilies(merged), /^portcullis_g NaN$/m);
});
