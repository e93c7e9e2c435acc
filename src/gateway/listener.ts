import { type FSWatcher, readFileSync, watch } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Config, ListenerConfig } from '../core/config.ts';
import { problem, problemBody, problems } from '../core/problems.ts';
import { http2RawHeaders } from './headers.ts';

/**
 * Mozilla "intermediate" TLS 1.2 ciphers (guidelines 6.0); TLS 1.3 suites are OpenSSL's defaults.
 * The client's preference order is honoured (honorCipherOrder false), as the guidelines advise.
 */
export const INTERMEDIATE_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Key exchange groups, post-quantum hybrid first (OpenSSL 3.5 in Node 24 has X25519MLKEM768). */
export const GROUPS = 'X25519MLKEM768:X25519:prime256v1:secp384r1';

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

/**
 * An HTTP/2 request as the gateway reads it: `rawHeaders` is the section an HTTP/1.1 request would carry
 * (no pseudo-header fields, `:authority` as `host`, split cookies joined; see `http2RawHeaders`), and
 * `headers.host` is `:authority` when the client sent no `host`. Policies, the WAF and the access event
 * then read one request whatever the protocol; `:method` and `:path` stay behind `method` and `url`.
 */
class GatewayHttp2Request extends http2.Http2ServerRequest {
  constructor(
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    options: ConstructorParameters<typeof http2.Http2ServerRequest>[2],
    rawHeaders: ConstructorParameters<typeof http2.Http2ServerRequest>[3],
  ) {
    super(stream, headers, options, rawHeaders);
    const authority = headers[':authority'];
    if (headers.host === undefined && authority !== undefined) headers.host = authority;
  }
}

// node:http2 defines `rawHeaders` as an accessor of its prototype (the typings call it a property, so a
// class accessor cannot override it): the view is installed beside it and made once per request.
const http2RawHeadersOf = Object.getOwnPropertyDescriptor(http2.Http2ServerRequest.prototype, 'rawHeaders')!
  .get as (this: http2.Http2ServerRequest) => string[];
const HTTP1_VIEW = Symbol('rawHeaders as HTTP/1.1 would carry them');
Object.defineProperty(GatewayHttp2Request.prototype, 'rawHeaders', {
  configurable: true,
  get(this: GatewayHttp2Request & { [HTTP1_VIEW]?: string[] }): string[] {
    this[HTTP1_VIEW] ??= http2RawHeaders(http2RawHeadersOf.call(this));
    return this[HTTP1_VIEW];
  },
});

/**
 * Fields HTTP/2 forbids in a response (RFC 9113 §8.2.2). The gateway's problems may ask HTTP/1.1 to close
 * the connection; on HTTP/2 the stream ends by itself, so such fields are dropped instead of written.
 */
const H1_ONLY_RESPONSE_FIELDS = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
];

class GatewayHttp2Response extends http2.Http2ServerResponse {
  override writeHead(statusCode: number, ...rest: unknown[]): this {
    // (status, headers) or (status, reason, headers): HTTP/2 has no reason phrase either.
    const h = rest[rest.length - 1];
    if (h !== null && typeof h === 'object' && !Array.isArray(h)) {
      const fields = h as Record<string, unknown>;
      for (const name of H1_ONLY_RESPONSE_FIELDS) if (fields[name] !== undefined) delete fields[name];
      return super.writeHead(statusCode, fields as http.OutgoingHttpHeaders);
    }
    return super.writeHead(statusCode, h as readonly string[] | undefined);
  }
  override setHeader(name: string, value: number | string | readonly string[]): void {
    if (!H1_ONLY_RESPONSE_FIELDS.includes(name.toLowerCase())) super.setHeader(name, value);
  }
}

