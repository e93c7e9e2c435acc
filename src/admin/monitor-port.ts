/**
 * What the admin API needs from the monitor. Every member is optional: the admin API answers 503 for a
 * feature whose part is not running (no event store, no responder), and the rest keeps working.
 * The composition root (`src/cli/runtime.ts`) adapts the monitor's own objects to this shape.
 */

import type { ApiDocument } from '../core/api-document.ts';
import type { SecurityEvent } from '../core/events.ts';
import { alertEvent, type Monitor } from '../monitor/monitor.ts';
import type { SinkStats } from '../monitor/sink.ts';
import type { EventPage, EventQuery } from '../monitor/stores/event-store.ts';
import { BAN_KINDS, type BanKind, type BanList } from '../state/bans.ts';

export { BAN_KINDS, type BanKind };

/** One ban as listed by the admin API. */
export interface BanView {
  readonly kind: BanKind;
  readonly value: string;
  /** ISO-8601 time the ban ends. */
  readonly expiresAt: string;
  readonly createdAt?: string;
  readonly reason?: string;
  /** `manual` (admin API) or the detector that caused it. */
  readonly source?: string;
  /** Escalation level for repeat offenders (1 = first ban). */
  readonly level?: number;
}

export interface NewBan {
  readonly kind: BanKind;
  readonly value: string;
  readonly ttlSeconds: number;
  readonly reason?: string;
}

/** Manual bans and the list of live ones (automatic and manual). */
export interface BanControl {
  list(): Promise<readonly BanView[]>;
  ban(ban: NewBan): Promise<BanView>;
  /** True when a ban was lifted, false when there was none. */
  unban(kind: BanKind, value: string): Promise<boolean>;
}

/** An endpoint seen in traffic but not declared in any spec (a shadow API). */
export interface ShadowEndpointView {
  readonly method: string;
  /** Path with ids templated (`/users/{id}`). */
  readonly path: string;
  readonly api?: string;
  readonly count: number;
  readonly firstSeen?: string;
  readonly lastSeen?: string;
}

export interface AdminMonitor {
  /** The sink's counters (emitted, written, dropped, buffered...). */
  readonly sinkStats?: () => SinkStats;
  /** Every event as emitted, for the live feed; returns the removal function. */
  readonly subscribe?: (fn: (event: SecurityEvent) => void) => () => void;
  /** Reads stored events back (filters, newest first, keyset paging). */
  readonly queryEvents?: (q: EventQuery) => Promise<EventPage>;
  /** Recent alerts, newest first; without it alerts are read from the event store (`event.kind: alert`). */
  readonly alerts?: (limit: number) => Promise<readonly SecurityEvent[]>;
  readonly bans?: BanControl;
  /** Shadow endpoints learned by discovery; without it the admin API keeps its own bounded tally. */
  readonly shadowEndpoints?: () => readonly ShadowEndpointView[];
  /** The endpoints learned from traffic as an OpenAPI 3.1 document (API discovery). */
  readonly discoveredOpenApi?: (api?: string) => Record<string, unknown>;
  /** Drift between what the traffic shows and the declared spec of one API. */
  readonly drift?: (api: string, spec: ApiDocument) => unknown;
}

/** Adapts the monitor's ban list (epoch-ms times) to the admin API's view (ISO-8601 times). */
export function banControlFrom(list: BanList): BanControl {
  const view = (b: Awaited<ReturnType<BanList['ban']>>): BanView => ({
    kind: b.kind,
    value: b.value,
    expiresAt: new Date(b.expiresAt).toISOString(),
    createdAt: new Date(b.createdAt).toISOString(),
    reason: b.reason,
    source: b.source === 'auto' && b.detector ? b.detector : b.source,
    level: b.level,
  });
  return {
    list: async () => (await list.list(1000)).map(view),
    ban: async (b) =>
      view(
        await list.ban(b.kind, b.value, {
          reason: b.reason ?? 'manual ban',
          source: 'manual',
          ttlSeconds: b.ttlSeconds,
        }),
      ),
    unban: (kind, value) => list.unban(kind, value),
  };
}

/**
 * Adapts the monitor (`createMonitor`) to what the admin API reads: sink counters, the live feed, stored
 * events, recent alerts, bans, and the undeclared endpoints that discovery learned.
 *
 * @example
 * createAdminRoutes({ token, gateway, metrics, store, monitor: adminMonitorFrom(monitor) });
 */
export function adminMonitorFrom(m: Monitor): AdminMonitor {
  return {
    sinkStats: () => m.events.stats(),
    subscribe: (fn) => m.subscribe(fn),
    ...(m.config.events.store === 'none' ? {} : { queryEvents: (q: EventQuery) => m.query(q) }),
    alerts: async (limit) => m.alerts({ limit }).map(alertEvent),
    bans: banControlFrom(m.bans),
    ...(m.config.discovery.enabled
      ? {
          discoveredOpenApi: (api?: string) => m.discovery.toOpenApi({ api }),
          drift: (api: string, spec: ApiDocument) => m.discovery.drift(api, spec),
          shadowEndpoints: () =>
            m.discovery
              .endpoints()
              .filter((e) => !e.declared)
              .sort((a, b) => b.requests - a.requests)
              .slice(0, 500)
              .map((e) => ({
                method: e.method,
                path: e.path,
                ...(e.api ? { api: e.api } : {}),
                count: e.requests,
                firstSeen: e.firstSeen,
                lastSeen: e.lastSeen,
              })),
        }
      : {}),
  };
}
