import { performance } from 'node:perf_hooks';
import type { Readable, Writable } from 'node:stream';
import { type Dispatcher, errors } from 'undici';
import { GATEWAY_DECISIONS } from '../core/decisions.ts';
import type { Exchange } from '../core/exchange.ts';
import type { ResponseHead } from '../core/policy.ts';
import { problem, problems } from '../core/problems.ts';
import type { Flight, GatewayContext } from './flight.ts';
import { responseHeadersWithoutHopByHop, setForwardingHeaders } from './headers.ts';
import { firstBodyTransformer, type Pipeline, runResponseHead } from './pipeline.ts';
import { deny, sendProblem } from './reply.ts';
import type { ApiRuntime } from './snapshot.ts';
import { BODY_TOO_LARGE, BODY_TOO_SLOW, type ClientGone, streamBody } from './streams.ts';
import { endClientSpan, startClientSpan } from './tracing.ts';
import { classifyUpstreamError } from './upstream.ts';

/** Largest upstream response body a response policy may ask to see whole. */
const MAX_INSPECTED_RESPONSE_BYTES = 8 * 1024 * 1024;

/**
 * The forward step: sends the request as it was judged (the header fields read on arrival, the policies'
 * additions, the buffered or streamed body) to the API's upstream pool, then runs the response step on
 * its head. `f.ex` is undefined for an undeclared request forwarded in `undeclared: report` mode.
 */
export function forward(ctx: GatewayContext, f: Flight, a: ApiRuntime): void {
  // The response closed while a policy was deciding (an asynchronous store, a key lookup): the client left
  // and its record is written. Nothing is sent upstream: the call would relay into a response that never
  // drains nor closes again, and would keep its upstream connection for good (issue 18: the Redis
  // limiter's gateway lost its pool to the clients wrk dropped at the end of each run).
  if (f.finished) return;
  const { req, ex } = f;
  const up = a.upstream;
  const headers = f.upstreamHeaders!;
  headers.host = up.host;
  setForwardingHeaders(headers, req.headers, f.peerIp, f.trustedPeer, f.fwd);
  headers.traceparent = f.traceparent;
  headers['x-request-id'] = f.id;
  let body: Buffer | Readable | null = null;
  if (ex?.body !== undefined) {
    body = ex.body;
    headers['content-length'] = String(ex.body.length);
  } else if (f.hasBody) {
    body = openStreamedBody(ctx, f);
    if (body === null) return;
  }
  if (ex) {
    const added = ex.upstreamHeadersAdded;
    if (added !== undefined) Object.assign(headers, added);
    if (ex.dropUpstreamHeaders !== undefined) for (const h of ex.dropUpstreamHeaders) delete headers[h];
  }
  if (up.breaker !== null) {
    f.permit = up.breaker.acquire();
    if (f.permit === undefined) {
      ctx.upstreamErrors.inc({ api: a.config.name, reason: GATEWAY_DECISIONS.circuitOpen });
      const retry = String(Math.max(1, Math.ceil(up.breaker.retryAfterMs() / 1000)));
      const p = problem(problems.circuitOpen, undefined, {
        reason: GATEWAY_DECISIONS.circuitOpen,
        headers: { 'retry-after': retry },
      });
      deny(f, p, 'upstream');
      return;
    }
  }
  if (f.span !== null) startClientSpan(f, headers);
  f.dispatchedAt = performance.now();
  const call = new UpstreamCall(f, body);
  f.clientGone = call;
  f.dispatching = true;
  up.pool.dispatch(
    {
      path: up.basePath + f.path + (f.rawQuery ? `?${f.rawQuery}` : ''),
      method: f.method as 'GET',
      headers,
      body,
    },
    call,
  );
}

const CALL = Symbol('upstreamCall');
type CallSink = Writable & { [CALL]?: UpstreamCall };

/**
 * One upstream call, as undici's dispatch handler (its public handler API): relays the response into the
 * client's response, or into the collector of the body transformers, with backpressure, and settles once
 * (`onDispatchDone`) when that is finished, or the call failed, or the client left. One object per
 * request, with listener functions shared by all: what `Pool.stream` did with a handler, an async
 * resource, a signal listener, a copy of the options and seven closures per request (issue 18).
 */
