/**
 * Portcullis dashboard: signs in with the admin token (kept in an HttpOnly cookie), then shows the gateway's
 * traffic, security events, alerts, bans and inventory, kept live by the `/api/stream` event stream.
 */
import { api } from './lib/api.js';
import { byId } from './lib/dom.js';
import { effect } from './lib/reactive.js';
import { loadBans, mountBans } from './panels/bans.js';
import { loadInventory, mountInventory } from './panels/inventory.js';
import { mountOverview } from './panels/overview.js';
import { loadAlerts, loadEvents, mountSecurity } from './panels/security.js';
import { addPoint, createState, pushAlert, pushEvent, pushLiveAccess, SERIES_SECONDS } from './state.js';

const state = createState();
/** @type {EventSource | null} */
let stream = null;
/** @type {number[]} */
const timers = [];

function showView(view) {
  state.view.set(view);
}

effect(() => {
  const view = state.view.get();
  byId('login-view').hidden = view !== 'login';
  byId('dashboard').hidden = view !== 'dashboard';
  byId('nav').hidden = view !== 'dashboard';
  byId('logout').hidden = view !== 'dashboard';
  byId('connection').hidden = view !== 'dashboard';
  if (view === 'login') byId('token').focus();
});

effect(() => {
  const c = state.connection.get();
  const el = byId('connection');
  el.textContent =
    { connecting: 'Connecting…', live: '● Live', reconnecting: 'Reconnecting…', offline: 'Offline' }[c] ?? c;
  el.className = `pill ${c}`;
});

effect(() => {
  byId('notice').textContent = state.notice.get();
});

let noticeTimer = 0;
effect(() => {
  if (!state.notice.get()) return;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => state.notice.set(''), 6000);
});

let inventoryTimer = 0;
function inventorySoon() {
  if (inventoryTimer) return;
  inventoryTimer = setTimeout(() => {
    inventoryTimer = 0;
    loadInventory(state);
  }, 1000);
}

async function refreshStatus() {
  try {
    state.status.set(await api('/api/status'));
    const stats = await api(`/api/stats?seconds=${SERIES_SECONDS}`);
    state.stats.set(stats);
    state.inFlight.set(stats.inFlight);
    state.series.set(stats.series);
  } catch (err) {
    if (err?.status === 401) signedOut();
  }
}

function connectStream() {
  stream?.close();
  state.connection.set('connecting');
  stream = new EventSource('/api/stream');
  stream.addEventListener('open', () => state.connection.set('live'));
  stream.addEventListener('error', async () => {
    state.connection.set(stream?.readyState === EventSource.CLOSED ? 'offline' : 'reconnecting');
    // A stream refused for a lost session must not retry forever: check whether we are still signed in.
    try {
      await api('/api/status');
    } catch (err) {
      if (err?.status === 401) signedOut();
    }
  });
  const on = (type, fn) =>
    stream?.addEventListener(type, (ev) => {
      try {
        fn(JSON.parse(ev.data));
      } catch (err) {
        console.error('bad live message', type, err);
      }
    });
  on('tick', (m) => {
    addPoint(state, m.point);
    state.inFlight.set(m.inFlight);
    // Totals and decisions move every second; offenders follow with the next /api/stats poll.
    state.stats.update((s) => (s ? { ...s, totals: m.totals, decisions: m.decisions } : s));
  });
  on('access', (e) => {
    pushLiveAccess(state, e);
    pushEvent(state, e);
    // A request to an undeclared path may be a new shadow endpoint: refresh the inventory soon.
    if (!e['http.route']) inventorySoon();
  });
  on('security', (e) => {
    pushEvent(state, e);
    if (String(e['event.action'] ?? '').includes('ban')) loadBans(state);
  });
  on('alert', (a) => {
    pushAlert(state, a);
    pushEvent(state, a);
    state.notice.set(`Alert: ${a.message ?? a['rule.name'] ?? a['event.action'] ?? 'detector fired'}`);
    loadBans(state);
  });
  on('bans', () => loadBans(state));
  on('reload', () => {
    loadInventory(state);
    refreshStatus();
    state.notice.set('The gateway config was reloaded.');
  });
}

async function startDashboard() {
  showView('dashboard');
  connectStream();
  await Promise.all([
    refreshStatus(),
    loadEvents(state, false),
    loadAlerts(state),
    loadBans(state),
    loadInventory(state),
  ]);
  timers.push(
    setInterval(refreshStatus, 3000),
    setInterval(() => loadInventory(state), 15000),
  );
}

function signedOut() {
  stream?.close();
  stream = null;
  for (const t of timers.splice(0)) clearInterval(t);
  showView('login');
}

byId('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId('token'));
  const errorEl = byId('login-error');
  errorEl.textContent = '';
  try {
    await api('/api/login', { method: 'POST', body: { token: input.value } });
    input.value = '';
    await startDashboard();
  } catch (err) {
    errorEl.textContent = err?.status === 401 ? 'That token is not right.' : (err?.message ?? String(err));
  }
});

byId('logout').addEventListener('click', async () => {
  await api('/api/logout', { method: 'POST' }).catch(() => {});
  signedOut();
});

const actions = mountBans(state);
mountOverview(state, actions);
mountSecurity(state);
mountInventory(state);

api('/api/status')
  .then(() => startDashboard())
  .catch((err) => {
    if (err?.status === 401) showView('login');
    else state.notice.set(`The admin API is not reachable: ${err?.message ?? err}`);
  });
