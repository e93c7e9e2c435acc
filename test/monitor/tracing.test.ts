import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  echoHandler,
  httpRequest,
  op,
  openapi,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
} from '../harness.ts';
import { until } from '../kit/server.ts';

/** One span as an OTLP/JSON receiver sees it, with its resource's attributes beside it. */
interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, unknown>;
  status: { code?: number; message?: string };
  resource: Record<string, unknown>;
}

type AnyValue = {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
};

function plain(list: Array<{ key: string; value: AnyValue }> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list ?? [])
    out[key] =
      value.stringValue ??
      (value.intValue !== undefined ? Number(value.intValue) : undefined) ??
      value.boolValue ??
      value.doubleValue;
  return out;
}

/** A small OTLP/HTTP (JSON) traces receiver on 127.0.0.1: records every span posted to /v1/traces. */
async function startReceiver() {
  const spans: ReceivedSpan[] = [];
  const posts: http.IncomingHttpHeaders[] = [];
  const server = await startServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      posts.push(req.headers);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const rs of body.resourceSpans) {
        const resource = plain(rs.resource?.attributes);
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans) spans.push({ ...s, attributes: plain(s.attributes), resource });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return { server, spans, posts, endpoint: `${server.url}/v1/traces` };
}

/** Waits (bounded) until `find` returns something. */
const spec = openapi({
  '/items/{id}': { get: op('getItem') },
  '/fail': { get: op('fail') },
});

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

function gatewayConfig(upstream: string, tracing: Record<string, unknown>, limit = 1000) {
  return {
    tracing: { enabled: true, ...tracing },
    apis: [
      {
        name: 'items',
        spec: 'api.yaml',
        upstream: { url: upstream },
        policies: {
          ipRateLimit: {
            limits: [{ name: 'per-ip', algorithm: 'fixed-window', limit, windowSeconds: 3600 }],
          },
        },
      },
    ],
  };
}

