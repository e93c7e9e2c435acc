/**
 * A lean OpenTelemetry tracer: the gateway's request spans, sampled by ratio (parent-based), queued in a
 * bounded buffer and exported over OTLP/HTTP (JSON encoding) in batches by a timer, never on the request
 * path. A request costs a few small objects; serialization and the HTTP call happen at export time.
 *
 * Why not the official SDK: bench/tracing.ts measures both on the same spans (see docs/watch.md, Tracing).
 */
import { randomFillSync } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { MetricsRegistry } from '../../core/metrics.ts';
import type { RequestSpan, SpanAttributes, SpanKind, Tracer, TraceStart } from '../../core/tracing.ts';
import { SPAN_KIND } from '../../core/tracing.ts';
import type { TracingConfig } from './schema.ts';

/** One finished child span. */
interface ChildSpan {
  readonly spanId: string;
  readonly name: string;
  readonly kind: SpanKind;
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: SpanAttributes;
  readonly error: string | undefined;
}

/** Random span ids from a pooled buffer (one CSPRNG call per 4 KiB). */
function spanIdSource(): () => string {
  const pool = Buffer.allocUnsafe(4096);
  let offset = pool.length;
  return () => {
    if (offset + 8 > pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    const id = pool.toString('hex', offset, offset + 8);
    offset += 8;
    return id;
  };
}

/** A sampled request's SERVER span and its children, queued as one unit when it ends. */
class ServerSpan implements RequestSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly startMs: number;
  name = '';
  endMs = 0;
  attributes: SpanAttributes | undefined = undefined;
  error: string | undefined = undefined;
  children: ChildSpan[] | null = null;
  ended = false;
  readonly tracer: LeanTracer;

  constructor(tracer: LeanTracer, start: TraceStart) {
    this.tracer = tracer;
    this.traceId = start.traceId;
    this.spanId = start.spanId;
    this.parentSpanId = start.parentSpanId;
    this.startMs = start.startMs;
  }

  newSpanId(): string {
    return this.tracer.newSpanId();
  }

  child(
    name: string,
    kind: SpanKind,
    startMs: number,
    endMs: number,
    attributes: SpanAttributes,
    error?: string,
    spanId?: string,
  ): void {
    if (this.ended) return;
    const c: ChildSpan = {
      spanId: spanId ?? this.tracer.newSpanId(),
      name,
      kind,
      startMs,
      endMs,
      attributes,
      error,
    };
    if (this.children === null) this.children = [c];
    else this.children.push(c);
  }

  end(name: string, endMs: number, attributes: SpanAttributes, error?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.name = name;
    this.endMs = endMs;
    this.attributes = attributes;
    this.error = error;
    this.tracer.enqueue(this);
  }

  get spanCount(): number {
    return 1 + (this.children === null ? 0 : this.children.length);
  }
}

/** Unix nanoseconds of a `performance.now()` time, as the decimal string OTLP/JSON uses for uint64. */
export function unixNanos(ms: number): string {
  const t = performance.timeOrigin + ms;
  const whole = Math.floor(t);
  const ns = Math.min(999_999, Math.round((t - whole) * 1e6));
  return `${whole}${String(ns).padStart(6, '0')}`;
}

/** `{"key":"…","value":` by attribute key: the keys are the code's own, a few dozen. */
const keyHeads = new Map<string, string>();
function keyHead(key: string): string {
  let head = keyHeads.get(key);
  if (head === undefined) {
    head = `{"key":${JSON.stringify(key)},"value":`;
    if (keyHeads.size < 1000) keyHeads.set(key, head);
  }
  return head;
}

/** OTLP/JSON `AnyValue` of one attribute; integers as int64 strings, other numbers as doubles. */
function attributeJson(key: string, v: string | number | boolean): string {
  const k = keyHead(key);
  if (typeof v === 'string') return `${k}{"stringValue":${JSON.stringify(v)}}}`;
  if (typeof v === 'boolean') return `${k}{"boolValue":${v}}}`;
  if (Number.isInteger(v)) return `${k}{"intValue":"${v}"}}`;
  return `${k}{"doubleValue":${Number.isFinite(v) ? v : 0}}}`;
}

function attributesJson(attrs: SpanAttributes | undefined): string {
  if (attrs === undefined) return '[]';
  let out = '';
  for (const key in attrs) {
    const v = attrs[key];
    if (v !== undefined) out += out === '' ? attributeJson(key, v) : `,${attributeJson(key, v)}`;
  }
  return `[${out}]`;
}

