/** Alerts and the security events browser (filters, paging, live additions). */
import { api, query } from '../lib/api.js';
import { byId, fmtDateTime, h, render, table } from '../lib/dom.js';
import { effect } from '../lib/reactive.js';

const TEXT_FILTERS = [
  ['category', 'Category', 'any'],
  ['type', 'Type', 'any'],
  ['action', 'Action', 'any'],
  ['ip', 'Client IP', 'any'],
  ['principal', 'Principal', 'any'],
  ['api', 'API', 'any'],
  ['route', 'Route', 'any'],
];

function severityOf(alert) {
  const named = alert['portcullis.alert']?.severity;
  if (typeof named === 'string') return named;
  const sev = alert['event.severity'];
  if (typeof sev !== 'number') return 'unknown';
  return sev >= 90 ? 'critical' : sev >= 70 ? 'high' : sev >= 40 ? 'medium' : 'low';
}

function clip(text, max = 160) {
  const s = String(text ?? '');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** The evidence of an alert as one short line: counts first, then how many sample requests back it. */
function evidence(alert) {
  const ev = alert['portcullis.alert']?.evidence;
  if (!ev || typeof ev !== 'object') return '';
  const parts = [];
  for (const [k, v] of Object.entries(ev)) {
    if (k === 'sampleRequestIds') continue;
    parts.push(`${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
  }
  if (Array.isArray(ev.sampleRequestIds)) parts.push(`${ev.sampleRequestIds.length} sample requests`);
  return clip(parts.join('; '), 240);
}

/** Who the alert is about: the offender's address or identity, else the endpoint it concerns. */
function offender(alert) {
  return (
    alert['client.address'] ??
    alert['user.id'] ??
    alert['portcullis.consumer'] ??
    alert['portcullis.credential.hash'] ??
    alert['http.route'] ??
    ''
  );
}

/** @param {import('../state.js').State} state */
export function mountSecurity(state) {
  effect(() => {
    const { items, error } = state.alerts.get();
    render(
      byId('alerts'),
      error
        ? h('p', { class: 'hint', text: error })
        : table({
            caption: 'Alerts',
            columns: ['Time', 'Severity', 'Detector / rule', 'What happened', 'About', 'Evidence'],
            empty: 'No alerts.',
            rows: items.map((a) => {
              const sev = severityOf(a);
              return [
                fmtDateTime(a['@timestamp']),
                h('span', { class: `sev-${sev}`, text: sev }),
                h('code', { text: `${a['event.action'] ?? ''} / ${a['rule.name'] ?? ''}` }),
                clip(a.message ?? a['event.reason'] ?? ''),
                h('code', { text: offender(a) }),
                h('span', { class: 'mono', text: evidence(a) }),
              ];
            }),
          }),
    );
  });

  const form = /** @type {HTMLFormElement} */ (byId('event-filters'));
  const initial = state.eventFilters.peek();
  const select = (name, label, options) =>
    h(
      'label',
      { class: 'field' },
      label,
      h(
        'select',
        { name },
        options.map(([value, text]) =>
          h('option', { value, text, selected: (initial[name] ?? '') === value }),
        ),
      ),
    );
  render(
    form,
    select('kind', 'Kind', [
      ['', 'any'],
      ['event', 'event'],
      ['alert', 'alert'],
    ]),
    select('outcome', 'Outcome', [
      ['', 'any'],
      ['failure', 'failure'],
      ['success', 'success'],
      ['unknown', 'unknown'],
    ]),
    TEXT_FILTERS.map(([name, label, placeholder]) =>
      h(
        'label',
        { class: 'field' },
        label,
        h('input', { name, class: 'narrow', placeholder, value: initial[name] ?? '', autocomplete: 'off' }),
      ),
    ),
    ['from', 'to'].map((name) =>
      h(
        'label',
        { class: 'field' },
        name === 'from' ? 'From' : 'Until',
        h('input', { name, type: 'datetime-local', step: 1 }),
      ),
    ),
    h('button', { type: 'submit', text: 'Apply' }),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const filters = {};
    for (const [k, v] of new FormData(form)) {
      if (typeof v !== 'string' || v.trim() === '') continue;
      // datetime-local is the browser's local time; the API takes ISO-8601 instants.
      filters[k] = k === 'from' || k === 'to' ? new Date(v).toISOString() : v.trim();
    }
    state.eventFilters.set(filters);
    loadEvents(state, false);
  });

  const more = byId('events-more');
  more.addEventListener('click', () => loadEvents(state, true));
  effect(() => {
    const { items, nextCursor, loading, error } = state.events.get();
    more.hidden = !nextCursor;
    more.disabled = loading;
    render(
      byId('events'),
      error
        ? h('p', { class: 'hint', text: error })
        : table({
            caption: 'Security events',
            columns: [
              'Time',
              'Kind',
              'Category / type',
              'Action',
              'Outcome',
              'Reason',
              'Rules',
              'Client',
              'Principal',
              'Request',
              'Status',
            ],
            empty: loading ? 'Loading…' : 'No events match.',
            className: 'events',
            rows: items.map((e) => [
              fmtDateTime(e['@timestamp']),
              e['event.kind'] ?? '',
              `${e['event.category'] ?? ''} / ${e['event.type'] ?? ''}`,
              h('code', { text: e['event.action'] ?? '' }),
              e['event.outcome'] ?? '',
              h('code', { text: e['event.reason'] ?? e['portcullis.decision'] ?? '' }),
              h('code', { class: 'rules', text: rulesOf(e) }),
              h('code', { text: e['client.address'] ?? e['source.ip'] ?? '' }),
              h('code', { text: e['user.id'] ?? e['portcullis.consumer'] ?? e['user.name'] ?? '' }),
              h('code', {
                text: clip(
                  `${e['http.request.method'] ?? ''} ${e['url.path'] ?? e['http.route'] ?? ''}`,
                  120,
                ),
              }),
              String(e['http.response.status_code'] ?? ''),
            ]),
          }),
    );
  });
}

/** Loads the first page of events for the current filters, or the next page when `older`. */
export async function loadEvents(state, older) {
  const current = state.events.peek();
  const cursor = older ? current.nextCursor : undefined;
  state.events.set({ ...current, items: older ? current.items : [], loading: true, error: null });
  try {
    const page = await api(`/api/events${query({ ...state.eventFilters.peek(), limit: 50, cursor })}`);
    const items = older ? [...state.events.peek().items, ...page.events] : page.events;
    state.events.set({ items, nextCursor: page.nextCursor, loading: false, error: null });
  } catch (err) {
    state.events.set({ items: [], nextCursor: null, loading: false, error: messageOf(err, 'Events') });
  }
}

export async function loadAlerts(state) {
  try {
    const { alerts } = await api('/api/alerts?limit=50');
    state.alerts.set({ items: alerts, error: null });
  } catch (err) {
    state.alerts.set({ items: [], error: messageOf(err, 'Alerts') });
  }
}

export function messageOf(err, what) {
  if (err?.status === 503) return `${what} are not available: ${err.message}`;
  return `${what} could not be loaded: ${err?.message ?? err}`;
}

/**
 * The rules an event names: the Core Rule Set ids and anomaly score of the injection guard's CRS mode
 * (security event `rule.id` with `portcullis.crs.score`, or the access record's `portcullis.waf.*`).
 * @param {Record<string, any>} e
 */
function rulesOf(e) {
  const ids =
    e['rule.id'] ??
    (Array.isArray(e['portcullis.waf.rule_ids']) ? e['portcullis.waf.rule_ids'].join(',') : '');
  if (!ids) return '';
  const score = e['portcullis.crs']?.score ?? e['portcullis.waf.score'];
  return clip(score === undefined ? String(ids) : `${ids} (score ${score})`, 120);
}
