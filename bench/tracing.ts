/**
 * `node bench/tracing.ts`: what tracing a request costs, Portcullis's lean tracer (src/monitor/tracing/)
 * beside the official OpenTelemetry JS SDK (BasicTracerProvider + BatchSpanProcessor + the OTLP/HTTP JSON
 * exporter), both recording the spans the gateway records for one request (a SERVER span with the HTTP
 * semantic-convention attributes, three policy spans, the upstream CLIENT span and its traceparent) and
 * exporting them to the same local receiver. `off` is the loop alone (tracing off: one null check).
 *
 * Each contender runs in its own process (A B B A order, ROUNDS times); the figure is the process's CPU
 * time (all threads: GC helpers and the exporter's socket work included) per request, after a warm-up,
 * until everything recorded has been exported. The receiver runs in this (parent) process and counts the
 * spans it got, so a contender that dropped spans is caught.
 *
 * The SDK is not a dependency of Portcullis: install it outside the project to compare, e.g.
 *   mkdir -p /tmp/otelbench && cd /tmp/otelbench && npm init -y && npm i @opentelemetry/api \
 *     @opentelemetry/core @opentelemetry/resources @opentelemetry/sdk-trace-base @opentelemetry/exporter-trace-otlp-http
 * and point OTEL_SDK_DIR at that folder (default /tmp/otelbench). Without it only `off` and `lean` run.
 *
 * Environment: TRACE_BENCH_REQUESTS (measured requests per run, default 100000), TRACE_BENCH_ROUNDS (default 3).
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import { pino } from 'pino';
import { createMetrics } from '../src/core/metrics.ts';
import { SPAN_KIND } from '../src/core/tracing.ts';
import { resolveTracingConfig } from '../src/monitor/tracing/schema.ts';
import { createTracer } from '../src/monitor/tracing/tracer.ts';

const REQUESTS = Number(process.env.TRACE_BENCH_REQUESTS ?? 100_000);
const ROUNDS = Number(process.env.TRACE_BENCH_ROUNDS ?? 3);
const SDK_DIR = process.env.OTEL_SDK_DIR ?? '/tmp/otelbench';
const WARMUP = 20_000;
const CHUNK = 200;
const BATCH = { maxQueueSpans: 16_384, maxBatchSpans: 512, delayMs: 200 };
/**
 * Requests between two forced flushes: a steady state where the exporter keeps up (no span is dropped — the
 * table checks it — so all export work is counted) and spans live about as long as under real traffic.
 */
const FLUSH_EVERY = 1000;

type Contender = 'off' | 'lean' | 'sdk';

/** One request's worth of tracing work, as the gateway would do it; returns the traceparent sent upstream. */
type TraceOne = (traceparent: string, i: number) => string;

const POLICIES = [
  ['ban ban', 'ban', 'ban'],
  ['ban ipRateLimit', 'ipRateLimit', 'ban'],
  ['authenticate authenticate', 'authenticate', 'authenticate'],
] as const;

function serverAttributes(i: number) {
  return {
    'http.request.method': 'GET',
    'url.path': `/items/${i & 1023}`,
    'url.scheme': 'http',
    'http.route': '/items/{id}',
    'http.response.status_code': 200,
    'server.address': 'api.example.com',
    'server.port': 8080,
    'client.address': '127.0.0.1',
    'network.peer.address': '127.0.0.1',
    'network.peer.port': 40000 + (i & 1023),
    'network.protocol.version': '1.1',
    'user_agent.original': 'bench/1.0',
    'portcullis.request_id': 'abcdef0123456789abcd',
    'portcullis.api': 'items',
    'portcullis.operation_id': 'getItem',
    'portcullis.decision': 'allow',
  };
}

function clientAttributes(i: number) {
  return {
    'http.request.method': 'GET',
    'server.address': '127.0.0.1',
    'server.port': 9000,
    'url.full': `http://127.0.0.1:9000/items/${i & 1023}`,
    'http.response.status_code': 200,
  };
}

