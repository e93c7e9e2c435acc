import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { ApiDocument, JsonObject, Operation } from './api-document.ts';
import type { Clock } from './clock.ts';
import type { ApiConfig } from './config.ts';
import { PortcullisError } from './errors.ts';
import type { EventSink } from './events.ts';
import type { Exchange } from './exchange.ts';
import type { MetricsRegistry } from './metrics.ts';
import type { Problem } from './problems.ts';
import type { StateStore } from './store.ts';

/** Pipeline stages, run in this order for requests (responses run `protect-response` then `observe`). */
export const STAGES = [
  'ban',
  'authenticate',
  'authorize',
  'limit',
  'validate',
  'protect-response',
  'observe',
] as const;
export type Stage = (typeof STAGES)[number];

/** What every policy's config carries besides its own fields. */
export interface PolicyConfigBase {
  /** `enforce` rejects; `report` logs "would reject" and lets the request pass. */
  mode: 'enforce' | 'report';
}

/** What a policy may do to a request: continue (undefined) or stop it with a problem. */
export type RequestResult = Problem | undefined;

/** Head of the upstream response, mutable by response-stage policies before it is sent. */
export interface ResponseHead {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/** The compiled, per-route form of a policy. Every member is optional; absent means "nothing to do". */
export interface PolicyHandler {
  /** Runs for every request on the route, in stage order. */
  onRequest?(ex: Exchange): RequestResult | Promise<RequestResult>;
  /** Buffer the request body (up to the route's limit) before `onRequest` runs. */
  readonly needsRequestBody?: boolean;
  /** May change status and headers of the upstream response before anything is sent. */
  onResponseHead?(ex: Exchange, head: ResponseHead): void;
  /**
   * Whether this response's body must be buffered and handed to `transformResponseBody`
   * (decided from the head, so streaming is kept whenever nothing needs the body).
   */
  wantsResponseBody?(ex: Exchange, head: ResponseHead): boolean;
  /** Rewrites a buffered response body; may also edit the head. Return a problem to withhold it. */
  transformResponseBody?(ex: Exchange, head: ResponseHead, body: Buffer): Buffer | Problem;
  /**
   * Answers a CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) for this
   * route, which the gateway matched by the requested method. Only the CORS policy has it.
   */
  preflight?(
    req: IncomingMessage,
  ): { readonly status: number; readonly headers: Readonly<Record<string, string>> } | Problem;
  /** Runs once the exchange is over (response sent or client gone), whatever the outcome. */
  onComplete?(ex: Exchange, outcome: ExchangeOutcome): void;
}

export interface ExchangeOutcome {
  readonly status: number;
  readonly durationMs: number;
  /** `allow`, or the reason of the policy that stopped the request. */
  readonly decision: string;
  /** Name of the policy that stopped the request, if one did. */
  readonly deniedBy?: string;
}

/** Everything `compile` may use; passed explicitly, never read from globals. */
export interface CompileContext {
  readonly apiName: string;
  readonly spec: ApiDocument;
  readonly operation: Operation;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly events: EventSink;
  readonly store: StateStore;
  /** The process's Prometheus registry: policies register their counters here (names are deduplicated). */
  readonly metrics: MetricsRegistry;
  /** Services shared by all routes of one config snapshot (JWKS caches, consumer registries, ...). */
  readonly shared: SharedServices;
}

/**
 * Per-snapshot registry of shared services, keyed by a name the policy chooses. A policy creates what it
 * needs once (e.g. one JWKS cache per issuer) and reuses it across routes; `close` is called when the
 * snapshot is retired.
 */
export interface SharedServices {
  get<T>(key: string, create: () => T): T;
  onClose(fn: () => void | Promise<void>): void;
}

/** A policy module: one folder, one definition. */
export interface PolicyDefinition<C extends PolicyConfigBase = PolicyConfigBase> {
  /** Config key under `policies:` (camelCase). */
  readonly name: string;
  readonly stage: Stage;
  readonly description: string;
  /**
   * Runs on every operation unless a config block says `enabled: false` (for protections that must not
   * depend on someone remembering to switch them on, like enforcing bans).
   */
  readonly enabledByDefault?: boolean;
  /**
   * Request headers this policy sets towards the upstream (identity forwarding), given its API-level
   * config: the gateway removes any incoming copies before a request is forwarded.
   */
  ownedRequestHeaders?(config: Partial<C> | undefined): readonly string[];
  /**
   * Documents this policy publishes under `/.well-known/` (RFC 8615) for an API, given its API-level
   * config (validated, defaults not filled in). The gateway answers GET and HEAD on exactly these paths,
   * before routing and without running any policy. Throw `PolicyConfigError` for a config that cannot be
   * published.
   */
  wellKnown?(config: Partial<C> | undefined, api: ApiConfig, spec: ApiDocument): readonly WellKnownDocument[];
  /** JSON Schema of the policy's config (without `mode`, which is added for every policy). */
  readonly schema: JsonObject;
  /**
   * Config from the spec itself for this operation (e.g. an `x-portcullis-rate-limit` extension), merged
   * under the config file's values. Optional.
   */
  fromSpec?(operation: Operation, spec: ApiDocument): Partial<C> | undefined;
  /**
   * Validates config against the operation and builds the handler. Throw `PolicyConfigError` for a config
   * that is well-formed but wrong for this operation. Return null when there is nothing to do.
   */
  compile(config: C, ctx: CompileContext): PolicyHandler | null | Promise<PolicyHandler | null>;
}

/** A static document the gateway serves for an API under `/.well-known/`. */
export interface WellKnownDocument {
  /** Exact request path, starting with `/.well-known/`. */
  readonly path: string;
  readonly contentType: string;
  readonly body: string;
  /** `Cache-Control: public, max-age=` this many seconds. */
  readonly maxAgeSeconds: number;
}

/** A config problem found while compiling a policy for an operation. */
export class PolicyConfigError extends PortcullisError {
  readonly code = 'ERR_POLICY_CONFIG';
  /** Config path relative to the policy block, e.g. `rules[0].expression`. */
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.name = 'PolicyConfigError';
    this.path = path;
  }
}