class UpstreamCall implements ClientGone {
  readonly f: Flight;
  /** A streamed request body (its failure fails the call), else null. */
  readonly body: Readable | null;
  controller: Dispatcher.DispatchController | null = null;
  /** Where the response body goes, once its head has arrived: the client's response... */
  sink: CallSink | null = null;
  /** ...or the body transformers' collector. */
  collected: TransformedBody | null = null;
  /** The client left before its response was complete. */
  fired = false;
  settled = false;

  constructor(f: Flight, body: Buffer | Readable | null) {
    this.f = f;
    this.body = body === null || Buffer.isBuffer(body) ? null : body;
    if (this.body !== null) {
      (this.body as Readable & { [CALL]?: UpstreamCall })[CALL] = this;
      this.body.on('error', onRequestBodyError);
    }
  }

  /** The client left: the call is aborted (a call still waiting for a connection is settled now). */
  fire(): void {
    if (this.fired) return;
    this.fired = true;
    const reason = new errors.RequestAbortedError();
    if (this.controller !== null) this.controller.abort(reason);
    else this.onResponseError(null, reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController, _context: unknown): void {
    if (this.fired) {
      controller.abort(new errors.RequestAbortedError());
      return;
    }
    this.controller = controller;
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    // 1xx answers are the connection's business (undici handles 100-continue); the final one is relayed.
    if (statusCode < 200 || this.sink !== null || this.collected !== null || this.settled) return;
    const to = onUpstreamHead(this.f, statusCode, headers);
    if (to instanceof TransformedBody) {
      this.collected = to;
      return;
    }
    const sink: CallSink = to;
    this.sink = sink;
    sink[CALL] = this;
    sink.on('finish', onSinkFinish);
    sink.on('close', onSinkClose);
    sink.on('error', onSinkError);
    sink.on('drain', onSinkDrain);
    if (sink.writableNeedDrain) controller.pause();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const c = this.collected;
    if (c !== null) {
      if (c.failed || c.add(chunk)) return;
      // As the collecting stream did: the call fails after what undici is doing, and reads no more.
      c.failed = true;
      controller.pause();
      const err = new Error('response body too large to inspect');
      queueMicrotask(() => this.sinkFailed(err));
      return;
    }
    if (this.sink !== null && this.sink.write(chunk) === false) controller.pause();
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, _trailers: unknown): void {
    const c = this.collected;
    if (c !== null) {
      if (c.failed || this.settled) return;
      try {
        c.finish();
      } catch (err) {
        // A transformer that throws is a bug: the call fails as the collecting stream's error did.
        this.sinkFailed(err as Error);
        return;
      }
      this.settle(null);
    } else if (this.sink !== null) this.sink.end();
    else this.settle(null); // no final response head came: nothing was relayed
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    const { sink, body } = this;
    if (body !== null && !body.destroyed) body.destroy(err);
    if (sink !== null) {
      // Cut what was relayed; the sink's close settles the call with its error.
      if (!sink.destroyed) sink.destroy(err);
      else this.settle(err);
      return;
    }
    if (this.settled) return;
    if (this.collected !== null) this.collected.failed = true;
    // As Pool.stream did: the callback runs after what the failing code is doing.
    queueMicrotask(() => this.settle(err));
  }

  /** The call is over: tells onDispatchDone once. */
  settle(err: Error | null): void {
    if (this.settled) return;
    this.settled = true;
    onDispatchDone(this.f, err);
  }

  /** The sink ended early or failed: the upstream side is aborted too. */
  sinkFailed(err: Error): void {
    this.settle(err);
    this.controller?.abort(err);
  }
}

function onRequestBodyError(this: Readable & { [CALL]?: UpstreamCall }, err: Error): void {
  this[CALL]!.onResponseError(null, err);
}

function onSinkFinish(this: CallSink): void {
  this[CALL]!.settle(null);
}

function onSinkClose(this: CallSink): void {
  if (this.writableFinished) {
    this[CALL]!.settle(null);
    return;
  }
  const errored = (this as Writable & { errored?: Error | null }).errored;
  this[CALL]!.sinkFailed(errored ?? prematureClose());
}

function onSinkError(this: CallSink, err: Error): void {
  this[CALL]!.sinkFailed(err);
}

function onSinkDrain(this: CallSink): void {
  this[CALL]!.controller?.resume();
}

function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/** The upstream exchange is over: tells the breaker and the tracer, then whoever waited for it. */
function onDispatchDone(f: Flight, err: Error | null): void {
  const a = f.api!;
  try {
    if (err === null || err === undefined) {
      settlePermit(f, f.upstreamStatus < 500);
      if (f.span !== null) endClientSpan(f, a);
    } else {
      if (f.span !== null) endClientSpan(f, a, err);
      onDispatchFailed(f.ctx, f, a, err);
    }
  } finally {
    f.dispatchSettled();
  }
}

/**
 * A streamed body holds an upstream connection while it arrives: a client may stream only so many at
 * once, and each must keep up a minimum rate. Null when the request was refused.
 */
function openStreamedBody(ctx: GatewayContext, f: Flight): Readable | null {
  const server = f.snap.config.server;
  if (!ctx.streamedBodies.admit(f.fwd.clientIp, f.req, server.streamedBodiesPerClient)) {
    const p = problem(problems.quotaExceeded, 'too many request bodies in flight from this client', {
      reason: GATEWAY_DECISIONS.streamedBodiesPerClient,
      headers: { 'retry-after': '1', connection: 'close' },
    });
    deny(f, p, 'gateway');
    f.req.resume();
    return null;
  }
  const body = streamBody(f.req, f.route?.maxBodyBytes ?? server.maxBodyBytes, server);
  if (f.declaredLength >= 0) f.upstreamHeaders!['content-length'] = String(f.declaredLength);
  return body;
}

/**
 * The response step, on the upstream's head: response-stage policies run on the head, then the body
 * streams to the client, or is collected for the policies that transform it.
 */
function onUpstreamHead(
  f: Flight,
  statusCode: number,
  headers: ResponseHead['headers'],
): Writable | TransformedBody {
  f.headersAfterMs = performance.now() - f.dispatchedAt;
  f.upstreamStatus = statusCode;
  const { ex, route, res } = f;
  const head: ResponseHead = { status: statusCode, headers: responseHeadersWithoutHopByHop(headers) };
  if (ex && route) {
    runResponseHead(route.pipeline, ex, head);
    const added = ex.responseHeadersAdded;
    if (added !== undefined) Object.assign(head.headers, added);
  }
  head.headers['x-request-id'] = f.id;
  if (f.hsts) head.headers['strict-transport-security'] = f.hsts;
  if (f.method === 'HEAD') {
    // HEAD has no body to filter: the upstream's length is that of the body unfiltered.
    if (route?.pipeline.bodyTransformers != null) delete head.headers['content-length'];
  } else if (ex && route) {
    const first = firstBodyTransformer(route.pipeline, ex, head);
    if (first !== -1) return collectAndTransform(f, ex, route.pipeline, head, first);
  }
  res.writeHead(head.status, head.headers as Record<string, string | string[]>);
  return res;
}

/**
 * Collects the upstream body, runs the body transformers on it, and sends what they leave. `first` is the
 * first transformer that wanted the body when the head arrived: those before it said no to the same head,
 * and it said yes, so neither is asked again; a later one is, as an earlier one may have changed the head.
 */
function collectAndTransform(
  f: Flight,
  ex: Exchange,
  pipeline: Pipeline,
  head: ResponseHead,
  first: number,
): TransformedBody {
  return new TransformedBody(f, ex, pipeline, head, first);
}

/**
 * The collected body of `collectAndTransform`: plain state, not a `Writable` (a stream per response made a
 * stream state, four listeners and three ticks; issue 18). The upstream call feeds it (`UpstreamCall`).
 */
class TransformedBody {
  readonly f: Flight;
  readonly ex: Exchange;
  readonly pipeline: Pipeline;
  readonly head: ResponseHead;
  readonly first: number;
  readonly chunks: Buffer[] = [];
  size = 0;
  /** The body grew past `MAX_INSPECTED_RESPONSE_BYTES`: the call is failing, what comes is dropped. */
  failed = false;

