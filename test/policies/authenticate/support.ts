import { randomUUID } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { ApiDocument, JsonObject, Operation } from '../../../src/core/api-document.ts';
import { type Clock, systemClock } from '../../../src/core/clock.ts';
import type { SecurityEvent } from '../../../src/core/events.ts';
import type { Exchange } from '../../../src/core/exchange.ts';
import { createMetrics } from '../../../src/core/metrics.ts';
import type { CompileContext, PolicyHandler } from '../../../src/core/policy.ts';
import { type Problem, problemBody } from '../../../src/core/problems.ts';
import { createSharedServices } from '../../../src/core/shared-services.ts';
import { buildApiDocument } from '../../../src/openapi/load.ts';
import { createMemoryStore } from '../../../src/state/memory-store.ts';
import type { StateStore } from '../../../src/state/store.ts';

/** An OpenAPI 3.1 document built in memory from paths and security schemes. */
export function specOf(doc: {
  paths: JsonObject;
  securitySchemes?: JsonObject;
  security?: unknown[];
}): ApiDocument {
  return buildApiDocument('/virtual/openapi.yaml', '3.1', {
    openapi: '3.1.0',
    info: { title: 'test', version: '1' },
    paths: doc.paths,
    ...(doc.security === undefined ? {} : { security: doc.security }),
    components: { securitySchemes: doc.securitySchemes ?? {} },
  });
}

export function operation(spec: ApiDocument, id: string): Operation {
  const op = spec.operations.find((o) => o.id === id);
  if (op === undefined) throw new Error(`no operation ${id}`);
  return op;
}

/** A per-snapshot shared registry: the gateway's own. */
export const createShared = createSharedServices;

export interface TestContext {
  readonly events: SecurityEvent[];
  readonly shared: ReturnType<typeof createShared>;
  readonly store: StateStore;
  /** A compile context for one operation of the spec. */
  ctx(operationId: string): CompileContext;
}

export function createTestContext(
  spec: ApiDocument,
  opts: { clock?: Clock; apiName?: string; store?: StateStore } = {},
): TestContext {
  const clock = opts.clock ?? systemClock;
  const events: SecurityEvent[] = [];
  const shared = createShared();
  const store = opts.store ?? createMemoryStore({ clock });
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics();
  return {
    events,
    shared,
    store,
    ctx: (operationId) => ({
      apiName: opts.apiName ?? 'test-api',
      spec,
      operation: operation(spec, operationId),
      clock,
      logger,
      events: { emit: (e) => events.push(e) },
      store,
      metrics,
      shared,
    }),
  };
}

function matchPath(template: string, path: string): Record<string, string> | undefined {
  const names: string[] = [];
  const re = new RegExp(
    '^' +
      template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_m, n: string) => {
        names.push(n);
        return '([^/]+)';
      }) +
      '$',
  );
  const m = re.exec(path);
  if (m === null) return undefined;
  return Object.fromEntries(names.map((n, i) => [n, m[i + 1]]));
}

/** What the test server answers when every policy let the request through. */
export interface PassedBody {
  principal: {
    subject: string;
    consumer?: string;
    scopes: string[];
    roles: string[];
    method: string;
    schemes: string[];
  };
  upstreamHeaders: Record<string, string>;
  incomingHeaders: Record<string, unknown>;
}

export interface PolicyServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves the spec's operations on 127.0.0.1 (port 0), running the given compiled handlers in order on a
 * real request, like the gateway pipeline does; answers the problem, or 200 with what the policies attached.
 */
export async function servePolicies(
  spec: ApiDocument,
  handlers: (op: Operation) => Array<PolicyHandler | null>,
  opts: { https?: ServerOptions; bodyLimit?: number } = {},
): Promise<PolicyServer> {
  const compiled = spec.operations.map((op) => ({ op, handlers: handlers(op).filter((h) => h !== null) }));
  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let match: { op: Operation; handlers: PolicyHandler[]; params: Record<string, string> } | undefined;
    for (const c of compiled) {
      if (c.op.method !== req.method) continue;
      const params = matchPath(c.op.path, url.pathname);
      if (params !== undefined) {
        match = { ...c, params };
        break;
      }
    }
    if (match === undefined) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const ex: Exchange = {
      id: randomUUID(),
      req,
      res,
      startedAt: performance.now(),
      clientIp: req.socket.remoteAddress ?? '',
      scheme: opts.https === undefined ? 'http' : 'https',
      // As the gateway does: the host for routing, without the port (the DPoP check reads the port from Host).
      host: (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase(),
      path: url.pathname,
      rawQuery: url.search.slice(1),
      route: { api: 'test-api', spec, operation: match.op, pathParams: match.params },
      upstreamHeaders: {},
      responseHeaders: {},
      reported: [],
    };
    if (match.handlers.some((h) => h.needsRequestBody === true)) ex.body = Buffer.concat(chunks);
    let stop: Problem | undefined;
    try {
      for (const h of match.handlers) {
        stop = await h.onRequest?.(ex);
        if (stop !== undefined) break;
      }
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String((err as Error).stack));
      return;
    }
    if (stop !== undefined) {
      res.writeHead(stop.problem.status, { 'content-type': 'application/problem+json', ...stop.headers });
      res.end(problemBody(stop, ex.id));
      return;
    }
    const p = ex.principal;
    const body: PassedBody = {
      principal: {
        subject: p?.subject ?? '',
        consumer: p?.consumer,
        scopes: [...(p?.scopes ?? [])],
        roles: [...(p?.roles ?? [])],
        method: p?.method ?? '',
        schemes: [...(p?.schemes ?? [])],
      },
      upstreamHeaders: ex.upstreamHeaders,
      incomingHeaders: req.headers,
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server: Server =
    opts.https === undefined
      ? createHttpServer((req, res) => void onRequest(req, res))
      : (createHttpsServer(opts.https, (req, res) => void onRequest(req, res)) as unknown as Server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.https === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A JWKS endpoint whose key set and availability the test controls. */
export interface JwksServer {
  readonly url: string;
  readonly origin: string;
  /** Number of JWKS requests served. */
  readonly hits: number;
  setKeys(keys: JsonObject[]): void;
  setDown(down: boolean): void;
  /** Extra JSON documents served at given paths (e.g. discovery metadata). */
  serve(path: string, body: unknown): void;
  close(): Promise<void>;
}

export async function startJwksServer(): Promise<JwksServer> {
  let keys: JsonObject[] = [];
  let down = false;
  let hits = 0;
  const extra = new Map<string, unknown>();
  const server = createHttpServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/jwks') {
      hits++;
      if (down) {
        res.writeHead(503).end('down');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
      res.end(JSON.stringify({ keys }));
      return;
    }
    if (extra.has(path)) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(extra.get(path)));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/jwks`,
    origin,
    get hits() {
      return hits;
    },
    setKeys(k) {
      keys = k;
    },
    setDown(d) {
      down = d;
    },
    serve(path, body) {
      extra.set(path, body);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
