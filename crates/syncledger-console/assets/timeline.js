// The timeline: every event of one entity in sequence order, grouped by the webhook (correlation)
// that caused it. Groups are runs of consecutive events with the same correlation id, so the
// page never reorders the log: two webhooks whose work interleaved show as alternating groups.

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

function basis(event) {
  const p = event.payload || {};
  if (event.type !== 'DecisionMade') return null;
  const diff = Array.isArray(p.diff) ? p.diff : [];
  return h('div', { class: 'basis' },
    h('p', { class: 'decision-label' }, h('strong', {}, 'Decision: '), decisionLabel(p)),
    h('p', { class: 'basis-text' }, h('strong', {}, 'Basis: '), basisText(event)),
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

/** A timeline that grows page by page; `append` takes events in sequence order. */
export function createTimeline() {
  const list = h('ol', { class: 'timeline', id: 'timeline', 'aria-label': 'Events in sequence order' });
  let group = null;
  let correlation;
  let count = 0;
  const numbers = new Map();
  return {
    el: list,
    get count() {
      return count;
    },
    append(events) {
      for (const event of events) {
        const key = event.correlationId || `solo-${event.eventId}`;
        if (!group || key !== correlation) {
          correlation = key;
          const items = h('ol', { class: 'group-events' });
          const title = h('h3', { class: 'group-title' }, groupTitle(event));
          if (event.correlationId && !numbers.has(key)) numbers.set(key, numbers.size + 1);
          group = h('li', { class: 'group', 'data-correlation': event.correlationId || '', 'data-correlation-number': numbers.get(key) || '' },
            h('div', { class: 'group-head' }, title,
              h('span', { class: 'group-meta', title: event.correlationId ? `correlation id ${event.correlationId}` : null },
                `${fmtTime(event.recordedAt)} \u00b7 ${correlationLabel(numbers.get(key), event.correlationId)}`)),
            items);
          group.items = items;
          list.append(group);
        }
        group.items.append(eventItem(event));
        count += 1;
      }
    },
  };
}
