import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { MetricsRegistry } from '../core/metrics.ts';
import { problem, problems } from '../core/problems.ts';
import { writeJson, writeProblem } from '../core/reply.ts';
import { compileAdminHostCheck } from './host-check.ts';

/** A handler for admin routes beyond health and metrics; returns false when the path is not its own. */
export type AdminRoutes = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface AdminOptions {
  readonly host: string;
  readonly port: number;
  /**
   * `Host` values answered besides `localhost`, `127.0.0.1`, `[::1]` and `host` (DNS rebinding
   * protection): names or addresses, `*.example.com` for subdomains. Others get 421.
   */
  readonly allowedHosts?: readonly string[];
  /** Bearer token protecting everything but `/healthz`, `/readyz` and `/metrics`. */
  readonly token: string | undefined;
  readonly metrics: MetricsRegistry;
  /**
   * Renders `/metrics` instead of `metrics.render()`: under `serve --workers N`, the merged metrics of
   * every worker. Must not reject.
   */
  readonly renderMetrics?: () => Promise<string>;
  readonly logger: Logger;
  /** Whether the gateway is ready to take traffic (config compiled, listeners open, not draining). */
  readonly isReady: () => boolean;
  /** Admin API and dashboard routes, served only with a valid token. */
  readonly routes?: AdminRoutes;
}

export interface AdminServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  writeJson(res, status, body, {}, 'application/json');
}

function sendProblem(res: ServerResponse, status: 400 | 421, detail: string): void {
  const type = status === 421 ? problems.misdirectedRequest : problems.badRequest;
  writeProblem(res, problem(type, detail), randomUUID());
}

/**
 * Why a request is not for this listener, if it is not: a `Host` (or absolute request target, which
 * takes its place: RFC 9112 §3.2.2) outside the allowed names, as a DNS-rebinding page sends; or two
 * `Host` fields, which readers would pick from differently.
 */
function misdirected(
  req: IncomingMessage,
  isAllowedHost: (host: string | undefined) => boolean,
): { status: 400 | 421; detail: string } | undefined {
  let hosts = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i].toLowerCase() === 'host') hosts++;
  if (hosts > 1) return { status: 400, detail: 'the request has more than one Host field' };
  const target = req.url ?? '/';
  if (!target.startsWith('/')) {
    let authority: string | undefined;
    try {
      authority = new URL(target).host;
    } catch {
      authority = undefined;
    }
    if (!isAllowedHost(authority))
      return { status: 421, detail: 'this admin listener does not answer for that host' };
  }
  if (!isAllowedHost(req.headers.host))
    return {
      status: 421,
      detail: 'this admin listener does not answer for that host (see admin.allowedHosts)',
    };
  return undefined;
}

/** A malformed percent-encoding is a wrong credential (401), not a server error. */
function decodeCookie(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return '';
  }
}

/** Compares a presented bearer token with the configured one in constant time. */
export function isAuthorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return false;
  const header = req.headers.authorization ?? '';
  const cookie = /(?:^|;\s*)portcullis_admin=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
  const presented = header.startsWith('Bearer ') ? header.slice(7) : cookie ? decodeCookie(cookie) : '';
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b) && presented !== '';
}

/** Starts the admin listener: `/healthz`, `/readyz`, `/metrics`, then the token-protected admin routes. */
export async function startAdminServer(opts: AdminOptions): Promise<AdminServer> {
  const isAllowedHost = compileAdminHostCheck(opts.allowedHosts ?? [], opts.host);
  const server = http.createServer(async (req, res) => {
    try {
      const refusal = misdirected(req, isAllowedHost);
      if (refusal !== undefined) {
        opts.logger.warn({ client: req.socket.remoteAddress }, 'admin request for an unknown host refused');
        return sendProblem(res, refusal.status, refusal.detail);
      }
      const url = new URL(req.url ?? '/', 'http://admin.local');
      if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
      if (req.method === 'GET' && url.pathname === '/readyz') {
        const ready = opts.isReady();
        return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready' });
      }
      if (req.method === 'GET' && url.pathname === '/metrics') {
        const text = opts.renderMetrics ? await opts.renderMetrics() : opts.metrics.render();
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        return res.end(text);
      }
      if (opts.routes && (await opts.routes(req, res, url))) return;
      sendJson(res, 404, {
        type: 'https://portcullis.dev/problems/not-found',
        title: 'Not found',
        status: 404,
      });
    } catch (err) {
      opts.logger.error({ err }, 'admin request failed');
      if (!res.headersSent)
        sendJson(res, 500, {
          type: 'https://portcullis.dev/problems/internal',
          title: 'Internal error',
          status: 500,
        });
      else res.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
