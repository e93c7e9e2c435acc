/**
 * A small Prometheus registry: counters, gauges and histograms with fixed label names, rendered in the
 * text exposition format (0.0.4). Label children are created once and reused, so recording is a Map
 * lookup and an add.
 */

type Labels = Readonly<Record<string, string>>;

interface Metric {
  readonly name: string;
  render(out: string[]): void;
}

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
  gauge(name: string, help: string, labelNames?: readonly string[], collect?: () => number): Gauge;
  histogram(
    name: string,
    help: string,
    labelNames?: readonly string[],
    buckets?: readonly number[],
  ): Histogram;
  /** The whole registry in Prometheus text format. */
  render(): string;
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
        render(out) {
          out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
          for (const { values, data } of series.byKey.values()) {
            out.push(`${name}${labelText(labelNames, values)} ${formatNumber(data.v)}`);
          }
        },
      };
      return register(c);
    },
    gauge(name, help, labelNames = [], collect) {
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
        render(out) {
          out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
          if (collect) series.get(undefined).v = collect();
          for (const { values, data } of series.byKey.values()) {
            out.push(`${name}${labelText(labelNames, values)} ${formatNumber(data.v)}`);
          }
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
        render(out) {
          out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
          for (const { values, data } of series.byKey.values()) {
            let cumulative = 0;
            for (let i = 0; i < bounds.length; i++) {
              cumulative += data.counts[i];
              out.push(`${name}_bucket${labelText(labelNames, values, `le="${bounds[i]}"`)} ${cumulative}`);
            }
            out.push(`${name}_bucket${labelText(labelNames, values, 'le="+Inf"')} ${data.count}`);
            out.push(`${name}_sum${labelText(labelNames, values)} ${formatNumber(data.sum)}`);
            out.push(`${name}_count${labelText(labelNames, values)} ${data.count}`);
          }
        },
      };
      return register(h);
    },
    render() {
      const out: string[] = [];
      for (const m of metrics.values()) m.render(out);
      return `${out.join('\n')}\n`;
    },
  };
}
