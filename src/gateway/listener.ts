import type { FSWatcher } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Config, ListenerConfig } from '../core/config.ts';
import { problem, problemBody, problems } from '../core/problems.ts';
import { type Drain, http2Options, trackHttp2 } from './listener-http2.ts';
import { tlsOptions, watchCertificate } from './listener-tls.ts';

/**
 * The gateway's sockets: one server per configured listener (HTTP/1.1, HTTPS, HTTP/2 by ALPN or h2c), the
 * connection caps, HTTP/1.1 parse errors answered as problems, and a drained shutdown. TLS files and their
 * reload live in listener-tls.ts, HTTP/2 sessions in listener-http2.ts.
 */

type Server = http.Server | https.Server | http2.Http2SecureServer | http2.Http2Server;

export interface RunningListener {
  readonly config: ListenerConfig;
  readonly scheme: 'http' | 'https';
  /** The protocols it speaks: HTTP/1.1, h2 and HTTP/1.1 by ALPN, or h2c by prior knowledge. */
  readonly protocols: 'http/1.1' | 'h2,http/1.1' | 'h2c';
  readonly server: Server;
  /** The bound address (the real port when 0 was asked for). */
  readonly address: AddressInfo;
}

export interface Listeners {
  readonly listeners: readonly RunningListener[];
  /** Stops accepting, waits for in-flight requests up to `timeoutMs`, then cuts what is left. */
  close(timeoutMs: number, inFlight: () => number): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, scheme: 'http' | 'https') => void;

/** Opens every configured listener; HTTPS ones reload their certificate when the files change. */
export async function openListeners(
  config: Config,
  handler: Handler,
  logger: Logger,
  isTrustedProxy: (ip: string) => boolean = () => false,
): Promise<Listeners> {
  const s = config.server;
  const running: RunningListener[] = [];
  const drains: Drain[] = [];
  const watchers: FSWatcher[] = [];
  try {
    for (const [i, l] of s.listen.entries()) {
      const protocols = protocolsOf(l);
      const built = createServer(l, `server.listen[${i}].tls`, protocols, s, handler, logger);
      const server = built.server;
      watchers.push(...built.watchers);
      drains.push(built.drain);
      server.maxConnections = s.maxConnections;
      limitConnectionsPerIp(server, s.maxConnectionsPerIp, isTrustedProxy, logger);
      // HTTP/1.1 parse errors (also of HTTP/1.1 connections on an ALPN listener); HTTP/2 framing errors
      // are answered by node:http2 itself (GOAWAY or RST_STREAM).
      server.on('clientError', answerClientError);
      await listen(server, l.port, l.host);
      const address = server.address() as AddressInfo;
      running.push({ config: l, scheme: l.tls ? 'https' : 'http', protocols, server, address });
    }
  } catch (err) {
    for (const r of running) r.server.close();
    for (const w of watchers) w.close();
    throw err;
  }
  return {
    listeners: running,
    close: (timeoutMs, inFlight) => closeListeners(running, drains, watchers, timeoutMs, inFlight),
  };
}

/** What a listener speaks: TLS offers h2 by ALPN unless `http2: off`; plain HTTP speaks h2c only when asked. */
function protocolsOf(l: ListenerConfig): RunningListener['protocols'] {
  if (l.tls) return l.http2 === 'off' ? 'http/1.1' : 'h2,http/1.1';
  return l.http2 === 'h2c' && l.redirectToHttps === undefined ? 'h2c' : 'http/1.1';
}

/** node:http's limits from `server`, the same on every listener that speaks HTTP/1.1. */
function http1Options(s: Config['server']): http.ServerOptions {
  return {
    maxHeaderSize: s.maxHeaderBytes,
    headersTimeout: s.headersTimeoutMs,
    requestTimeout: s.requestTimeoutMs,
    keepAliveTimeout: s.keepAliveTimeoutMs,
    // A request without Host gets the gateway's own problem (with a request id), not Node's bare 400.
    requireHostHeader: false,
    // Reject requests whose header section arrives too slowly even when it is within size.
    connectionsCheckingInterval: Math.min(1000, s.headersTimeoutMs),
  };
}

/** A listener's server (not yet listening), how it lets its connections go, and its certificate watchers. */
interface Built {
  readonly server: Server;
  readonly drain: Drain;
  readonly watchers: FSWatcher[];
}

