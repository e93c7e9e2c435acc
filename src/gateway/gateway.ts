import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { type Readable, Transform, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { ApiConfig, Config } from '../config/types.ts';
import { credentialHash, presentedCredential } from '../monitor/credential-hash.ts';
import { type EventSink, nullSink, type SecurityEvent } from '../monitor/events.ts';
import type { MetricsRegistry } from '../monitor/metrics.ts';
import { loadApiDocument } from '../openapi/load.ts';
import type { ApiDocument, Operation } from '../openapi/types.ts';
import { basicUserId } from '../policies/authenticate/basic.ts';
import { PolicyConfigError, type PolicyDefinition, type ResponseHead } from '../policies/policy.ts';
import { type ClosableSharedServices, createSharedServices } from '../policies/shared-services.ts';
import type { Clock } from '../state/clock.ts';
import type { StateStore } from '../state/store.ts';
import type { CircuitPermit } from './circuit-breaker.ts';
import type { Exchange } from './exchange.ts';
import {
  compileSingleValueFields,
  continueTrace,
  HeaderFault,
  PROXY_ASSERTED_HEADERS,
  readRequestHeaders,
  requestId,
  resolveForwarding,
  type SingleValueFields,
  setForwardingHeaders,
  stripResponseHopByHop,
} from './headers.ts';
import { compileCidrMatcher } from './ip.ts';
import {
  compilePipeline,
  type Denial,
  type Pipeline,
  runComplete,
  runRequestHooks,
  runResponseHead,
  wantsResponseBody,
} from './pipeline.ts';
import { type Problem, problem, problemBody, problems } from './problems.ts';
import { createRouter, normalizePath, type Router } from './router.ts';
import { classifyUpstreamError, createUpstream, type Upstream } from './upstream.ts';
import {
  answerWellKnown,
  compileWellKnown,
  WELL_KNOWN_PREFIX,
  type WellKnownEntry,
  type WellKnownTable,
} from './well-known.ts';

/** What the gateway needs from the outside; built by the CLI (the composition root). */
export interface GatewayDeps {
  readonly logger: Logger;
  readonly events: EventSink;
  readonly metrics: MetricsRegistry;
  readonly store: StateStore;
  readonly clock: Clock;
  readonly policies: ReadonlyArray<PolicyDefinition>;
  /** Access lines go here (one JSON object per line); defaults to the logger. */
  readonly accessLog?: (line: AccessRecord) => void;
  /**
   * Receives a sample of the JSON bodies that policies parsed anyway (request validation, response
   * filtering) on allowed requests to declared operations: API discovery learns their shapes from it.
   */
  readonly observeBodies?: BodyObserver;
}

/** See `GatewayDeps.observeBodies`; `request`/`response` are undefined when that side was not parsed. */
export type BodyObserver = (
  endpoint: { api: string; method: string; path: string; operationId: string },
  request: unknown,
  response: unknown,
  status: number,
) => void;

/**
 * Bodies of one operation handed to `observeBodies`: every one of the first 100, then one in 64 up to the
 * 6 500th (another 100), then one in 1024: a shape is learned early, and a busy operation stops paying for
 * samples that rarely teach anything new.
 */
const BODY_SAMPLES_ALL = 100;
const BODY_SAMPLES_OFTEN = 6500;
function sampleBody(n: number): boolean {
  return n <= BODY_SAMPLES_ALL || (n <= BODY_SAMPLES_OFTEN ? (n & 63) === 0 : (n & 1023) === 0);
}

/** The fields of one access record (OpenTelemetry HTTP names). */
export interface AccessRecord {
  readonly 'http.request.id': string;
  readonly 'trace.id': string;
  readonly 'http.request.method': string;
  readonly 'url.path': string;
  readonly 'http.route': string | undefined;
  readonly 'http.response.status_code': number;
  readonly 'client.address': string;
  readonly 'event.duration_ms': number;
  readonly 'portcullis.api': string | undefined;
  readonly 'portcullis.operation_id': string | undefined;
  readonly 'portcullis.decision': string;
  readonly 'portcullis.denied_by': string | undefined;
  readonly 'portcullis.reported': readonly string[] | undefined;
  readonly 'user.id': string | undefined;
}

interface Route {
  readonly api: ApiRuntime;
  readonly operation: Operation;
  readonly pipeline: Pipeline;
  readonly maxBodyBytes: number;
  /** Parsed bodies seen on this route so far (for the sampling of `observeBodies`). */
  bodiesSeen: number;
}

interface ApiRuntime {
  readonly config: ApiConfig;
  readonly spec: ApiDocument;
  readonly router: Router<Route>;
  readonly upstream: Upstream;
  readonly hosts: ReadonlySet<string> | null;
  /** Headers the spec's apiKey schemes read credentials from (for the credential fingerprint in events). */
  readonly apiKeyHeaders: readonly string[];
  /** Query parameters and cookies the spec's apiKey schemes read: each may appear once in a request. */
  readonly apiKeyQuery: readonly string[];
  readonly apiKeyCookies: readonly string[];
}

/** An immutable, fully compiled view of one config. Reload builds a new one and swaps one reference. */
interface Snapshot {
  readonly config: Config;
  readonly apis: readonly ApiRuntime[];
  readonly isTrustedProxy: (ip: string) => boolean;
  readonly stripRequestHeaders: ReadonlySet<string>;
  /** `stripRequestHeaders` plus what only a trusted proxy may assert (RFC 9440 `Client-Cert`). */
  readonly stripUntrustedRequestHeaders: ReadonlySet<string>;
  /** Fields a request may carry once (the static list plus every configured credential header). */
  readonly singleValueFields: SingleValueFields;
  /** Documents policies publish under `/.well-known/` (RFC 9728 metadata); null when none. */
  readonly wellKnown: WellKnownTable<ApiRuntime> | null;
  readonly hsts: string | undefined;
  readonly shared: ClosableSharedServices;
  inFlight: number;
}

/** A config that loaded but cannot be compiled (bad spec, policy config wrong for an operation, ...). */
export class GatewayBuildError extends Error {
  readonly code = 'ERR_GATEWAY_BUILD';
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(`the config cannot be applied:\n${issues.join('\n')}`);
    this.name = 'GatewayBuildError';
    this.issues = issues;
  }
}

