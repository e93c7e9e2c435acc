/** The validated config, defaults filled in (mirrors src/config/schema.ts). */

export interface ListenerConfig {
  host: string;
  port: number;
  tls?: {
    certFile: string;
    keyFile: string;
    minVersion: 'TLSv1.2' | 'TLSv1.3';
    clientAuth?: { caFile: string; required: boolean; crlFile?: string };
  };
  redirectToHttps?: number;
  /**
   * HTTP/2 on this listener: `alpn` offers h2 beside http/1.1 through TLS ALPN (the default with `tls`),
   * `h2c` speaks HTTP/2 with prior knowledge on a plain listener, `off` speaks HTTP/1.1 only. Absent: `alpn`
   * with `tls`, otherwise `off`.
   */
  http2?: 'alpn' | 'h2c' | 'off';
}

export interface UpstreamConfig {
  url: string;
  connections: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** HTTP/2 towards the upstream: `alpn` (https, h2 offered first), `h2c` (http, prior knowledge), `off`. */
  http2: 'alpn' | 'h2c' | 'off';
  circuitBreaker: {
    enabled: boolean;
    windowSeconds: number;
    minCalls: number;
    failureRatePercent: number;
    slowCallMs: number;
    slowCallRatePercent: number;
    openSeconds: number;
    halfOpenCalls: number;
  };
  tls?: { caFile?: string; certFile?: string; keyFile?: string; servername?: string };
}

/** Policy blocks by policy name; each has at least `mode` and `enabled` after defaults. */
export type PoliciesConfig = Record<
  string,
  { mode: 'enforce' | 'report'; enabled: boolean; [k: string]: unknown }
>;

export interface ApiConfig {
  name: string;
  spec: string;
  basePath: string;
  hosts: string[];
  upstream: UpstreamConfig;
  undeclared: 'deny' | 'report';
  policies?: PoliciesConfig;
  operations: Record<string, { maxBodyBytes?: number; policies?: PoliciesConfig }>;
}

export interface Config {
  version: 1;
  server: {
    listen: ListenerConfig[];
    allowInsecurePublicHttp: boolean;
    trustedProxies: string[];
    hsts: { enabled: boolean; maxAgeSeconds: number; includeSubDomains: boolean };
    maxHeaderBytes: number;
    maxBodyBytes: number;
    bufferBodyBelowBytes: number;
    minBodyBytesPerSecond: number;
    minBodyRateGraceMs: number;
    streamedBodiesPerClient: number;
    maxConnectionsPerIp: number;
    maxConnections: number;
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    shutdownTimeoutMs: number;
  };
  admin: { enabled: boolean; host: string; port: number; allowedHosts?: string[]; token?: string };
  logging: { level: string; accessLog: boolean };
  state: {
    store: 'memory' | 'redis';
    maxEntries: number;
    redis?: {
      url: string;
      keyPrefix: string;
      commandTimeoutMs?: number;
      failureThreshold?: number;
      probeIntervalMs?: number;
    };
  };
  apis: ApiConfig[];
  /** Folder of the config file; relative paths were resolved against it. */
  baseDir?: string;
  /** Sections contributed by other modules (events, detectors, ...). */
  [section: string]: unknown;
}

/** A top-level config section contributed by a part outside the gateway (monitor, scans): its key and schema. */
export interface ConfigSection {
  readonly key: string;
  readonly schema: Readonly<Record<string, unknown>>;
}