describe('OpenTelemetry traces', () => {
  let upstream: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let gw: TestGateway;
  const upstreamTraceparents: string[] = [];

  before(async () => {
    upstream = await startServer((req, res) => {
      upstreamTraceparents.push(String(req.headers.traceparent));
      if (req.url === '/fail') {
        res.writeHead(503).end('down');
        return;
      }
      echoHandler(req, res);
    });
    receiver = await startReceiver();
    gw = await startGateway({
      specs: { 'api.yaml': spec },
      config: gatewayConfig(upstream.url, {
        endpoint: receiver.endpoint,
        serviceName: 'edge-gateway',
        headers: { authorization: 'Bearer collector-token' },
        resourceAttributes: { 'deployment.environment.name': 'test' },
        batch: { delayMs: 20 },
      }),
    });
  });

  after(async () => {
    await gw.close();
    await receiver.server.close();
    await upstream.close();
  });

  test('a request continuing a traceparent reaches the collector as a SERVER span of that trace, its parent the caller', async () => {
    const r = await httpRequest(gw.url, {
      path: '/items/7',
      headers: { traceparent: `00-${TRACE}-${PARENT}-01`, 'user-agent': 'trace-test/1' },
    });
    assert.equal(r.status, 200);
    const server = await until(
      () => receiver.spans.find((s) => s.traceId === TRACE && s.kind === 2),
      'the SERVER span',
    );
    assert.equal(server.parentSpanId, PARENT);
    assert.equal(server.name, 'GET /items/{id}');
    assert.deepEqual(
      {
        method: server.attributes['http.request.method'],
        path: server.attributes['url.path'],
        scheme: server.attributes['url.scheme'],
        route: server.attributes['http.route'],
        status: server.attributes['http.response.status_code'],
        port: server.attributes['server.port'],
        client: server.attributes['client.address'],
        agent: server.attributes['user_agent.original'],
        protocol: server.attributes['network.protocol.version'],
        operation: server.attributes['portcullis.operation_id'],
        decision: server.attributes['portcullis.decision'],
      },
      {
        method: 'GET',
        path: '/items/7',
        scheme: 'http',
        route: '/items/{id}',
        status: 200,
        port: Number(new URL(gw.url).port),
        client: '127.0.0.1',
        agent: 'trace-test/1',
        protocol: '1.1',
        operation: 'getItem',
        decision: 'allow',
      },
    );
    assert.equal(server.status.code, undefined);
    assert.equal(server.resource['service.name'], 'edge-gateway');
    assert.equal(server.resource['deployment.environment.name'], 'test');
    assert.ok(BigInt(server.endTimeUnixNano) >= BigInt(server.startTimeUnixNano));
    // Sent with the configured header fields, as JSON.
    assert.equal(receiver.posts.at(-1)?.authorization, 'Bearer collector-token');
    assert.equal(receiver.posts.at(-1)?.['content-type'], 'application/json');
  });

  test('each request policy and the upstream call are child spans, and the upstream is told the CLIENT span is its parent', async () => {
    const trace = 'aaaabbbbccccddddeeeeffff00001111';
    upstreamTraceparents.length = 0;
    await httpRequest(gw.url, { path: '/items/8', headers: { traceparent: `00-${trace}-${PARENT}-01` } });
    const server = await until(
      () => receiver.spans.find((s) => s.traceId === trace && s.kind === 2),
      'the SERVER span',
    );
    const children = receiver.spans.filter((s) => s.traceId === trace && s.parentSpanId === server.spanId);
    const policies = children.filter((s) => s.kind === 1);
    assert.deepEqual(
      policies.map((s) => s.name),
      // In stage order: the IP limit runs in the ban stage, before authentication.
      ['ban ban', 'ban ipRateLimit', 'authorize banPrincipal'],
    );
    const limit = policies.find((s) => s.name === 'ban ipRateLimit')!;
    assert.equal(limit.attributes['portcullis.policy.stage'], 'ban');
    assert.equal(limit.attributes['portcullis.policy.outcome'], 'pass');
    const client = children.find((s) => s.kind === 3);
    assert.ok(client, 'a CLIENT span for the upstream call');
    assert.equal(client.name, 'GET');
    assert.equal(client.attributes['http.response.status_code'], 200);
    assert.equal(client.attributes['url.full'], `${upstream.url}/items/8`);
    assert.equal(client.attributes['server.port'], upstream.port);
    assert.equal(upstreamTraceparents.at(-1), `00-${trace}-${client.spanId}-01`);
    // Children lie within their parent.
    for (const c of children) {
      assert.ok(BigInt(c.startTimeUnixNano) >= BigInt(server.startTimeUnixNano), c.name);
      assert.ok(BigInt(c.endTimeUnixNano) <= BigInt(server.endTimeUnixNano), c.name);
    }
  });

  test('an upstream 5xx marks the SERVER and CLIENT spans as errors', async () => {
    const trace = '0123456789abcdef0123456789abcdef';
    const r = await httpRequest(gw.url, {
      path: '/fail',
      headers: { traceparent: `00-${trace}-${PARENT}-01` },
    });
    assert.equal(r.status, 503);
    const server = await until(
      () => receiver.spans.find((s) => s.traceId === trace && s.kind === 2),
      'the SERVER span',
    );
    assert.equal(server.status.code, 2);
    assert.equal(server.attributes['error.type'], '503');
    const client = receiver.spans.find((s) => s.traceId === trace && s.kind === 3);
    assert.equal(client?.status.code, 2);
  });

  test('a request no operation declares has a SERVER span named by its method alone, without error status (4xx)', async () => {
    const trace = 'fedcba9876543210fedcba9876543210';
    const r = await httpRequest(gw.url, {
      path: '/nowhere',
      headers: { traceparent: `00-${trace}-${PARENT}-01` },
    });
    assert.equal(r.status, 404);
    const server = await until(
      () => receiver.spans.find((s) => s.traceId === trace && s.kind === 2),
      'the SERVER span',
    );
    assert.equal(server.name, 'GET');
    assert.equal(server.attributes['http.route'], undefined);
    assert.equal(server.attributes['http.response.status_code'], 404);
    assert.equal(server.status.code, undefined);
    assert.equal(receiver.spans.filter((s) => s.traceId === trace).length, 1);
  });

  test('a traceparent whose sampled flag is clear is not recorded, and the upstream sees the flag clear', async () => {
    const unsampled = '11111111111111111111111111111111';
    const marker = '22222222222222222222222222222222';
    upstreamTraceparents.length = 0;
    await httpRequest(gw.url, { path: '/items/1', headers: { traceparent: `00-${unsampled}-${PARENT}-00` } });
    assert.match(upstreamTraceparents.at(-1)!, new RegExp(`^00-${unsampled}-[0-9a-f]{16}-00$`));
    await httpRequest(gw.url, { path: '/items/2', headers: { traceparent: `00-${marker}-${PARENT}-01` } });
    // The later request's spans arriving means the earlier one's would have too.
    await until(() => receiver.spans.find((s) => s.traceId === marker), 'the sampled request');
    assert.equal(
      receiver.spans.some((s) => s.traceId === unsampled),
      false,
    );
  });
});

