/**
 * The request lifecycle, one named step per function, in the order they happen:
 *
 *   receive → route → read body → request policies → forward → response (forward.ts) → finish (finish.ts)
 *
 * Each step either hands the flight to the next one or answers the request itself (a problem, a
 * preflight, a well-known document). What a step learns is written on the `Flight`; nothing is shared
 * through closures.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GATEWAY_DECISIONS } from '../core/decisions.ts';
import { problem, problems } from '../core/problems.ts';
import { finish } from './finish.ts';
import { Flight, FlightExchange, type GatewayContext } from './flight.ts';
import { forward } from './forward.ts';
import { HeaderFault, readRequestHeaders } from './headers.ts';
import type { Denial } from './pipeline.ts';
import { runRequestHooks, runRequestHooksTraced } from './pipeline.ts';
import { deny } from './reply.ts';
import { hostOf, repeatedCredential, VALID_HOST } from './request-checks.ts';
import { NO_PATH_PARAMS, normalizePath } from './router.ts';
import type { ApiRuntime, Snapshot } from './snapshot.ts';
import { readBody } from './streams.ts';
import { startServerSpan } from './tracing.ts';
import { answerWellKnown, WELL_KNOWN_PREFIX } from './well-known.ts';

/** Handles one request on snapshot `snap`. */
export function handleRequest(
  ctx: GatewayContext,
  snap: Snapshot,
  req: IncomingMessage,
  res: ServerResponse,
  scheme: 'http' | 'https',
): void {
  const f = receive(ctx, snap, req, res, scheme);
  if (f !== undefined) route(ctx, f);
}

/**
 * Receive: counts the request in flight, arranges for `finish` when its response closes, and reads the
 * header section once, into what will be forwarded. Refuses a section without a single reading (a
 * repeated single-value field, a name with `_`) and a missing or malformed Host.
 */
function receive(
  ctx: GatewayContext,
  snap: Snapshot,
  req: IncomingMessage,
  res: ServerResponse,
  scheme: 'http' | 'https',
): Flight | undefined {
  const f = new Flight(ctx, snap, req, res, scheme);
  if (ctx.tracer !== null) startServerSpan(ctx.tracer, f);
  snap.inFlight++;
  ctx.inFlight++;
  // One listener function for every response (no closure, no once-wrapper): a response closes once.
  (res as FlightResponse)[FLIGHT] = f;
  res.on('close', onResponseClose);
  const read = readRequestHeaders(
    req.rawHeaders,
    req.headers.connection,
    f.trustedPeer ? snap.stripRequestHeaders : snap.stripUntrustedRequestHeaders,
    snap.singleValueFields,
  );
  if (read instanceof HeaderFault) {
    const detail =
      read.fault === 'repeated_header'
        ? `the ${read.name} header field may appear only once`
        : `header field names may not contain '_' (${read.name})`;
    deny(f, problem(problems.badRequest, detail, { reason: read.fault }), 'gateway');
    return undefined;
  }
  f.upstreamHeaders = read;
  // HTTP/1.1 requires exactly one well-formed Host (RFC 9112 §3.2).
  const hostHeader = req.headers.host;
  if (
    hostHeader === undefined
      ? req.httpVersionMajor >= 1 && req.httpVersionMinor >= 1
      : !VALID_HOST.test(hostHeader)
  ) {
    deny(
      f,
      problem(problems.badRequest, 'missing or malformed Host header', { reason: GATEWAY_DECISIONS.badHost }),
      'gateway',
    );
    return undefined;
  }
  f.host = hostOf(hostHeader);
  return f;
}

/** The response's flight, for the one 'close' listener all responses share. */
const FLIGHT = Symbol('flight');
type FlightResponse = ServerResponse & { [FLIGHT]?: Flight };

/**
 * A response that closes before it is complete was cut short by the client or by the upstream: the
 * record waits until the dispatch has said which (an upstream cut is an upstream failure).
 */
