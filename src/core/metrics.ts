/**
 * A small Prometheus registry: counters, gauges and histograms with fixed label names, rendered in the
 * text exposition format (0.0.4). Label children are created once and reused, so recording is a Map
 * lookup and an add.
 */

type Labels = Readonly<Record<string, string>>;

interface Metric {
  readonly name: string;
  snapshot(): MetricFamily;
}

/**
 * How one gauge of several processes (`serve --workers N`) combines into one value: `sum` for amounts
 * that add up (requests in flight, events waiting), `min` for all-is-well flags (1 only when every
 * process says 1), `max` for high-water marks.
 */
export type GaugeMerge = 'sum' | 'min' | 'max';

/** One labelled value of a counter or gauge; `labels` are in the order of the family's `labelNames`. */
export interface ValueSeries {
  readonly labels: readonly string[];
  readonly value: number;
}

/** One labelled histogram: `buckets[i]` counts observations `<= bounds[i]` (cumulative, as exposed). */
export interface HistogramSeries {
  readonly labels: readonly string[];
  readonly buckets: readonly number[];
  readonly sum: number;
  readonly count: number;
}

interface FamilyHead {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
}

/**
 * A metric family as plain data (JSON-safe but for NaN and infinities): what a process sends to be
 * merged with the others, and what {@link renderFamilies} turns into exposition text.
 */
export type MetricFamily =
  | (FamilyHead & { readonly type: 'counter'; readonly series: readonly ValueSeries[] })
  | (FamilyHead & {
      readonly type: 'gauge';
      readonly merge: GaugeMerge;
      readonly series: readonly ValueSeries[];
    })
  | (FamilyHead & {
      readonly type: 'histogram';
      readonly bounds: readonly number[];
      readonly series: readonly HistogramSeries[];
    });

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(names: readonly string[], values: readonly string[], extra = ''): string {
  if (names.length === 0 && extra === '') return '';
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i])}"`);
  if (extra) parts.push(extra);
  return `{${parts.join(',')}}`;
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}

export interface Counter {
  inc(labels?: Labels, by?: number): void;
  /** A pre-bound child for a hot path: `child.inc()` skips the label lookup. */
  bind(labels?: Labels): { inc(by?: number): void };
}

export interface Gauge {
  set(value: number, labels?: Labels): void;
  inc(labels?: Labels, by?: number): void;
  dec(labels?: Labels, by?: number): void;
}

export interface Histogram {
  observe(value: number, labels?: Labels): void;
  bind(labels?: Labels): { observe(value: number): void };
}

/** Bounds the number of label combinations per metric: beyond it, new combinations fold into `_other`. */
const MAX_SERIES = 10_000;

class Series<T> {
  readonly byKey = new Map<string, { values: string[]; data: T }>();
  readonly labelNames: readonly string[];
  readonly make: () => T;
  constructor(labelNames: readonly string[], make: () => T) {
    this.labelNames = labelNames;
    this.make = make;
  }
  get(labels: Labels | undefined): T {
    const values = this.labelNames.map((n) => labels?.[n] ?? '');
    const key = values.join('\u0000');
    let s = this.byKey.get(key);
    if (s === undefined) {
      if (this.byKey.size >= MAX_SERIES)
        return this.get(Object.fromEntries(this.labelNames.map((n) => [n, '_other'])));
      s = { values, data: this.make() };
      this.byKey.set(key, s);
    }
    return s.data;
  }
}

export interface MetricsRegistry {
  counter(name: string, help: string, labelNames?: readonly string[]): Counter;
  /**
   * A gauge; `collect`, when given, is called at each render for the unlabelled value. `merge` says how
   * the values of several worker processes combine (default `sum`).
   */
  gauge(
    name: string,
    help: string,
    labelNames?: readonly string[],
    collect?: () => number,
    merge?: GaugeMerge,
  ): Gauge;
  histogram(
    name: string,
    help: string,
    labelNames?: readonly string[],
    buckets?: readonly number[],
  ): Histogram;
  /** The whole registry in Prometheus text format. */
  render(): string;
  /** The whole registry as plain data, in registration order, for merging across processes. */
  snapshot(): MetricFamily[];
}

