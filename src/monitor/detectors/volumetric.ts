import type { SecurityEvent } from '../../core/events.ts';
import {
  actorKey,
  addSample,
  BoundedMap,
  type Detector,
  isAccess,
  NO_ALERTS,
  offenderOf,
  requestIdOf,
  sampleList,
  stringField,
} from './detector.ts';

export interface VolumetricConfig {
  enabled: boolean;
  /** Width of one counting interval. */
  bucketSeconds: number;
  /** Requests in one interval below which nothing is reported, whatever the baseline. */
  minRequests: number;
  /** How many times its reference rate a caller must exceed in one interval. */
  factor: number;
  /** Weight of the latest interval in the moving baselines (exponentially weighted mean). */
  smoothing: number;
  /** Intervals of history before a caller is compared with its own baseline rather than the operation's. */
  warmupBuckets: number;
  /** Callers × operations tracked at once. */
  maxKeys: number;
}

export const volumetricDefaults: VolumetricConfig = {
  enabled: true,
  bucketSeconds: 60,
  minRequests: 100,
  factor: 10,
  smoothing: 0.3,
  warmupBuckets: 3,
  maxKeys: 10_000,
};

interface CallerState {
  bucket: number;
  count: number;
  baseline: number;
  seen: number;
  alertedBucket: number;
  /** Request ids for evidence (`addSample`). */
  samples: string;
}

interface OperationState {
  baseline: number;
  seen: number;
}

/**
 * Scraping and volumetric abuse: a caller whose requests to one operation in one interval are far above its
 * own moving baseline, or, for a caller without enough history, above the operation's baseline (the typical
 * per-caller rate of that operation).
 */
export function createVolumetricDetector(cfg: VolumetricConfig): Detector {
  const bucketMs = cfg.bucketSeconds * 1000;
  const callers = new BoundedMap<CallerState>(cfg.maxKeys);
  const operations = new BoundedMap<OperationState>(Math.max(100, Math.ceil(cfg.maxKeys / 10)));
  const a = cfg.smoothing;

  return {
    name: 'volumetric',
    size: () => callers.size + operations.size,
    observe(e: SecurityEvent, t: number) {
      if (!isAccess(e)) return NO_ALERTS;
      const actor = actorKey(e);
      if (!actor || Number.isNaN(t)) return NO_ALERTS;
      const api = stringField(e, 'portcullis.api') ?? '';
      const op = stringField(e, 'portcullis.operation_id') ?? stringField(e, 'http.route') ?? '(undeclared)';
      const opKey = `${api}\u0000${op}`;
      const o = operations.touch(opKey, () => ({ baseline: 0, seen: 0 }));
      const b = Math.floor(t / bucketMs);
      const s = callers.touch(`${actor}\u0000${opKey}`, () => ({
        bucket: b,
        count: 0,
        baseline: 0,
        seen: 0,
        alertedBucket: -1,
        samples: '',
      }));
      if (b > s.bucket) {
        // Close the finished interval, then decay through the idle ones in between.
        s.baseline = s.seen === 0 ? s.count : a * s.count + (1 - a) * s.baseline;
        s.seen++;
        const idle = Math.min(100, b - s.bucket - 1);
        s.baseline *= (1 - a) ** idle;
        s.seen += idle;
        o.baseline = o.seen === 0 ? s.count : a * s.count + (1 - a) * o.baseline;
        o.seen++;
        s.bucket = b;
        s.count = 0;
      }
      s.count++;
      s.samples = addSample(s.samples, requestIdOf(e));
      if (s.count < cfg.minRequests || s.alertedBucket === b) return NO_ALERTS;
      const own = s.seen >= cfg.warmupBuckets;
      const reference = own ? s.baseline : o.seen >= cfg.warmupBuckets ? o.baseline : undefined;
      if (reference === undefined || s.count <= cfg.factor * Math.max(1, reference)) return NO_ALERTS;
      s.alertedBucket = b;
      return [
        {
          detector: 'volumetric',
          rule: own ? 'above-own-baseline' : 'above-operation-baseline',
          severity: s.count > 10 * cfg.factor * Math.max(1, reference) ? 'high' : 'medium',
          summary: `${actor} sent ${s.count} requests to ${op} in ${cfg.bucketSeconds}s (baseline ${reference.toFixed(1)})`,
          offender: offenderOf(e),
          api: api || undefined,
          route: stringField(e, 'http.route'),
          operationId: stringField(e, 'portcullis.operation_id'),
          evidence: {
            windowSeconds: cfg.bucketSeconds,
            sampleRequestIds: sampleList(s.samples),
            requests: s.count,
            baseline: Math.round(reference * 100) / 100,
            baselineOf: own ? 'caller' : 'operation',
          },
        },
      ];
    },
  };
}
