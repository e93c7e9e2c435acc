import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { EventSink } from '../core/events.ts';
import type { Exchange, Principal, RouteMatch } from '../core/exchange.ts';
import type { Problem } from '../core/problems.ts';
import type { RequestSpan, Tracer } from '../core/tracing.ts';
import { type ForwardingInfo, resolveForwarding } from '../shared/forwarding.ts';
import type { CircuitPermit } from './circuit-breaker.ts';
import type { AccessRecord, BodyObserver } from './deps.ts';
import { continueTrace, requestId, type TraceContext } from './headers.ts';
import type { ApiRuntime, Route, Snapshot } from './snapshot.ts';
import type { ClientGone, StreamedBodies } from './streams.ts';

/** A counter of the metrics registry, as the request path uses it. */
interface Counter {
  inc(labels: Record<string, string>): void;
}

/** What every request of one gateway shares: outputs, metrics and the tables that outlive a snapshot. */
export interface GatewayContext {
  readonly logger: Logger;
  readonly events: EventSink;
  readonly accessLog: ((rec: AccessRecord) => void) | undefined;
  /**
   * Someone reads the access event's `@timestamp`: the event sink, or the logger standing in for the
   * access log (the access log's own lines carry their time).
   */
  readonly stampEvents: boolean;
  readonly observeBodies: BodyObserver | undefined;
  /** Null when tracing is off. */
  readonly tracer: Tracer | null;
  /** The duration histogram's child for these labels (one Map lookup per request). */
  durationCell(api: string, route: string, method: string, status: number): { observe(v: number): void };
  /** Logs that a report-mode policy would have refused the request (one function for every request). */
  readonly reportWouldReject: (policy: string, p: Problem, ex: Exchange) => void;
  readonly upstreamErrors: Counter;
  readonly decisions: Counter;
  readonly streamedBodies: StreamedBodies;
  /** Requests being handled now, across snapshots. */
  inFlight: number;
}

/**
 * One request on its way through the gateway: what was read of it on arrival, and what each step of
 * the lifecycle (src/gateway/lifecycle.ts) found out. Policies see the `Exchange` made from it once an
 * operation matched; the rest is the gateway's own bookkeeping. All fields exist from the start, so
 * every flight has one shape.
 */
export class Flight {
  readonly ctx: GatewayContext;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The snapshot the request started on; a reload does not change it mid-request. */
  readonly snap: Snapshot;
  readonly startedAt: number;
  readonly peerIp: string;
  /** The TCP peer is one of `server.trustedProxies`. */
  readonly trustedPeer: boolean;
  readonly fwd: ForwardingInfo;
  readonly trace: TraceContext;
  /** The traceparent sent upstream (tracing may clear its sampled flag, or name the upstream call's span). */
  traceparent: string;
  /** The request's SERVER span when it is traced and sampled. */
  span: RequestSpan | null = null;
  readonly id: string;
  /** The Strict-Transport-Security value to send, on HTTPS only. */
  readonly hsts: string | undefined;
  readonly method: string;
  readonly rawPath: string;
  readonly rawQuery: string;
  /** Content-Length, or -1 when the request has none. */
  readonly declaredLength: number;

  /** The header fields to forward, read once on arrival (receive step). */
  upstreamHeaders: Record<string, string | string[]> | undefined = undefined;
  /** Host without port, lower case. */
  host = '';
  /** The API the request was addressed to, even when no operation of it matched (shadow-API events). */
  api: ApiRuntime | undefined = undefined;
  /** The path below the API's base path, normalised. */
  path = '';
  route: Route | undefined = undefined;
  ex: FlightExchange | undefined = undefined;
  decision = 'allow';
  deniedBy: string | undefined = undefined;

  /** Set when the request is dispatched upstream: fired if the client leaves before the response is done. */
  clientGone: ClientGone | undefined = undefined;
  /** The upstream exchange is under way: dispatched, and its outcome not yet settled. */
  dispatching = false;
  /** What waits for the upstream exchange to be settled (`afterDispatch`); usually nothing. */
  dispatchWaiters: Array<() => void> | undefined = undefined;
  permit: CircuitPermit | undefined = undefined;
  /** The upstream call's span id while that call is traced and not yet settled. */
  upstreamSpanId: string | undefined = undefined;
  dispatchedAt = 0;
  headersAfterMs = -1;
  upstreamStatus = 0;
  finished = false;