/** Names of request headers that policies own (identity forwarding); incoming copies are removed. */
const BODY_TOO_LARGE = 'ERR_PORTCULLIS_BODY_TOO_LARGE';
const BODY_TOO_SLOW = 'ERR_PORTCULLIS_BODY_TOO_SLOW';
/** A streamed body must keep up `server.minBodyBytesPerSecond` on average once this grace has passed. */
const BODY_GRACE_MS = 5000;

const GATEWAY_OWNED_HEADERS = [
  'x-portcullis-subject',
  'x-portcullis-consumer',
  'x-portcullis-scopes',
  'x-portcullis-roles',
];

async function buildSnapshot(config: Config, deps: GatewayDeps): Promise<Snapshot> {
  const issues: string[] = [];
  const shared = createSharedServices();
  const apis: ApiRuntime[] = [];
  const strip = new Set(GATEWAY_OWNED_HEADERS);
  const singleValue = new Set<string>();
  const wellKnown: WellKnownEntry<ApiRuntime>[] = [];
  try {
    for (const [i, apiConfig] of config.apis.entries()) {
      let spec: ApiDocument;
      try {
        spec = await loadApiDocument(apiConfig.spec);
      } catch (err) {
        issues.push(`apis[${i}].spec: ${(err as Error).message}`);
        continue;
      }
      // Identity headers named anywhere in the API, per-operation blocks included, are stripped on every
      // route of every API: a name set for one operation is no less forgeable on the others.
      for (const def of deps.policies) {
        const apiLevel = apiConfig.policies?.[def.name] as Record<string, unknown> | undefined;
        const blocks = [apiLevel];
        for (const op of Object.values(apiConfig.operations)) {
          const opLevel = op.policies?.[def.name] as Record<string, unknown> | undefined;
          if (opLevel !== undefined) blocks.push({ ...apiLevel, ...opLevel });
        }
        for (const block of blocks) {
          for (const h of def.ownedRequestHeaders?.(block as never) ?? []) strip.add(h.toLowerCase());
        }
      }
      for (const opId of Object.keys(apiConfig.operations)) {
        if (!spec.operations.some((o) => o.id === opId)) {
          issues.push(`apis[${i}].operations.${opId}: no operation with this operationId in ${spec.file}`);
        }
      }
      const upstream = createUpstream(apiConfig.upstream, deps.clock, (from, to, reason) => {
        deps.logger.warn({ api: apiConfig.name, from, to, reason }, 'upstream circuit breaker');
        deps.events.emit({
          '@timestamp': new Date(deps.clock.now()).toISOString(),
          'event.kind': 'event',
          'event.category': 'web',
          'event.type': 'change',
          'event.action': 'circuit-breaker',
          'event.reason': reason,
          'portcullis.api': apiConfig.name,
          'portcullis.circuit.from': from,
          'portcullis.circuit.to': to,
        });
      });
      shared.onClose(() => upstream.close());
      const router = createRouter<Route>();
      const api: ApiRuntime = {
        config: apiConfig,
        spec,
        router,
        upstream,
        hosts: apiConfig.hosts.length ? new Set(apiConfig.hosts.map((h) => h.toLowerCase())) : null,
        apiKeyHeaders: apiKeyNames(spec, 'header').map((n) => n.toLowerCase()),
        apiKeyQuery: apiKeyNames(spec, 'query'),
        apiKeyCookies: apiKeyNames(spec, 'cookie'),
      };
      for (const h of api.apiKeyHeaders) singleValue.add(h);
      for (const operation of spec.operations) {
        const logger = deps.logger.child({ api: apiConfig.name, operationId: operation.id });
        let pipeline: Pipeline;
        try {
          pipeline = await compilePipeline(deps.policies, apiConfig, {
            apiName: apiConfig.name,
            spec,
            operation,
            clock: deps.clock,
            logger,
            events: deps.events,
            store: deps.store,
            metrics: deps.metrics,
            shared,
          });
        } catch (err) {
          if (err instanceof PolicyConfigError) {
            issues.push(
              `apis[${i}].policies (operation ${operation.id}): ${err.path ? `${err.path}: ` : ''}${err.message}`,
            );
            continue;
          }
          issues.push(`apis[${i}] (operation ${operation.id}): ${(err as Error).message}`);
          continue;
        }
        try {
          router.add(operation.method, operation.path, {
            api,
            operation,
            pipeline,
            maxBodyBytes: apiConfig.operations[operation.id]?.maxBodyBytes ?? config.server.maxBodyBytes,
            bodiesSeen: 0,
          });
        } catch (err) {
          issues.push(`apis[${i}].spec: ${operation.method} ${operation.path}: ${(err as Error).message}`);
        }
      }
      for (const def of deps.policies) {
        try {
          const docs = def.wellKnown?.(apiConfig.policies?.[def.name] as never, apiConfig, spec) ?? [];
          for (const doc of docs) wellKnown.push({ api, hosts: api.hosts, doc });
        } catch (err) {
          const at = err instanceof PolicyConfigError && err.path ? `${err.path}: ` : '';
          issues.push(`apis[${i}].policies.${def.name}: ${at}${(err as Error).message}`);
        }
      }
      apis.push(api);
    }
  } catch (err) {
    await shared.close();
    throw err;
  }
  let wellKnownTable: WellKnownTable<ApiRuntime> | null = null;
  try {
    wellKnownTable = compileWellKnown(wellKnown, (a) => a.config.name);
  } catch (err) {
    issues.push(`apis: ${(err as Error).message}`);
  }
  if (issues.length > 0) {
    await shared.close();
    throw new GatewayBuildError(issues);
  }
  // Longest base path first, so `/api/v2` is tried before `/api`.
  apis.sort((a, b) => b.config.basePath.length - a.config.basePath.length);
  const h = config.server.hsts;
  return {
    config,
    apis,
    isTrustedProxy: compileCidrMatcher(config.server.trustedProxies),
    stripRequestHeaders: strip,
    stripUntrustedRequestHeaders: new Set([...strip, ...PROXY_ASSERTED_HEADERS]),
    singleValueFields: compileSingleValueFields(singleValue),
    wellKnown: wellKnownTable,
    hsts: h.enabled
      ? `max-age=${h.maxAgeSeconds}${h.includeSubDomains ? '; includeSubDomains' : ''}`
      : undefined,
    shared,
    inFlight: 0,
  };
}