  constructor(f: Flight, ex: Exchange, pipeline: Pipeline, head: ResponseHead, first: number) {
    this.f = f;
    this.ex = ex;
    this.pipeline = pipeline;
    this.head = head;
    this.first = first;
  }

  /** Adds a chunk; false when the body became too large to inspect. */
  add(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.size > MAX_INSPECTED_RESPONSE_BYTES) return false;
    this.chunks.push(chunk);
    return true;
  }

  /** The whole body is in: the transformers run on it, and the client gets what they leave (or a refusal). */
  finish(): void {
    const { f, ex, head, first, chunks } = this;
    let body: Buffer = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.size);
    const transformers = this.pipeline.bodyTransformers!;
    for (let i = first; i < transformers.length; i++) {
      const p = transformers[i];
      if (i > first && p.handler.wantsResponseBody && !p.handler.wantsResponseBody(ex, head)) continue;
      const out = p.handler.transformResponseBody!(ex, head, body);
      if (!Buffer.isBuffer(out)) {
        deny(f, out, p.name);
        return;
      }
      body = out;
    }
    delete head.headers['transfer-encoding'];
    head.headers['content-length'] = String(body.length);
    f.res.writeHead(head.status, head.headers as Record<string, string | string[]>);
    f.res.end(body);
  }
}