  constructor(
    ctx: GatewayContext,
    snap: Snapshot,
    req: IncomingMessage,
    res: ServerResponse,
    scheme: 'http' | 'https',
  ) {
    this.ctx = ctx;
    this.req = req;
    this.res = res;
    this.snap = snap;
    this.startedAt = performance.now();
    this.peerIp = req.socket.remoteAddress ?? '';
    this.trustedPeer = snap.isTrustedProxy(this.peerIp);
    this.fwd = resolveForwarding(req.headers, this.peerIp, scheme, snap.isTrustedProxy);
    this.trace = continueTrace(req.headers.traceparent);
    this.traceparent = this.trace.traceparent;
    this.id = requestId(req.headers['x-request-id'], this.trustedPeer, this.trace);
    this.hsts = scheme === 'https' ? snap.hsts : undefined;
    this.method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    this.rawPath = q === -1 ? url : url.slice(0, q);
    this.rawQuery = q === -1 ? '' : url.slice(q + 1);
    const length = req.headers['content-length'];
    this.declaredLength = length === undefined ? -1 : Number(length);
  }

  /** Runs `fn` once the upstream exchange is settled (now, when none is under way). */
  afterDispatch(fn: () => void): void {
    if (!this.dispatching) fn();
    else if (this.dispatchWaiters === undefined) this.dispatchWaiters = [fn];
    else this.dispatchWaiters.push(fn);
  }

  /** The upstream exchange is settled: runs what waited for it. */
  dispatchSettled(): void {
    this.dispatching = false;
    const waiters = this.dispatchWaiters;
    if (waiters === undefined) return;
    this.dispatchWaiters = undefined;
    for (const fn of waiters) fn();
  }

  /** The request carries a body (a positive length, chunked, or an HTTP/2 stream open after its headers). */
  get hasBody(): boolean {
    return (
      this.declaredLength > 0 ||
      this.req.headers['transfer-encoding'] !== undefined ||
      (this.declaredLength === -1 &&
        (this.req as { stream?: { endAfterHeaders: boolean } }).stream?.endAfterHeaders === false)
    );
  }
}

/**
 * The `Exchange` policies see, made from a flight once an operation matched. A class, not an object
 * literal: V8 may decide to allocate a literal's objects straight in the old generation ("pretenuring",
 * when its objects looked long-lived while the young generation was still small at start-up), and a dead
 * old object pointing at the request's young ones (req, res, and through them the whole request) keeps
 * them alive through young collections until the next full one.
 */
export class FlightExchange implements Exchange {
  readonly id: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly startedAt: number;
  readonly clientIp: string;
  readonly fromTrustedProxy: boolean;
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly path: string;
  readonly rawQuery: string;
  readonly route: RouteMatch;
  // Set by policies when they have something to say (type-only declarations: no field until then).
  declare principal?: Principal;
  declare body?: Buffer;
  declare json?: unknown;
  declare responseJson?: unknown;
  declare dropUpstreamHeaders?: string[];
  declare waf?: Exchange['waf'];
  // Made when a policy first asks for them: most requests add no header and report nothing (issue 18).
  #upstreamHeaders: Record<string, string> | undefined = undefined;
  #responseHeaders: Record<string, string | string[]> | undefined = undefined;
  #reported: string[] | undefined = undefined;

  constructor(f: Flight, path: string, route: RouteMatch) {
    this.id = f.id;
    this.req = f.req;
    this.res = f.res;
    this.startedAt = f.startedAt;
    this.clientIp = f.fwd.clientIp;
    this.fromTrustedProxy = f.trustedPeer;
    this.scheme = f.fwd.proto;
    this.host = f.host;
    this.path = path;
    this.rawQuery = f.rawQuery;
    this.route = route;
  }

  get upstreamHeaders(): Record<string, string> {
    this.#upstreamHeaders ??= {};
    return this.#upstreamHeaders;
  }
  get responseHeaders(): Record<string, string | string[]> {
    this.#responseHeaders ??= {};
    return this.#responseHeaders;
  }
  get reported(): string[] {
    this.#reported ??= [];
    return this.#reported;
  }
  /** The headers policies added for the upstream, if any (without making the record). */
  get upstreamHeadersAdded(): Readonly<Record<string, string>> | undefined {
    return this.#upstreamHeaders;
  }
  /** The headers policies added for the client, if any (without making the record). */
  get responseHeadersAdded(): Readonly<Record<string, string | string[]>> | undefined {
    return this.#responseHeaders;
  }
  /** The report-mode decisions, if any (without making the list; undefined for none). */
  get reportedIfAny(): readonly string[] | undefined {
    const r = this.#reported;
    return r !== undefined && r.length > 0 ? r : undefined;
  }
}
