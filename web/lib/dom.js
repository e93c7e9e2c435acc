/**
 * DOM building without HTML strings. Text always goes in as text nodes (`textContent`), never as markup:
 * events carry attacker-controlled input (paths, user agents, user names).
 */

/**
 * Creates an element. `attrs`: `class`, `text` (textContent), `on<event>` (listener), `hidden`, `disabled`,
 * `value`, anything else becomes an attribute. Children: nodes, strings (as text), null/false (skipped), arrays.
 * @param {string} tag
 * @param {Record<string, unknown>} [attrs]
 * @param {...unknown} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = String(v);
    else if (k === 'hidden' || k === 'disabled' || k === 'checked' || k === 'selected' || k === 'open')
      el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/**
 * Replaces an element's children.
 * @param {Element} el
 * @param {...unknown} children
 */
export function render(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** @param {string} id */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el;
}

const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/** @param {number | null | undefined} n */
export function fmtNumber(n) {
  return n === null || n === undefined ? '–' : numberFormat.format(n);
}

/** @param {string | number | null | undefined} t */
export function fmtTime(t) {
  if (t === null || t === undefined) return '–';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleTimeString(undefined, { hour12: false });
}

/** @param {string | number | null | undefined} t */
export function fmtDateTime(t) {
  if (t === null || t === undefined) return '–';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString(undefined, { hour12: false });
}

/** @param {number} seconds */
export function fmtDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/**
 * A table with a caption, header cells and rows; `empty` is shown when there are no rows.
 * @param {{ caption: string, columns: string[], rows: unknown[][], empty?: string, className?: string }} t
 */
export function table({ caption, columns, rows, empty = 'Nothing yet.', className }) {
  return h(
    'table',
    { class: className },
    h('caption', { class: 'visually-hidden', text: caption }),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map((c) => h('th', { scope: 'col', text: c })),
      ),
    ),
    h(
      'tbody',
      {},
      rows.length === 0
        ? h('tr', {}, h('td', { colspan: columns.length, class: 'empty', text: empty }))
        : rows.map((r) =>
            h(
              'tr',
              {},
              r.map((cell) => h('td', {}, cell)),
            ),
          ),
    ),
  );
}
