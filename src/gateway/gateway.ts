import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiDocument } from '../core/api-document.ts';
import type { Config } from '../core/config.ts';
import { nullSink } from '../core/events.ts';
import { problem, problemBody, problems } from '../core/problems.ts';
import type { AccessRecord, GatewayDeps } from './deps.ts';
import type { GatewayContext } from './flight.ts';
import { handleRequest } from './lifecycle.ts';
import { buildSnapshot } from './snapshot.ts';
import { StreamedBodies } from './streams.ts';

export type { AccessRecord, BodyObserver, GatewayDeps } from './deps.ts';
export { GatewayBuildError } from './snapshot.ts';

export interface Gateway {
  /** Handles one request; `scheme` is the listener's own. Never throws. */
  handle(req: IncomingMessage, res: ServerResponse, scheme: 'http' | 'https'): void;
  /** Compiles a new config and swaps it in; on failure the old one keeps serving and the error is thrown. */
  reload(config: Config): Promise<void>;
  readonly config: Config;
  /** Requests being handled now. */
  inFlight(): number;
  /** The loaded OpenAPI document of one API of the live config. */
  spec(api: string): ApiDocument | undefined;
  /** The operations currently served, for the admin API. */
  inventory(): Array<{ api: string; operationId: string; method: string; path: string; policies: string[] }>;
  close(): Promise<void>;
}

/**
 * Creates the gateway: the request handler over an atomically swappable snapshot of compiled routes.
 * The request lifecycle itself is in lifecycle.ts.
 * @example
 * const gw = await createGateway(config, deps);
 * http.createServer((req, res) => gw.handle(req, res, 'http')).listen(8080);
 */
export async function createGateway(initial: Config, deps: GatewayDeps): Promise<Gateway> {
  let snap = await buildSnapshot(initial, deps);
  const { logger, metrics } = deps;
  const ctx = createContext(deps, snap.config);
  metrics.gauge(
    'portcullis_http_server_active_requests',
    'Requests being handled now.',
    [],
    () => ctx.inFlight,
  );

  return {
    handle(req, res, scheme) {
      try {
        handleRequest(ctx, snap, req, res, scheme);
      } catch (err) {
        logger.error({ err }, 'request handling failed');
        if (!res.headersSent) {
          const body = problemBody(problem(problems.internal), 'unknown');
          res.writeHead(500, {
            'content-type': 'application/problem+json',
            'content-length': Buffer.byteLength(body),
          });
          res.end(body);
        } else res.destroy();
      }
    },
    async reload(config) {
      const next = await buildSnapshot(config, deps);
      const old = snap;
      snap = next;
      logger.info({ apis: next.apis.map((a) => a.config.name) }, 'config reloaded');
      // Retire the old snapshot once its in-flight requests are done (pools close gracefully anyway).
      const retire = () => (old.inFlight === 0 ? old.shared.close() : setTimeout(retire, 100).unref());
      retire();
    },
    get config() {
      return snap.config;
    },
    inFlight: () => ctx.inFlight,
    spec: (api) => snap.apis.find((a) => a.config.name === api)?.spec,
    inventory() {
      const out: Array<{
        api: string;
        operationId: string;
        method: string;
        path: string;
        policies: string[];
      }> = [];
      for (const a of snap.apis) {
        for (const op of a.spec.operations) {
          const m = a.router.match(op.method, op.path.replace(/\{[^}]+\}/g, 'x'));
          out.push({
            api: a.config.name,
            operationId: op.id,
            method: op.method,
            path: a.config.basePath + op.path,
            policies:
              m.kind === 'found'
                ? m.value.pipeline.policies.map((p) => `${p.name}${p.mode === 'report' ? ' (report)' : ''}`)
                : [],
          });
        }
      }
      return out;
    },
    async close() {
      await snap.shared.close();
    },
  };
}

/** What every request shares: outputs, metric handles, the streamed-bodies table. */
function createContext(deps: GatewayDeps, config: Config): GatewayContext {
  const { logger, metrics } = deps;
  const duration = metrics.histogram(
    'portcullis_http_server_request_duration_seconds',
    'Duration of requests through the gateway (OpenTelemetry http.server.request.duration).',
    ['api', 'route', 'method', 'status'],
  );
  // Histogram children by label values, so a request records its duration with one Map lookup. The
  // values are bounded: routes come from the specs, methods from Node's parser, statuses are numbers.
  const durationCells = new Map<string, { observe(v: number): void }>();
  const accessLog =
    deps.accessLog ??
    (config.logging.accessLog ? (rec: AccessRecord) => logger.info(rec, 'access') : undefined);
  return {
    logger,
    events: deps.events,
    accessLog,
    stampEvents: deps.events !== nullSink || (deps.accessLog === undefined && accessLog !== undefined),
    observeBodies: deps.observeBodies,
    tracer: deps.tracer ?? null,
    reportWouldReject(policy, p, ex) {
      logger.warn(
        { requestId: ex.id, policy, reason: p.reason, type: p.problem.type },
        'report mode: would reject',
      );
    },
    durationCell(api, route, method, status) {
      const key = `${api} ${route} ${method} ${status}`;
      let cell = durationCells.get(key);
      if (cell === undefined) {
        cell = duration.bind({ api, route, method, status: String(status) });
        if (durationCells.size < 10_000) durationCells.set(key, cell);
      }
      return cell;
    },
    upstreamErrors: metrics.counter(
      'portcullis_upstream_errors_total',
      'Upstream failures by API and kind (unreachable, timeouts, connection lost, response cut short).',
      ['api', 'reason'],
    ),
    decisions: metrics.counter(
      'portcullis_decisions_total',
      'Requests refused, by API, policy and reason (those allowed are the rest of the request duration count).',
      ['api', 'policy', 'reason'],
    ),
    streamedBodies: new StreamedBodies(),
    inFlight: 0,
  };
}
