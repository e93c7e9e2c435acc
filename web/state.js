/** The dashboard's state: one signal per thing shown, filled by polling and by the live stream. */
import { signal } from './lib/reactive.js';

export const SERIES_SECONDS = 300;
const MAX_LIVE_ROWS = 30;
const MAX_EVENTS = 200;

export function createState() {
  return {
    /** `login` | `dashboard` */
    view: signal('loading'),
    /** `connecting` | `live` | `reconnecting` | `offline` */
    connection: signal('connecting'),
    status: signal(null),
    /** Per-second points, oldest first (see `/api/stats`). */
    series: signal([]),
    stats: signal(null),
    inFlight: signal(0),
    liveAccess: signal([]),
    events: signal({ items: [], nextCursor: null, loading: false, error: null }),
    eventFilters: signal({ outcome: 'failure' }),
    alerts: signal({ items: [], error: null }),
    bans: signal({ items: [], error: null }),
    inventory: signal(null),
    consumers: signal(null),
    /** Message for the polite live region (`role=status`). */
    notice: signal(''),
  };
}

/** @typedef {ReturnType<typeof createState>} State */

/** Adds a point, replacing one of the same second, keeping the last `SERIES_SECONDS`. */
export function addPoint(state, point) {
  state.series.update((list) => {
    const next = list.filter((p) => p.t !== point.t);
    next.push(point);
    next.sort((a, b) => a.t - b.t);
    return next.slice(-SERIES_SECONDS);
  });
}

export function pushLiveAccess(state, event) {
  state.liveAccess.update((list) => [event, ...list].slice(0, MAX_LIVE_ROWS));
}

const FILTER_FIELDS = {
  kind: 'event.kind',
  category: 'event.category',
  type: 'event.type',
  action: 'event.action',
  outcome: 'event.outcome',
  api: 'portcullis.api',
  route: 'http.route',
};

/** Whether a live event passes the filters of the events panel (the server applies the same rules). */
export function matchesFilters(event, filters) {
  for (const [k, field] of Object.entries(FILTER_FIELDS)) {
    if (filters[k] && event[field] !== filters[k]) return false;
  }
  if (filters.ip && event['client.address'] !== filters.ip && event['source.ip'] !== filters.ip) return false;
  if (
    filters.principal &&
    event['user.id'] !== filters.principal &&
    event['portcullis.consumer'] !== filters.principal
  )
    return false;
  const t = Date.parse(event['@timestamp']);
  if (filters.from && !(t >= Date.parse(filters.from))) return false;
  if (filters.to && !(t < Date.parse(filters.to))) return false;
  return true;
}

export function pushEvent(state, event) {
  if (!matchesFilters(event, state.eventFilters.peek())) return;
  state.events.update((e) => ({ ...e, items: [event, ...e.items].slice(0, MAX_EVENTS) }));
}

export function pushAlert(state, alert) {
  state.alerts.update((a) => ({ ...a, items: [alert, ...a.items].slice(0, MAX_EVENTS) }));
}