function spanJson(
  traceId: string,
  spanId: string,
  parentSpanId: string | undefined,
  name: string,
  kind: SpanKind,
  startMs: number,
  endMs: number,
  attrs: SpanAttributes | undefined,
  error: string | undefined,
): string {
  const parent = parentSpanId === undefined ? '' : `"parentSpanId":"${parentSpanId}",`;
  const status = error === undefined ? '{}' : `{"code":2,"message":${JSON.stringify(error)}}`;
  return `{"traceId":"${traceId}","spanId":"${spanId}",${parent}"name":${JSON.stringify(name)},"kind":${kind},"startTimeUnixNano":"${unixNanos(startMs)}","endTimeUnixNano":"${unixNanos(Math.max(startMs, endMs))}","attributes":${attributesJson(attrs)},"status":${status}}`;
}

/** The spans of one request in OTLP/JSON (the SERVER span first). */
function requestSpansJson(s: ServerSpan, out: string[]): void {
  out.push(
    spanJson(
      s.traceId,
      s.spanId,
      s.parentSpanId,
      s.name,
      SPAN_KIND.server,
      s.startMs,
      s.endMs,
      s.attributes,
      s.error,
    ),
  );
  if (s.children === null) return;
  for (const c of s.children)
    out.push(
      spanJson(s.traceId, c.spanId, s.spanId, c.name, c.kind, c.startMs, c.endMs, c.attributes, c.error),
    );
}

export interface TracerDeps {
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  /** The `service.version` resource attribute. */
  readonly version?: string;
}

/** What one export attempt came to. */
type ExportResult = { ok: true } | { ok: false; why: string };

export class LeanTracer implements Tracer {
  readonly #config: TracingConfig;
  readonly #logger: Logger;
  readonly #url: URL;
  readonly #agent: http.Agent;
  readonly #send: typeof http.request;
  readonly #headers: Record<string, string>;
  /** `{"resourceSpans":[{"resource":…,"scopeSpans":[{"scope":…,"spans":[` — the fixed head of every body. */
  readonly #bodyHead: string;
  /** The ratio as a threshold on the trace id's low 52 bits. */
  readonly #threshold: number;
  readonly newSpanId = spanIdSource();

  /** Ended requests waiting for export, from `#head` on (taken from the front without shifting). */
  #queue: ServerSpan[] = [];
  #head = 0;
  #queuedSpans = 0;
  #timer: NodeJS.Timeout | undefined = undefined;
  #exporting: Promise<void> | undefined = undefined;
  #closed = false;
  #failing = false;
  readonly #exported: { inc(by?: number): void };
  readonly #droppedFull: { inc(by?: number): void };
  readonly #droppedFailed: { inc(by?: number): void };
  readonly #droppedShutdown: { inc(by?: number): void };

  constructor(config: TracingConfig, deps: TracerDeps) {
    this.#config = config;
    this.#logger = deps.logger;
    this.#url = new URL(config.endpoint);
    const secure = this.#url.protocol === 'https:';
    this.#agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets: 1 })
      : new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.#send = secure ? https.request : http.request;
    this.#headers = { ...config.headers, 'content-type': 'application/json' };
    this.#threshold = config.sampleRatio * 2 ** 52;
    const resource: SpanAttributes = {
      ...config.resourceAttributes,
      'service.name': config.serviceName,
      'service.version': deps.version,
      'telemetry.sdk.name': 'portcullis',
      'telemetry.sdk.language': 'nodejs',
    };
    this.#bodyHead = `{"resourceSpans":[{"resource":{"attributes":${attributesJson(resource)}},"scopeSpans":[{"scope":{"name":"portcullis.gateway"${deps.version ? `,"version":${JSON.stringify(deps.version)}` : ''}},"spans":[`;
    const spans = deps.metrics.counter(
      'portcullis_tracing_spans_exported_total',
      'Spans the OTLP collector accepted.',
    );
    const dropped = deps.metrics.counter(
      'portcullis_tracing_spans_dropped_total',
      'Spans not exported: the queue was full (`queue_full`), the collector failed or did not answer in time (`export_failed`), or still queued when the process stopped (`shutdown`).',
      ['reason'],
    );
    this.#exported = spans.bind();
    this.#droppedFull = dropped.bind({ reason: 'queue_full' });
    this.#droppedFailed = dropped.bind({ reason: 'export_failed' });
    this.#droppedShutdown = dropped.bind({ reason: 'shutdown' });
  }

