import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import type { Clock } from '../core/clock.ts';
import type { UpstreamConfig } from '../core/config.ts';
import { type ProblemType, problems } from '../core/problems.ts';
import { type CircuitBreaker, type CircuitState, createCircuitBreaker } from './circuit-breaker.ts';

/** An upstream: its keep-alive pool and where its path starts. */
export interface Upstream {
  readonly origin: string;
  /** Path prefix of the upstream URL, without a trailing slash (`''` for none). */
  readonly basePath: string;
  /** Host header value for the upstream. */
  readonly host: string;
  readonly pool: Pool;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** Null when the breaker is switched off for this upstream. */
  readonly breaker: CircuitBreaker | null;
  close(): Promise<void>;
}

/** Builds the pool for one upstream. TLS upstreams are verified (system CAs or the configured ones). */
export function createUpstream(
  config: UpstreamConfig,
  clock: Clock,
  onStateChange: (from: CircuitState, to: CircuitState, reason: string) => void,
): Upstream {
  const url = new URL(config.url);
  const tls = config.tls;
  const connect: Record<string, unknown> = { timeout: config.connectTimeoutMs };
  if (url.protocol === 'https:') {
    connect.rejectUnauthorized = true;
    connect.servername = tls?.servername ?? url.hostname;
    if (tls?.caFile) connect.ca = readFileSync(tls.caFile);
    if (tls?.certFile) connect.cert = readFileSync(tls.certFile);
    if (tls?.keyFile) connect.key = readFileSync(tls.keyFile);
  }
  // undici offers h2 to every https origin unless told otherwise: HTTP/2 upstream is opt-in here, so
  // `off` pins HTTP/1.1, and `alpn` puts h2 first so an upstream that speaks both picks it.
  const http2 = config.http2 ?? 'off';
  if (http2 === 'alpn') connect.preferH2 = true;
  // On the connector: undici's Pool builds its own and reads `useH2c` there, not from `h2Options`.
  if (http2 === 'h2c') connect.useH2c = true;
  const cb = config.circuitBreaker;
  const pool = new Pool(url.origin, {
    connections: config.connections,
    pipelining: 1,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    keepAliveMaxTimeout: Math.max(config.keepAliveTimeoutMs, 600_000),
    headersTimeout: config.headersTimeoutMs,
    bodyTimeout: config.bodyTimeoutMs,
    allowH2: http2 !== 'off',
    connect,
  });
  return {
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ''),
    host: url.host,
    pool,
    headersTimeoutMs: config.headersTimeoutMs,
    bodyTimeoutMs: config.bodyTimeoutMs,
    breaker: cb.enabled
      ? createCircuitBreaker({
          clock,
          windowMs: cb.windowSeconds * 1000,
          minCalls: cb.minCalls,
          failureRateThreshold: cb.failureRatePercent / 100,
          slowCallMs: cb.slowCallMs,
          slowCallRateThreshold: cb.slowCallRatePercent / 100,
          openMs: cb.openSeconds * 1000,
          halfOpenCalls: cb.halfOpenCalls,
          onStateChange,
        })
      : null,
    async close() {
      await pool.close();
    },
  };
}

/** Classifies an upstream failure: which problem the client gets, and a label for metrics and logs. */
export function classifyUpstreamError(err: unknown): { problem: ProblemType; reason: string } {
  const code = (err as { code?: string } | null)?.code ?? '';
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { problem: problems.gatewayTimeout, reason: 'upstream_connect_timeout' };
    case 'UND_ERR_HEADERS_TIMEOUT':
      return { problem: problems.gatewayTimeout, reason: 'upstream_headers_timeout' };
    case 'UND_ERR_BODY_TIMEOUT':
      return { problem: problems.gatewayTimeout, reason: 'upstream_body_timeout' };
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { problem: problems.badGateway, reason: 'upstream_unreachable' };
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return { problem: problems.badGateway, reason: 'upstream_connection_lost' };
    default:
      if (
        code.startsWith('ERR_TLS') ||
        code.startsWith('CERT_') ||
        code.includes('SELF_SIGNED') ||
        code.startsWith('UNABLE_TO')
      ) {
        return { problem: problems.badGateway, reason: 'upstream_tls_error' };
      }
      return { problem: problems.badGateway, reason: 'upstream_error' };
  }
}
