/** Status cards, traffic and latency charts, status and decision breakdowns, top offenders, live requests. */
import { drawChart } from '../lib/chart.js';
import { byId, fmtDuration, fmtNumber, fmtTime, h, render, table } from '../lib/dom.js';
import { effect } from '../lib/reactive.js';

function stat(label, value, bad = false) {
  return h(
    'div',
    { class: 'stat' },
    h('div', { class: 'label', text: label }),
    h('div', { class: bad ? 'value bad' : 'value', text: value }),
  );
}

function bars(entries, total, classOf = () => '') {
  if (entries.length === 0) return h('p', { class: 'hint', text: 'No requests yet.' });
  return h(
    'div',
    { class: 'bars' },
    entries.map(([name, count]) => {
      const fill = h('div', { class: `bar-fill ${classOf(name)}` });
      fill.style.width = `${total > 0 ? Math.max(1, (100 * count) / total) : 0}%`;
      return [
        h('span', { class: 'mono', text: name }),
        h('div', { class: 'bar-track', role: 'presentation' }, fill),
        h('span', { class: 'num', text: fmtNumber(count) }),
      ];
    }),
  );
}

function statusClass(code) {
  return `status-${String(code)[0]}`;
}

/**
 * @param {import('../state.js').State} state
 * @param {{ ban(kind: string, value: string, ttlSeconds: number, reason: string): Promise<void> }} actions
 */
export function mountOverview(state, actions) {
  const statusEl = byId('status');
  effect(() => {
    const s = state.status.get();
    const stats = state.stats.get();
    const inFlight = state.inFlight.get();
    if (!s) return;
    const sink = s.sink;
    render(
      statusEl,
      stat('Version', s.version),
      stat('Uptime', fmtDuration(s.uptimeSeconds)),
      stat('In flight', fmtNumber(inFlight)),
      stat('Requests', fmtNumber(stats?.totals.requests ?? 0)),
      stat('Denied', fmtNumber(stats?.totals.denied ?? 0), (stats?.totals.denied ?? 0) > 0),
      stat('Operations', fmtNumber(s.operations)),
      sink ? stat('Events stored', fmtNumber(sink.written)) : stat('Event store', 'off'),
      sink ? stat('Events dropped', fmtNumber(sink.dropped), sink.dropped > 0) : null,
      stat('State store', s.stateStore),
    );
  });

  const rpsCanvas = /** @type {HTMLCanvasElement} */ (byId('rps-chart'));
  const latencyCanvas = /** @type {HTMLCanvasElement} */ (byId('latency-chart'));
  const legend = (el, items) =>
    render(
      el,
      items.map(([cls, text]) =>
        h('span', {}, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text),
      ),
    );
  legend(byId('rps-legend'), [
    ['s1', 'all'],
    ['s2', 'denied'],
    ['s3', '5xx'],
  ]);
  legend(byId('latency-legend'), [
    ['s1', 'p50'],
    ['s2', 'p95'],
    ['s3', 'p99'],
  ]);
  const draw = () => {
    const series = state.series.peek();
    const times = series.map((p) => p.t);
    drawChart(rpsCanvas, {
      times,
      unit: '',
      minMax: 5,
      series: [
        { label: 'all', colorVar: '--series-1', values: series.map((p) => p.requests) },
        { label: 'denied', colorVar: '--series-2', values: series.map((p) => p.denied), width: 4 },
        { label: '5xx', colorVar: '--series-3', values: series.map((p) => p.s5xx), dashed: true },
      ],
    });
    drawChart(latencyCanvas, {
      times,
      unit: 'ms',
      minMax: 10,
      series: [
        { label: 'p50', colorVar: '--series-1', values: series.map((p) => p.p50) },
        { label: 'p95', colorVar: '--series-2', values: series.map((p) => p.p95), width: 4 },
        { label: 'p99', colorVar: '--series-3', values: series.map((p) => p.p99), dashed: true },
      ],
    });
  };
  let frame = 0;
  effect(() => {
    state.series.get();
    if (!frame)
      frame = requestAnimationFrame(() => {
        frame = 0;
        draw();
      });
  });
  window.addEventListener('resize', draw);
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', draw);

  effect(() => {
    const stats = state.stats.get();
    if (!stats) return;
    const byStatus = Object.entries(stats.totals.byStatus).filter(([, n]) => n > 0);
    render(
      byId('status-breakdown'),
      bars(byStatus, stats.totals.requests, (k) => (k === '5xx' ? 'bad' : k === '4xx' ? 'warn' : '')),
    );
    const decisions = Object.entries(stats.decisions).sort((a, b) => b[1] - a[1]);
    render(
      byId('decision-breakdown'),
      bars(decisions, stats.totals.requests, (k) => (k === 'allow' ? '' : 'bad')),
    );
    render(
      byId('offenders'),
      table({
        caption: 'Top offenders',
        columns: ['Client', 'Requests', 'Denied', 'Auth fail', 'Alerts', 'Last seen', ''],
        empty: 'No offenders.',
        rows: stats.offenders.map((o) => [
          h('code', { class: 'nowrap', text: o.ip }),
          fmtNumber(o.requests),
          fmtNumber(o.denied),
          fmtNumber(o.authFailures),
          fmtNumber(o.alerts),
          fmtTime(o.lastSeen),
          h('button', {
            type: 'button',
            class: 'danger',
            text: 'Ban 1 h',
            'aria-label': `Ban ${o.ip} for one hour`,
            onclick: () => actions.ban('ip', o.ip, 3600, 'banned from the top offenders list'),
          }),
        ]),
      }),
    );
  });

  effect(() => {
    const rows = state.liveAccess.get();
    render(
      byId('live-requests'),
      table({
        caption: 'Live requests',
        columns: ['Time', 'Client', 'Method', 'Path', 'Status', 'Decision', 'ms'],
        empty: 'Waiting for traffic…',
        className: 'live-requests',
        rows: rows.map((e) => [
          fmtTime(e['@timestamp']),
          h('code', { class: 'nowrap', text: e['client.address'] ?? '' }),
          e['http.request.method'] ?? '',
          h('code', { text: e['url.path'] ?? '' }),
          h('span', {
            class: statusClass(e['http.response.status_code']),
            text: e['http.response.status_code'],
          }),
          e['portcullis.decision'] ?? '',
          fmtNumber(e['event.duration_ms']),
        ]),
      }),
    );
  });
}
