import type { Exchange } from '../../core/exchange.ts';
import type { CompileContext, PolicyDefinition, PolicyHandler } from '../../core/policy.ts';
import { type SparseConfigOf, withDefaults } from '../../core/policy-config.ts';
import { type Problem, problem, problems } from '../../core/problems.ts';
import { denialEvent } from '../denial-events.ts';
import { createLimitMetrics, LIMIT_METRICS_KEY, type LimitMetrics } from '../limit-metrics.ts';
import { createSemaphore, type RefusalReason, type Semaphore } from './semaphore.ts';

/** The settings of one cap; `maxInFlight` has no default. */
const capProperties = {
  maxInFlight: {
    type: 'integer',
    minimum: 1,
    maximum: 1_000_000,
    description: 'Requests handled at once.',
  },
  maxQueued: {
    type: 'integer',
    minimum: 0,
    maximum: 100_000,
    default: 0,
    description: 'Requests that may wait for a slot (FIFO); beyond it they get 503 at once.',
  },
  maxWaitMs: {
    type: 'integer',
    minimum: 0,
    maximum: 60_000,
    default: 1000,
    description: 'Longest wait in the queue before 503.',
  },
} as const;

const capSchema = (description: string) =>
  ({
    type: 'object',
    additionalProperties: false,
    required: ['maxInFlight'],
    description,
    properties: capProperties,
  }) as const;

/** JSON Schema of the `concurrency` config block. */
const schema = {
  type: 'object',
  properties: {
    global: capSchema(
      'Cap shared by every route of every API (the first API compiled defines it: configure it the same everywhere).',
    ),
    upstream: capSchema("Cap shared by every route of this API, i.e. in front of the API's upstream."),
    operation: capSchema('Cap of this operation alone.'),
    retryAfterSeconds: {
      type: 'integer',
      minimum: 1,
      maximum: 3600,
      default: 1,
      description: 'Retry-After sent with the 503.',
    },
  },
  // Last, where the config schema puts its own (it closes every policy block): the JSON stays the same.
  additionalProperties: false,
} as const;

/** Config of `concurrency`; `compile` fills in the defaults of fields left out, also inside each cap. */
export type ConcurrencyConfig = SparseConfigOf<typeof schema>;
const caps = { properties: capProperties } as const;

const SCOPES = ['global', 'upstream', 'operation'] as const;

/**
 * `concurrency` (stage `limit`): caps on requests in flight in this process, global, per upstream (API) and per
 * operation, each with a bounded wait queue; beyond them, 503 temporary-reduced-capacity with Retry-After.
 * Distributed per-client in-flight limits are the `concurrency` algorithm of `rateLimit`.
 */
export const concurrencyPolicy: PolicyDefinition<ConcurrencyConfig> = {
  name: 'concurrency',
  stage: 'limit',
  description:
    'Caps on requests in flight in this gateway process (global, per upstream, per operation) with a bounded wait queue; then 503 with Retry-After.',
  schema,
  compile(block, ctx) {
    const s = compileConcurrency(block, ctx);
    if (s === null) return null;
    const handler: PolicyHandler = {
      onRequest: (ex) => acquireFrom(s, ex, 0),
      onComplete: (ex) => onComplete(s, ex),
    };
    return handler;
  },
};

/** One operation's caps, compiled: its semaphores in scope order, and who holds slots of them. */
interface ConcurrencyState {
  readonly ctx: CompileContext;
  readonly sems: ReadonlyArray<{ scope: string; sem: Semaphore }>;
  readonly retryAfter: string;
  readonly metrics: LimitMetrics;
  /** Slots held per exchange (the first n semaphores), released when it completes. */
  readonly held: WeakMap<Exchange, number>;
  readonly completed: WeakSet<Exchange>;
}

function compileConcurrency(block: ConcurrencyConfig, ctx: CompileContext): ConcurrencyState | null {
  const config = withDefaults(schema, block);
  const sems: Array<{ scope: string; sem: Semaphore }> = [];
  for (const scope of SCOPES) {
    const own = config[scope];
    if (own === undefined) continue;
    const cap = withDefaults(caps, own);
    const make = () =>
      createSemaphore({
        maxInFlight: cap.maxInFlight,
        maxQueued: cap.maxQueued,
        maxWaitMs: cap.maxWaitMs,
      });
    const key =
      scope === 'global'
        ? 'portcullis.concurrency.global'
        : scope === 'upstream'
          ? `portcullis.concurrency.upstream:${ctx.apiName}`
          : `portcullis.concurrency.operation:${ctx.apiName}:${ctx.operation.id}`;
    sems.push({ scope, sem: ctx.shared.get(key, make) });
  }
  if (sems.length === 0) return null;
  return {
    ctx,
    sems,
    retryAfter: String(config.retryAfterSeconds),
    metrics: ctx.shared.get<LimitMetrics>(LIMIT_METRICS_KEY, () => createLimitMetrics(ctx.metrics)),
    held: new WeakMap(),
    completed: new WeakSet(),
  };
}

// ---- Per request ----

function releaseFirst(s: ConcurrencyState, n: number): void {
  for (let i = 0; i < n; i++) s.sems[i].sem.release();
}

function refuse(s: ConcurrencyState, ex: Exchange, i: number, reason: RefusalReason): Problem {
  const { ctx } = s;
  releaseFirst(s, i);
  const scope = s.sems[i].scope;
  s.metrics.concurrencyRejected(scope, reason);
  const event = denialEvent(ctx.clock, ex, {
    policy: 'concurrency',
    action: 'concurrency-limit-exceeded',
    category: 'api',
    reason,
    mode: 'enforce',
  });
  event['portcullis.concurrency.scope'] = scope;
  ctx.events.emit(event);
  return problem(problems.temporaryReducedCapacity, `Too many requests in flight (${scope})`, {
    headers: { 'retry-after': s.retryAfter },
    extensions: { 'violated-policies': [`concurrency.${scope}`] },
    reason: reason,
  });
}

function acquireFrom(
  s: ConcurrencyState,
  ex: Exchange,
  start: number,
): Problem | undefined | Promise<Problem | undefined> {
  const { sems } = s;
  for (let i = start; i < sems.length; i++) {
    const r = sems[i].sem.acquire();
    if (r === true) continue;
    if (typeof r === 'string') return refuse(s, ex, i, r);
    return r.then((got) => {
      if (got !== true) return refuse(s, ex, i, got);
      return acquireFrom(s, ex, i + 1);
    });
  }
  // All slots taken; if the client already went away while we queued, give them back at once.
  if (s.completed.has(ex)) releaseFirst(s, sems.length);
  else s.held.set(ex, sems.length);
  return undefined;
}

function onComplete(s: ConcurrencyState, ex: Exchange): void {
  s.completed.add(ex);
  const n = s.held.get(ex);
  if (n === undefined) return;
  s.held.delete(ex);
  releaseFirst(s, n);
}
