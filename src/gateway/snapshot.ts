import type { ApiDocument, Operation } from '../core/api-document.ts';
import type { ApiConfig, Config } from '../core/config.ts';
import { PortcullisError } from '../core/errors.ts';
import type { RouteMatch } from '../core/exchange.ts';
import { PolicyConfigError } from '../core/policy.ts';
import { type ClosableSharedServices, createSharedServices } from '../core/shared-services.ts';
import { loadApiDocument } from '../openapi/load.ts';
import { compileCidrMatcher } from '../shared/ip.ts';
import type { GatewayDeps } from './deps.ts';
import { compileSingleValueFields, PROXY_ASSERTED_HEADERS, type SingleValueFields } from './headers.ts';
import { compilePipeline, type Pipeline } from './pipeline.ts';
import { createRouter, NO_PATH_PARAMS, type Router } from './router.ts';
import { createUpstream, type Upstream } from './upstream.ts';
import { compileWellKnown, type WellKnownEntry, type WellKnownTable } from './well-known.ts';

/**
 * The compiled form of one config: APIs, their routes and pipelines, and what the request path needs to
 * know about the whole config. Reload builds a new snapshot and swaps one reference.
 */

export interface Route {
  readonly api: ApiRuntime;
  readonly operation: Operation;
  readonly pipeline: Pipeline;
  readonly maxBodyBytes: number;
  /** Parsed bodies seen on this route so far (for the sampling of `observeBodies`). */
  bodiesSeen: number;
  /**
   * The request duration histogram's children for requests with the operation's own method, by status
   * (filled as statuses occur): the labels are known once the route is, so no key is built per request.
   */
  readonly durationByStatus: Map<number, { observe(v: number): void }>;
  /** What policies see of the match when the path has no parameters: made once, shared by its requests. */
  readonly matchWithoutParams: RouteMatch;
}

export interface ApiRuntime {
  readonly config: ApiConfig;
  readonly spec: ApiDocument;
  readonly router: Router<Route>;
  readonly upstream: Upstream;
  readonly hosts: ReadonlySet<string> | null;
  /** Headers the spec's apiKey schemes read credentials from (for the credential fingerprint in events). */
  readonly apiKeyHeaders: readonly string[];
  /** Query parameters and cookies the spec's apiKey schemes read: each may appear once in a request. */
  readonly apiKeyQuery: readonly string[];
  readonly apiKeyCookies: readonly string[];
}

/** An immutable, fully compiled view of one config. Reload builds a new one and swaps one reference. */
export interface Snapshot {
  readonly config: Config;
  readonly apis: readonly ApiRuntime[];
  readonly isTrustedProxy: (ip: string) => boolean;
  readonly stripRequestHeaders: ReadonlySet<string>;
  /** `stripRequestHeaders` plus what only a trusted proxy may assert (RFC 9440 `Client-Cert`). */
  readonly stripUntrustedRequestHeaders: ReadonlySet<string>;
  /** Fields a request may carry once (the static list plus every configured credential header). */
  readonly singleValueFields: SingleValueFields;
  /** Documents policies publish under `/.well-known/` (RFC 9728 metadata); null when none. */
  readonly wellKnown: WellKnownTable<ApiRuntime> | null;
  readonly hsts: string | undefined;
  readonly shared: ClosableSharedServices;
  inFlight: number;
}

/** A config that loaded but cannot be compiled (bad spec, policy config wrong for an operation, ...). */
export class GatewayBuildError extends PortcullisError {
  readonly code = 'ERR_GATEWAY_BUILD';
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(`the config cannot be applied:\n${issues.join('\n')}`);
    this.name = 'GatewayBuildError';
    this.issues = issues;
  }
}

/** Names of request headers that policies own (identity forwarding); incoming copies are removed. */

const GATEWAY_OWNED_HEADERS = [
  'x-portcullis-subject',
  'x-portcullis-consumer',
  'x-portcullis-scopes',
  'x-portcullis-roles',
];

