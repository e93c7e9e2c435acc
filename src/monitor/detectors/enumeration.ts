import type { SecurityEvent } from '../../core/events.ts';
import {
  type AlertDraft,
  actorKey,
  addSample,
  BoundedMap,
  CappedSet,
  type Detector,
  isAccess,
  NO_ALERTS,
  offenderOf,
  requestIdOf,
  sampleList,
  statusOf,
  stringField,
} from './detector.ts';

export interface EnumerationConfig {
  enabled: boolean;
  /** Length of the per-(caller, operation) window; it restarts with the first request after it ends. */
  windowSeconds: number;
  /** Distinct object ids of one operation touched by one caller in the window before it counts as a sweep. */
  minDistinctIds: number;
  /** Share of 403/404 answers among those requests for a sweep to be reported. */
  minFailureRatio: number;
  /** Consecutive requests whose numeric id moves by exactly ±1 that make an id walk. */
  minSequentialRun: number;
  /** Callers × operations tracked at once (least recently seen dropped first). */
  maxKeys: number;
  /** Quiet time after an alert for the same caller and operation. */
  cooldownSeconds: number;
}

export const enumerationDefaults: EnumerationConfig = {
  enabled: true,
  windowSeconds: 300,
  minDistinctIds: 20,
  minFailureRatio: 0.5,
  minSequentialRun: 10,
  maxKeys: 10_000,
  cooldownSeconds: 300,
};

interface State {
  start: number;
  ids: CappedSet;
  requests: number;
  failures: number;
  lastNumeric: number | undefined;
  run: number;
  /** Request ids for evidence (`addSample`). */
  samples: string;
  quietUntil: number;
}

const MAX_IDS_PER_KEY = 512;
const NUMERIC = /^-?\d{1,15}$/;

/**
 * Object-level enumeration (OWASP API1, BOLA probing): one caller touching many distinct object ids of one
 * operation with a high share of 403/404, or walking ids in sequence. Reads `portcullis.operation_id` and
 * `portcullis.path_params` of access events; operations without path parameters are ignored.
 */
export function createEnumerationDetector(cfg: EnumerationConfig): Detector {
  const states = new BoundedMap<State>(cfg.maxKeys);
  const windowMs = cfg.windowSeconds * 1000;

  return {
    name: 'enumeration',
    size: () => states.size,
    observe(e: SecurityEvent, t: number) {
      if (!isAccess(e)) return NO_ALERTS;
      const params = e['portcullis.path_params'] as Record<string, unknown> | undefined;
      const op = stringField(e, 'portcullis.operation_id');
      if (!params || !op) return NO_ALERTS;
      let id = '';
      let last: string | undefined;
      for (const k in params) {
        const v = params[k];
        if (typeof v !== 'string') continue;
        id = last === undefined ? v : `${id}/${v}`;
        last = v;
      }
      if (last === undefined) return NO_ALERTS;
      const actor = actorKey(e);
      if (!actor || Number.isNaN(t)) return NO_ALERTS;

      const api = stringField(e, 'portcullis.api');
      const s = states.touch(`${actor}\u0000${api ?? ''}\u0000${op}`, () => ({
        start: t,
        ids: new CappedSet(MAX_IDS_PER_KEY),
        requests: 0,
        failures: 0,
        lastNumeric: undefined,
        run: 1,
        samples: '',
        quietUntil: 0,
      }));
      if (t - s.start > windowMs) {
        s.start = t;
        s.ids.clear();
        s.requests = 0;
        s.failures = 0;
        s.run = 1;
        s.lastNumeric = undefined;
      }
      const status = statusOf(e);
      s.requests++;
      if (status === 403 || status === 404) s.failures++;
      s.ids.add(id);
      s.samples = addSample(s.samples, requestIdOf(e));
      // An id walk looks at the last numeric path parameter (`/users/{uid}/orders/{id}` walks `id`).
      if (NUMERIC.test(last)) {
        const n = Number(last);
        s.run = s.lastNumeric !== undefined && Math.abs(n - s.lastNumeric) === 1 ? s.run + 1 : 1;
        s.lastNumeric = n;
      } else {
        s.run = 1;
        s.lastNumeric = undefined;
      }
      if (t < s.quietUntil) return NO_ALERTS;

      const ratio = s.failures / s.requests;
      const walk = s.run >= cfg.minSequentialRun;
      if (!walk && !(s.ids.size >= cfg.minDistinctIds && ratio >= cfg.minFailureRatio)) return NO_ALERTS;
      const evidence = {
        windowSeconds: cfg.windowSeconds,
        sampleRequestIds: sampleList(s.samples),
        requests: s.requests,
        distinctIds: s.ids.size,
        failures: s.failures,
        failureRatio: Math.round(ratio * 1000) / 1000,
        sampleIds: s.ids.sample(5),
      };
      const alert: AlertDraft = {
        detector: 'enumeration',
        offender: offenderOf(e),
        api,
        route: stringField(e, 'http.route'),
        operationId: op,
        ...(walk
          ? {
              rule: 'sequential-ids',
              severity: ratio >= cfg.minFailureRatio ? 'high' : 'medium',
              summary: `${actor} walked ${s.run} sequential ids of ${op}`,
              evidence: { ...evidence, sequentialRun: s.run },
            }
          : {
              rule: 'distinct-ids',
              severity: 'high',
              summary: `${actor} touched ${s.ids.size} distinct ids of ${op}, ${s.failures} answered 403/404`,
              evidence,
            }),
      };
      s.quietUntil = t + cfg.cooldownSeconds * 1000;
      return [alert];
    },
  };
}
