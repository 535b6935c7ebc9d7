// The timeline's controls, for big entities (a stream of thousands of events): the order
// (oldest or newest first, kept for this tab), filters by field, system and event type, and a
// jump to one event by its number. Filters apply to the events already drawn and to every event
// drawn after, so they can be set while the rest of the history is still loading.

import { clear, h } from './dom.js';
import { eventHref } from './eventlink.js';

const ORDER_KEY = 'syncledger.console.timeline-order';

/** The order the timeline is drawn in: `asc` (oldest first, the default) or `desc`. */
export function savedOrder() {
  return sessionStorage.getItem(ORDER_KEY) === 'desc' ? 'desc' : 'asc';
}

function select(id, label, allText) {
  const el = h('select', { id }, h('option', { value: '' }, allText));
  return { el, wrap: h('span', { class: 'control' }, h('label', { for: id }, label), ' ', el), seen: new Set() };
}

function addOptions(sel, values) {
  for (const v of values) {
    if (!v || sel.seen.has(v)) continue;
    sel.seen.add(v);
    sel.el.append(h('option', { value: v }, v));
  }
}

/**
 * The controls of `timeline` (see timeline.js) for entity `entity`: `el` to place above it,
 * `noticeEvents(events)` for each page drawn (new types, systems and fields become choices),
 * `onOrder(order)` is called when a person switches the order (the page draws itself again).
 */
export function timelineControls(entity, timeline, { onOrder, countEl }) {
  const order = h('button', { type: 'button', class: 'secondary', id: 'timeline-order', 'aria-pressed': timeline.order === 'desc' ? 'true' : 'false' },
    timeline.order === 'desc' ? 'Show oldest first' : 'Show newest first');
  order.addEventListener('click', () => {
    const next = timeline.order === 'desc' ? 'asc' : 'desc';
    sessionStorage.setItem(ORDER_KEY, next);
    onOrder(next);
  });
  const type = select('timeline-type', 'Type', 'every type');
  const system = select('timeline-system', 'System', 'every system');
  const fieldSel = select('timeline-field', 'Field', 'every field');
  addOptions(system, [...entity.links.map((l) => l.system), 'ledger']);
  addOptions(fieldSel, [...new Set(Object.values(entity.state || {}).flatMap((f) => Object.keys(f || {})))].sort());
  const shown = h('span', { class: 'hint', id: 'timeline-filtered', 'aria-live': 'polite' });
  const apply = () => {
    const t = type.el.value;
    const s = system.el.value;
    const f = fieldSel.el.value;
    if (!t && !s && !f) {
      timeline.filter(null);
      clear(shown);
      return;
    }
    const n = timeline.filter((li) => (!t || li.dataset.type === t)
      && (!s || li.dataset.system === s)
      && (!f || (li.dataset.fields || '').split(' ').includes(f)));
    shown.textContent = `${n} of ${timeline.count} drawn events match.`;
  };
  for (const sel of [type, system, fieldSel]) sel.el.addEventListener('change', apply);

  const jumpInput = h('input', { id: 'timeline-jump', type: 'number', min: '1', max: String(entity.version), inputmode: 'numeric', class: 'jump' });
  const jump = h('form', { class: 'control jump-form', id: 'timeline-jump-form' },
    h('label', { for: 'timeline-jump' }, 'Go to event #'), ' ', jumpInput, ' ', h('button', { type: 'submit', class: 'secondary' }, 'Go'));
  jump.addEventListener('submit', (event) => {
    event.preventDefault();
    const n = Number(jumpInput.value);
    if (!Number.isInteger(n) || n < 1) return;
    // A filter that hides the event would hide where the jump lands: clear them first.
    for (const sel of [type, system, fieldSel]) sel.el.value = '';
    apply();
    location.hash = eventHref(entity.id, n);
  });

  const el = h('div', { class: 'timeline-controls', role: 'group', 'aria-label': 'Timeline order, filters and jump' },
    order, type.wrap, system.wrap, fieldSel.wrap, jump, countEl || '', shown);
  return {
    el,
    noticeEvents(events) {
      addOptions(type, events.map((e) => e.type));
      addOptions(fieldSel, events.flatMap((e) => {
        const p = e.payload || {};
        return typeof p.field === 'string' ? [p.field] : [];
      }));
      if (type.el.value || system.el.value || fieldSel.el.value) apply();
    },
  };
}
