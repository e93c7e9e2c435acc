/**
 * A real gateway for the dashboard tests: an echo upstream, the monitor's sink over an SQLite event store, the
 * monitor's ban list over the gateway's state store, and the admin API with a token.
 */
import { pino } from 'pino';
import { type AdminApi, createAdminRoutes } from '../../src/admin/api.ts';
import { banControlFrom } from '../../src/admin/monitor-port.ts';
import { createBanList } from '../../src/monitor/bans.ts';
import { createEventSink, type MonitorSink } from '../../src/monitor/sink.ts';
import { createSqliteStore } from '../../src/monitor/stores/sqlite.ts';
import { systemClock } from '../../src/state/clock.ts';
import {
  echoHandler,
  op,
  openapi,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
} from '../harness.ts';

export const ADMIN_TOKEN = 'dashboard-test-token-0123456789';

export interface DashboardGateway {
  readonly gw: TestGateway;
  readonly upstream: TestServer;
  readonly sink: MonitorSink;
  readonly admin: AdminApi;
  /** Replaces the config that `POST /api/reload` applies. */
  setReloadConfig(config: Record<string, unknown>): void;
  close(): Promise<void>;
}

export const shopSpec = openapi({
  '/users/{userId}': {
    get: op('getUser', {
      parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'integer' } }],
    }),
  },
  '/orders': { get: op('listOrders'), post: op('createOrder') },
});

/** Starts upstream, gateway, event sink and admin API; `reload` re-applies the same config. */
export async function startDashboardGateway(
  opts: {
    configExtra?: Record<string, unknown>;
    live?: Parameters<typeof createAdminRoutes>[0]['live'];
  } = {},
): Promise<DashboardGateway> {
  const upstream = await startServer(echoHandler);
  const logger = pino({ level: 'silent' });
  const eventStore = createSqliteStore({
    path: ':memory:',
    retentionDays: 0,
    maxRows: 0,
    clock: systemClock,
  });
  const sink = createEventSink({
    store: eventStore,
    queueSize: 10_000,
    batchSize: 200,
    flushIntervalMs: 50,
    logger,
  });
  let admin: AdminApi | undefined;
  const config: Record<string, unknown> = {
    admin: { token: ADMIN_TOKEN },
    apis: [{ name: 'shop', spec: 'shop.yaml', upstream: { url: upstream.url } }],
    ...opts.configExtra,
  };
  let gw: TestGateway | undefined;
  let reloadConfig = config;
  gw = await startGateway({
    specs: { 'shop.yaml': shopSpec },
    config,
    runtime: {
      events: sink,
      adminRoutes: ({ gateway, metrics, store }) => {
        admin = createAdminRoutes({
          token: ADMIN_TOKEN,
          gateway,
          metrics,
          store,
          logger,
          monitor: {
            sinkStats: () => sink.stats(),
            subscribe: (fn) => sink.subscribe(fn),
            queryEvents: (q) => eventStore.query(q),
            bans: banControlFrom(createBanList({ store, clock: systemClock })),
          },
          reload: () => gw!.reload(reloadConfig),
          live: opts.live,
        });
        return admin;
      },
    },
  });
  const started = gw;
  return {
    gw: started,
    upstream,
    sink,
    admin: admin!,
    setReloadConfig(c) {
      reloadConfig = c;
    },
    async close() {
      admin?.close();
      await started.close();
      await sink.close();
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