export interface Gateway {
  /** Handles one request; `scheme` is the listener's own. Never throws. */
  handle(req: IncomingMessage, res: ServerResponse, scheme: 'http' | 'https'): void;
  /** Compiles a new config and swaps it in; on failure the old one keeps serving and the error is thrown. */
  reload(config: Config): Promise<void>;
  readonly config: Config;
  /** Requests being handled now. */
  inFlight(): number;
  /** The loaded OpenAPI document of one API of the live config. */
  spec(api: string): ApiDocument | undefined;
  /** The operations currently served, for the admin API. */
  inventory(): Array<{ api: string; operationId: string; method: string; path: string; policies: string[] }>;
  close(): Promise<void>;
}

/** Names of the spec's apiKey credentials read from one place. */
function apiKeyNames(spec: ApiDocument, where: 'header' | 'query' | 'cookie'): string[] {
  return Object.values(spec.securitySchemes)
    .filter((sc) => sc.type === 'apiKey' && sc.raw.in === where && typeof sc.raw.name === 'string')
    .map((sc) => sc.raw.name as string);
}

/** How many times the query string names parameter `name` (raw comparison of the undecoded name). */
function countQueryParam(rawQuery: string, name: string): number {
  let n = 0;
  for (const pair of rawQuery.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    if (key === name || (key.includes('%') || key.includes('+') ? safeDecode(key) === name : false)) n++;
  }
  return n;
}

/** How many cookies of the Cookie field are named `name`. */
function countCookie(cookie: string | undefined, name: string): number {
  if (cookie === undefined) return 0;
  let n = 0;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) n++;
  }
  return n;
}

/**
 * Says why a request carries a credential more than once, or undefined: an apiKey query parameter or
 * cookie repeated, or a bearer token both in `Authorization` and in the `access_token` query parameter
 * (RFC 6750 §2: one method per request). The gateway would judge one copy and the upstream may read the other.
 */