/** What building the APIs of a config collects across all of them. */
interface BuildState {
  readonly config: Config;
  readonly deps: GatewayDeps;
  readonly shared: ClosableSharedServices;
  readonly issues: string[];
  /** Request headers removed before forwarding, on every route of every API. */
  readonly strip: Set<string>;
  /** Header fields that may appear once (the spec's apiKey headers are added to the gateway's own). */
  readonly singleValue: Set<string>;
  readonly wellKnown: WellKnownEntry<ApiRuntime>[];
}

export async function buildSnapshot(config: Config, deps: GatewayDeps): Promise<Snapshot> {
  const state: BuildState = {
    config,
    deps,
    shared: createSharedServices(),
    issues: [],
    strip: new Set(GATEWAY_OWNED_HEADERS),
    singleValue: new Set<string>(),
    wellKnown: [],
  };
  const { shared, issues, strip } = state;
  const apis: ApiRuntime[] = [];
  try {
    for (const [i, apiConfig] of config.apis.entries()) {
      const api = await buildApi(state, i, apiConfig);
      if (api !== undefined) apis.push(api);
    }
  } catch (err) {
    await shared.close();
    throw err;
  }
  let wellKnownTable: WellKnownTable<ApiRuntime> | null = null;
  try {
    wellKnownTable = compileWellKnown(state.wellKnown, (a) => a.config.name);
  } catch (err) {
    issues.push(`apis: ${(err as Error).message}`);
  }
  if (issues.length > 0) {
    await shared.close();
    throw new GatewayBuildError(issues);
  }
  // Longest base path first, so `/api/v2` is tried before `/api`.
  apis.sort((a, b) => b.config.basePath.length - a.config.basePath.length);
  const h = config.server.hsts;
  return {
    config,
    apis,
    isTrustedProxy: compileCidrMatcher(config.server.trustedProxies),
    stripRequestHeaders: strip,
    stripUntrustedRequestHeaders: new Set([...strip, ...PROXY_ASSERTED_HEADERS]),
    singleValueFields: compileSingleValueFields(state.singleValue),
    wellKnown: wellKnownTable,
    hsts: h.enabled
      ? `max-age=${h.maxAgeSeconds}${h.includeSubDomains ? '; includeSubDomains' : ''}`
      : undefined,
    shared,
    inFlight: 0,
  };
}

/** One API of the config: its document, upstream, routes with compiled pipelines and well-known documents. */
async function buildApi(state: BuildState, i: number, apiConfig: ApiConfig): Promise<ApiRuntime | undefined> {
  const { deps, issues } = state;
  let spec: ApiDocument;
  try {
    spec = await loadApiDocument(apiConfig.spec);
  } catch (err) {
    issues.push(`apis[${i}].spec: ${(err as Error).message}`);
    return undefined;
  }
  collectOwnedHeaders(deps.policies, apiConfig, state.strip);
  for (const opId of Object.keys(apiConfig.operations)) {
    if (!spec.operations.some((o) => o.id === opId)) {
      issues.push(`apis[${i}].operations.${opId}: no operation with this operationId in ${spec.file}`);
    }
  }
  const upstream = createApiUpstream(apiConfig, deps);
  state.shared.onClose(() => upstream.close());
  const api: ApiRuntime = {
    config: apiConfig,
    spec,
    router: createRouter<Route>(),
    upstream,
    hosts: apiConfig.hosts.length ? new Set(apiConfig.hosts.map((h) => h.toLowerCase())) : null,
    apiKeyHeaders: apiKeyNames(spec, 'header').map((n) => n.toLowerCase()),
    apiKeyQuery: apiKeyNames(spec, 'query'),
    apiKeyCookies: apiKeyNames(spec, 'cookie'),
  };
  for (const h of api.apiKeyHeaders) state.singleValue.add(h);
  for (const operation of spec.operations) await addRoute(state, i, api, operation);
  for (const def of deps.policies) {
    try {
      const docs = def.wellKnown?.(apiConfig.policies?.[def.name] as never, apiConfig, spec) ?? [];
      for (const doc of docs) state.wellKnown.push({ api, hosts: api.hosts, doc });
    } catch (err) {
      const at = err instanceof PolicyConfigError && err.path ? `${err.path}: ` : '';
      issues.push(`apis[${i}].policies.${def.name}: ${at}${(err as Error).message}`);
    }
  }
  return api;
}

