/**
 * Merges the metric families of several processes (the workers of `serve --workers N`) into one
 * exposition: a series is identified by family name and label values, and the same series of different
 * processes is combined by the family's type.
 */
import type { GaugeMerge, HistogramSeries, MetricFamily, ValueSeries } from '../core/metrics.ts';

/** Same bound as the registry's: past it, new label combinations of a family fold into `_other`. */
const MAX_SERIES = 10_000;

interface ValueAcc {
  labels: readonly string[];
  value: number;
}

interface HistogramAcc {
  labels: readonly string[];
  buckets: number[];
  sum: number;
  count: number;
}

type FamilyAcc =
  | { family: MetricFamily & { type: 'counter' | 'gauge' }; series: Map<string, ValueAcc> }
  | { family: MetricFamily & { type: 'histogram' }; series: Map<string, HistogramAcc> };

/** JSON turns NaN and infinities into null on the way between processes. */
function num(v: unknown): number {
  return typeof v === 'number' ? v : Number.NaN;
}

function combine(how: GaugeMerge, a: number, b: number): number {
  if (how === 'min') return Math.min(a, b);
  if (how === 'max') return Math.max(a, b);
  return a + b;
}

/** Two processes' families can be merged only when they describe the same thing. */
function sameShape(a: MetricFamily, b: MetricFamily): boolean {
  if (a.type !== b.type || a.labelNames.join('\u0000') !== b.labelNames.join('\u0000')) return false;
  if (a.type === 'gauge' && b.type === 'gauge') return a.merge === b.merge;
  if (a.type === 'histogram' && b.type === 'histogram') return a.bounds.join(' ') === b.bounds.join(' ');
  return true;
}

function slot<T>(
  series: Map<string, T>,
  labels: readonly string[],
  make: (labels: readonly string[]) => T,
): T {
  const key = labels.join('\u0000');
  let s = series.get(key);
  if (s === undefined) {
    if (series.size >= MAX_SERIES) {
      const other = labels.map(() => '_other');
      const otherKey = other.join('\u0000');
      s = series.get(otherKey);
      if (s === undefined) {
        s = make(other);
        series.set(otherKey, s);
      }
      return s;
    }
    s = make(labels);
    series.set(key, s);
  }
  return s;
}

/**
 * Merges families from several sources: counters and histogram buckets, sums and counts are added per
 * series; gauges combine by their own `merge` rule (`sum`, `min`, `max`). A series present in only some
 * sources keeps the value of those. Families keep the order in which they were first seen; a family
 * whose type, label names, bucket bounds or merge rule differ from the first one seen under its name is
 * left out (it cannot be combined honestly). The inputs are not modified.
 *
 * @example
 * renderFamilies(mergeFamilies([worker0.snapshot(), worker1.snapshot()]));
 */
export function mergeFamilies(sources: ReadonlyArray<readonly MetricFamily[]>): MetricFamily[] {
  const byName = new Map<string, FamilyAcc>();
  for (const families of sources) {
    for (const f of families) {
      let acc = byName.get(f.name);
      if (acc === undefined) {
        acc = (
          f.type === 'histogram'
            ? { family: f, series: new Map<string, HistogramAcc>() }
            : { family: f, series: new Map<string, ValueAcc>() }
        ) as FamilyAcc;
        byName.set(f.name, acc);
      } else if (!sameShape(acc.family, f)) continue;

      if (acc.family.type === 'histogram') {
        const into = acc.series as Map<string, HistogramAcc>;
        const width = acc.family.bounds.length;
        for (const s of f.series as readonly HistogramSeries[]) {
          const cell = slot(into, s.labels, (labels) => ({
            labels,
            buckets: new Array<number>(width).fill(0),
            sum: 0,
            count: 0,
          }));
          for (let i = 0; i < width; i++) cell.buckets[i] += num(s.buckets[i]);
          cell.sum += num(s.sum);
          cell.count += num(s.count);
        }
      } else {
        const into = acc.series as Map<string, ValueAcc>;
        const how: GaugeMerge = acc.family.type === 'gauge' ? acc.family.merge : 'sum';
        for (const s of f.series as readonly ValueSeries[]) {
          let fresh = false;
          const cell = slot(into, s.labels, (labels) => {
            fresh = true;
            return { labels, value: num(s.value) };
          });
          if (!fresh) cell.value = combine(how, cell.value, num(s.value));
        }
      }
    }
  }
  return Array.from(byName.values(), ({ family, series }) => ({
    ...family,
    series: [...series.values()],
  })) as MetricFamily[];
}

/**
 * The families whose values only grow while a process lives (counters and histograms). When a worker
 * is gone or does not answer, its last reported values of these still count, so merged totals never go
 * down and Prometheus' `rate()` sees no false counter reset; its gauges describe a moment that is past.
 */
export function monotonicFamilies(families: readonly MetricFamily[]): MetricFamily[] {
  return families.filter((f) => f.type !== 'gauge');
}