/** Reads one of a listener's TLS files; a failure names the config field and the file. */
function readTlsFile(file: string, field: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${field}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * The HTTPS options of a listener, checked: `at` names the listener in errors (`server.listen[0].tls`),
 * so a file that cannot be read or parsed is reported by its config field.
 */
function tlsOptions(l: NonNullable<ListenerConfig['tls']>, at: string): https.ServerOptions {
  const opts: https.ServerOptions = {
    cert: readTlsFile(l.certFile, `${at}.certFile`),
    key: readTlsFile(l.keyFile, `${at}.keyFile`),
    minVersion: l.minVersion,
    ciphers: INTERMEDIATE_CIPHERS,
    ecdhCurve: GROUPS,
    honorCipherOrder: false,
    ...(l.clientAuth
      ? {
          requestCert: true,
          rejectUnauthorized: l.clientAuth.required,
          ca: readTlsFile(l.clientAuth.caFile, `${at}.clientAuth.caFile`),
          // OpenSSL then checks every certificate of a client chain against its CA's list.
          ...(l.clientAuth.crlFile !== undefined
            ? { crl: readTlsFile(l.clientAuth.crlFile, `${at}.clientAuth.crlFile`) }
            : {}),
        }
      : {}),
  };
  try {
    const checked = withSupportedGroups(opts);
    https.createServer(checked).close(); // throws on a key that does not match, or a file that does not parse
    return checked;
  } catch (err) {
    throw new Error(`${at}: ${(err as Error).message}`);
  }
}

/** Key exchange groups this OpenSSL knows; falls back to classical groups on an older build. */
function withSupportedGroups(opts: https.ServerOptions): https.ServerOptions {
  try {
    https.createServer(opts).close();
    return opts;
  } catch {
    return { ...opts, ecdhCurve: 'X25519:prime256v1:secp384r1' };
  }
}

function redirectHandler(
  port: number,
  hsts: string | undefined,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    if (!/^[A-Za-z0-9.-]+$|^\[[0-9a-fA-F:.]+\]$/.test(host)) {
      const body = problemBody(problem(problems.badRequest, 'missing or malformed Host header'), 'redirect');
      res.writeHead(400, { 'content-type': 'application/problem+json' }).end(body);
      return;
    }
    const target = `https://${host}${port === 443 ? '' : `:${port}`}${req.url ?? '/'}`;
    res.writeHead(308, { location: target, 'content-length': '0', ...(hsts ? {} : {}) });
    res.end();
  };
}

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
  const h2 = (scheme: 'http' | 'https') => (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) =>
    // Both protocols' requests reach one handler: the gateway reads what they share (headers,
    // rawHeaders, method, url, socket, body stream), and HTTP/2's differences are absorbed above.
    handler(req as unknown as IncomingMessage, res as unknown as ServerResponse, scheme);
  try {
    for (const l of s.listen) {
      let server: Server;
      let drain: Drain | undefined;
      const common = {
        maxHeaderSize: s.maxHeaderBytes,
        headersTimeout: s.headersTimeoutMs,
        requestTimeout: s.requestTimeoutMs,
        keepAliveTimeout: s.keepAliveTimeoutMs,
        // A request without Host gets the gateway's own problem (with a request id), not Node's bare 400.
        requireHostHeader: false,
        // Reject requests whose header section arrives too slowly even when it is within size.
        connectionsCheckingInterval: Math.min(1000, s.headersTimeoutMs),
      };
      const protocols = l.tls
        ? l.http2 === 'off'
          ? 'http/1.1'
          : 'h2,http/1.1'
        : l.http2 === 'h2c' && l.redirectToHttps === undefined
          ? 'h2c'
          : 'http/1.1';
      if (l.tls) {
        const tls = l.tls;
        const at = `server.listen[${running.length}].tls`;
        if (protocols === 'h2,http/1.1') {
          // One port, both protocols: ALPN picks h2 or http/1.1; a client that offers neither gets http/1.1.
          const srv = http2.createSecureServer(
            { ...common, ...tlsOptions(tls, at), ...http2Options(s), allowHTTP1: true },
            h2('https'),
          );
          server = srv;
          drain = trackHttp2(srv, s);
          watchers.push(...watchCertificate(tls, at, (opts) => srv.setSecureContext(opts), logger));
        } else {
          const srv = https.createServer({ ...common, ...tlsOptions(tls, at) }, (req, res) =>
            handler(req, res, 'https'),
          );
          server = srv;
          watchers.push(...watchCertificate(tls, at, (opts) => srv.setSecureContext(opts), logger));
        }
      } else if (l.redirectToHttps !== undefined) {
        server = http.createServer(common, redirectHandler(l.redirectToHttps, undefined));
      } else if (protocols === 'h2c') {
        // Prior knowledge (RFC 9113 §3.3): the connection starts with the HTTP/2 preface; there is no
        // Upgrade dance (removed from RFC 9113) and no HTTP/1.1 on this port.
        const srv = http2.createServer(http2Options(s), h2('http'));
        server = srv;
        drain = trackHttp2(srv, s);
      } else {
        server = http.createServer(common, (req, res) => handler(req, res, 'http'));
      }
      drains.push(drain ?? http1Drain(server as http.Server | https.Server));
      server.maxConnections = s.maxConnections;
      limitConnectionsPerIp(server, s.maxConnectionsPerIp, isTrustedProxy, logger);
      // HTTP/1.1 parse errors (also of HTTP/1.1 connections on an ALPN listener); HTTP/2 framing errors
      // are answered by node:http2 itself (GOAWAY or RST_STREAM).
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
        if (!socket.writable) return socket.destroy();
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
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(l.port, l.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      running.push({
        config: l,
        scheme: l.tls ? 'https' : 'http',
        protocols,
        server,
        address: server.address() as AddressInfo,
      });
    }
  } catch (err) {
    for (const r of running) r.server.close();
    for (const w of watchers) w.close();
    throw err;
  }
  return {
    listeners: running,
    async close(timeoutMs, inFlight) {
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
    },
  };
}