function onResponseClose(this: ServerResponse): void {
  const f = (this as FlightResponse)[FLIGHT]!;
  if (f.clientGone !== undefined && !f.res.writableFinished) {
    f.clientGone.fire();
    if (f.dispatching) {
      f.afterDispatch(() => finish(f.ctx, f));
      return;
    }
  }
  finish(f.ctx, f);
}

/**
 * Route: a published well-known document, else the API (by Host and base path), the path (normalised,
 * refused when an upstream could read it otherwise), and the operation. An undeclared request is
 * refused (404/405), answered as a CORS preflight, or forwarded unjudged in `undeclared: report` mode.
 */
function route(ctx: GatewayContext, f: Flight): void {
  const { snap, rawPath } = f;
  if (snap.wellKnown !== null && rawPath.startsWith(WELL_KNOWN_PREFIX)) {
    const known = snap.wellKnown.find(rawPath, f.host);
    if (known !== undefined) {
      f.api = known.entry.api;
      const refused = answerWellKnown(known, f.req, f.res, f.id, f.hsts);
      if (refused !== undefined) deny(f, refused, 'gateway');
      return;
    }
  }
  const api = findApi(f);
  if (api === undefined) return;
  f.api = api;
  const credentialRepeat = repeatedCredential(api, f.req, f.rawQuery);
  if (credentialRepeat !== undefined) {
    deny(
      f,
      problem(problems.badRequest, credentialRepeat, { reason: GATEWAY_DECISIONS.repeatedCredential }),
      'gateway',
    );
    return;
  }
  const path = normalizePath(rawPath.slice(api.config.basePath.length) || '/');
  if (path === undefined) {
    const detail = 'the path has dot segments, empty segments or forbidden characters';
    deny(f, problem(problems.badRequest, detail, { reason: GATEWAY_DECISIONS.badPath }), 'gateway');
    return;
  }
  f.path = path;
  const match = api.router.match(f.method, path);
  if (match.kind !== 'found') {
    undeclared(ctx, f, api, match);
    return;
  }
  const r = match.value;
  f.route = r;
  f.ex = new FlightExchange(
    f,
    path,
    match.params === NO_PATH_PARAMS
      ? r.matchWithoutParams
      : { api: api.config.name, spec: api.spec, operation: r.operation, pathParams: match.params },
  );
  readRequestBody(ctx, f);
}

/** The API serving the request's Host and path; refuses (421 or 404) when there is none. */
function findApi(f: Flight): ApiRuntime | undefined {
  let hostMatched = false;
  for (const a of f.snap.apis) {
    if (a.hosts !== null && !a.hosts.has(f.host)) continue;
    hostMatched = true;
    const base = a.config.basePath;
    if (base === '' || f.rawPath === base || f.rawPath.startsWith(`${base}/`)) return a;
  }
  if (!hostMatched)
    deny(
      f,
      problem(problems.misdirectedRequest, undefined, { reason: GATEWAY_DECISIONS.unknownHost }),
      'gateway',
    );
  else
    deny(f, problem(problems.notFound, undefined, { reason: GATEWAY_DECISIONS.undeclaredRoute }), 'gateway');
  return undefined;
}

/** A request no operation declares. */
function undeclared(
  ctx: GatewayContext,
  f: Flight,
  api: ApiRuntime,
  match: { kind: 'not-found' } | { kind: 'method-not-allowed'; allow: readonly string[] },
): void {
  if (f.method === 'OPTIONS' && answerPreflight(f, api)) return;
  if (api.config.undeclared === 'report') {
    f.decision = GATEWAY_DECISIONS.undeclaredReported;
    forward(ctx, f, api);
    return;
  }
  if (match.kind === 'not-found') {
    deny(f, problem(problems.notFound, undefined, { reason: GATEWAY_DECISIONS.undeclaredRoute }), 'gateway');
    return;
  }
  const allow =
    match.allow.includes('GET') && !match.allow.includes('HEAD') ? [...match.allow, 'HEAD'] : match.allow;
  const p = problem(problems.methodNotAllowed, `${f.method} is not declared for this path`, {
    reason: GATEWAY_DECISIONS.undeclaredMethod,
    headers: { allow: allow.join(', ') },
  });
  deny(f, p, 'gateway');
}

