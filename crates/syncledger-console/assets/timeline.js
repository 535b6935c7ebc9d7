// The timeline: every event of one entity in sequence order, grouped by the webhook (correlation)
// that caused it. Groups are runs of consecutive events with the same correlation id, so the
// page never reorders the log: two webhooks whose work interleaved show as alternating groups.

import { conflictDetail } from './conflictview.js';
import { fmtClock, fmtTime, fmtValue, h, pretty, shortId } from './dom.js';

/** The system an event happened in, or null for the ledger's own decisions. */
export function laneOf(event) {
  if (event.type === 'DecisionMade') return null;
  const p = event.payload || {};
  return p.system || p.target_system || null;
}

/** The decision's basis in words, as the API derives it from the typed basis (never raw JSON). */
function basisText(event) {
  const p = event.payload || {};
  if (typeof event.reason === 'string' && event.reason) return event.reason;
  if (typeof p.reason === 'string' && p.reason) return p.reason;
  const rule = p.basis && typeof p.basis === 'object' ? p.basis.rule : p.basis;
  return rule ? String(rule).replace(/_/g, ' ') : '\u2014';
}

/**
 * What the decision did, and on whose behalf: a change from the source system, or a person's
 * retry of a dead letter (whose recorded source is the target itself, so it is not named).
 */
function decisionLabel(p) {
  const kind = String(p.kind || '').replace(/_/g, ' ');
  const target = p.target_system || '?';
  const rule = p.basis && typeof p.basis === 'object' ? String(p.basis.rule || '') : '';
  if (rule.startsWith('retry_')) return `${kind} in ${target} (a person\u2019s retry of a dead letter)`;
  if (p.source_system && p.source_system !== target) return `${kind} in ${target} (change from ${p.source_system})`;
  return `${kind} in ${target}`;
}

/** The write a decision asks for (version 3 carries it), e.g. `update erp customers E-1 (request 1a2b3c4d)`. */
function writeLabel(p) {
  const w = p.write;
  const record = w.record_id ? ` ${w.record_id}` : '';
  const request = p.request_id ? ` (request ${String(p.request_id).slice(0, 8)})` : '';
  return `${w.op || '?'} ${p.target_system || '?'} ${w.collection || ''}${record}${request}`;
}

