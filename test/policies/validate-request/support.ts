/**
 * Test support for the validation and response-protection policies: a real node:http server that turns
 * each request into an Exchange (as the gateway does: raw path parameters, raw query, buffered body),
 * runs one compiled policy handler on it and answers with what the handler decided.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { ApiDocument, JsonObject, SpecVersion } from '../../../src/core/api-document.ts';
import { systemClock } from '../../../src/core/clock.ts';
import type { SecurityEvent } from '../../../src/core/events.ts';
import type { Exchange, Principal } from '../../../src/core/exchange.ts';
import { createMetrics } from '../../../src/core/metrics.ts';
import type { CompileContext, PolicyHandler, SharedServices } from '../../../src/core/policy.ts';
import type { Problem } from '../../../src/core/problems.ts';
import { buildApiDocument } from '../../../src/openapi/load.ts';
import { createMemoryStore } from '../../../src/state/memory-store.ts';

/** Builds an in-memory API document from a plain OpenAPI object. */
export function apiDocument(doc: JsonObject, version: SpecVersion = '3.1'): ApiDocument {
  return buildApiDocument('/test/openapi.yaml', version, doc);
}

export interface TestContext {
  readonly events: SecurityEvent[];
  context(spec: ApiDocument, operationId: string): CompileContext;
}

/** A compile context with real dependencies (memory store, silent logger) and an event list. */
export function testContext(): TestContext {
  const events: SecurityEvent[] = [];
  const services = new Map<string, unknown>();
  const shared: SharedServices = {
    get<T>(key: string, create: () => T): T {
      if (!services.has(key)) services.set(key, create());
      return services.get(key) as T;
    },
    onClose() {},
  };
  const store = createMemoryStore({ clock: systemClock });
  return {
    events,
    context(spec, operationId) {
      const operation = spec.operations.find((o) => o.id === operationId);
      if (operation === undefined) throw new Error(`no operation ${operationId}`);
      return {
        apiName: 'test',
        spec,
        operation,
        clock: systemClock,
        logger: pino({ level: 'silent' }),
        metrics: createMetrics(),
        events: { emit: (e) => events.push(e) },
        store,
        shared,
      };
    },
  };
}

export interface Decision {
  readonly problem?: {
    type: string;
    status: number;
    detail?: string;
    reason?: string;
    headers?: Record<string, string | string[]>;
    extensions?: Record<string, unknown>;
  };
  /** The body the gateway would forward (after any rewrite), as text. */
  readonly body?: string;
  readonly json?: unknown;
  readonly upstreamHeaders: Record<string, string>;
  readonly responseHeaders: Record<string, string | string[]>;
}

function pathParams(template: string, path: string): Record<string, string> {
  const t = template.split('/');
  const p = path.split('/');
  const out: Record<string, string> = {};
  if (t.length !== p.length) return out;
  for (let i = 0; i < t.length; i++) {
    const m = /^\{(.+)\}$/.exec(t[i]);
    if (m) out[m[1]] = p[i];
  }
  return out;
}

/** Builds an Exchange for a request received by a test server (raw path parameters, raw query). */
export function exchangeFor(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  ctx: CompileContext,
  opts: { principal?: Principal; scheme?: 'http' | 'https'; body?: Buffer } = {},
): Exchange {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return {
    id: 'req-1',
    req,
    res,
    startedAt: performance.now(),
    clientIp: '127.0.0.1',
    scheme: opts.scheme ?? 'http',
    host: 'localhost',
    path,
    rawQuery: q === -1 ? '' : url.slice(q + 1),
    route: {
      api: 'test',
      spec: ctx.spec,
      operation: ctx.operation,
      pathParams: pathParams(ctx.operation.path, path),
    },
    principal: opts.principal,
    body: opts.body,
    upstreamHeaders: {},
    responseHeaders: {},
    reported: [],
  };
}

export interface HandlerServer {
  readonly url: string;
  close(): Promise<void>;
  /** Sends a real HTTP request and returns the handler's decision. */
  send(path: string, init?: RequestInit): Promise<Decision>;
}

/** Serves one handler compiled for `operation` on 127.0.0.1, port 0. */
export async function serveHandler(
  handler: PolicyHandler,
  ctx: CompileContext,
  opts: { principal?: Principal; scheme?: 'http' | 'https' } = {},
): Promise<HandlerServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const ex = exchangeFor(req, res, ctx, {
        ...opts,
        body: handler.needsRequestBody && body.length > 0 ? body : undefined,
      });
      let p: Problem | undefined;
      try {
        p = await handler.onRequest?.(ex);
      } catch (e) {
        res.writeHead(500);
        res.end(String((e as Error).stack));
        return;
      }
      const decision: Decision = {
        problem: p && {
          type: p.problem.type,
          status: p.problem.status,
          detail: p.detail,
          reason: p.reason,
          headers: p.headers,
          extensions: p.extensions,
        },
        body: ex.body?.toString('utf8'),
        json: ex.json,
        upstreamHeaders: ex.upstreamHeaders,
        responseHeaders: ex.responseHeaders,
      };
      const text = JSON.stringify(decision);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    async send(path, init) {
      const res = await fetch(url + path, init);
      if (res.status !== 200) throw new Error(`handler failed: ${await res.text()}`);
      return (await res.json()) as Decision;
    },
  };
}
