/**
 * The admin API (JSON under `/api/`) and the dashboard's files, served on the admin listener.
 *
 * | method | path | what |
 * | --- | --- | --- |
 * | POST | /api/login, /api/logout | set / clear the `portcullis_admin` cookie (the only routes without a token) |
 * | GET | /api/status | version, uptime, in-flight requests, event sink and live feed counters |
 * | GET | /api/config | the running config, secrets redacted |
 * | GET | /api/events | stored events, filters, newest first, keyset paging |
 * | GET | /api/alerts | recent alerts |
 * | GET, POST | /api/bans | live bans; manual ban |
 * | DELETE | /api/bans/:kind/:value | lift a ban |
 * | GET, POST | /api/keys | runtime API keys of an API (list; create: the key is shown once) |
 * | DELETE | /api/keys/:api/:hash | revoke a runtime API key |
 * | GET | /api/consumers | configured consumers and API keys (fingerprints only) with their traffic |
 * | GET | /api/inventory | declared operations with policies and traffic; shadow endpoints |
 * | GET | /api/discovery/openapi?api= | endpoints learned from traffic, as an OpenAPI 3.1 document |
 * | GET | /api/discovery/drift?api= | drift of observed traffic against the declared spec |
 * | GET | /api/stats | per-second series, status and decision breakdown, top offenders |
 * | POST | /api/reload | reload the config file (validated first; the old config keeps serving on failure) |
 * | GET | /api/stream | Server-Sent Events: access (sampled), security events, alerts, bans, one tick a second |
 *
 * Errors are RFC 9457 problems; a missing or wrong token is 401 with `WWW-Authenticate: Bearer`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { ApiDocument } from '../core/api-document.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { PortcullisError } from '../core/errors.ts';
import type { SecurityEvent } from '../core/events.ts';
import type { MetricsRegistry } from '../core/metrics.ts';
import { type Problem, type ProblemType, problem, problems } from '../core/problems.ts';
import { writeJson, writeProblem } from '../core/reply.ts';
import type { EventQuery } from '../monitor/stores/event-store.ts';
import { resolveForwarding } from '../shared/forwarding.ts';
import { compileCidrMatcher } from '../shared/ip.ts';
import { packageVersion } from '../shared/package-version.ts';
import { createApiKey, createRuntimeApiKeys } from '../state/api-keys.ts';
import type { StateStore } from '../state/store.ts';
import { createAuthLockout } from './auth-lockout.ts';
import { createLiveFeed, type LiveFeedOptions } from './live-feed.ts';
import { type AdminMonitor, BAN_KINDS, type BanKind } from './monitor-port.ts';
import { redactConfig } from './redact.ts';
import { type AdminRoutes, isAuthorized } from './server.ts';
import { createStaticSite, SECURITY_HEADERS } from './static-files.ts';
import { createTrafficStats, type TrafficStats } from './traffic-stats.ts';

/** What the admin API reads from the gateway (a subset of `Gateway`). */
export interface AdminGateway {
  readonly config: Config;
  inFlight(): number;
  inventory(): Array<{ api: string; operationId: string; method: string; path: string; policies: string[] }>;
  /** The loaded OpenAPI document of one API (for the drift report). */
  spec?(api: string): ApiDocument | undefined;
}

export interface AdminDeps {
  /** The admin token; without one every protected route answers 401. */
  readonly token: string | undefined;
  readonly gateway: AdminGateway;
  readonly metrics: MetricsRegistry;
  readonly store: StateStore;
  readonly monitor?: AdminMonitor;
  /** Re-reads the config file and applies it; absent → `POST /api/reload` answers 503. */
  readonly reload?: () => Promise<void>;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Shown by `/api/status`; defaults to the package version. */
  readonly version?: string;
  /** Folder of the dashboard's files; defaults to `web/`. */
  readonly webRoot?: string;
  readonly live?: Partial<LiveFeedOptions> & {
    /** Access events forwarded to the live feed per second; the rest are only counted. */
    accessEventsPerSecond?: number;
  };
}

/** The admin routes plus a `close` that stops the live feed and its timers. */
export interface AdminApi extends AdminRoutes {
  close(): void;
}

