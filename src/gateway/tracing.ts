/**
 * The request's spans, as the lifecycle records them when tracing is on (`GatewayContext.tracer`): the
 * SERVER span (OpenTelemetry HTTP semantic conventions), started on arrival and ended in `finish`, and the
 * upstream call's CLIENT span. The request policies' spans are made by `runRequestHooksTraced`
 * (pipeline.ts). Nothing here runs when tracing is off: the callers check `f.span` (or the tracer) first.
 */
import { performance } from 'node:perf_hooks';
import { SPAN_KIND, type Tracer } from '../core/tracing.ts';
import type { Flight } from './flight.ts';
import type { ApiRuntime } from './snapshot.ts';

/** Methods the semantic conventions know; any other is recorded as `_OTHER`. */
const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'QUERY',
]);

/**
 * Decides whether the request is recorded and starts its SERVER span. An unsampled request forwards the
 * trace with the sampled flag cleared, so the services behind agree with the decision.
 */
export function startServerSpan(tracer: Tracer, f: Flight): void {
  const header = f.req.headers.traceparent;
  // continueTrace kept the incoming trace id exactly when the header was valid.
  const continued = typeof header === 'string' && header.slice(3, 35) === f.trace.traceId;
  f.span = tracer.startRequest({
    traceId: f.trace.traceId,
    spanId: f.trace.spanId,
    parentSpanId: continued ? header.slice(36, 52) : undefined,
    parentSampled: continued ? (Number.parseInt(header.slice(53, 55), 16) & 1) === 1 : undefined,
    trustedPeer: f.trustedPeer,
    startMs: f.startedAt,
  });
  if (f.span === null) f.traceparent = `00-${f.trace.traceId}-${f.trace.spanId}-00`;
}

/** The upstream call starts: its span id becomes the parent id the upstream receives. */
export function startClientSpan(f: Flight, headers: Record<string, string | string[]>): void {
  const id = f.span!.newSpanId();
  f.upstreamSpanId = id;
  headers.traceparent = `00-${f.trace.traceId}-${id}-01`;
}

/** The upstream call is over (its response relayed, or failed with `err`). */
export function endClientSpan(f: Flight, a: ApiRuntime, err?: unknown): void {
  const span = f.span;
  const id = f.upstreamSpanId;
  if (span === null || id === undefined) return;
  f.upstreamSpanId = undefined;
  const up = a.upstream;
  const hostPort = up.origin.slice(up.origin.indexOf('//') + 2);
  const colon = hostPort.lastIndexOf(':');
  const hasPort = colon > hostPort.lastIndexOf(']');
  const status = f.upstreamStatus;
  const error =
    err !== undefined
      ? ((err as { code?: string } | null)?.code ?? (err as Error | null)?.name ?? 'error')
      : status >= 500
        ? String(status)
        : undefined;
  const method = KNOWN_METHODS.has(f.method) ? f.method : '_OTHER';
  span.child(
    method === '_OTHER' ? 'HTTP' : method,
    SPAN_KIND.client,
    f.dispatchedAt,
    performance.now(),
    {
      'http.request.method': method,
      'http.request.method_original': method === '_OTHER' ? f.method : undefined,
      'server.address': hasPort ? hostPort.slice(0, colon) : hostPort,
      'server.port': hasPort ? Number(hostPort.slice(colon + 1)) : up.origin.startsWith('https:') ? 443 : 80,
      // The query is left out: it may carry credentials (API keys in query parameters).
      'url.full': up.origin + up.basePath + f.path,
      'http.response.status_code': status > 0 ? status : undefined,
      'error.type': error,
    },
    error,
    id,
  );
}

/**
 * Ends the SERVER span once the response is closed. If the upstream call is still being settled, the span
 * ends after it, so the CLIENT span is part of the request's batch.
 */
export function endServerSpan(f: Flight, status: number, endMs: number): void {
  if (f.upstreamSpanId !== undefined && f.dispatching) {
    // The request's span holds its children: it ends when the upstream call has been settled.
    f.afterDispatch(() => endServerSpan(f, status, performance.now()));
    return;
  }
  const { req, route } = f;
  const method = KNOWN_METHODS.has(f.method) ? f.method : '_OTHER';
  const httpRoute = route ? route.api.config.basePath + route.operation.path : undefined;
  const nameMethod = method === '_OTHER' ? 'HTTP' : method;
  const sent = status !== 499;
  const error = status >= 500 ? (f.decision !== 'allow' ? f.decision : String(status)) : undefined;
  f.span!.end(
    httpRoute === undefined ? nameMethod : `${nameMethod} ${httpRoute}`,
    endMs,
    {
      'http.request.method': method,
      'http.request.method_original': method === '_OTHER' ? f.method : undefined,
      'url.path': f.rawPath,
      'url.scheme': f.fwd.proto,
      'http.route': httpRoute,
      'http.response.status_code': sent ? status : undefined,
      'error.type': error,
      'server.address': f.host || undefined,
      'server.port': serverPort(req.headers.host, f.fwd.proto),
      'client.address': f.fwd.clientIp,
      'network.peer.address': f.peerIp,
      'network.peer.port': req.socket.remotePort,
      'network.protocol.version': req.httpVersion,
      'user_agent.original': req.headers['user-agent'],
      'portcullis.request_id': f.id,
      'portcullis.api': route?.api.config.name ?? f.api?.config.name,
      'portcullis.operation_id': route?.operation.id,
      'portcullis.decision': f.decision,
      'portcullis.denied_by': f.deniedBy,
    },
    error,
  );
}

/** The port the client addressed: the Host header's, else the scheme's default. */
function serverPort(host: string | undefined, scheme: string): number {
  if (host !== undefined) {
    const colon = host.lastIndexOf(':');
    if (colon > host.lastIndexOf(']')) {
      const port = Number(host.slice(colon + 1));
      if (Number.isInteger(port)) return port;
    }
  }
  return scheme === 'https' ? 443 : 80;
}
