import type http from 'node:http';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { Config } from '../core/config.ts';
import { http2RawHeaders } from './headers.ts';

/**
 * The HTTP/2 side of a listener: requests and responses that read and write like HTTP/1.1 ones, the
 * limits of `server` applied to sessions and streams, and the sessions let go on shutdown.
 */

/** How a listener lets its connections go on shutdown: idle ones now, the rest at the deadline. */
export interface Drain {
  closeIdle(): void;
  closeAll(): void;
}

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

/** Streams one HTTP/2 connection may have open at once (nginx's http2_max_concurrent_streams). */
const MAX_CONCURRENT_STREAMS = 128;

/** The HTTP/2 options of a listener: the request classes above and the limits of `server`. */
export function http2Options(s: Config['server']): http2.SecureServerOptions {
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
export function trackHttp2(server: http2.Http2SecureServer | http2.Http2Server, s: Config['server']): Drain {
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