const COOKIE = 'portcullis_admin';
const MAX_BODY_BYTES = 16 * 1024;
const MAX_FILTER_CHARS = 256;
const MAX_BAN_SECONDS = 30 * 24 * 3600;
/** Failed sign-ins and wrong tokens accepted per client and minute before its credentials answer 429. */
const AUTH_FAILURES_PER_MINUTE = 20;
/** Clients whose failures are tracked one by one; the others share one allowance. */
const AUTH_LOCKOUT_CLIENTS = 4096;
const EVENT_FILTERS = [
  'kind',
  'category',
  'type',
  'action',
  'outcome',
  'ip',
  'principal',
  'api',
  'route',
  'from',
  'to',
] as const satisfies ReadonlyArray<keyof EventQuery>;
/** Fields of an access event sent to the live feed (the rest stay in the store). */
const ACCESS_FIELDS = [
  '@timestamp',
  'event.id',
  'event.kind',
  'event.category',
  'event.type',
  'event.action',
  'event.outcome',
  'event.reason',
  'http.request.id',
  'http.request.method',
  'url.path',
  'http.route',
  'http.response.status_code',
  'client.address',
  'event.duration_ms',
  'portcullis.api',
  'portcullis.operation_id',
  'portcullis.decision',
  'portcullis.denied_by',
  'portcullis.policy',
  'user.id',
  'portcullis.consumer',
];

/** A client error found while reading a request, turned into a problem in one place. */
class AdminRequestError extends PortcullisError {
  readonly code = 'ERR_ADMIN_REQUEST';
  readonly type: ProblemType;
  readonly headers?: Record<string, string>;
  constructor(type: ProblemType, detail: string, headers?: Record<string, string>) {
    super(detail);
    this.type = type;
    this.headers = headers;
  }
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  writeJson(res, status, body, { ...SECURITY_HEADERS, ...headers });
}

function sendProblem(res: ServerResponse, p: Problem): void {
  writeProblem(res, p, randomUUID(), SECURITY_HEADERS);
}

