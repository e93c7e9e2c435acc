/** Declared operations with their policies and traffic, shadow endpoints, consumers and API keys. */
import { api } from '../lib/api.js';
import { byId, fmtNumber, fmtTime, h, render, table } from '../lib/dom.js';
import { effect } from '../lib/reactive.js';
import { messageOf } from './security.js';

/** @param {import('../state.js').State} state */
export async function loadInventory(state) {
  const [inventory, consumers] = await Promise.allSettled([api('/api/inventory'), api('/api/consumers')]);
  state.inventory.set(
    inventory.status === 'fulfilled' ? inventory.value : { error: messageOf(inventory.reason, 'Inventory') },
  );
  state.consumers.set(
    consumers.status === 'fulfilled' ? consumers.value : { error: messageOf(consumers.reason, 'Consumers') },
  );
}

/** Operations whose policy settings are unfolded; kept across the periodic re-renders. */
const unfolded = new Set();

/** The policies of an operation as chips (marked when in report mode), with their config on demand. */
function policies(op) {
  if (op.policies.length === 0) return h('span', { class: 'hint', text: 'none' });
  const cfg = op.policyConfig ?? {};
  const chips = op.policies.map((p) =>
    h('span', { class: 'chip', text: cfg[p]?.mode === 'report' ? `${p} · report` : p }),
  );
  const configured = Object.entries(cfg).filter(([, c]) => c && Object.keys(c).length > 0);
  if (configured.length === 0) return chips;
  const key = `${op.api} ${op.operationId}`;
  const details = h(
    'details',
    { class: 'policies', open: unfolded.has(key) },
    h('summary', {}, chips),
    h('pre', { class: 'mono', text: JSON.stringify(Object.fromEntries(configured), null, 2) }),
  );
  details.addEventListener('toggle', () => {
    if (details.open) unfolded.add(key);
    else unfolded.delete(key);
  });
  return details;
}

/** @param {import('../state.js').State} state */
export function mountInventory(state) {
  effect(() => {
    const inv = state.inventory.get();
    if (!inv) return;
    if (inv.error) {
      render(byId('operations'), h('p', { class: 'hint', text: inv.error }));
      return;
    }
    render(
      byId('operations'),
      table({
        caption: 'Declared operations',
        columns: ['API', 'Method', 'Path', 'Operation', 'Policies', 'Requests', 'Denied', '5xx'],
        empty: 'No operations are declared.',
        rows: inv.operations.map((o) => [
          o.api,
          h('code', { text: o.method }),
          h('code', { text: o.path }),
          h('code', { text: o.operationId }),
          policies(o),
          fmtNumber(o.traffic.requests),
          fmtNumber(o.traffic.denied),
          fmtNumber(o.traffic.errors),
        ]),
      }),
    );
    render(
      byId('shadow'),
      table({
        caption: 'Shadow endpoints',
        columns: ['Method', 'Path', 'Hits', 'First seen', 'Last seen'],
        empty: 'No traffic to undeclared endpoints.',
        rows: inv.shadow.map((s) => [
          h('code', { text: s.method }),
          h('code', { text: s.path }),
          fmtNumber(s.count),
          fmtTime(s.firstSeen),
          fmtTime(s.lastSeen),
        ]),
      }),
    );
  });

  effect(() => {
    const c = state.consumers.get();
    if (!c) return;
    render(
      byId('consumers'),
      c.error
        ? h('p', { class: 'hint', text: c.error })
        : table({
            caption: 'Consumers',
            columns: ['Consumer', 'API / scheme', 'Roles', 'Keys', 'Requests', 'Denied'],
            empty: 'No consumers are configured.',
            rows: c.consumers.map((x) => [
              x.name,
              `${x.api} / ${x.scheme}`,
              x.roles.map((r) => h('span', { class: 'chip', text: r })),
              x.keyFingerprints
                ? x.keyFingerprints.map((k) => h('code', { class: 'chip', text: `${k}…` }))
                : x.type,
              fmtNumber(x.traffic.requests),
              fmtNumber(x.traffic.denied),
            ]),
          }),
    );
  });
}