function createServer(
  l: ListenerConfig,
  at: string,
  protocols: RunningListener['protocols'],
  s: Config['server'],
  handler: Handler,
  logger: Logger,
): Built {
  const common = http1Options(s);
  if (l.tls) {
    const tls = l.tls;
    if (protocols === 'h2,http/1.1') {
      // One port, both protocols: ALPN picks h2 or http/1.1; a client that offers neither gets http/1.1.
      const srv = http2.createSecureServer(
        { ...common, ...tlsOptions(tls, at), ...http2Options(s), allowHTTP1: true },
        http2Handler(handler, 'https'),
      );
      const drain = trackHttp2(srv, s);
      return {
        server: srv,
        drain,
        watchers: watchCertificate(tls, at, (o) => srv.setSecureContext(o), logger),
      };
    }
    const srv = https.createServer({ ...common, ...tlsOptions(tls, at) }, (req, res) =>
      handler(req, res, 'https'),
    );
    const watchers = watchCertificate(tls, at, (o) => srv.setSecureContext(o), logger);
    return { server: srv, drain: http1Drain(srv), watchers };
  }
  if (l.redirectToHttps !== undefined) {
    const srv = http.createServer(common, redirectHandler(l.redirectToHttps));
    return { server: srv, drain: http1Drain(srv), watchers: [] };
  }
  if (protocols === 'h2c') {
    // Prior knowledge (RFC 9113 §3.3): the connection starts with the HTTP/2 preface; there is no
    // Upgrade dance (removed from RFC 9113) and no HTTP/1.1 on this port.
    const srv = http2.createServer(http2Options(s), http2Handler(handler, 'http'));
    return { server: srv, drain: trackHttp2(srv, s), watchers: [] };
  }
  const srv = http.createServer(common, (req, res) => handler(req, res, 'http'));
  return { server: srv, drain: http1Drain(srv), watchers: [] };
}

/**
 * Both protocols' requests reach one handler: the gateway reads what they share (headers, rawHeaders,
 * method, url, socket, body stream), and HTTP/2's differences are absorbed in listener-http2.ts.
 */
function http2Handler(handler: Handler, scheme: 'http' | 'https') {
  return (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) =>
    handler(req as unknown as IncomingMessage, res as unknown as ServerResponse, scheme);
}

function redirectHandler(port: number): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    if (!/^[A-Za-z0-9.-]+$|^\[[0-9a-fA-F:.]+\]$/.test(host)) {
      const body = problemBody(problem(problems.badRequest, 'missing or malformed Host header'), 'redirect');
      res.writeHead(400, { 'content-type': 'application/problem+json' }).end(body);
      return;
    }
    const target = `https://${host}${port === 443 ? '' : `:${port}`}${req.url ?? '/'}`;
    res.writeHead(308, { location: target, 'content-length': '0' });
    res.end();
  };
}

/** A request node:http could not parse gets a problem (431, 408 or 400) and the connection is closed. */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const p =
    status === 431
      ? problems.headersTooLarge
      : status === 408
        ? problems.requestTimeout
        : problems.badRequest;
  const body = problemBody(problem(p), 'client-error');
  socket.end(
    `HTTP/1.1 ${status} ${p.title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Stops accepting, lets idle connections go, waits for in-flight requests until the deadline, cuts the rest. */
async function closeListeners(
  running: readonly RunningListener[],
  drains: readonly Drain[],
  watchers: readonly FSWatcher[],
  timeoutMs: number,
  inFlight: () => number,
): Promise<void> {
  for (const w of watchers) w.close();
  const closed = running.map((r) => new Promise<void>((resolve) => r.server.close(() => resolve())));
  for (const d of drains) d.closeIdle();
  const deadline = Date.now() + timeoutMs;
  while (inFlight() > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    for (const d of drains) d.closeIdle();
  }
  for (const d of drains) d.closeAll();
  await Promise.all(closed);
}

function http1Drain(server: http.Server | https.Server): Drain {
  return { closeIdle: () => server.closeIdleConnections(), closeAll: () => server.closeAllConnections() };
}

/**
 * Caps the connections one client address may hold open (a single client must not exhaust the sockets).
 * The map holds only addresses with open connections, so it is bounded by `maxConnections`.
 */
function limitConnectionsPerIp(
  server: NetServer,
  max: number,
  isTrustedProxy: (ip: string) => boolean,
  logger: Logger,
): void {
  const open = new Map<string, number>();
  let lastWarning = 0;
  server.on('connection', (socket) => {
    const ip = socket.remoteAddress ?? '';
    if (isTrustedProxy(ip)) return;
    const n = (open.get(ip) ?? 0) + 1;
    if (n > max) {
      socket.destroy();
      const now = Date.now();
      if (now - lastWarning > 10_000) {
        lastWarning = now;
        logger.warn(
          { 'client.address': ip, max },
          'connection refused: too many connections from one address',
        );
      }
      return;
    }
    open.set(ip, n);
    socket.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1;
      if (left <= 0) open.delete(ip);
      else open.set(ip, left);
    });
  });
}