function noContent(res: ServerResponse, headers: Record<string, string> = {}): void {
  res.writeHead(204, { ...SECURITY_HEADERS, ...headers, 'cache-control': 'no-store' });
  res.end();
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  // Requiring JSON also makes a cross-site form post impossible (it would need a CORS preflight).
  if (type !== 'application/json')
    throw new AdminRequestError(problems.unsupportedMediaType, 'send the body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new AdminRequestError(
        problems.payloadTooLarge,
        `the body is larger than ${MAX_BODY_BYTES} bytes`,
      );
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new AdminRequestError(problems.badRequest, 'the body is not valid JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new AdminRequestError(problems.badRequest, 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

function intParam(url: URL, name: string, dflt: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new AdminRequestError(problems.badRequest, `${name} must be an integer from ${min} to ${max}`);
  return n;
}

/** Unsafe methods must come from the dashboard's own origin when the browser says where they come from. */
function isSameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return req.headers['sec-fetch-site'] !== 'cross-site';
  const host = req.headers.host;
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

/** Whether the request presents an admin credential at all (an Authorization header or the cookie). */
function hasCredentials(req: IncomingMessage): boolean {
  return (
    (req.headers.authorization ?? '') !== '' ||
    /(?:^|;\s*)portcullis_admin=[^;]/.test(req.headers.cookie ?? '')
  );
}

function cookieHeader(req: IncomingMessage, value: string, maxAgeSeconds: number): string {
  const secure = (req.socket as { encrypted?: boolean }).encrypted ? '; Secure' : '';
  return `${COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
}

function validateBan(body: Record<string, unknown>): {
  kind: BanKind;
  value: string;
  ttlSeconds: number;
  reason?: string;
} {
  const { kind, value, ttlSeconds, reason } = body;
  const bad = (detail: string) => new AdminRequestError(problems.badRequest, detail);
  if (typeof kind !== 'string' || !(BAN_KINDS as readonly string[]).includes(kind))
    throw bad(`kind must be one of ${BAN_KINDS.join(', ')}`);
  if (typeof value !== 'string' || value.length === 0 || value.length > 256 || !/^[\x21-\x7e]+$/.test(value))
    throw bad('value must be 1 to 256 printable characters without spaces');
  if (kind === 'ip' && isIP(value) === 0) throw bad('value must be an IPv4 or IPv6 address');
  if (
    typeof ttlSeconds !== 'number' ||
    !Number.isInteger(ttlSeconds) ||
    ttlSeconds < 1 ||
    ttlSeconds > MAX_BAN_SECONDS
  )
    throw bad(`ttlSeconds must be an integer from 1 to ${MAX_BAN_SECONDS}`);
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 200))
    throw bad('reason must be a string of at most 200 characters');
  return { kind: kind as BanKind, value, ttlSeconds, ...(reason ? { reason } : {}) };
}

interface ConsumerView {
  name: string;
  api: string;
  scheme: string;
  type: 'apiKey' | 'mtls';
  roles: string[];
  /** First 12 hex digits of each key hash: enough to tell keys apart, useless to an attacker. */
  keyFingerprints?: string[];
  traffic: { requests: number; denied: number; errors: number; lastSeen: string | null };
}

/** Finds every `apiKey` / `mtls` consumer list in the API configs (API level and per operation). */
function configuredConsumers(config: Config, stats: TrafficStats): ConsumerView[] {
  const out = new Map<string, ConsumerView>();
  const walk = (node: unknown, api: string, trail: string[], depth: number): void => {
    if (depth > 12 || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const n of node) walk(n, api, trail, depth + 1);
      return;
    }
    const obj = node as Record<string, unknown>;
    const parent = trail[trail.length - 1];
    if ((parent === 'apiKey' || parent === 'mtls') && Array.isArray(obj.consumers)) {
      const scheme = trail[trail.length - 2] ?? '';
      for (const c of obj.consumers as Array<Record<string, unknown>>) {
        if (typeof c?.name !== 'string') continue;
        const key = `${api}\u0000${scheme}\u0000${c.name}`;
        if (out.has(key)) continue;
        const keys = Array.isArray(c.keys)
          ? (c.keys as unknown[]).filter((k) => typeof k === 'string')
          : undefined;
        out.set(key, {
          name: c.name,
          api,
          scheme,
          type: parent,
          roles: Array.isArray(c.roles) ? (c.roles as unknown[]).map(String) : [],
          ...(keys
            ? { keyFingerprints: (keys as string[]).map((k) => k.replace(/^sha256:/, '').slice(0, 12)) }
            : {}),
          traffic: stats.consumer(c.name) ?? { requests: 0, denied: 0, errors: 0, lastSeen: null },
        });
      }
    }
    for (const [k, v] of Object.entries(obj)) walk(v, api, [...trail, k], depth + 1);
  };
  for (const api of config.apis) walk(api, api.name, [], 0);
  return [...out.values()];
}

/**
 * The config of each running policy of an operation as written in the gateway config: the API-level block
 * with the operation's override on top (the gateway's own shallow merge), secrets redacted. Settings that come
 * from the spec (`x-portcullis-*`) and schema defaults are not shown.
 */
function configuredPolicies(
  config: Config,
  apiName: string,
  operationId: string,
  names: readonly string[],
): Record<string, unknown> {
  const api = config.apis.find((a) => a.name === apiName);
  const apiLevel = (api?.policies ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const opLevel = (api?.operations[operationId]?.policies ?? {}) as Record<
    string,
    Record<string, unknown> | undefined
  >;
  const out: Record<string, unknown> = {};
  for (const name of names) out[name] = redactConfig({ ...apiLevel[name], ...opLevel[name] });
  return out;
}

function eventQuery(url: URL): EventQuery {
  const q: EventQuery = {};
  for (const name of EVENT_FILTERS) {
    const v = url.searchParams.get(name);
    if (v === null || v === '') continue;
    if (v.length > MAX_FILTER_CHARS)
      throw new AdminRequestError(
        problems.badRequest,
        `${name} is longer than ${MAX_FILTER_CHARS} characters`,
      );
    q[name] = v;
  }
  q.limit = intParam(url, 'limit', 50, 1, 1000);
  const cursor = url.searchParams.get('cursor');
  if (cursor !== null && cursor !== '') {
    if (cursor.length > 512) throw new AdminRequestError(problems.badRequest, 'cursor is too long');
    q.cursor = cursor;
  }
  return q;
}

function unavailable(what: string): AdminRequestError {
  return new AdminRequestError(problems.serviceUnavailable, `${what} is not running in this gateway`);
}

/** Is this an error the event store raises for a bad query (bad cursor, bad time)? */
function isQueryError(err: unknown): err is Error {
  return (err as { code?: unknown })?.code === 'ERR_EVENT_STORE_QUERY';
}

function liveAccessView(e: SecurityEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of ACCESS_FIELDS) {
    const v = e[f];
    if (v !== undefined) out[f] = typeof v === 'string' && v.length > 512 ? v.slice(0, 512) : v;
  }
  return out;
}

/**
 * Creates the admin routes: the dashboard's files (public), `/api/login` and `/api/logout`, and the
 * token-protected JSON API. Pass the result as `routes` to `startAdminServer`.
 *
 * @example
 * const api = createAdminRoutes({ token, gateway, metrics, store, monitor });
 * await startAdminServer({ host, port, token, metrics, logger, isReady, routes: api });
 */
export function createAdminRoutes(deps: AdminDeps): AdminApi {
  const clock = deps.clock ?? systemClock;
  const startedAt = clock.now();
  const version = deps.version ?? packageVersion() ?? 'unknown';
  const site = createStaticSite(deps.webRoot);
  const stats = createTrafficStats({ clock });
  const feed = createLiveFeed({
    maxClients: deps.live?.maxClients ?? 16,
    maxBufferedBytes: deps.live?.maxBufferedBytes ?? 256 * 1024,
    heartbeatMs: deps.live?.heartbeatMs ?? 15_000,
  });
  deps.metrics.gauge('portcullis_admin_live_clients', 'Dashboards connected to the live stream.', [], () =>
    feed.clients(),
  );
  deps.metrics.gauge(
    'portcullis_admin_live_dropped_clients',
    'Live-stream clients disconnected since start for reading too slowly.',
    [],
    () => feed.dropped(),
  );
  const accessPerSecond = deps.live?.accessEventsPerSecond ?? 25;
  const monitor = deps.monitor ?? {};
  let accessSecond = 0;
  let accessSent = 0;
  const lockout = createAuthLockout({
    clock,
    maxFailures: AUTH_FAILURES_PER_MINUTE,
    windowMs: 60_000,
    maxClients: AUTH_LOCKOUT_CLIENTS,
  });
  let trusted = { cidrs: [] as readonly string[], isTrusted: compileCidrMatcher([]) };

  /** The client as the gateway sees it: the peer, or what a trusted proxy (`server.trustedProxies`) says. */
  function clientOf(req: IncomingMessage): string {
    const cidrs = deps.gateway.config.server?.trustedProxies ?? [];
    if (cidrs !== trusted.cidrs) trusted = { cidrs, isTrusted: compileCidrMatcher(cidrs) };
    const peer = req.socket.remoteAddress ?? '';
    const proto = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    return resolveForwarding(req.headers, peer, proto, trusted.isTrusted).clientIp;
  }

  /** Refuses a client whose failed attempts used up its allowance, before its credential is compared. */
  function refuseLockedOut(client: string): void {
    const retry = lockout.retryAfterSeconds(client);
    if (retry !== undefined)
      throw new AdminRequestError(
        problems.quotaExceeded,
        'too many failed admin credentials from this client; try again later',
        { 'retry-after': String(retry) },
      );
  }

  function countFailure(client: string, how: string): void {
    const failures = lockout.fail(client);
    if (failures === 1 || failures === AUTH_FAILURES_PER_MINUTE)
      deps.logger?.warn(
        { client, failures, lockedOut: failures >= AUTH_FAILURES_PER_MINUTE },
        `admin ${how} failed`,
      );
  }

  const unsubscribe = monitor.subscribe?.((e) => {
    stats.record(e);
    if (e['event.type'] === 'access' && e['event.kind'] !== 'alert') {
      const sec = Math.floor(clock.now() / 1000);
      if (sec !== accessSecond) {
        accessSecond = sec;
        accessSent = 0;
      }
      if (accessSent++ < accessPerSecond) feed.publish('access', liveAccessView(e));
      return;
    }
    feed.publish(e['event.kind'] === 'alert' ? 'alert' : 'security', e);
  });

  const tick = setInterval(() => {
    if (feed.clients() === 0) return;
    feed.publish('tick', {
      point: stats.point(),
      totals: stats.totals(),
      decisions: stats.decisions(),
      inFlight: deps.gateway.inFlight(),
    });
  }, 1000);
  tick.unref();

  async function alerts(limit: number): Promise<readonly SecurityEvent[]> {
    if (monitor.alerts) return monitor.alerts(limit);
    if (monitor.queryEvents) return (await monitor.queryEvents({ kind: 'alert', limit })).events;
    throw unavailable('the alert list (no event store)');
  }

  function status() {
    const now = clock.now();
    const inventory = deps.gateway.inventory();
    return {
      version,
      startedAt: new Date(startedAt).toISOString(),
      uptimeSeconds: Math.floor((now - startedAt) / 1000),
      inFlight: deps.gateway.inFlight(),
      apis: deps.gateway.config.apis.length,
      operations: inventory.length,
      stateStore: deps.store.kind,
      sink: monitor.sinkStats?.() ?? null,
      live: { clients: feed.clients(), droppedSlowClients: feed.dropped() },
      features: {
        events: monitor.queryEvents !== undefined,
        alerts: monitor.alerts !== undefined || monitor.queryEvents !== undefined,
        bans: monitor.bans !== undefined,
        reload: deps.reload !== undefined,
        live: monitor.subscribe !== undefined,
      },
    };
  }

  function inventory() {
    const config = deps.gateway.config;
    const ops = deps.gateway.inventory().map((o) => ({
      ...o,
      policyConfig: configuredPolicies(config, o.api, o.operationId, o.policies),
      traffic: stats.operation(o.api, o.operationId) ?? { requests: 0, denied: 0, errors: 0, lastSeen: null },
    }));
    return { operations: ops, shadow: monitor.shadowEndpoints?.() ?? stats.shadowEndpoints() };
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const client = clientOf(req);
    refuseLockedOut(client);
    const body = await readJson(req);
    const token = typeof body.token === 'string' ? body.token : '';
    // Reuse the server's constant-time check by presenting the token as a bearer credential.
    const probe = { headers: { authorization: `Bearer ${token}` } } as IncomingMessage;
    if (token === '' || token.length > 1024 || !isAuthorized(probe, deps.token)) {
      countFailure(client, 'login');
      sendProblem(
        res,
        problem(problems.invalidToken, 'the admin token is wrong', {
          headers: { 'www-authenticate': 'Bearer realm="portcullis-admin", error="invalid_token"' },
        }),
      );
      return;
    }
    noContent(res, { 'set-cookie': cookieHeader(req, encodeURIComponent(token), 12 * 3600) });
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const p = url.pathname;
    const unsafe = method !== 'GET' && method !== 'HEAD';
    if (unsafe && !isSameOrigin(req))
      throw new AdminRequestError(problems.forbidden, 'cross-origin requests to the admin API are refused');
    if (p === '/api/login' && method === 'POST') return login(req, res);
    if (p === '/api/logout' && method === 'POST')
      return noContent(res, { 'set-cookie': cookieHeader(req, '', 0) });
    // A wrong bearer token or cookie counts like a failed sign-in; without the lockout here, a guesser
    // would simply move from /api/login to the Authorization header.
    const presented = hasCredentials(req);
    const client = presented ? clientOf(req) : '';
    if (presented) refuseLockedOut(client);
    if (!isAuthorized(req, deps.token)) {
      if (!presented)
        return sendProblem(
          res,
          problem(problems.unauthorized, 'an admin token is required (Authorization: Bearer <token>)', {
            headers: { 'www-authenticate': 'Bearer realm="portcullis-admin"' },
          }),
        );
      countFailure(client, 'token');
      return sendProblem(
        res,
        problem(problems.invalidToken, 'the admin token is wrong', {
          headers: { 'www-authenticate': 'Bearer realm="portcullis-admin", error="invalid_token"' },
        }),
      );
    }
    const route = `${method} ${p}`;
    switch (route) {
      case 'GET /api/status':
        return sendJson(res, 200, status());
      case 'GET /api/config':
        return sendJson(res, 200, redactConfig(deps.gateway.config));
      case 'GET /api/events': {
        const q = eventQuery(url);
        if (!monitor.queryEvents) throw unavailable('the event store');
        try {
          const page = await monitor.queryEvents(q);
          return sendJson(res, 200, { events: page.events, nextCursor: page.nextCursor ?? null });
        } catch (err) {
          if (isQueryError(err)) throw new AdminRequestError(problems.badRequest, err.message);
          throw err;
        }
      }
      case 'GET /api/alerts':
        return sendJson(res, 200, { alerts: await alerts(intParam(url, 'limit', 50, 1, 1000)) });
      case 'GET /api/bans': {
        if (!monitor.bans) throw unavailable('the ban responder');
        return sendJson(res, 200, { bans: await monitor.bans.list() });
      }
      case 'POST /api/bans': {
        if (!monitor.bans) throw unavailable('the ban responder');
        const ban = await monitor.bans.ban(validateBan(await readJson(req))).catch((err: unknown) => {
          // The ban list checks values further (a token ban takes a credential hash, never a credential).
          if ((err as { code?: unknown }).code === 'ERR_BAN_INVALID')
            throw new AdminRequestError(problems.badRequest, (err as Error).message);
          throw err;
        });
        deps.logger?.info({ kind: ban.kind, value: ban.value, expiresAt: ban.expiresAt }, 'manual ban');
        feed.publish('bans', { action: 'ban', ban });
        return sendJson(res, 201, { ban });
      }
      case 'GET /api/keys': {
        const api = runtimeKeyApi(url.searchParams.get('api'));
        return sendJson(res, 200, { api, keys: await createRuntimeApiKeys(deps.store, api).list() });
      }
      case 'POST /api/keys': {
        // Runtime API keys (authenticate `apiKey.runtimeKeys: true`): the key is shown once, only its hash is kept.
        const body = await readJson(req);
        const api = runtimeKeyApi(typeof body.api === 'string' ? body.api : null);
        const consumer = body.consumer;
        if (typeof consumer !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(consumer))
          throw new AdminRequestError(problems.badRequest, 'consumer: letters, digits, _ . - (at most 64)');
        const roles = Array.isArray(body.roles)
          ? body.roles.filter((r): r is string => typeof r === 'string')
          : [];
        const ttl = typeof body.ttlSeconds === 'number' && body.ttlSeconds > 0 ? body.ttlSeconds : undefined;
        const { key, hash } = createApiKey();
        await createRuntimeApiKeys(deps.store, api).register({ name: consumer, roles }, hash, ttl);
        deps.logger?.info({ api, consumer }, 'runtime API key created');
        return sendJson(res, 201, { api, consumer, key, hash });
      }
      case 'GET /api/consumers':
        return sendJson(res, 200, { consumers: configuredConsumers(deps.gateway.config, stats) });
      case 'GET /api/inventory':
        return sendJson(res, 200, inventory());
      case 'GET /api/discovery/openapi': {
        if (!monitor.discoveredOpenApi)
          throw new AdminRequestError(problems.resourceNotFound, 'discovery is off');
        return sendJson(res, 200, monitor.discoveredOpenApi(url.searchParams.get('api') ?? undefined));
      }
      case 'GET /api/discovery/drift': {
        const api = url.searchParams.get('api') ?? deps.gateway.config.apis[0]?.name ?? '';
        const spec = deps.gateway.spec?.(api);
        if (!monitor.drift || spec === undefined) {
          throw new AdminRequestError(
            problems.resourceNotFound,
            spec === undefined ? `no API named ${api}` : 'discovery is off',
          );
        }
        return sendJson(res, 200, { api, drift: monitor.drift(api, spec) });
      }
      case 'GET /api/stats':
        return sendJson(res, 200, {
          ...stats.snapshot(intParam(url, 'seconds', 300, 1, 600), intParam(url, 'top', 10, 1, 100)),
          inFlight: deps.gateway.inFlight(),
        });
      case 'POST /api/reload': {
        if (!deps.reload) throw unavailable('reload (no config file)');
        try {
          await deps.reload();
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          if (code !== 'ERR_CONFIG' && code !== 'ERR_GATEWAY_BUILD') throw err;
          return sendProblem(
            res,
            problem(problems.configRejected, 'the new config has problems', {
              extensions: { errors: (err as Error).message.split('\n').filter((l) => l.trim() !== '') },
            }),
          );
        }
        deps.logger?.info('config reloaded through the admin API');
        feed.publish('reload', { at: new Date(clock.now()).toISOString() });
        return sendJson(res, 200, { reloaded: true });
      }
      case 'GET /api/stream': {
        if (!feed.attach(req, res))
          throw new AdminRequestError(problems.serviceUnavailable, 'too many live dashboards are open', {
            'retry-after': '10',
          });
        return;
      }
    }
    const revoke = /^\/api\/keys\/([^/]+)\/(sha256:[0-9a-f]{64})$/.exec(p);
    if (revoke && method === 'DELETE') {
      const api = runtimeKeyApi(decodeURIComponent(revoke[1]));
      await createRuntimeApiKeys(deps.store, api).revoke(revoke[2]);
      deps.logger?.info({ api }, 'runtime API key revoked');
      return noContent(res);
    }
    const ban = /^\/api\/bans\/([^/]+)\/([^/]+)$/.exec(p);
    if (ban && method === 'DELETE') {
      if (!monitor.bans) throw unavailable('the ban responder');
      let kind: string;
      let value: string;
      try {
        kind = decodeURIComponent(ban[1]);
        value = decodeURIComponent(ban[2]);
      } catch {
        throw new AdminRequestError(problems.badRequest, 'the ban path is not valid percent-encoding');
      }
      if (!(BAN_KINDS as readonly string[]).includes(kind))
        throw new AdminRequestError(problems.badRequest, `kind must be one of ${BAN_KINDS.join(', ')}`);
      if (!(await monitor.bans.unban(kind as BanKind, value)))
        throw new AdminRequestError(problems.resourceNotFound, 'there is no such ban');
      deps.logger?.info({ kind, value }, 'manual unban');
      feed.publish('bans', { action: 'unban', kind, value });
      return noContent(res);
    }
    const known = [
      '/api/status',
      '/api/config',
      '/api/events',
      '/api/alerts',
      '/api/bans',
      '/api/consumers',
      '/api/keys',
      '/api/inventory',
      '/api/discovery/openapi',
      '/api/discovery/drift',
      '/api/stats',
      '/api/reload',
      '/api/stream',
    ];
    if (known.includes(p) || ban)
      throw new AdminRequestError(problems.methodNotAllowed, `${method} is not allowed on ${p}`);
    throw new AdminRequestError(problems.resourceNotFound, `no admin API route ${p}`);
  }

  /** The API whose runtime keys are managed: named, or the only one. */
  function runtimeKeyApi(name: string | null): string {
    const apis = deps.gateway.config.apis.map((a) => a.name);
    const api = name ?? (apis.length === 1 ? apis[0] : undefined);
    if (api === undefined || !apis.includes(api)) {
      throw new AdminRequestError(problems.badRequest, `api must name one of ${apis.join(', ')}`);
    }
    return api;
  }

  const routes = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
      try {
        await api(req, res, url);
      } catch (err) {
        if (!(err instanceof AdminRequestError)) throw err;
        if (res.headersSent) res.destroy();
        else sendProblem(res, problem(err.type, err.message, { headers: err.headers }));
      }
      return true;
    }
    return site.serve(req, res, url.pathname);
  };
  return Object.assign(routes, {
    close() {
      clearInterval(tick);
      unsubscribe?.();
      feed.close();
    },
  });
}