/** Tells the breaker how the call went, once: `ok` unless the upstream failed or answered 5xx. */
function settlePermit(f: Flight, ok: boolean): void {
  if (f.permit === undefined) return;
  f.permit.done(ok, f.headersAfterMs >= 0 ? f.headersAfterMs : performance.now() - f.dispatchedAt);
  f.permit = undefined;
}

/** The dispatch failed: the client's doing (it left, its body broke off or crawled) or the upstream's. */
function onDispatchFailed(ctx: GatewayContext, f: Flight, a: ApiRuntime, err: unknown): void {
  const { res } = f;
  const code = (err as { code?: string } | null)?.code;
  if (dispatchFailure(err, f.clientGone!.fired) === 'client') {
    settlePermit(f, true); // says nothing about the upstream
    if (f.clientGone!.fired || res.destroyed) {
      f.decision = GATEWAY_DECISIONS.clientAborted;
      return;
    }
    deny(f, clientBodyProblem(code), 'gateway');
    // What is left of a crawling body is not worth reading.
    if (code === BODY_TOO_SLOW) res.once('finish', () => f.req.socket.destroy());
    return;
  }
  settlePermit(f, false);
  const { problem: type, reason } = classifyUpstreamError(err);
  const cut = f.upstreamStatus !== 0;
  const why = cut ? GATEWAY_DECISIONS.upstreamResponseIncomplete : reason;
  ctx.upstreamErrors.inc({ api: a.config.name, reason: why });
  ctx.logger.warn(
    { requestId: f.id, api: a.config.name, reason: why, code },
    cut ? 'upstream response cut short' : 'upstream failure',
  );
  f.decision = why;
  f.deniedBy = 'upstream';
  if (res.headersSent || res.destroyed) res.destroy();
  else sendProblem(res, f.id, problem(type, undefined, { reason }), f.hsts, f.ex?.responseHeadersAdded);
}

function clientBodyProblem(code: string | undefined) {
  if (code === BODY_TOO_LARGE)
    return problem(problems.payloadTooLarge, 'the body is larger than allowed', {
      reason: GATEWAY_DECISIONS.bodyTooLarge,
    });
  if (code === BODY_TOO_SLOW)
    return problem(problems.requestTimeout, 'the request body arrived too slowly', {
      reason: GATEWAY_DECISIONS.bodyTooSlow,
      headers: { connection: 'close' },
    });
  return problem(problems.badRequest, 'the request body could not be forwarded as sent', {
    reason: GATEWAY_DECISIONS.badRequestBody,
  });
}

/**
 * Error codes by which a dispatch fails because of the client's side of the exchange: it went away, or
 * its request cannot be sent as it is (a body shorter than its Content-Length, a field undici refuses).
 */
const CLIENT_SIDE_CODES = new Set([
  'UND_ERR_ABORTED',
  'ABORT_ERR',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
  'EPIPE',
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  BODY_TOO_LARGE,
  BODY_TOO_SLOW,
]);

/**
 * Whose failure a rejected dispatch is. Upstream codes win even when the client also left (the
 * response was cut first, and the client's close followed from it); any other error after the client
 * left is the client's.
 */
function dispatchFailure(err: unknown, clientLeft: boolean): 'client' | 'upstream' {
  const code = (err as { code?: string } | null)?.code ?? '';
  if (CLIENT_SIDE_CODES.has(code) || (err as Error | null)?.name === 'AbortError') return 'client';
  if (clientLeft && classifyUpstreamError(err).reason === 'upstream_error') return 'client';
  return 'upstream';
}
