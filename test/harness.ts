/**
 * Whole-system test helpers: real servers on 127.0.0.1 port 0, a real gateway built from a config object
 * exactly as `portcullis serve` builds it.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { parseConfig } from '../src/cli/config.ts';
import { type Runtime, type RuntimeOptions, startRuntime } from '../src/cli/runtime.ts';
import { resolvePaths } from '../src/config/load.ts';
import type { Config } from '../src/core/config.ts';
import type { SecurityEvent } from '../src/core/events.ts';
import type { AccessRecord } from '../src/gateway/gateway.ts';

export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly server: http.Server;
  close(): Promise<void>;
}

/** Starts a real HTTP server on 127.0.0.1 with a free port. */
export async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer> {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface HttpResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/**
 * Sends one HTTP/1.1 request on its own connection (node:http, so any Host and hop-by-hop header can be
 * set, which fetch forbids) and resolves with the whole response.
 */
export function httpRequest(
  url: string,
  opts: {
    method?: string;
    path: string;
    headers?: Record<string, string | string[]>;
    body?: Buffer | string;
    /** Local address to send from (any 127.x.y.z on loopback), e.g. to be a trusted proxy or not. */
    localAddress?: string;
  },
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method: opts.method ?? 'GET',
        path: opts.path,
        headers: opts.headers,
        localAddress: opts.localAddress,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** An upstream that answers every request with a JSON echo of what it received. */
export function echoHandler(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.stringify({
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

/** Writes text files into a fresh temporary folder; returns the folder. */
export async function tempFiles(files: Record<string, string | object>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-test-'));
  for (const [name, content] of Object.entries(files)) {
    await writeFile(path.join(dir, name), typeof content === 'string' ? content : stringify(content));
  }
  return dir;
}

export interface TestGateway {
  /** Base URL of the first listener. */
  readonly url: string;
  readonly adminUrl: string;
  readonly runtime: Runtime;
  readonly dir: string;
  readonly access: AccessRecord[];
  readonly events: SecurityEvent[];
  /** Builds a config from `overrides` as the CLI would (defaults, validation) and reloads it. */
  reload(overrides: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** OpenAPI document(s) by file name (objects are written as YAML). */
  readonly specs: Record<string, string | object>;
  /** Config as a plain object; `server.listen` and `admin.port` default to port 0 on 127.0.0.1. */
  readonly config: Record<string, unknown>;
  readonly env?: Record<string, string>;
  readonly runtime?: Partial<RuntimeOptions>;
}

/** Builds a validated Config from a plain object, resolving files against `dir`. */
export function buildConfig(
  raw: Record<string, unknown>,
  dir: string,
  env: Record<string, string> = {},
): Config {
  const withPorts = {
    version: 1,
    ...raw,
    server: { listen: [{ host: '127.0.0.1', port: 0 }], ...(raw.server as object) },
    admin: { port: 0, ...(raw.admin as object) },
    logging: { level: 'silent', ...(raw.logging as object) },
  };
  return resolvePaths(parseConfig(JSON.stringify(withPorts), path.join(dir, 'portcullis.yaml'), env), dir);
}

/** Starts a gateway in this process from a config object; access records and events are collected. */
export async function startGateway(opts: GatewayOptions): Promise<TestGateway> {
  const dir = await tempFiles(opts.specs);
  const access: AccessRecord[] = [];
  const events: SecurityEvent[] = [];
  const config = buildConfig(opts.config, dir, opts.env);
  const runtime = await startRuntime({
    config,
    logger: pino({ level: 'silent' }),
    accessLog: (rec) => access.push(rec),
    events: { emit: (e) => events.push(e) },
    ...opts.runtime,
  });
  const admin = runtime.adminAddress;
  return {
    url: runtime.urls[0],
    adminUrl: admin ? `http://127.0.0.1:${admin.port}` : '',
    runtime,
    dir,
    access,
    events,
    reload: (overrides) => runtime.reload(buildConfig(overrides, dir, opts.env)),
    close: () => runtime.close(),
  };
}

/**
 * A minimal OpenAPI 3.1 document with the given paths. Unless `extra` says otherwise it declares
 * `security: []` (explicitly public), since the gateway refuses operations whose security is undeclared.
 */
export function openapi(paths: Record<string, unknown>, extra: Record<string, unknown> = {}): object {
  return { openapi: '3.1.0', info: { title: 'Test API', version: '1.0.0' }, security: [], paths, ...extra };
}

/** Shorthand for an operation that answers 200 with any body. */
export function op(operationId: string, extra: Record<string, unknown> = {}): object {
  return { operationId, responses: { '200': { description: 'ok' } }, ...extra };
}
