/**
 * Compiled policy handlers on real requests, without the gateway: a server on 127.0.0.1 (port 0) turns
 * each request into an Exchange (test/kit/policy.ts) and runs the handlers on it. Two ways to answer:
 * - `servePolicies`: like the gateway, the first refusal is a real problem response; a request every
 *   handler let through gets 200 with what the policies attached (principal, upstream headers);
 * - `serveHandler`: one handler, and 200 with its decision as JSON (the problem it would give, the body
 *   it would forward, the headers it added), for tests that look at the decision field by field.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerOptions } from 'node:https';
import type { ApiDocument, Operation } from '../../src/core/api-document.ts';
import type { Principal } from '../../src/core/exchange.ts';
import type { CompileContext, PolicyHandler } from '../../src/core/policy.ts';
import { type Problem, problemBody } from '../../src/core/problems.ts';
import { exchangeOf, pathParamsOf } from './policy.ts';
import { startServer, type TestServer } from './server.ts';

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** What the server answers when every policy let the request through. */
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

export type PolicyServer = TestServer;

/**
 * Serves the spec's operations, running `handlers(op)` in order on each request as the gateway pipeline
 * does; answers the first problem, or 200 with a `PassedBody`.
 */
export async function servePolicies(
  spec: ApiDocument,
  handlers: (op: Operation) => Array<PolicyHandler | null>,
  opts: { https?: ServerOptions } = {},
): Promise<PolicyServer> {
  const compiled = spec.operations.map((op) => ({ op, handlers: handlers(op).filter((h) => h !== null) }));
  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    let match: { op: Operation; handlers: PolicyHandler[]; pathParams: Record<string, string> } | undefined;
    for (const c of compiled) {
      const pathParams = c.op.method === req.method ? pathParamsOf(c.op.path, path) : undefined;
      if (pathParams !== undefined) {
        match = { ...c, pathParams };
        break;
      }
    }
    if (match === undefined) {
      res.writeHead(404).end();
      return;
    }
    const body = await readBody(req);
    const ex = exchangeOf(
      { apiName: 'test-api', spec, operation: match.op },
      {
        req,
        res,
        url: path + url.search,
        id: crypto.randomUUID(),
        clientIp: req.socket.remoteAddress ?? '',
        scheme: opts.https === undefined ? 'http' : 'https',
        // As the gateway does: the host for routing, without the port (the DPoP check reads the port from Host).
        host: (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase(),
        pathParams: match.pathParams,
        body: match.handlers.some((h) => h.needsRequestBody === true) ? body : undefined,
      },
    );
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
    const passed: PassedBody = {
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
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(passed));
  };
  return startServer((req, res) => void onRequest(req, res), opts);
}

/** A handler's decision on one request, as `serveHandler` reports it. */
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

export interface HandlerServer extends TestServer {
  /** Sends a real HTTP request and returns the handler's decision. */
  send(path: string, init?: RequestInit): Promise<Decision>;
}

/** Serves one handler compiled for `ctx.operation`: every request is that operation's. */
export async function serveHandler(
  handler: PolicyHandler,
  ctx: CompileContext,
  opts: { principal?: Principal; scheme?: 'http' | 'https' } = {},
): Promise<HandlerServer> {
  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const ex = exchangeOf(ctx, {
      req,
      res,
      id: 'req-1',
      clientIp: '127.0.0.1',
      scheme: opts.scheme,
      principal: opts.principal,
      body: handler.needsRequestBody && body.length > 0 ? body : undefined,
    });
    let p: Problem | undefined;
    try {
      p = await handler.onRequest?.(ex);
    } catch (e) {
      res.writeHead(500).end(String((e as Error).stack));
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
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(decision));
  };
  const server = await startServer((req, res) => void onRequest(req, res));
  return {
    ...server,
    async send(path, init) {
      const res = await fetch(server.url + path, init);
      if (res.status !== 200) throw new Error(`handler failed: ${await res.text()}`);
      return (await res.json()) as Decision;
    },
  };
}