function leanContender(endpoint: string): { trace: TraceOne; flush: () => Promise<void> } {
  const tracer = createTracer(resolveTracingConfig({ enabled: true, endpoint, batch: BATCH }), {
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(),
  });
  const trace: TraceOne = (traceparent, i) => {
    const span = tracer.startRequest({
      traceId: traceparent.slice(3, 35),
      spanId: tracer.newSpanId(),
      parentSpanId: traceparent.slice(36, 52),
      parentSampled: true,
      trustedPeer: false,
      startMs: performance.now(),
    })!;
    for (const [name, policy, stage] of POLICIES) {
      const t0 = performance.now();
      span.child(name, SPAN_KIND.internal, t0, performance.now(), {
        'portcullis.policy.name': policy,
        'portcullis.policy.stage': stage,
        'portcullis.policy.mode': 'enforce',
        'portcullis.policy.outcome': 'pass',
        'portcullis.policy.reason': undefined,
      });
    }
    const id = span.newSpanId();
    const upstream = `00-${span.traceId}-${id}-01`;
    const t1 = performance.now();
    span.child('GET', SPAN_KIND.client, t1, performance.now(), clientAttributes(i), undefined, id);
    span.end('GET /items/{id}', performance.now(), serverAttributes(i));
    return upstream;
  };
  return { trace, flush: () => tracer.flush() };
}

function sdkContender(endpoint: string): { trace: TraceOne; flush: () => Promise<void> } {
  const require = createRequire(path.join(SDK_DIR, 'package.json'));
  const api = require('@opentelemetry/api');
  const core = require('@opentelemetry/core');
  const { resourceFromAttributes } = require('@opentelemetry/resources');
  const sdk = require('@opentelemetry/sdk-trace-base');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
  const processor = new sdk.BatchSpanProcessor(
    new OTLPTraceExporter({ url: endpoint, concurrencyLimit: 100_000 }),
    {
      maxQueueSize: BATCH.maxQueueSpans,
      maxExportBatchSize: BATCH.maxBatchSpans,
      scheduledDelayMillis: BATCH.delayMs,
    },
  );
  const provider = new sdk.BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'portcullis' }),
    sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(1) }),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('portcullis.gateway');
  const propagator = new core.W3CTraceContextPropagator();
  const { ROOT_CONTEXT, SpanKind, trace: traceApi, defaultTextMapGetter, defaultTextMapSetter } = api;
  const trace: TraceOne = (traceparent, i) => {
    const parent = propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
    const server = tracer.startSpan('GET /items/{id}', { kind: SpanKind.SERVER }, parent);
    const ctx = traceApi.setSpan(parent, server);
    for (const [name, policy, stage] of POLICIES) {
      const s = tracer.startSpan(name, { kind: SpanKind.INTERNAL }, ctx);
      s.setAttributes({
        'portcullis.policy.name': policy,
        'portcullis.policy.stage': stage,
        'portcullis.policy.mode': 'enforce',
        'portcullis.policy.outcome': 'pass',
      });
      s.end();
    }
    const client = tracer.startSpan('GET', { kind: SpanKind.CLIENT }, ctx);
    const carrier: Record<string, string> = {};
    propagator.inject(traceApi.setSpan(ctx, client), carrier, defaultTextMapSetter);
    client.setAttributes(clientAttributes(i));
    client.end();
    server.setAttributes(serverAttributes(i));
    server.end();
    return carrier.traceparent;
  };
  return { trace, flush: () => processor.forceFlush() };
}