function repeatedCredential(api: ApiRuntime, req: IncomingMessage, rawQuery: string): string | undefined {
  if (rawQuery !== '') {
    for (const name of api.apiKeyQuery) {
      if (countQueryParam(rawQuery, name) > 1) return `the credential parameter ${name} may appear only once`;
    }
    if (req.headers.authorization !== undefined && countQueryParam(rawQuery, 'access_token') > 0)
      return 'a bearer token may be sent in the Authorization header or the query, not both (RFC 6750 §2)';
  }
  for (const name of api.apiKeyCookies) {
    if (countCookie(req.headers.cookie, name) > 1)
      return `the credential cookie ${name} may appear only once`;
  }
  return undefined;
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

function hostOf(header: string | undefined): string {
  if (header === undefined) return '';
  // Strip the port, keeping IPv6 literals intact.
  if (header.startsWith('[')) return header.slice(0, header.indexOf(']') + 1).toLowerCase();
  const colon = header.indexOf(':');
  return (colon === -1 ? header : header.slice(0, colon)).toLowerCase();
}

const VALID_HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

let isoStampMs = -1;
let isoStamp = '';
/** `new Date().toISOString()`, made once per millisecond however many requests end in it. */
function isoNow(): string {
  const now = Date.now();
  if (now !== isoStampMs) {
    isoStampMs = now;
    isoStamp = new Date(now).toISOString();
  }
  return isoStamp;
}

/**
 * Creates the gateway: the request handler over an atomically swappable snapshot of compiled routes.
 * @example
 * const gw = await createGateway(config, deps);
 * http.createServer((req, res) => gw.handle(req, res, 'http')).listen(8080);
 */
export async function createGateway(initial: Config, deps: GatewayDeps): Promise<Gateway> {
  let snap = await buildSnapshot(initial, deps);
  const { logger, events, metrics } = deps;
  const duration = metrics.histogram(
    'portcullis_http_server_request_duration_seconds',
    'Duration of requests through the gateway (OpenTelemetry http.server.request.duration).',
    ['api', 'route', 'method', 'status'],
  );
  // Histogram children by label values, so a request records its duration with one Map lookup. The
  // values are bounded: routes come from the specs, methods from Node's parser, statuses are numbers.
  const durationCells = new Map<string, { observe(v: number): void }>();
  const durationCell = (api: string, route: string, method: string, status: number) => {
    const key = `${api} ${route} ${method} ${status}`;
    let cell = durationCells.get(key);
    if (cell === undefined) {
      cell = duration.bind({ api, route, method, status: String(status) });
      if (durationCells.size < 10_000) durationCells.set(key, cell);
    }
    return cell;
  };
  let inFlightTotal = 0;
  metrics.gauge(
    'portcullis_http_server_active_requests',
    'Requests being handled now.',
    [],
    () => inFlightTotal,
  );
  const upstreamErrors = metrics.counter(
    'portcullis_upstream_errors_total',
    'Upstream failures by API and kind (unreachable, timeouts, connection lost).',
    ['api', 'reason'],
  );
  const decisions = metrics.counter(
    'portcullis_decisions_total',
    'Requests refused, by API, policy and reason (those allowed are the rest of the request duration count).',
    ['api', 'policy', 'reason'],
  );
  const accessLog =
    deps.accessLog ??
    (snap.config.logging.accessLog ? (rec: AccessRecord) => logger.info(rec, 'access') : undefined);
  const observeBodies = deps.observeBodies;
  const streamedBodies = new StreamedBodies();

  function sampleBodies(route: Route, ex: Exchange, status: number) {
    if (ex.json === undefined && ex.responseJson === undefined) return;
    const n = ++route.bodiesSeen;
    if (!sampleBody(n)) return;
    try {
      observeBodies!(
        {
          api: route.api.config.name,
          method: route.operation.method,
          path: route.operation.path,
          operationId: route.operation.id,
        },
        ex.json,
        ex.responseJson,
        status,
      );
    } catch (err) {
      logger.error({ err }, 'body observer failed');
    }
  }

  function sendProblem(
    ex: { id: string; res: ServerResponse; responseHeaders?: Record<string, string | string[]> },
    p: Problem,
    hsts: string | undefined,
  ) {
    const res = ex.res;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = problemBody(p, ex.id);
    const headers: Record<string, string | string[]> = {
      ...ex.responseHeaders,
      ...p.headers,
      'content-type': 'application/problem+json',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'x-request-id': ex.id,
    };
    if (hsts) headers['strict-transport-security'] = hsts;
    res.writeHead(p.problem.status, headers);
    res.end(ex.res.req.method === 'HEAD' ? undefined : body);
  }

  function handle(req: IncomingMessage, res: ServerResponse, scheme: 'http' | 'https'): void {
    const s = snap;
    const startedAt = performance.now();
    s.inFlight++;
    inFlightTotal++;
    const peerIp = req.socket.remoteAddress ?? '';
    const trustedPeer = s.isTrustedProxy(peerIp);
    const fwd = resolveForwarding(req.headers, peerIp, scheme, s.isTrustedProxy);
    const trace = continueTrace(req.headers.traceparent);
    const id = requestId(req.headers['x-request-id'], trustedPeer, trace.traceId);
    const hsts = scheme === 'https' ? s.hsts : undefined;
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const rawQuery = q === -1 ? '' : url.slice(q + 1);
    const lengthHeader = req.headers['content-length'];
    const declaredLength = lengthHeader === undefined ? -1 : Number(lengthHeader);

    let route: Route | undefined;
    /** The API a request was addressed to, even when no operation of it matched (for shadow-API events). */
    let matchedApi: ApiRuntime | undefined;
    let ex: Exchange | undefined;
    let finished = false;
    let decision = 'allow';
    let deniedBy: string | undefined;

    /** Set when a request is dispatched upstream: fired if the client leaves before the response is done. */
    let clientGone: ClientGone | undefined;
    /** The upstream exchange, from dispatch until it is settled (its outcome is known); never rejects. */
    let dispatch: Promise<void> | undefined;
    const finish = () => {
      if (finished) return;
      finished = true;
      s.inFlight--;
      inFlightTotal--;
      const status = res.headersSent ? res.statusCode : 499; // 499: the client went away first
      if (status === 499 && decision === 'allow') decision = 'client_aborted';
      const durationMs = performance.now() - startedAt;
      const routeLabel = route ? route.operation.path : '_unmatched';
      const apiName = route?.api.config.name ?? matchedApi?.config.name ?? '';
      durationCell(apiName, routeLabel, method, status).observe(durationMs / 1000);
      if (decision !== 'allow')
        decisions.inc({ api: apiName, policy: deniedBy ?? 'gateway', reason: decision });
      if (route && ex)
        runComplete(route.pipeline, ex, { status, durationMs, decision, deniedBy }, (err) =>
          logger.error({ err }, 'onComplete hook failed'),
        );
      const principal = ex?.principal;
      const userId = principal?.method === 'anonymous' ? undefined : principal?.subject || undefined;
      const reported = ex && ex.reported.length > 0 ? ex.reported : undefined;
      const apiLabel = apiName === '' ? undefined : apiName;
      const duration = Math.round(durationMs * 1000) / 1000;
      // One object serves as the access record and the access event (one literal: one shape for V8).
      const event = {
        '@timestamp': isoNow(),
        'event.kind': 'event',
        'event.category': 'web',
        'event.type': 'access',
        'event.action': 'http-request',
        'event.outcome': status < 400 && deniedBy !== 'upstream' ? 'success' : 'failure',
        'event.reason': decision !== 'allow' ? decision : undefined,
        'portcullis.path_params': ex?.route.pathParams,
        'portcullis.consumer': principal?.consumer,
        // A refused credential's fingerprint lets the detectors see one token or key replayed (never the value).
        'portcullis.credential.hash': status === 401 || status === 403 ? fingerprint(route?.api) : undefined,
        // The user-id of refused Basic credentials: the credential-abuse detector counts failures per user name
        // (a 403 from authenticate: Basic sent over plain HTTP).
        'user.name':
          status === 401 || (status === 403 && deniedBy === 'authenticate')
            ? basicUserId(req.headers.authorization)
            : undefined,
        'http.request.id': id,
        'trace.id': trace.traceId,
        'http.request.method': method,
        'url.path': rawPath,
        'http.route': route?.operation.path,
        'http.response.status_code': status,
        'client.address': fwd.clientIp,
        'event.duration_ms': duration,
        'portcullis.api': apiLabel,
        'portcullis.operation_id': route?.operation.id,
        'portcullis.decision': decision,
        'portcullis.denied_by': deniedBy,
        'portcullis.reported': reported,
        'user.id': userId,
      };
      accessLog?.(event);
      if (observeBodies && route && ex && decision === 'allow' && status < 400)
        sampleBodies(route, ex, status);
      if (events !== nullSink) events.emit(event as SecurityEvent);
    };
    // A response that closes before it is complete was cut short by the client or by the upstream: the
    // record waits until the dispatch has said which (an upstream cut is an upstream failure).
    res.once('close', () => {
      if (clientGone !== undefined && !res.writableFinished) {
        clientGone.fire();
        if (dispatch !== undefined) {
          dispatch.then(finish);
          return;
        }
      }
      finish();
    });

    const fingerprint = (a: ApiRuntime | undefined) => {
      const credential = presentedCredential(req.headers, a?.apiKeyHeaders);
      return credential === undefined ? undefined : credentialHash(credential);
    };
    const deny = (p: Problem, policy: string) => {
      decision = p.reason ?? p.problem.type.slice(p.problem.type.lastIndexOf('/') + 1);
      deniedBy = policy;
      sendProblem({ id, res, responseHeaders: ex?.responseHeaders }, p, hsts);
    };

    /** A CORS preflight for a declared operation is answered by that operation's CORS policy, if any. */
    const answerPreflight = (a: ApiRuntime, p: string): boolean => {
      const requested = req.headers['access-control-request-method'];
      if (req.headers.origin === undefined || typeof requested !== 'string') return false;
      const target = a.router.match(requested.toUpperCase(), p);
      if (target.kind !== 'found') return false;
      const cors = target.value.pipeline.policies.find((c) => c.handler.preflight !== undefined);
      if (cors === undefined) return false;
      route = target.value;
      const answer = cors.handler.preflight!(req);
      if ('problem' in answer) {
        deny(answer, cors.name);
        return true;
      }
      decision = 'allow';
      res.writeHead(answer.status, { ...answer.headers, 'content-length': '0', 'x-request-id': id });
      res.end();
      return true;
    };

    // One reading of the header section: what policies read is what the upstream receives.
    const upstreamHeaders = readRequestHeaders(
      req.rawHeaders,
      req.headers.connection,
      trustedPeer ? s.stripRequestHeaders : s.stripUntrustedRequestHeaders,
      s.singleValueFields,
    );
    if (upstreamHeaders instanceof HeaderFault) {
      const detail =
        upstreamHeaders.fault === 'repeated_header'
          ? `the ${upstreamHeaders.name} header field may appear only once`
          : `header field names may not contain '_' (${upstreamHeaders.name})`;
      deny(problem(problems.badRequest, detail, { reason: upstreamHeaders.fault }), 'gateway');
      return;
    }

    // Host validation: HTTP/1.1 requires exactly one well-formed Host (RFC 9112 §3.2).
    const hostHeader = req.headers.host;
    if (
      hostHeader === undefined
        ? req.httpVersionMajor >= 1 && req.httpVersionMinor >= 1
        : !VALID_HOST.test(hostHeader)
    ) {
      deny(
        problem(problems.badRequest, 'missing or malformed Host header', { reason: 'bad_host' }),
        'gateway',
      );
      return;
    }
    const host = hostOf(hostHeader);

    // Documents published under /.well-known/ (exact paths only) are answered before routing.
    if (s.wellKnown !== null && rawPath.startsWith(WELL_KNOWN_PREFIX)) {
      const known = s.wellKnown.find(rawPath, host);
      if (known !== undefined) {
        matchedApi = known.entry.api;
        const refused = answerWellKnown(known, req, res, id, hsts);
        if (refused !== undefined) deny(refused, 'gateway');
        return;
      }
    }

    let api: ApiRuntime | undefined;
    let hostMatched = false;
    for (const a of s.apis) {
      if (a.hosts !== null && !a.hosts.has(host)) continue;
      hostMatched = true;
      const base = a.config.basePath;
      if (base === '' || rawPath === base || rawPath.startsWith(`${base}/`)) {
        api = a;
        break;
      }
    }
    if (api === undefined) {
      if (!hostMatched)
        deny(problem(problems.misdirectedRequest, undefined, { reason: 'unknown_host' }), 'gateway');
      else deny(problem(problems.notFound, undefined, { reason: 'undeclared_route' }), 'gateway');
      return;
    }
    matchedApi = api;
    const credentialRepeat = repeatedCredential(api, req, rawQuery);
    if (credentialRepeat !== undefined) {
      deny(problem(problems.badRequest, credentialRepeat, { reason: 'repeated_credential' }), 'gateway');
      return;
    }
    const path = normalizePath(rawPath.slice(api.config.basePath.length) || '/');
    if (path === undefined) {
      deny(
        problem(problems.badRequest, 'the path has dot segments, empty segments or forbidden characters', {
          reason: 'bad_path',
        }),
        'gateway',
      );
      return;
    }
    const match = api.router.match(method, path);
    if (match.kind !== 'found' && method === 'OPTIONS' && answerPreflight(api, path)) return;
    if (match.kind !== 'found') {
      if (api.config.undeclared === 'report') {
        decision = 'undeclared_reported';
        forward(undefined, api, path);
        return;
      }
      if (match.kind === 'method-not-allowed') {
        const allow =
          match.allow.includes('GET') && !match.allow.includes('HEAD')
            ? [...match.allow, 'HEAD']
            : match.allow;
        deny(
          problem(problems.methodNotAllowed, `${method} is not declared for this path`, {
            reason: 'undeclared_method',
            headers: { allow: allow.join(', ') },
          }),
          'gateway',
        );
      } else deny(problem(problems.notFound, undefined, { reason: 'undeclared_route' }), 'gateway');
      return;
    }
    route = match.value;
    ex = {
      id,
      req,
      res,
      startedAt,
      clientIp: fwd.clientIp,
      fromTrustedProxy: trustedPeer,
      scheme: fwd.proto,
      host,
      path,
      rawQuery,
      route: { api: api.config.name, spec: api.spec, operation: route.operation, pathParams: match.params },
      upstreamHeaders: {},
      responseHeaders: {},
      reported: [],
    };
    const exchange = ex;
    const r = route;

    const onReport = (policy: string, p: Problem) => {
      logger.warn(
        { requestId: id, policy, reason: p.reason, type: p.problem.type },
        'report mode: would reject',
      );
    };
    const afterBody = () => {
      if (r.pipeline.onRequest === null) return forward(exchange, api, path);
      let result: Denial | undefined | Promise<Denial | undefined>;
      try {
        result = runRequestHooks(r.pipeline.onRequest, exchange, onReport);
      } catch (err) {
        return fail(err);
      }
      if (result === undefined) return forward(exchange, api, path);
      if (result instanceof Promise) {
        result.then((d) => (d ? deny(d.problem, d.policy) : forward(exchange, api, path)), fail);
        return;
      }
      deny(result.problem, result.policy);
    };
    const fail = (err: unknown) => {
      logger.error({ err, requestId: id }, 'policy failed');
      deny(problem(problems.internal, undefined, { reason: 'policy_error' }), 'gateway');
    };

    // Body: refuse what is too large up front; buffer what a policy needs or what is small.
    if (declaredLength > r.maxBodyBytes) {
      deny(
        problem(problems.payloadTooLarge, `the body may be at most ${r.maxBodyBytes} bytes`, {
          reason: 'body_too_large',
        }),
        'gateway',
      );
      req.resume();
      return;
    }
    const hasBody = declaredLength > 0 || req.headers['transfer-encoding'] !== undefined;
    if (
      hasBody &&
      (r.pipeline.needsRequestBody ||
        (declaredLength >= 0 && declaredLength <= s.config.server.bufferBodyBelowBytes))
    ) {
      readBody(req, r.maxBodyBytes).then(
        (body) => {
          if (body === undefined) {
            deny(
              problem(problems.payloadTooLarge, `the body may be at most ${r.maxBodyBytes} bytes`, {
                reason: 'body_too_large',
              }),
              'gateway',
            );
            return;
          }
          exchange.body = body;
          afterBody();
        },
        () => {
          decision = 'client_aborted';
          if (!res.headersSent) res.destroy();
        },
      );
      return;
    }
    afterBody();

    function forward(fx: Exchange | undefined, a: ApiRuntime, matchedPath: string): void {
      const up = a.upstream;
      const headers = upstreamHeaders as Record<string, string | string[]>;
      headers.host = up.host;
      setForwardingHeaders(headers, req.headers, peerIp, trustedPeer, fwd);
      headers.traceparent = trace.traceparent;
      headers['x-request-id'] = id;
      let body: Buffer | Readable | null = null;
      if (fx?.body !== undefined) {
        body = fx.body;
        headers['content-length'] = String(fx.body.length);
      } else if (declaredLength > 0 || req.headers['transfer-encoding'] !== undefined) {
        // A streamed body holds an upstream connection while it arrives: a client may stream only so many
        // at once, and each must keep up a minimum rate.
        if (!streamedBodies.admit(fwd.clientIp, req, s.config.server.streamedBodiesPerClient)) {
          deny(
            problem(problems.quotaExceeded, 'too many request bodies in flight from this client', {
              reason: 'streamed_bodies_per_client',
              headers: { 'retry-after': '1', connection: 'close' },
            }),
            'gateway',
          );
          req.resume();
          return;
        }
        body = streamBody(
          req,
          route?.maxBodyBytes ?? s.config.server.maxBodyBytes,
          s.config.server.minBodyBytesPerSecond,
        );
        if (declaredLength >= 0) headers['content-length'] = String(declaredLength);
      }
      if (fx) {
        Object.assign(headers, fx.upstreamHeaders);
        if (fx.dropUpstreamHeaders !== undefined) for (const h of fx.dropUpstreamHeaders) delete headers[h];
      }
      let permit: CircuitPermit | undefined;
      if (up.breaker !== null) {
        permit = up.breaker.acquire();
        if (permit === undefined) {
          upstreamErrors.inc({ api: a.config.name, reason: 'circuit_open' });
          const retry = String(Math.max(1, Math.ceil(up.breaker.retryAfterMs() / 1000)));
          deny(
            problem(problems.circuitOpen, undefined, {
              reason: 'circuit_open',
              headers: { 'retry-after': retry },
            }),
            'upstream',
          );
          return;
        }
      }
      const dispatchedAt = performance.now();
      let headersAfterMs = -1;
      let upstreamStatus = 0;
      /** Tells the breaker how the call went, once: `ok` unless the upstream failed or answered 5xx. */
      const settlePermit = (ok: boolean) => {
        if (permit === undefined) return;
        permit.done(ok, headersAfterMs >= 0 ? headersAfterMs : performance.now() - dispatchedAt);
        permit = undefined;
      };
      const gone = new ClientGone();
      clientGone = gone;
      const pathAndQuery = up.basePath + matchedPath + (rawQuery ? `?${rawQuery}` : '');
      dispatch = up.pool
        .stream(
          {
            path: pathAndQuery,
            method: method as 'GET',
            headers,
            body,
            signal: gone as unknown as EventEmitter,
            opaque: fx,
          },
          ({ statusCode, headers: upHeaders }) => {
            headersAfterMs = performance.now() - dispatchedAt;
            upstreamStatus = statusCode;
            const head: ResponseHead = { status: statusCode, headers: upHeaders as ResponseHead['headers'] };
            stripResponseHopByHop(head.headers);
            if (fx) {
              runResponseHead(r.pipeline, fx, head);
              Object.assign(head.headers, fx.responseHeaders);
            }
            head.headers['x-request-id'] = id;
            if (hsts) head.headers['strict-transport-security'] = hsts;
            if (method === 'HEAD') {
              // HEAD has no body to filter: the upstream's length is that of the body unfiltered.
              if (route?.pipeline.bodyTransformers != null) delete head.headers['content-length'];
            } else if (fx && route && wantsResponseBody(route.pipeline, fx, head)) {
              return collectAndTransform(fx, route.pipeline, head);
            }
            res.writeHead(head.status, head.headers as Record<string, string | string[]>);
            return res;
          },
        )
        .then(
          () => settlePermit(upstreamStatus < 500),
          (err: unknown) => {
            const cause = dispatchFailure(err, gone.fired);
            if (cause === 'client') {
              settlePermit(true); // the client left or sent a broken body: says nothing about the upstream
              if (gone.fired || res.destroyed) {
                decision = 'client_aborted';
                return;
              }
              const code = (err as { code?: string }).code;
              deny(
                code === BODY_TOO_LARGE
                  ? problem(problems.payloadTooLarge, 'the body is larger than allowed', {
                      reason: 'body_too_large',
                    })
                  : code === BODY_TOO_SLOW
                    ? problem(problems.requestTimeout, 'the request body arrived too slowly', {
                        reason: 'body_too_slow',
                        headers: { connection: 'close' },
                      })
                    : problem(problems.badRequest, 'the request body could not be forwarded as sent', {
                        reason: 'bad_request_body',
                      }),
                'gateway',
              );
              // What is left of the body is not worth reading.
              if (code === BODY_TOO_SLOW) res.once('finish', () => req.socket.destroy());
              return;
            }
            settlePermit(false);
            const { problem: type, reason } = classifyUpstreamError(err);
            const cut = upstreamStatus !== 0;
            const why = cut ? 'upstream_response_incomplete' : reason;
            upstreamErrors.inc({ api: a.config.name, reason: why });
            logger.warn(
              { requestId: id, api: a.config.name, reason: why, code: (err as { code?: string }).code },
              cut ? 'upstream response cut short' : 'upstream failure',
            );
            decision = why;
            deniedBy = 'upstream';
            if (res.headersSent || res.destroyed) res.destroy();
            else
              sendProblem(
                { id, res, responseHeaders: fx?.responseHeaders },
                problem(type, undefined, { reason }),
                hsts,
              );
          },
        );
    }

    function collectAndTransform(fx: Exchange, pipeline: Pipeline, head: ResponseHead): Writable {
      const chunks: Buffer[] = [];
      let size = 0;
      const limit = 8 * 1024 * 1024;
      return new Writable({
        write(chunk: Buffer, _enc, cb) {
          size += chunk.length;
          if (size > limit) return cb(new Error('response body too large to inspect'));
          chunks.push(chunk);
          cb();
        },
        final(cb) {
          let body: Buffer = Buffer.concat(chunks, size);
          for (const p of pipeline.bodyTransformers ?? []) {
            if (p.handler.wantsResponseBody && !p.handler.wantsResponseBody(fx, head)) continue;
            const out = p.handler.transformResponseBody!(fx, head, body);
            if (!Buffer.isBuffer(out)) {
              deny(out, p.name);
              return cb();
            }
            body = out;
          }
          delete head.headers['transfer-encoding'];
          head.headers['content-length'] = String(body.length);
          res.writeHead(head.status, head.headers as Record<string, string | string[]>);
          res.end(body);
          cb();
        },
      });
    }
  }

  return {
    handle(req, res, scheme) {
      try {
        handle(req, res, scheme);
      } catch (err) {
        logger.error({ err }, 'request handling failed');
        if (!res.headersSent) {
          const body = problemBody(problem(problems.internal), 'unknown');
          res.writeHead(500, {
            'content-type': 'application/problem+json',
            'content-length': Buffer.byteLength(body),
          });
          res.end(body);
        } else res.destroy();
      }
    },
    async reload(config) {
      const next = await buildSnapshot(config, deps);
      const old = snap;
      snap = next;
      logger.info({ apis: next.apis.map((a) => a.config.name) }, 'config reloaded');
      // Retire the old snapshot once its in-flight requests are done (pools close gracefully anyway).
      const retire = () => (old.inFlight === 0 ? old.shared.close() : setTimeout(retire, 100).unref());
      retire();
    },
    get config() {
      return snap.config;
    },
    inFlight: () => inFlightTotal,
    spec: (api) => snap.apis.find((a) => a.config.name === api)?.spec,
    inventory() {
      const out: Array<{
        api: string;
        operationId: string;
        method: string;
        path: string;
        policies: string[];
      }> = [];
      for (const a of snap.apis) {
        for (const op of a.spec.operations) {
          const m = a.router.match(op.method, op.path.replace(/\{[^}]+\}/g, 'x'));
          out.push({
            api: a.config.name,
            operationId: op.id,
            method: op.method,
            path: a.config.basePath + op.path,
            policies:
              m.kind === 'found'
                ? m.value.pipeline.policies.map((p) => `${p.name}${p.mode === 'report' ? ' (report)' : ''}`)
                : [],
          });
        }
      }
      return out;
    },
    async close() {
      await snap.shared.close();
    },
  };
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

/**
 * The abort signal given to undici for one upstream request: the smallest EventEmitter-shaped object
 * undici accepts (an AbortController and its EventTarget cost several allocations per request). It has
 * no `aborted` member on purpose: undici then treats it as an emitter, not a native AbortSignal.
 */
class ClientGone {
  #listener: (() => void) | undefined;
  fired = false;
  once(_event: 'abort', listener: () => void): void {
    this.#listener = listener;
  }
  /** undici checks that a signal has `on` (or `addEventListener`) before using `once`. */
  on(event: 'abort', listener: () => void): void {
    this.once(event, listener);
  }
  removeListener(): void {
    this.#listener = undefined;
  }
  fire(): void {
    this.fired = true;
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.();
  }
}

/** Reads a body fully; resolves undefined when it exceeds `max` bytes. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.once('end', () =>
      resolve(over ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)),
    );
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('client aborted'));
    });
  });
}

/**
 * Request bodies being streamed to upstreams, per client address. Entries live only while a body is
 * arriving, so the map is bounded by the open connections.
 */
class StreamedBodies {
  readonly #inFlight = new Map<string, number>();
  /** Counts one more body for `client` until `req` ends or closes; false when the client is at `max`. */
  admit(client: string, req: IncomingMessage, max: number): boolean {
    const n = this.#inFlight.get(client) ?? 0;
    if (n >= max) return false;
    this.#inFlight.set(client, n + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.#inFlight.get(client) ?? 1) - 1;
      if (left <= 0) this.#inFlight.delete(client);
      else this.#inFlight.set(client, left);
    };
    req.once('end', release);
    req.once('close', release);
    return true;
  }
}

/**
 * Streams a body to the upstream, failing it once more than `max` bytes arrive or once it falls below
 * `minBytesPerSecond` on average after a grace period (Apache's mod_reqtimeout MinRate, in effect): a
 * slow sender must not hold an upstream connection for as long as it likes.
 */
function streamBody(req: IncomingMessage, max: number, minBytesPerSecond: number): Readable {
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > max) return cb(Object.assign(new Error('request body too large'), { code: BODY_TOO_LARGE }));
      cb(null, chunk);
    },
  });
  req.once('error', (err) => counter.destroy(err));
  if (minBytesPerSecond > 0) {
    const startedAt = performance.now();
    const check = () => {
      if (req.complete) return;
      const elapsed = performance.now() - startedAt;
      const due = BODY_GRACE_MS + (size / minBytesPerSecond) * 1000;
      if (elapsed >= due) {
        counter.destroy(Object.assign(new Error('request body too slow'), { code: BODY_TOO_SLOW }));
        return;
      }
      timer = setTimeout(check, Math.max(50, due - elapsed));
    };
    let timer = setTimeout(check, BODY_GRACE_MS);
    counter.once('close', () => clearTimeout(timer));
    req.once('end', () => clearTimeout(timer));
  }
  return req.pipe(counter);
}
