import { type FSWatcher, readFileSync, watch } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config, ListenerConfig } from '../core/config.ts';
import { problem, problemBody, problems } from '../core/problems.ts';

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

export interface RunningListener {
  readonly config: ListenerConfig;
  readonly scheme: 'http' | 'https';
  readonly server: http.Server | https.Server;
  /** The bound address (the real port when 0 was asked for). */
  readonly address: AddressInfo;
}

export interface Listeners {
  readonly listeners: readonly RunningListener[];
  /** Stops accepting, waits for in-flight requests up to `timeoutMs`, then cuts what is left. */
  close(timeoutMs: number, inFlight: () => number): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, scheme: 'http' | 'https') => void;

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
  const watchers: FSWatcher[] = [];
  try {
    for (const l of s.listen) {
      let server: http.Server | https.Server;
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
      if (l.tls) {
        const tls = l.tls;
        const at = `server.listen[${running.length}].tls`;
        const srv = https.createServer({ ...common, ...tlsOptions(tls, at) }, (req, res) =>
          handler(req, res, 'https'),
        );
        server = srv;
        watchers.push(...watchCertificate(tls, at, (opts) => srv.setSecureContext(opts), logger));
      } else if (l.redirectToHttps !== undefined) {
        server = http.createServer(common, redirectHandler(l.redirectToHttps, undefined));
      } else {
        server = http.createServer(common, (req, res) => handler(req, res, 'http'));
      }
      server.maxConnections = s.maxConnections;
      limitConnectionsPerIp(server, s.maxConnectionsPerIp, isTrustedProxy, logger);
      server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
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
      for (const r of running) r.server.closeIdleConnections();
      const deadline = Date.now() + timeoutMs;
      while (inFlight() > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        for (const l of running) l.server.closeIdleConnections();
      }
      for (const r of running) r.server.closeAllConnections();
      await Promise.all(closed);
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
  server: http.Server,
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