/** Child: runs one contender and reports CPU µs and GC ms per request. */
async function runChild(contender: Contender, endpoint: string): Promise<void> {
  const parents: string[] = [];
  for (let i = 0; i < 1024; i++) {
    const hex = (n: number) =>
      Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
    parents.push(`00-${hex(32)}-${hex(16)}-01`);
  }
  const c =
    contender === 'lean'
      ? leanContender(endpoint)
      : contender === 'sdk'
        ? sdkContender(endpoint)
        : { trace: ((t: string) => t) as TraceOne, flush: async () => {} };
  let sink = 0;
  /** Time spent recording (the request path's share), apart from the export work between chunks. */
  let recordMs = 0;
  const run = async (n: number) => {
    for (let i = 0; i < n; i += CHUNK) {
      const t = performance.now();
      for (let j = i; j < i + CHUNK && j < n; j++) sink += c.trace(parents[j & 1023], j).length;
      recordMs += performance.now() - t;
      if ((i + CHUNK) % FLUSH_EVERY === 0) await c.flush();
      else await yieldLoop();
    }
    await c.flush();
  };
  await run(WARMUP);
  let gcMs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  obs.observe({ entryTypes: ['gc'] });
  recordMs = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(REQUESTS);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await yieldLoop();
  obs.disconnect();
  process.send!({
    cpuUs: (cpu.user + cpu.system) / REQUESTS,
    recordUs: (recordMs * 1000) / REQUESTS,
    wallUs: (wall * 1000) / REQUESTS,
    gcUs: (gcMs * 1000) / REQUESTS,
    sink,
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function runParent(): Promise<void> {
  const received = new Map<string, number>();
  const spans = new Map<string, number>();
  let current = '';
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (b: Buffer) => chunks.push(b));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.set(current, (received.get(current) ?? 0) + body.length);
      let n = 0;
      for (const rs of JSON.parse(body.toString()).resourceSpans)
        for (const ss of rs.scopeSpans) n += ss.spans.length;
      spans.set(current, (spans.get(current) ?? 0) + n);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/traces`;
  const haveSdk = existsSync(path.join(SDK_DIR, 'node_modules/@opentelemetry/sdk-trace-base'));
  if (!haveSdk)
    process.stdout.write(`(no OpenTelemetry SDK under ${SDK_DIR}: see the header of this file)\n`);
  const contenders: Contender[] = haveSdk ? ['off', 'lean', 'sdk'] : ['off', 'lean'];
  const results = new Map<
    Contender,
    Array<{ cpuUs: number; recordUs: number; wallUs: number; gcUs: number }>
  >();
  const runOne = (c: Contender) =>
    new Promise<void>((resolve, reject) => {
      current = c;
      const child = fork(import.meta.filename, ['--child', c, endpoint], { stdio: 'inherit' });
      child.on('message', (m: { cpuUs: number; recordUs: number; wallUs: number; gcUs: number }) => {
        const list = results.get(c) ?? [];
        list.push(m);
        results.set(c, list);
      });
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${c} exited ${code}`))));
    });
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? contenders : [...contenders].reverse();
    for (const c of order) await runOne(c);
  }
  receiver.close();
  process.stdout.write(
    `tracing cost per request (${REQUESTS} requests × ${ROUNDS} runs each; 5 spans a request; median)\n`,
  );
  process.stdout.write(
    'contender  cpu µs/req  record µs/req  wall µs/req  gc µs/req  OTLP bytes/req  spans exported\n',
  );
  for (const c of contenders) {
    const list = results.get(c) ?? [];
    const bytes = (received.get(c) ?? 0) / ((REQUESTS + WARMUP) * ROUNDS);
    process.stdout.write(
      `${c.padEnd(9)}  ${median(list.map((x) => x.cpuUs))
        .toFixed(2)
        .padStart(10)}  ${median(list.map((x) => x.recordUs))
        .toFixed(2)
        .padStart(13)}  ${median(list.map((x) => x.wallUs))
        .toFixed(2)
        .padStart(11)}  ${median(list.map((x) => x.gcUs))
        .toFixed(2)
        .padStart(
          9,
        )}  ${bytes.toFixed(0).padStart(14)}  ${String(spans.get(c) ?? 0).padStart(14)} of ${c === 'off' ? 0 : 5 * (REQUESTS + WARMUP) * ROUNDS}\n`,
    );
  }
}

if (process.argv[2] === '--child') {
  await runChild(process.argv[3] as Contender, process.argv[4]);
  process.exit(0);
} else await runParent();