describe('OpenTelemetry trace sampling', () => {
  let upstream: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const upstreamTraceparents: string[] = [];

  before(async () => {
    upstream = await startServer((req, res) => {
      upstreamTraceparents.push(String(req.headers.traceparent));
      echoHandler(req, res);
    });
    receiver = await startReceiver();
  });

  after(async () => {
    await receiver.server.close();
    await upstream.close();
  });

  test('sampleRatio 0 sends nothing for new traces, and the upstream is told they are not sampled', async () => {
    const gw = await startGateway({
      specs: { 'api.yaml': spec },
      config: gatewayConfig(upstream.url, {
        endpoint: receiver.endpoint,
        serviceName: 'ratio-zero',
        sampleRatio: 0,
        batch: { delayMs: 1 },
      }),
    });
    upstreamTraceparents.length = 0;
    for (let i = 0; i < 20; i++)
      assert.equal((await httpRequest(gw.url, { path: `/items/${i}` })).status, 200);
    // Closing flushes whatever was queued.
    await gw.close();
    assert.equal(receiver.posts.length, 0);
    assert.equal(upstreamTraceparents.length, 20);
    for (const t of upstreamTraceparents) assert.match(t, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });

  test('sampleRatio 1 records every new trace, under the trace id the upstream received', async () => {
    const gw = await startGateway({
      specs: { 'api.yaml': spec },
      config: gatewayConfig(upstream.url, {
        endpoint: receiver.endpoint,
        serviceName: 'ratio-one',
        sampleRatio: 1,
      }),
    });
    upstreamTraceparents.length = 0;
    for (let i = 0; i < 5; i++) await httpRequest(gw.url, { path: `/items/${i}` });
    await gw.close();
    const servers = receiver.spans.filter((s) => s.resource['service.name'] === 'ratio-one' && s.kind === 2);
    assert.equal(servers.length, 5);
    assert.deepEqual(
      new Set(servers.map((s) => s.traceId)),
      new Set(upstreamTraceparents.map((t) => t.split('-')[1])),
    );
    for (const s of servers) assert.equal(s.parentSpanId, undefined);
  });

  test('the span of a policy that refuses says deny and why; the SERVER span carries the decision', async () => {
    const gw = await startGateway({
      specs: { 'api.yaml': spec },
      config: gatewayConfig(upstream.url, { endpoint: receiver.endpoint, serviceName: 'refusing' }, 1),
    });
    await httpRequest(gw.url, { path: '/items/1' });
    const r = await httpRequest(gw.url, { path: '/items/1' });
    assert.equal(r.status, 429);
    await gw.close();
    const server = receiver.spans.find(
      (s) =>
        s.resource['service.name'] === 'refusing' &&
        s.kind === 2 &&
        s.attributes['http.response.status_code'] === 429,
    );
    assert.ok(server);
    assert.equal(server.attributes['portcullis.denied_by'], 'ipRateLimit');
    assert.equal(server.status.code, undefined);
    const limit = receiver.spans.find(
      (s) => s.parentSpanId === server.spanId && s.name === 'ban ipRateLimit',
    );
    assert.equal(limit?.attributes['portcullis.policy.outcome'], 'deny');
    assert.equal(typeof limit?.attributes['portcullis.policy.reason'], 'string');
    // Refused before the upstream: no CLIENT span.
    assert.equal(
      receiver.spans.some((s) => s.traceId === server.traceId && s.kind === 3),
      false,
    );
  });

  test("with parentSampled: ignore, a sampled caller's flag does not override sampleRatio 0", async () => {
    const gw = await startGateway({
      specs: { 'api.yaml': spec },
      config: gatewayConfig(upstream.url, {
        endpoint: receiver.endpoint,
        serviceName: 'ignore-parent',
        sampleRatio: 0,
        parentSampled: 'ignore',
      }),
    });
    await httpRequest(gw.url, { path: '/items/1', headers: { traceparent: `00-${TRACE}-${PARENT}-01` } });
    await gw.close();
    assert.equal(
      receiver.spans.some((s) => s.resource['service.name'] === 'ignore-parent'),
      false,
    );
    assert.match(upstreamTraceparents.at(-1)!, new RegExp(`^00-${TRACE}-[0-9a-f]{16}-00$`));
  });
});

describe('OpenTelemetry export to a collector that is down', () => {
  let upstream: TestServer;

  before(async () => {
    upstream = await startServer(echoHandler);
  });
  after(() => upstream.close());

  /** The value of one series of a counter in the gateway's metrics. */
  function counter(gw: TestGateway, series: string): number {
    const line = gw.runtime.metrics
      .render()
      .split('\n')
      .find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.split(' ')[1]);
  }

  test('a collector that never answers fails no request; what does not fit the queue is dropped and counted', async () => {
    // Accepts connections and requests, answers nothing.
    const hung = await startServer(() => {});
    const gw = await startGateway({
      specs: { 'api.yaml': spec },
      config: gatewayConfig(upstream.url, {
        endpoint: `${hung.url}/v1/traces`,
        batch: { maxQueueSpans: 8, maxBatchSpans: 4, delayMs: 1, timeoutMs: 60_000 },
      }),
    });
    try {
      for (let i = 0; i < 30; i++) {
        const r = await httpRequest(gw.url, { path: `/items/${i}` });
        assert.equal(r.status, 200);
      }
      assert.ok(counter(gw, 'portcullis_tracing_spans_dropped_total{reason="queue_full"}') > 0);
      assert.equal(counter(gw, 'portcullis_tracing_spans_exported_total'), 0);
    } finally {
      await gw.close();
      await hung.close();
    }
  });

  test('a collector that refuses connections fails no request; the failed batches are dropped and counted', async () => {
    const gone = await startServer(() => {});
    const endpoint = `${gone.url}/v1/traces`;
    await gone.close();
    const gw = await startGateway({
      specs: { 'api.yaml': spec },
      config: gatewayConfig(upstream.url, { endpoint, batch: { maxBatchSpans: 1, delayMs: 1 } }),
    });
    try {
      for (let i = 0; i < 10; i++)
        assert.equal((await httpRequest(gw.url, { path: `/items/${i}` })).status, 200);
      await until(
        () =>
          counter(gw, 'portcullis_tracing_spans_dropped_total{reason="export_failed"}') > 0
            ? true
            : undefined,
        'a counted export failure',
      );
    } finally {
      await gw.close();
    }
  });
});