function basis(event) {
  const p = event.payload || {};
  if (event.type !== 'DecisionMade') return null;
  const diff = Array.isArray(p.diff) ? p.diff : [];
  return h('div', { class: 'basis' },
    h('p', { class: 'decision-label' }, h('strong', {}, 'Decision: '), decisionLabel(p)),
    h('p', { class: 'basis-text' }, h('strong', {}, 'Basis: '), basisText(event)),
    p.write && typeof p.write === 'object' ? h('p', { class: 'write-request' }, h('strong', {}, 'Asks: '), writeLabel(p)) : null,
    diff.length ? h('table', { class: 'diff' },
      h('caption', { class: 'sr-only' }, 'Fields the decision changes'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Before'), h('th', { scope: 'col' }, 'After'))),
      h('tbody', {}, diff.map((c) => h('tr', {}, h('th', { scope: 'row' }, c.field), h('td', {}, fmtValue(c.before)), h('td', {}, fmtValue(c.after)))))) : null);
}

function eventItem(event) {
  const lane = laneOf(event);
  return h('li', { class: 'event', 'data-sequence': event.sequence, 'data-type': event.type, id: `event-${event.sequence}` },
    h('div', { class: 'event-meta' },
      h('span', { class: 'seq', title: `global position ${event.position}` }, `#${event.sequence}`),
      h('time', { datetime: event.recordedAt, title: fmtTime(event.recordedAt) }, fmtClock(event.recordedAt))),
    h('div', { class: 'event-body' },
      h('p', { class: 'event-head' },
        h('span', { class: 'type' }, event.type),
        h('span', { class: 'where' }, lane ? `in ${lane}` : 'in the ledger')),
      h('p', { class: 'explanation' }, event.explanation),
      basis(event),
      conflictDetail(event),
      h('details', { class: 'payload' },
        h('summary', {}, 'Payload and ids'),
        h('dl', { class: 'ids' },
          h('dt', {}, 'event'), h('dd', {}, event.eventId),
          h('dt', {}, 'position'), h('dd', {}, String(event.position)),
          h('dt', {}, 'caused by'), h('dd', {}, event.causationId || '\u2014'),
          h('dt', {}, 'correlation'), h('dd', {}, event.correlationId || '\u2014'),
          h('dt', {}, 'recorded'), h('dd', {}, fmtTime(event.recordedAt))),
        h('pre', {}, pretty(event.payload)))));
}

function groupTitle(first) {
  const p = first.payload || {};
  if (first.type === 'ChangeObserved') {
    return `Webhook from ${p.system}: ${p.collection} ${p.record_id} ${p.action}${p.webhook_event_id ? ` (${p.webhook_event_id})` : ''}`;
  }
  return first.explanation;
}

/**
 * A correlation as a person can tell them apart: its number within this entity (1 for the first
 * webhook's work) and the random tail of its UUID. A UUID v7 starts with its timestamp, so the
 * first block is the same for every webhook of the same minute.
 */
function correlationLabel(n, id) {
  return id ? `correlation ${n} \u00b7 ${shortId(id)}` : 'no correlation';
}

/** The canonical fields an event changes or is about (a decision's diff, a write's fields, a conflict's field). */
export function fieldsOf(event) {
  const p = event.payload || {};
  const fields = new Set();
  if (event.type === 'DecisionMade' && Array.isArray(p.diff)) for (const c of p.diff) fields.add(c.field);
  if (event.type === 'WriteRequested' && p.fields && typeof p.fields === 'object') for (const f of Object.keys(p.fields)) fields.add(f);
  // A decision carries the write it asks for (DecisionMade version 3).
  const write = event.type === 'DecisionMade' && p.write && typeof p.write === 'object' ? p.write : null;
  if (write && write.fields && typeof write.fields === 'object') for (const f of Object.keys(write.fields)) fields.add(f);
  if (typeof p.field === 'string') fields.add(p.field);
  return [...fields];
}

/**
 * A timeline that grows page by page. `order` is `asc` (oldest first) or `desc` (newest first).
 * `addOlder(events)` and `addNewer(events)` take events in sequence order: in `asc` the history
 * arrives with `addNewer`; in `desc` the history arrives backwards with `addOlder` and the live
 * page's new events with `addNewer`. Groups are runs of one correlation in either order; their
 * numbers within the entity are given as they appear in log order, so in `desc` only once the
 * oldest event is drawn (`complete()`), until then a group names its correlation by its tail.
 */
export function createTimeline(order = 'asc') {
  const desc = order === 'desc';
  const list = h('ol', { class: 'timeline', id: 'timeline', 'data-order': order,
    'aria-label': desc ? 'Events, newest first' : 'Events in sequence order' });
  let count = 0;
  let numbered = !desc;
  const numbers = new Map();
  const groups = [];
  let filter = null;
  const meta = (g) => {
    g.metaEl.textContent = `${fmtTime(g.firstEvent.recordedAt)} \u00b7 ${g.correlationId ? (numbered ? correlationLabel(numbers.get(g.key), g.correlationId) : `correlation ${shortId(g.correlationId)}`) : 'no correlation'}`;
    g.el.dataset.correlationNumber = numbered ? String(numbers.get(g.key) || '') : '';
  };
  const number = (g) => {
    if (g.correlationId && !numbers.has(g.key)) numbers.set(g.key, numbers.size + 1);
  };
  const newGroup = (event, key, atStart) => {
    const items = h('ol', { class: 'group-events' });
    const title = h('h3', { class: 'group-title' }, groupTitle(event));
    const metaEl = h('span', { class: 'group-meta', title: event.correlationId ? `correlation id ${event.correlationId}` : null });
    const el = h('li', { class: 'group', 'data-correlation': event.correlationId || '' }, h('div', { class: 'group-head' }, title, metaEl), items);
    const g = { el, items, title, metaEl, key, correlationId: event.correlationId, firstEvent: event };
    if (atStart) {
      list.prepend(el);
      groups.unshift(g);
    } else {
      list.append(el);
      groups.push(g);
    }
    return g;
  };
  // Puts one event at the start or the end of the list, in the edge group when it continues it.
  const place = (event, atStart) => {
    const key = event.correlationId || `solo-${event.eventId}`;
    let g = atStart ? groups[0] : groups[groups.length - 1];
    if (!g || g.key !== key) g = newGroup(event, key, atStart);
    const item = eventItem(event);
    item.dataset.system = laneOf(event) || 'ledger';
    item.dataset.fields = fieldsOf(event).join(' ');
    if (filter) item.hidden = !filter(item);
    if (atStart) g.items.prepend(item);
    else g.items.append(item);
    if (event.sequence < g.firstEvent.sequence) {
      g.firstEvent = event;
      g.title.textContent = groupTitle(event);
    }
    // Log order is `addNewer` in asc, and (once numbered) `addNewer` in desc too.
    if (numbered) number(g);
    meta(g);
    g.el.hidden = filter ? !g.items.querySelector('li.event:not([hidden])') : false;
    count += 1;
  };
  return {
    el: list,
    order,
    get count() {
      return count;
    },
    /** Events older than every one shown, in sequence order. */
    addOlder(events) {
      for (const event of [...events].reverse()) place(event, !desc);
    },
    /** Events newer than every one shown, in sequence order. */
    addNewer(events) {
      for (const event of events) place(event, desc);
    },
    /** The whole history is drawn: in `desc`, the groups' numbers are now known. */
    complete() {
      if (numbered) return;
      numbered = true;
      for (const g of desc ? [...groups].reverse() : groups) number(g);
      for (const g of groups) meta(g);
    },
    /** Shows only the events `keep(li)` accepts (null: all); returns how many are shown. */
    filter(keep) {
      filter = keep;
      let shown = 0;
      for (const g of groups) {
        let any = false;
        for (const item of g.items.children) {
          item.hidden = keep ? !keep(item) : false;
          if (!item.hidden) {
            any = true;
            shown += 1;
          }
        }
        g.el.hidden = !any;
      }
      return shown;
    },
  };
}