  startRequest(start: TraceStart): RequestSpan | null {
    if (this.#closed) return null;
    const p = this.#config.parentSampled;
    const fromParent =
      start.parentSampled !== undefined && (p === 'honor' || (p === 'trustedProxies' && start.trustedPeer));
    const sampled = fromParent ? start.parentSampled! : this.#ratioSamples(start.traceId);
    return sampled ? new ServerSpan(this, start) : null;
  }

  /** Ratio sampling on the trace id's last 13 hex digits (52 random bits), alike on every instance. */
  #ratioSamples(traceId: string): boolean {
    if (this.#threshold <= 0) return false;
    if (this.#threshold >= 2 ** 52) return true;
    return Number.parseInt(traceId.slice(19), 16) < this.#threshold;
  }

  /** Queues an ended request's spans; drops and counts them when the queue is full. */
  enqueue(s: ServerSpan): void {
    const n = s.spanCount;
    if (this.#closed || this.#queuedSpans + n > this.#config.batch.maxQueueSpans) {
      this.#droppedFull.inc(n);
      return;
    }
    this.#queue.push(s);
    this.#queuedSpans += n;
    if (this.#exporting !== undefined) return;
    if (this.#queuedSpans >= this.#config.batch.maxBatchSpans) this.#schedule(0);
    else if (this.#timer === undefined) this.#schedule(this.#config.batch.delayMs);
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#exportNext();
    }, ms);
    this.#timer.unref();
  }

  /** Sends one batch, then the next one if a full batch is waiting, else arms the timer. */
  #exportNext(): void {
    if (this.#exporting !== undefined || this.#head === this.#queue.length) return;
    this.#exporting = this.#exportBatch().then(() => {
      this.#exporting = undefined;
      if (this.#closed || this.#head === this.#queue.length) return;
      if (this.#queuedSpans >= this.#config.batch.maxBatchSpans) this.#schedule(0);
      else this.#schedule(this.#config.batch.delayMs);
    });
  }

  /** Takes up to a batch of queued requests (whole requests, at least one) and exports them. */
  async #exportBatch(): Promise<void> {
    const max = this.#config.batch.maxBatchSpans;
    const queue = this.#queue;
    let spans = 0;
    const parts: string[] = [];
    while (this.#head < queue.length) {
      const s = queue[this.#head];
      if (parts.length > 0 && spans + s.spanCount > max) break;
      spans += s.spanCount;
      requestSpansJson(s, parts);
      // Let the request's spans go now, not when the queue is next compacted.
      (queue as Array<ServerSpan | undefined>)[this.#head++] = undefined;
    }
    if (this.#head === queue.length) {
      queue.length = 0;
      this.#head = 0;
    } else if (this.#head >= 4096 && this.#head * 2 >= queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
    this.#queuedSpans -= spans;
    const body = `${this.#bodyHead}${parts.join(',')}]}]}]}`;
    const result = await this.#post(body);
    if (result.ok) {
      this.#exported.inc(spans);
      if (this.#failing) {
        this.#failing = false;
        this.#logger.info({ endpoint: this.#config.endpoint }, 'trace export recovered');
      }
      return;
    }
    this.#droppedFailed.inc(spans);
    if (!this.#failing) {
      this.#failing = true;
      this.#logger.warn(
        { endpoint: this.#config.endpoint, reason: result.why },
        'trace export failed; spans are dropped until the collector answers',
      );
    }
  }

  #post(body: string): Promise<ExportResult> {
    return new Promise((resolve) => {
      const payload = Buffer.from(body);
      const req = this.#send(this.#url, {
        method: 'POST',
        agent: this.#agent,
        headers: { ...this.#headers, 'content-length': payload.length },
      });
      const timer = setTimeout(() => {
        req.destroy(new Error(`no answer within ${this.#config.batch.timeoutMs} ms`));
      }, this.#config.batch.timeoutMs);
      timer.unref();
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => {
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          resolve(status >= 200 && status < 300 ? { ok: true } : { ok: false, why: `status ${status}` });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          resolve({ ok: false, why: err.message });
        });
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        resolve({ ok: false, why: (err as NodeJS.ErrnoException).code ?? err.message });
      });
      req.end(payload);
    });
  }

  /** Queued spans (for tests and the admin view). */
  get queuedSpans(): number {
    return this.#queuedSpans;
  }

  /** Sends everything queued now (one batch after another); resolves when done. */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#exporting !== undefined || this.#head < this.#queue.length) {
      if (this.#exporting === undefined) this.#exportNext();
      await this.#exporting;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Whatever is queued gets one bounded chance to go out.
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
    await Promise.race([this.flush(), deadline]);
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const left = this.#queuedSpans;
    if (left > 0) this.#droppedShutdown.inc(left);
    this.#queue = [];
    this.#head = 0;
    this.#queuedSpans = 0;
    this.#agent.destroy();
  }
}

/** Creates the tracer for a `tracing:` config (enabled). */
export function createTracer(config: TracingConfig, deps: TracerDeps): LeanTracer {
  return new LeanTracer(config, deps);
}
