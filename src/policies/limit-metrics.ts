import { createMetrics, type MetricsRegistry } from '../core/metrics.ts';

/** How a limiter decision ended. */
export type LimitOutcome = 'allowed' | 'rejected' | 'reported' | 'fallback' | 'fail_open' | 'fail_closed';

/**
 * Counters of the limit policies. The gateway seeds one under `LIMIT_METRICS_KEY` in the per-snapshot shared
 * registry, backed by its Prometheus registry; a policy that finds none creates a private one.
 */
export interface LimitMetrics {
  /** A pre-bound counter for one (api, policy, outcome): `portcullis_ratelimit_decisions_total`. */
  decisions(api: string, policy: string, outcome: LimitOutcome): { inc(by?: number): void };
  /** `portcullis_ratelimit_violations_total{api,policy,limit}`: which named limit rejected. */
  violation(api: string, policy: string, limit: string): void;
  /** `portcullis_ratelimit_store_errors_total{policy,error}` (error: the stable error code). */
  storeError(policy: string, code: string): void;
  /** `portcullis_concurrency_rejected_total{scope,reason}` (reason: queue_full | queue_timeout). */
  concurrencyRejected(scope: string, reason: string): void;
}

/** Key of the `LimitMetrics` in `CompileContext.shared`. */
export const LIMIT_METRICS_KEY = 'portcullis.limitMetrics';

/** Creates the limit counters in a Prometheus registry. */
export function createLimitMetrics(registry: MetricsRegistry = createMetrics()): LimitMetrics {
  const decisions = registry.counter(
    'portcullis_ratelimit_decisions_total',
    'Rate-limit decisions by outcome.',
    ['api', 'policy', 'outcome'],
  );
  const violations = registry.counter(
    'portcullis_ratelimit_violations_total',
    'Requests rejected, by the named limit that rejected them.',
    ['api', 'policy', 'limit'],
  );
  const storeErrors = registry.counter(
    'portcullis_ratelimit_store_errors_total',
    'Decisions the state store could not take (the fail mode decided instead).',
    ['policy', 'error'],
  );
  const concurrency = registry.counter(
    'portcullis_concurrency_rejected_total',
    'Requests turned away by a concurrency cap.',
    ['scope', 'reason'],
  );
  return {
    decisions: (api, policy, outcome) => decisions.bind({ api, policy, outcome }),
    violation: (api, policy, limit) => violations.inc({ api, policy, limit }),
    storeError: (policy, error) => storeErrors.inc({ policy, error }),
    concurrencyRejected: (scope, reason) => concurrency.inc({ scope, reason }),
  };
}