/** How a listener lets its connections go on shutdown: idle ones now, the rest at the deadline. */
interface Drain {
  closeIdle(): void;
  closeAll(): void;
}

function http1Drain(server: http.Server | https.Server): Drain {
  return { closeIdle: () => server.closeIdleConnections(), closeAll: () => server.closeAllConnections() };
}

/** Streams one HTTP/2 connection may have open at once (nginx's http2_max_concurrent_streams). */
const MAX_CONCURRENT_STREAMS = 128;

/** The HTTP/2 side of a listener: the request classes above and the limits of `server`. */
function http2Options(s: Config['server']): http2.SecureServerOptions {
  return {
    Http2ServerRequest: GatewayHttp2Request as typeof http2.Http2ServerRequest,
    Http2ServerResponse: GatewayHttp2Response as typeof http2.Http2ServerResponse,
    // A header block larger than HTTP/1.1 would accept is refused alike (the client is told in SETTINGS).
    settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS, maxHeaderListSize: s.maxHeaderBytes },
  };
}

/**
 * HTTP/2 connections of one listener, with the limits HTTP/1.1 gets from node:http: a connection with
 * no open stream closes (GOAWAY) after `keepAliveTimeoutMs` of silence, and each request must have
 * arrived whole within `requestTimeoutMs` or its stream is reset. On shutdown, sessions are told to
 * go away (their open streams finish), and whatever is left at the deadline is cut.
 */
function trackHttp2(server: http2.Http2SecureServer | http2.Http2Server, s: Config['server']): Drain {
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    let open = 0;
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      open++;
      let timer: NodeJS.Timeout | undefined;
      const arrived = () => clearTimeout(timer);
      if (!stream.endAfterHeaders) {
        timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), s.requestTimeoutMs);
        timer.unref();
        stream.once('end', arrived);
      }
      stream.once('close', () => {
        arrived();
        open--;
      });
    });
    session.setTimeout(s.keepAliveTimeoutMs, () => {
      if (open === 0) session.close();
    });
    session.once('close', () => sessions.delete(session));
  });
  return {
    closeIdle() {
      for (const session of sessions) if (!session.closed) session.close();
    },
    closeAll() {
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}

/**
 * Watches a listener's certificate, key, client CAs and revocation lists; on change, builds the new
 * context first (a bad pair or an unreadable file is logged and ignored) and then swaps it in.
 * Established connections keep their session.
 * The folder is watched, not the files, so atomic renames (Kubernetes `..data` swaps) are seen.
 */
function watchCertificate(
  tls: NonNullable<ListenerConfig['tls']>,
  at: string,
  apply: (opts: https.ServerOptions) => void,
  logger: Logger,
): FSWatcher[] {
  const files = [tls.certFile, tls.keyFile, tls.clientAuth?.caFile, tls.clientAuth?.crlFile];
  const dirs = new Set(files.filter((f): f is string => f !== undefined).map((f) => path.dirname(f)));
  let timer: NodeJS.Timeout | undefined;
  const reload = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      try {
        apply(tlsOptions(tls, at));
        logger.info({ certFile: tls.certFile }, 'TLS certificate reloaded');
      } catch (err) {
        logger.error(
          { err: (err as Error).message, certFile: tls.certFile },
          'TLS certificate reload failed; keeping the old one',
        );
      }
    }, 100);
    timer.unref();
  };
  return [...dirs].map((d) => {
    const w = watch(d, { persistent: false }, reload);
    w.on('error', () => {});
    return w;
  });
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