/**
 * Identity headers named anywhere in the API, per-operation blocks included, are stripped on every route of
 * every API: a name set for one operation is no less forgeable on the others.
 */
function collectOwnedHeaders(
  policies: GatewayDeps['policies'],
  apiConfig: ApiConfig,
  strip: Set<string>,
): void {
  for (const def of policies) {
    const apiLevel = apiConfig.policies?.[def.name] as Record<string, unknown> | undefined;
    const blocks = [apiLevel];
    for (const op of Object.values(apiConfig.operations)) {
      const opLevel = op.policies?.[def.name] as Record<string, unknown> | undefined;
      if (opLevel !== undefined) blocks.push({ ...apiLevel, ...opLevel });
    }
    for (const block of blocks) {
      for (const h of def.ownedRequestHeaders?.(block as never) ?? []) strip.add(h.toLowerCase());
    }
  }
}

/** The API's upstream pool, whose circuit breaker reports each change of state as a log line and an event. */
function createApiUpstream(apiConfig: ApiConfig, deps: GatewayDeps): Upstream {
  return createUpstream(apiConfig.upstream, deps.clock, (from, to, reason) => {
    deps.logger.warn({ api: apiConfig.name, from, to, reason }, 'upstream circuit breaker');
    deps.events.emit({
      '@timestamp': new Date(deps.clock.now()).toISOString(),
      'event.kind': 'event',
      'event.category': 'web',
      'event.type': 'change',
      'event.action': 'circuit-breaker',
      'event.reason': reason,
      'portcullis.api': apiConfig.name,
      'portcullis.circuit.from': from,
      'portcullis.circuit.to': to,
    });
  });
}

/** Compiles one operation's pipeline and adds its route; a failure becomes an issue naming the operation. */
async function addRoute(state: BuildState, i: number, api: ApiRuntime, operation: Operation): Promise<void> {
  const { deps, issues } = state;
  const apiConfig = api.config;
  let pipeline: Pipeline;
  try {
    pipeline = await compilePipeline(deps.policies, apiConfig, {
      apiName: apiConfig.name,
      spec: api.spec,
      operation,
      clock: deps.clock,
      logger: deps.logger.child({ api: apiConfig.name, operationId: operation.id }),
      events: deps.events,
      store: deps.store,
      metrics: deps.metrics,
      shared: state.shared,
    });
  } catch (err) {
    if (err instanceof PolicyConfigError) {
      issues.push(
        `apis[${i}].policies (operation ${operation.id}): ${err.path ? `${err.path}: ` : ''}${err.message}`,
      );
      return;
    }
    issues.push(`apis[${i}] (operation ${operation.id}): ${(err as Error).message}`);
    return;
  }
  try {
    api.router.add(operation.method, operation.path, {
      api,
      operation,
      pipeline,
      maxBodyBytes: apiConfig.operations[operation.id]?.maxBodyBytes ?? state.config.server.maxBodyBytes,
      bodiesSeen: 0,
      durationByStatus: new Map(),
      matchWithoutParams: { api: apiConfig.name, spec: api.spec, operation, pathParams: NO_PATH_PARAMS },
    });
  } catch (err) {
    issues.push(`apis[${i}].spec: ${operation.method} ${operation.path}: ${(err as Error).message}`);
  }
}

/** Names of the spec's apiKey credentials read from one place. */
function apiKeyNames(spec: ApiDocument, where: 'header' | 'query' | 'cookie'): string[] {
  return Object.values(spec.securitySchemes)
    .filter((sc) => sc.type === 'apiKey' && sc.raw.in === where && typeof sc.raw.name === 'string')
    .map((sc) => sc.raw.name as string);
}
