import type { SecurityEvent } from '../../core/events.ts';
import {
  addSample,
  BoundedMap,
  type Detector,
  isAccess,
  NO_ALERTS,
  requestIdOf,
  SlidingCount,
  sampleList,
  statusOf,
  stringField,
} from './detector.ts';

export interface ErrorSpikeConfig {
  enabled: boolean;
  /** Sliding window over which the error share is measured. */
  windowSeconds: number;
  /** 5xx answers in the window below which nothing is reported. */
  minErrors: number;
  /** Share of 5xx answers in the window that makes a spike... */
  minErrorRatio: number;
  /** ...when also this many times the route's usual share. */
  factor: number;
  /** Weight of the latest window in the route's usual share. */
  smoothing: number;
  /** Routes tracked at once. */
  maxKeys: number;
  cooldownSeconds: number;
}

export const errorSpikeDefaults: ErrorSpikeConfig = {
  enabled: true,
  windowSeconds: 60,
  minErrors: 10,
  minErrorRatio: 0.2,
  factor: 3,
  smoothing: 0.2,
  maxKeys: 2000,
  cooldownSeconds: 300,
};

interface RouteState {
  requests: SlidingCount;
  errors: SlidingCount;
  /** Usual error share, updated once per window (exponentially weighted). */
  usual: number;
  usualAt: number;
  windows: number;
  /** Request ids for evidence (`addSample`). */
  samples: string;
  quietUntil: number;
}

/**
 * Error spikes per route: the share of 5xx answers of one route in a sliding window jumps above both an
 * absolute floor and a multiple of the route's usual share (an outage, or an attack that breaks the
 * upstream: injection, resource exhaustion).
 */
export function createErrorSpikeDetector(cfg: ErrorSpikeConfig): Detector {
  const windowMs = cfg.windowSeconds * 1000;
  const routes = new BoundedMap<RouteState>(cfg.maxKeys);
  return {
    name: 'error-spike',
    size: () => routes.size,
    observe(e: SecurityEvent, t: number) {
      if (!isAccess(e)) return NO_ALERTS;
      if (Number.isNaN(t)) return NO_ALERTS;
      const api = stringField(e, 'portcullis.api');
      const route = stringField(e, 'http.route');
      if (route === undefined) return NO_ALERTS; // undeclared paths are the shadow detector's business
      const method = stringField(e, 'http.request.method') ?? '';
      const s = routes.touch(`${api ?? ''}\u0000${method} ${route}`, () => ({
        requests: new SlidingCount(windowMs),
        errors: new SlidingCount(windowMs),
        usual: 0,
        usualAt: t,
        windows: 0,
        samples: '',
        quietUntil: 0,
      }));
      // A response cut short after its headers went out carries the upstream's status, but failed.
      const isError = statusOf(e) >= 500 || e['portcullis.decision'] === 'upstream_response_incomplete';
      const requests = s.requests.add(t);
      const errors = isError ? s.errors.add(t) : s.errors.count(t);
      if (isError) s.samples = addSample(s.samples, requestIdOf(e));
      const ratio = errors / requests;
      if (t - s.usualAt >= windowMs) {
        s.usual = s.windows === 0 ? ratio : cfg.smoothing * ratio + (1 - cfg.smoothing) * s.usual;
        s.windows++;
        s.usualAt = t;
      }
      // A route is only judged once one full window taught its usual share.
      if (s.windows === 0) return NO_ALERTS;
      if (!isError || t < s.quietUntil) return NO_ALERTS;
      if (errors < cfg.minErrors || ratio < cfg.minErrorRatio || ratio <= cfg.factor * s.usual)
        return NO_ALERTS;
      s.quietUntil = t + cfg.cooldownSeconds * 1000;
      return [
        {
          detector: 'error-spike',
          rule: 'server-errors',
          severity: ratio >= 0.5 ? 'high' : 'medium',
          summary: `${method} ${route}: ${errors} of ${requests} requests failed with 5xx in ${cfg.windowSeconds}s`,
          offender: {},
          api,
          route,
          operationId: stringField(e, 'portcullis.operation_id'),
          evidence: {
            windowSeconds: cfg.windowSeconds,
            sampleRequestIds: sampleList(s.samples),
            requests,
            errors,
            errorRatio: Math.round(ratio * 1000) / 1000,
            usualErrorRatio: Math.round(s.usual * 1000) / 1000,
          },
        },
      ];
    },
  };
}
