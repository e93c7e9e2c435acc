/**
 * The policy part of the test kit: an API document built in memory, the compile context a policy gets
 * from the gateway (real memory store, the gateway's shared-services registry, silent logger, recorded
 * events) and the Exchange it judges. Starts nothing, so unit tests beside the code may use it; the
 * servers that run compiled handlers on real requests are in test/kit/policy-server.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import type { ApiDocument, JsonObject, Operation, SpecVersion } from '../../src/core/api-document.ts';
import { type Clock, systemClock } from '../../src/core/clock.ts';
import type { SecurityEvent } from '../../src/core/events.ts';
import type { Exchange, Principal } from '../../src/core/exchange.ts';
import { createMetrics, type MetricsRegistry } from '../../src/core/metrics.ts';
import type { CompileContext } from '../../src/core/policy.ts';
import { type ClosableSharedServices, createSharedServices } from '../../src/core/shared-services.ts';
import { buildApiDocument } from '../../src/openapi/load.ts';
import { createMemoryStore } from '../../src/state/memory-store.ts';
import type { StateStore } from '../../src/state/store.ts';

/** An API document built in memory from a plain OpenAPI object, as the loader builds it from a file. */
export function apiDocument(doc: JsonObject, version: SpecVersion = '3.1'): ApiDocument {
  return buildApiDocument('/virtual/openapi.yaml', version, doc);
}

/** Shorthand: an OpenAPI 3.1 document from paths, security schemes and (only when given) top-level security. */
export function specOf(doc: {
  paths: JsonObject;
  securitySchemes?: JsonObject;
  security?: unknown[];
}): ApiDocument {
  return apiDocument({
    openapi: '3.1.0',
    info: { title: 'test', version: '1' },
    paths: doc.paths,
    ...(doc.security === undefined ? {} : { security: doc.security as JsonObject[] }),
    components: { securitySchemes: doc.securitySchemes ?? {} },
  });
}

/** The operation `id` of `spec`; throws when there is none. */
export function operationOf(spec: ApiDocument, id: string): Operation {
  const op = spec.operations.find((o) => o.id === id);
  if (op === undefined) throw new Error(`no operation ${id}`);
  return op;
}

/** What a policy is compiled with, for each operation of one spec, and what it emitted. */
export interface TestContext {
  readonly events: SecurityEvent[];
  readonly shared: ClosableSharedServices;
  readonly store: StateStore;
  readonly metrics: MetricsRegistry;
  /** The compile context for one operation of the spec. */
  ctx(operationId: string): CompileContext;
}

/**
 * Compile contexts over `spec` as the gateway makes them: one store, shared-services registry and
 * metrics registry per spec (the gateway's per snapshot), a silent logger, events recorded in `events`.
 * The store is a memory store on `clock` unless one is given (a Redis store, say).
 */
export function createTestContext(
  spec: ApiDocument,
  opts: { clock?: Clock; apiName?: string; store?: StateStore } = {},
): TestContext {
  const clock = opts.clock ?? systemClock;
  const events: SecurityEvent[] = [];
  const shared = createSharedServices();
  const store = opts.store ?? createMemoryStore({ clock });
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics();
  return {
    events,
    shared,
    store,
    metrics,
    ctx: (operationId) => ({
      apiName: opts.apiName ?? 'test-api',
      spec,
      operation: operationOf(spec, operationId),
      clock,
      logger,
      events: { emit: (e) => events.push(e) },
      store,
      metrics,
      shared,
    }),
  };
}

/** The path parameters of `path` under `template` (`/things/{id}`), raw as the router hands them over. */
export function pathParamsOf(template: string, path: string): Record<string, string> | undefined {
  const t = template.split('/');
  const p = path.split('/');
  if (t.length !== p.length) return undefined;
  const out: Record<string, string> = {};
  for (let i = 0; i < t.length; i++) {
    const m = /^\{(.+)\}$/.exec(t[i]);
    if (m) out[m[1]] = p[i];
    else if (t[i] !== p[i]) return undefined;
  }
  return out;
}

let seq = 0;

/**
 * An Exchange as the gateway's route step makes it, for `ctx`'s operation. Path and query come from
 * `url`, else from the received request's URL (`req`), else from the operation's path template with `1`
 * for each parameter; without `req`, the request is a bare object with `headers`.
 */
export function exchangeOf(
  ctx: Pick<CompileContext, 'apiName' | 'spec' | 'operation'>,
  opts: {
    req?: IncomingMessage;
    res?: ServerResponse;
    url?: string;
    headers?: Record<string, string>;
    id?: string;
    startedAt?: number;
    clientIp?: string;
    scheme?: 'http' | 'https';
    host?: string;
    principal?: Partial<Principal>;
    body?: Buffer;
    pathParams?: Record<string, string>;
  } = {},
): Exchange {
  const url = opts.url ?? opts.req?.url ?? ctx.operation.path.replace(/\{[^}]+\}/g, '1');
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return {
    id: opts.id ?? `req-${++seq}`,
    req: opts.req ?? ({ headers: opts.headers ?? {} } as IncomingMessage),
    res: opts.res ?? ({} as ServerResponse),
    startedAt: opts.startedAt ?? performance.now(),
    clientIp: opts.clientIp ?? '203.0.113.7',
    scheme: opts.scheme ?? 'http',
    host: opts.host ?? 'localhost',
    path,
    rawQuery: q === -1 ? '' : url.slice(q + 1),
    route: {
      api: ctx.apiName,
      spec: ctx.spec,
      operation: ctx.operation,
      pathParams: opts.pathParams ?? pathParamsOf(ctx.operation.path, path) ?? {},
    },
    principal:
      opts.principal === undefined
        ? undefined
        : {
            subject: 'sub-1',
            scopes: new Set(),
            roles: new Set(),
            claims: {},
            method: 'jwt',
            schemes: [],
            ...opts.principal,
          },
    body: opts.body,
    upstreamHeaders: {},
    responseHeaders: {},
    reported: [],
  };
}
