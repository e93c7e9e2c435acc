/**
 * A real gateway for the dashboard tests: an echo upstream, the monitor (`createMonitor`: SQLite event store,
 * detectors, alerts, bans over the gateway's state store) and the admin API with a token. The API enforces
 * bans with the `ban` policy. Automatic bans are off so that detections in one test never lock the next out.
 */
import { pino } from 'pino';
import { type AdminApi, createAdminRoutes } from '../../src/admin/api.ts';
import { adminMonitorFrom } from '../../src/admin/monitor-port.ts';
import { systemClock } from '../../src/core/clock.ts';
import type { SecurityEvent } from '../../src/core/events.ts';
import { createMonitor, type Monitor } from '../../src/monitor/monitor.ts';
import { createApiKey } from '../../src/policies/authenticate/api-key.ts';
import {
  echoHandler,
  op,
  openapi,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
} from '../harness.ts';
import { DEBIAN_CRS_RULES } from '../waf/oracle.ts';

export const ADMIN_TOKEN = 'dashboard-test-token-0123456789';

export interface DashboardGateway {
  readonly gw: TestGateway;
  readonly upstream: TestServer;
  readonly monitor: Monitor;
  readonly admin: AdminApi;
  /** Replaces the config that `POST /api/reload` applies. */
  setReloadConfig(config: Record<string, unknown>): void;
  close(): Promise<void>;
}

export const shopSpec = openapi(
  {
    '/users/{userId}': {
      get: op('getUser', {
        parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'integer' } }],
      }),
    },
    '/orders': { get: op('listOrders'), post: op('createOrder', { security: [{ keyAuth: [] }] }) },
    '/search': {
      get: op('search', { parameters: [{ name: 'q', in: 'query', schema: { type: 'string' } }] }),
    },
  },
  { components: { securitySchemes: { keyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key' } } } },
);

/** The API key of the consumer `alice-app`, who may create orders. */
export const ALICE = createApiKey();

/** `createOrder` takes an API key; `search` runs the OWASP Core Rule Set (Debian's); the rest are open. */
export const shopOperations = {
  search: { policies: { injection: { crs: { path: DEBIAN_CRS_RULES } } } },
  createOrder: {
    policies: {
      authenticate: {
        schemes: {
          keyAuth: { apiKey: { consumers: [{ name: 'alice-app', roles: ['writer'], keys: [ALICE.hash] }] } },
        },
      },
    },
  },
};

/** Starts upstream, gateway, monitor and admin API; `POST /api/reload` re-applies the same config. */
export async function startDashboardGateway(
  opts: { live?: Parameters<typeof createAdminRoutes>[0]['live'] } = {},
): Promise<DashboardGateway> {
  const upstream = await startServer(echoHandler);
  const logger = pino({ level: process.env.DEBUG_ADMIN ?? 'silent' });
  // The monitor needs the gateway's state store, which the runtime creates: events go through a forwarder
  // until the monitor exists (no traffic flows before the gateway has started).
  let target: { emit(e: SecurityEvent): void } | undefined;
  let monitor: Monitor | undefined;
  let admin: AdminApi | undefined;
  let ready: Promise<AdminApi> | undefined;
  let gw: TestGateway | undefined;
  const config: Record<string, unknown> = {
    admin: { token: ADMIN_TOKEN },
    apis: [
      {
        name: 'shop',
        spec: 'shop.yaml',
        upstream: { url: upstream.url },
        policies: { ban: { cacheMs: 0 } },
        operations: shopOperations,
      },
    ],
  };
  let reloadConfig = config;
  gw = await startGateway({
    specs: { 'shop.yaml': shopSpec },
    config,
    runtime: {
      logger,
      events: { emit: (e) => target?.emit(e) },
      adminRoutes: ({ gateway, metrics, store }) => {
        ready = createMonitor(
          {
            events: { store: 'sqlite', sqlite: { path: ':memory:', worker: false }, flushIntervalMs: 20 },
            bans: { enabled: false },
          },
          { logger, clock: systemClock, store, metrics },
        ).then((m) => {
          monitor = m;
          target = m.events;
          admin = createAdminRoutes({
            token: ADMIN_TOKEN,
            gateway,
            metrics,
            store,
            logger,
            monitor: adminMonitorFrom(m),
            reload: () => gw!.reload(reloadConfig),
            live: opts.live,
          });
          return admin;
        });
        const api = ready;
        return async (req, res, url) => (await api)(req, res, url);
      },
    },
  });
  admin = await ready!;
  const started = gw;
  const m = monitor!;
  return {
    gw: started,
    upstream,
    monitor: m,
    admin,
    setReloadConfig(c) {
      reloadConfig = c;
    },
    async close() {
      admin?.close();
      await started.close();
      await m.close();
      await upstream.close();
    },
  };
}

/** Calls the admin API with the token. */
export async function adminFetch(
  d: DashboardGateway,
  path: string,
  init: { method?: string; body?: unknown; token?: string | null; headers?: Record<string, string> } = {},
): Promise<AdminResponse> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token !== null) headers.authorization = `Bearer ${init.token ?? ADMIN_TOKEN}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  return (await fetch(d.gw.adminUrl + path, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })) as AdminResponse;
}

/** A response whose JSON body is typed for field-by-field assertions. */
export interface AdminResponse extends Response {
  json(): Promise<Json>;
}

/** A JSON body as the tests read it: field by field, with assertions on each. */
// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the assertions that read them
export type Json = any;

export async function json(res: Response): Promise<Json> {
  return res.json();
}
