// Small DOM helpers. Elements are built with createElement and text nodes, never innerHTML, so a
// value from the log (a name, a response body) can never be parsed as markup.

const SVG = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: `h('a', {href: '#/ops'}, 'Operations')`. */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, for the chart. */
export function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** A message for screen readers and eyes alike; `alert` for errors. */
export function notice(text, kind = 'info') {
  return h('p', { class: ['notice', `notice-${kind}`], role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** `2026-11-21 10:00:00.123 UTC`: the same in every browser locale, as in the CLI and the log. */
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace('T', ' ').replace('Z', ' UTC');
}

/** A time of day only, for the timeline's dense rows. */
export function fmtClock(iso) {
  const full = fmtTime(iso);
  return full.length > 11 ? full.slice(11, 23) : full;
}

export function fmtSeconds(seconds) {
  const s = Number(seconds) || 0;
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 90) return `${s.toFixed(1)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function fmtPercent(rate) {
  return `${((Number(rate) || 0) * 100).toFixed(1)} %`;
}

/** A field value as a person reads it: strings bare, the rest as JSON, absence as a dash. */
export function fmtValue(value) {
  if (value === undefined) return '—';
  if (value === null) return 'null';
  if (typeof value === 'string') return value === '' ? '""' : value;
  return JSON.stringify(value);
}

export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

/**
 * A UUID's last 8 hex digits: enough to tell ids apart on one page. Not its first block: a
 * UUID v7 starts with its timestamp, which ids made in the same minute share.
 */
export function shortId(id) {
  return id ? `\u2026${String(id).replace(/-/g, '').slice(-8)}` : '—';
}

/** Text that only screen readers announce (the visible form says it with layout). */
export function srOnly(text) {
  return h('span', { class: 'sr-only' }, text);
}

/** A page's heading, focused after navigation so keyboard and screen-reader users land on it. */
export function pageHeading(text, sub) {
  return h('div', { class: 'page-head' },
    h('h1', { tabindex: '-1', id: 'page-title' }, text),
    sub ? h('p', { class: 'lede' }, sub) : null);
}

/** A labelled form control: the label is always visible and tied to the control. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const hintEl = hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

/** A box a wide table scrolls inside, so a narrow window never scrolls the whole page sideways. */
export function scrollBox(el) {
  return h('div', { class: 'table-scroll' }, el);
}

/** A table (in its scroll box) from column headings and rows of cells; `caption` names it. */
export function table(caption, headings, rows, attrs = {}) {
  return scrollBox(h('table', attrs,
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, headings.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows)));
}
