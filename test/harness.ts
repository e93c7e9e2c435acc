/**
 * The front door of the test kit for whole-system tests: a real gateway built from specs and a config
 * object exactly as `portcullis serve` builds it, plus the servers of test/kit/server.ts (upstreams, raw
 * requests, waits), and `startProxy` for the usual upstream-plus-gateway pair. Redis and PostgreSQL handles
 * are in test/kit/redis.ts and test/kit/postgres.ts, a policy's compile context and exchange in
 * test/kit/policy.ts, the CLI and `portcullis serve` as child processes in test/kit/process.ts; the clock
 * is src/core/clock.ts's manual one.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
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

import { startServer, type TestServer } from './kit/server.ts';

export {
  echoHandler,
  type HttpResult,
  httpRequest,
  startServer,
  type TestServer,
  until,
} from './kit/server.ts';

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

/** An upstream and one API of a gateway in front of it, the setup most whole-system tests begin with. */
export interface TestProxy extends TestGateway {
  readonly upstream: TestServer;
  /** Closes the gateway, then the upstream. */
  close(): Promise<void>;
}

export interface ProxyOptions {
  /** What the upstream answers. */
  readonly upstream: (req: IncomingMessage, res: ServerResponse) => void;
  /** The API's OpenAPI document (written as api.yaml). */
  readonly spec: string | object;
  /**
   * The rest of the API block: `name` (default `api`), `policies`, `operations`, and `upstream` settings
   * besides its URL (a circuit breaker, timeouts).
   */
  readonly api?: Record<string, unknown>;
  /** The rest of the config: `server`, `monitor`, `admin` ... */
  readonly config?: Record<string, unknown>;
  readonly env?: Record<string, string>;
  readonly runtime?: Partial<RuntimeOptions>;
}

/** Starts an upstream running `opts.upstream` and a gateway with one API (`opts.spec`) in front of it. */
export async function startProxy(opts: ProxyOptions): Promise<TestProxy> {
  const upstream = await startServer(opts.upstream);
  const { upstream: upstreamSettings, ...api } = opts.api ?? {};
  let gw: TestGateway;
  try {
    gw = await startGateway({
      specs: { 'api.yaml': opts.spec },
      config: {
        ...opts.config,
        apis: [
          {
            name: 'api',
            spec: 'api.yaml',
            ...api,
            upstream: { url: upstream.url, ...(upstreamSettings as Record<string, unknown> | undefined) },
          },
        ],
      },
      ...(opts.env === undefined ? {} : { env: opts.env }),
      ...(opts.runtime === undefined ? {} : { runtime: opts.runtime }),
    });
  } catch (err) {
    await upstream.close();
    throw err;
  }
  return {
    ...gw,
    upstream,
    async close() {
      await gw.close();
      await upstream.close();
    },
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
