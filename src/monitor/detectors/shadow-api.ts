import { isUndeclaredDecision } from '../../core/decisions.ts';
import type { SecurityEvent } from '../../core/events.ts';
import { templatePath } from '../discovery/template.ts';
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
  SlidingCount,
  sampleList,
  statusOf,
  stringField,
} from './detector.ts';

export interface ShadowApiConfig {
  enabled: boolean;
  windowSeconds: number;
  /** Requests to one undeclared endpoint (method + templated path) in the window. */
  minHits: number;
  /** Distinct undeclared endpoints one caller tries in the window (probing). */
  maxUndeclaredPerCaller: number;
  /** Endpoints and callers tracked at once, each. */
  maxKeys: number;
  cooldownSeconds: number;
}

export const shadowApiDefaults: ShadowApiConfig = {
  enabled: true,
  windowSeconds: 600,
  minHits: 5,
  maxUndeclaredPerCaller: 10,
  maxKeys: 10_000,
  cooldownSeconds: 3600,
};

interface EndpointState {
  hits: SlidingCount;
  callers: CappedSet;
  served: number;
  /** Request ids for evidence (`addSample`). */
  samples: string;
  quietUntil: number;
}

interface CallerState {
  endpoints: CappedSet;
  since: number;
  /** Request ids for evidence (`addSample`). */
  samples: string;
  quietUntil: number;
}

/** True when no declared operation matched the request, refused or forwarded in report mode. */
export function isUndeclared(e: SecurityEvent): boolean {
  return isUndeclaredDecision(e['portcullis.decision']);
}

/**
 * Shadow API use: traffic to endpoints the API description does not declare (an endpoint someone knows of
 * but the spec hides), and callers probing many undeclared paths. Ids in paths are templated so
 * `/internal/users/1` and `/internal/users/2` are one endpoint.
 */
export function createShadowApiDetector(cfg: ShadowApiConfig): Detector {
  const windowMs = cfg.windowSeconds * 1000;
  const endpoints = new BoundedMap<EndpointState>(cfg.maxKeys);
  const callers = new BoundedMap<CallerState>(cfg.maxKeys);

  return {
    name: 'shadow-api',
    size: () => endpoints.size + callers.size,
    observe(e: SecurityEvent, t: number) {
      if (!isAccess(e) || !isUndeclared(e)) return NO_ALERTS;
      const path = stringField(e, 'url.path');
      if (Number.isNaN(t) || path === undefined) return NO_ALERTS;
      const method = stringField(e, 'http.request.method') ?? 'GET';
      const api = stringField(e, 'portcullis.api');
      const endpoint = `${method} ${templatePath(path)}`;
      const actor = actorKey(e);
      const id = requestIdOf(e);
      const alerts: AlertDraft[] = [];

      const s = endpoints.touch(`${api ?? ''}\u0000${endpoint}`, () => ({
        hits: new SlidingCount(windowMs),
        callers: new CappedSet(64),
        served: 0,
        samples: '',
        quietUntil: 0,
      }));
      const hits = s.hits.add(t);
      if (actor) s.callers.add(actor);
      // In report mode the upstream still answers: an undeclared endpoint that serves data is worse.
      if (statusOf(e) < 400) s.served++;
      s.samples = addSample(s.samples, id);
      if (t >= s.quietUntil && hits >= cfg.minHits) {
        s.quietUntil = t + cfg.cooldownSeconds * 1000;
        alerts.push({
          detector: 'shadow-api',
          rule: 'undeclared-endpoint',
          severity: s.served > 0 ? 'medium' : 'low',
          summary: `${hits} requests to undeclared ${endpoint}`,
          offender: {},
          api,
          route: endpoint,
          evidence: {
            windowSeconds: cfg.windowSeconds,
            sampleRequestIds: sampleList(s.samples),
            requests: hits,
            callers: s.callers.size,
            sampleCallers: s.callers.sample(5),
            servedByUpstream: s.served,
          },
        });
      }
      if (actor) {
        const c = callers.touch(actor, () => ({
          endpoints: new CappedSet(256),
          since: t,
          samples: '',
          quietUntil: 0,
        }));
        if (t - c.since > windowMs) {
          c.endpoints.clear();
          c.since = t;
        }
        c.endpoints.add(endpoint);
        c.samples = addSample(c.samples, id);
        if (t >= c.quietUntil && c.endpoints.size >= cfg.maxUndeclaredPerCaller) {
          c.quietUntil = t + cfg.cooldownSeconds * 1000;
          alerts.push({
            detector: 'shadow-api',
            rule: 'endpoint-probing',
            severity: 'medium',
            summary: `${actor} tried ${c.endpoints.size} undeclared endpoints`,
            offender: offenderOf(e),
            api,
            evidence: {
              windowSeconds: cfg.windowSeconds,
              sampleRequestIds: sampleList(c.samples),
              endpoints: c.endpoints.size,
              sampleEndpoints: c.endpoints.sample(10),
            },
          });
        }
      }
      return alerts.length === 0 ? NO_ALERTS : alerts;
    },
  };
}