/** A CORS preflight for a declared operation is answered by that operation's CORS policy, if any. */
function answerPreflight(f: Flight, api: ApiRuntime): boolean {
  const { req, res } = f;
  const requested = req.headers['access-control-request-method'];
  if (req.headers.origin === undefined || typeof requested !== 'string') return false;
  const target = api.router.match(requested.toUpperCase(), f.path);
  if (target.kind !== 'found') return false;
  const cors = target.value.pipeline.policies.find((c) => c.handler.preflight !== undefined);
  if (cors === undefined) return false;
  f.route = target.value;
  const answer = cors.handler.preflight!(req);
  if ('problem' in answer) {
    deny(f, answer, cors.name);
    return true;
  }
  f.decision = 'allow';
  res.writeHead(answer.status, { ...answer.headers, 'content-length': '0', 'x-request-id': f.id });
  res.end();
  return true;
}

/**
 * Read body: refuses what is too large up front; buffers what a policy needs or what is small (the rest
 * streams in the forward step).
 */
function readRequestBody(ctx: GatewayContext, f: Flight): void {
  const r = f.route!;
  if (f.declaredLength > r.maxBodyBytes) {
    deny(f, bodyTooLarge(r.maxBodyBytes), 'gateway');
    f.req.resume();
    return;
  }
  const buffer =
    f.hasBody &&
    (r.pipeline.needsRequestBody ||
      (f.declaredLength >= 0 && f.declaredLength <= f.snap.config.server.bufferBodyBelowBytes));
  if (!buffer) {
    runRequestPolicies(ctx, f);
    return;
  }
  readBody(f.req, r.maxBodyBytes, f, bodyRead, bodyAborted);
}

function bodyTooLarge(maxBodyBytes: number) {
  return problem(problems.payloadTooLarge, `the body may be at most ${maxBodyBytes} bytes`, {
    reason: GATEWAY_DECISIONS.bodyTooLarge,
  });
}

/** The body is buffered (undefined: it was larger than the route allows). */
function bodyRead(f: Flight, body: Buffer | undefined): void {
  if (body === undefined) {
    deny(f, bodyTooLarge(f.route!.maxBodyBytes), 'gateway');
    return;
  }
  f.ex!.body = body;
  runRequestPolicies(f.ctx, f);
}

/** The client went away (or its stream failed) before its body was whole. */
function bodyAborted(f: Flight): void {
  f.decision = GATEWAY_DECISIONS.clientAborted;
  if (!f.res.headersSent) f.res.destroy();
}

/** Request policies: the route's request hooks in stage order; the first refusal answers. */
function runRequestPolicies(ctx: GatewayContext, f: Flight): void {
  const hooks = f.route!.pipeline.onRequest;
  if (hooks === null) {
    forward(ctx, f, f.api!);
    return;
  }
  let result: Denial | undefined | Promise<Denial | undefined>;
  try {
    const onReport = ctx.reportWouldReject;
    result =
      f.span === null
        ? runRequestHooks(hooks, f.ex!, onReport)
        : runRequestHooksTraced(hooks, f.ex!, onReport, f.span);
  } catch (err) {
    policyFailed(ctx, f, err);
    return;
  }
  if (result === undefined) {
    forward(ctx, f, f.api!);
    return;
  }
  if (result instanceof Promise) {
    result.then(
      (d) => (d ? deny(f, d.problem, d.policy) : forward(ctx, f, f.api!)),
      (err) => policyFailed(ctx, f, err),
    );
    return;
  }
  deny(f, result.problem, result.policy);
}

function policyFailed(ctx: GatewayContext, f: Flight, err: unknown): void {
  ctx.logger.error({ err, requestId: f.id }, 'policy failed');
  deny(f, problem(problems.internal, undefined, { reason: GATEWAY_DECISIONS.policyError }), 'gateway');
}
