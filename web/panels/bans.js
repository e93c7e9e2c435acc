/** The ban form and the list of live bans with an unban button each. */
import { api } from '../lib/api.js';
import { byId, fmtDateTime, fmtDuration, h, render, table } from '../lib/dom.js';
import { effect } from '../lib/reactive.js';
import { messageOf } from './security.js';

const DURATIONS = [
  [300, '5 minutes'],
  [3600, '1 hour'],
  [86400, '1 day'],
  [604800, '7 days'],
];

/** @param {import('../state.js').State} state */
export async function loadBans(state) {
  try {
    const { bans } = await api('/api/bans');
    state.bans.set({ items: bans, error: null });
  } catch (err) {
    state.bans.set({ items: [], error: messageOf(err, 'Bans') });
  }
}

/**
 * @param {import('../state.js').State} state
 * @returns {{ ban(kind: string, value: string, ttlSeconds: number, reason: string): Promise<void> }}
 */
export function mountBans(state) {
  const form = /** @type {HTMLFormElement} */ (byId('ban-form'));
  const errorEl = byId('ban-error');
  render(
    form,
    h(
      'label',
      { class: 'field' },
      'Kind',
      h(
        'select',
        { id: 'ban-kind', name: 'kind' },
        h('option', { value: 'ip', text: 'IP address' }),
        h('option', { value: 'consumer', text: 'Consumer' }),
        h('option', { value: 'subject', text: 'Token subject' }),
        h('option', { value: 'token', text: 'Token hash' }),
      ),
    ),
    h(
      'label',
      { class: 'field' },
      'Value',
      h('input', {
        id: 'ban-value',
        name: 'value',
        required: true,
        placeholder: '203.0.113.7',
        autocomplete: 'off',
      }),
    ),
    h(
      'label',
      { class: 'field' },
      'Duration',
      h(
        'select',
        { id: 'ban-ttl', name: 'ttlSeconds' },
        DURATIONS.map(([s, text]) => h('option', { value: s, text, selected: s === 3600 })),
      ),
    ),
    h(
      'label',
      { class: 'field' },
      'Reason',
      h('input', {
        id: 'ban-reason',
        name: 'reason',
        maxlength: 200,
        placeholder: 'optional',
        autocomplete: 'off',
      }),
    ),
    h('button', { id: 'ban-submit', type: 'submit', class: 'danger', text: 'Ban' }),
  );

  const placeholders = {
    ip: '203.0.113.7',
    consumer: 'consumer name',
    subject: 'token subject (sub)',
    token: 'credential hash (32 hex)',
  };
  byId('ban-kind').addEventListener('change', (ev) => {
    byId('ban-value').setAttribute('placeholder', placeholders[ev.target.value] ?? '');
  });

  async function ban(kind, value, ttlSeconds, reason) {
    errorEl.textContent = '';
    try {
      await api('/api/bans', {
        method: 'POST',
        body: { kind, value, ttlSeconds, ...(reason ? { reason } : {}) },
      });
      state.notice.set(`Banned ${kind} ${value} for ${fmtDuration(ttlSeconds)}.`);
    } catch (err) {
      errorEl.textContent = err?.message ?? String(err);
    }
    await loadBans(state);
  }

  async function unban(kind, value) {
    errorEl.textContent = '';
    try {
      await api(`/api/bans/${encodeURIComponent(kind)}/${encodeURIComponent(value)}`, { method: 'DELETE' });
      state.notice.set(`Lifted the ban on ${kind} ${value}.`);
    } catch (err) {
      errorEl.textContent = err?.message ?? String(err);
    }
    await loadBans(state);
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const value = String(data.get('value') ?? '').trim();
    if (!value) return;
    await ban(
      String(data.get('kind')),
      value,
      Number(data.get('ttlSeconds')),
      String(data.get('reason') ?? '').trim(),
    );
    /** @type {HTMLInputElement} */ (byId('ban-value')).value = '';
    /** @type {HTMLInputElement} */ (byId('ban-reason')).value = '';
  });

  effect(() => {
    const { items, error } = state.bans.get();
    render(
      byId('ban-list'),
      error
        ? h('p', { class: 'hint', text: error })
        : table({
            caption: 'Live bans',
            columns: ['Kind', 'Value', 'Reason', 'Source', 'Expires', ''],
            empty: 'No one is banned.',
            className: 'bans',
            rows: items.map((b) => [
              b.kind,
              h('code', { text: b.value }),
              b.reason ?? '',
              b.source ?? '',
              fmtDateTime(b.expiresAt),
              h('button', {
                type: 'button',
                class: 'danger',
                text: 'Unban',
                'aria-label': `Unban ${b.kind} ${b.value}`,
                onclick: () => unban(b.kind, b.value),
              }),
            ]),
          }),
    );
  });
  return { ban };
}