/** Renders metric families in the Prometheus text format (0.0.4), each family's lines together. */
export function renderFamilies(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type === 'histogram') {
      for (const s of f.series) {
        for (let i = 0; i < f.bounds.length; i++) {
          out.push(
            `${f.name}_bucket${labelText(f.labelNames, s.labels, `le="${f.bounds[i]}"`)} ${s.buckets[i]}`,
          );
        }
        out.push(`${f.name}_bucket${labelText(f.labelNames, s.labels, 'le="+Inf"')} ${s.count}`);
        out.push(`${f.name}_sum${labelText(f.labelNames, s.labels)} ${formatNumber(s.sum)}`);
        out.push(`${f.name}_count${labelText(f.labelNames, s.labels)} ${s.count}`);
      }
    } else {
      for (const s of f.series)
        out.push(`${f.name}${labelText(f.labelNames, s.labels)} ${formatNumber(s.value)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** OpenTelemetry's recommended buckets for `http.server.request.duration`, in seconds. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** Creates an empty registry. Names get no prefix here: callers use the `portcullis_` prefix. */
export function createMetrics(): MetricsRegistry {
  const metrics = new Map<string, Metric>();
  const register = <M extends Metric>(m: M): M => {
    const existing = metrics.get(m.name);
    if (existing) return existing as unknown as M;
    metrics.set(m.name, m);
    return m;
  };
  const snapshot = () => Array.from(metrics.values(), (m) => m.snapshot());

  return {
    counter(name, help, labelNames = []) {
      const series = new Series(labelNames, () => ({ v: 0 }));
      const c: Counter & Metric = {
        name,
        inc(labels, by = 1) {
          series.get(labels).v += by;
        },
        bind(labels) {
          const cell = series.get(labels);
          return {
            inc(by = 1) {
              cell.v += by;
            },
          };
        },
        snapshot() {
          const out: ValueSeries[] = [];
          for (const { values, data } of series.byKey.values()) out.push({ labels: values, value: data.v });
          return { type: 'counter', name, help, labelNames, series: out };
        },
      };
      return register(c);
    },
    gauge(name, help, labelNames = [], collect, merge = 'sum') {
      const series = new Series(labelNames, () => ({ v: 0 }));
      const g: Gauge & Metric = {
        name,
        set(value, labels) {
          series.get(labels).v = value;
        },
        inc(labels, by = 1) {
          series.get(labels).v += by;
        },
        dec(labels, by = 1) {
          series.get(labels).v -= by;
        },
        snapshot() {
          if (collect) series.get(undefined).v = collect();
          const out: ValueSeries[] = [];
          for (const { values, data } of series.byKey.values()) out.push({ labels: values, value: data.v });
          return { type: 'gauge', name, help, labelNames, merge, series: out };
        },
      };
      return register(g);
    },
    histogram(name, help, labelNames = [], buckets = DURATION_BUCKETS) {
      const bounds = [...buckets].sort((a, b) => a - b);
      const series = new Series(labelNames, () => ({
        counts: new Float64Array(bounds.length),
        sum: 0,
        count: 0,
      }));
      const observeInto = (cell: { counts: Float64Array; sum: number; count: number }, value: number) => {
        cell.sum += value;
        cell.count++;
        for (let i = 0; i < bounds.length; i++) {
          if (value <= bounds[i]) {
            cell.counts[i]++;
            break;
          }
        }
      };
      const h: Histogram & Metric = {
        name,
        observe(value, labels) {
          observeInto(series.get(labels), value);
        },
        bind(labels) {
          const cell = series.get(labels);
          return { observe: (value: number) => observeInto(cell, value) };
        },
        snapshot() {
          const out: HistogramSeries[] = [];
          for (const { values, data } of series.byKey.values()) {
            const buckets = new Array<number>(bounds.length);
            let cumulative = 0;
            for (let i = 0; i < bounds.length; i++) {
              cumulative += data.counts[i];
              buckets[i] = cumulative;
            }
            out.push({ labels: values, buckets, sum: data.sum, count: data.count });
          }
          return { type: 'histogram', name, help, labelNames, bounds, series: out };
        },
      };
      return register(h);
    },
    render: () => renderFamilies(snapshot()),
    snapshot,
  };
}
