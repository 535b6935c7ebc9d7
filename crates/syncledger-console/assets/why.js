// "Why does this field hold this value?": the causal chain `whyField` returns, drawn as a short
// path across the two systems. Each step sits in the lane of the system it happened in (or the
// ledger's, for a decision) and says so in words, so the drawing reads without colour.

import { gql, EVENT_FIELDS } from './api.js';
import { conflictDetail } from './conflictview.js';
import { clear, fmtTime, fmtValue, h, notice } from './dom.js';
import { eventHref } from './eventlink.js';
import { laneOf } from './timeline.js';

const WHY = `query($id: ID!, $field: String!, $system: String) {
  entity(id: $id) { whyField(field: $field, system: $system) { field system value chain { ${EVENT_FIELDS} } } } }`;

function path(entityId, provenance, systems) {
  const lanes = [systems[0], null, ...systems.slice(1)];
  const laneName = (lane) => (lane === null ? 'ledger' : lane);
  const column = (event) => {
    const i = lanes.indexOf(laneOf(event));
    return i < 0 ? 1 : i;
  };
  const dots = (event, i) => lanes.map((_, c) => h('span', { class: ['track', c === column(event) ? 'here' : null], 'aria-hidden': 'true' },
    c === column(event) ? h('span', { class: 'dot' }, String(i + 1)) : null));
  return h('div', { class: 'path', role: 'group', 'aria-label': `How ${provenance.field} got its value in ${provenance.system}` },
    h('div', { class: 'lanes', 'aria-hidden': 'true' }, lanes.map((l) => h('span', { class: 'lane-title' }, laneName(l)))),
    h('ol', { class: 'steps', id: 'why-chain' }, provenance.chain.map((event, i) => h('li', { class: 'step', 'data-type': event.type },
      dots(event, i),
      h('div', { class: 'step-body' },
        h('p', { class: 'step-head' }, h('span', { class: 'type' }, event.type), ' ', h('span', { class: 'where' }, `in ${laneName(laneOf(event))}`)),
        h('p', { class: 'explanation' }, event.explanation),
        conflictDetail(event),
        h('p', { class: 'step-time' }, h('a', { href: eventHref(entityId, event.sequence), class: 'to-event', 'data-sequence': event.sequence }, `#${event.sequence}`), ' \u00b7 ', fmtTime(event.recordedAt)))))));
}

/** Fills `panel` with why `field` holds its value in `system` for entity `id`. */
export async function explainField(panel, id, field, system, systems) {
  clear(panel).append(notice(`Tracing ${field} in ${system}\u2026`));
  performance.mark('why-asked');
  try {
    const data = await gql(WHY, { id, field, system });
    const why = data.entity.whyField;
    clear(panel);
    if (!why) {
      panel.append(notice(`No linked system holds ${field}.`));
      return;
    }
    panel.append(
      h('h3', { id: 'why-title', tabindex: '-1' }, `Why ${why.field} is ${fmtValue(why.value)} in ${why.system}`),
      h('p', { class: 'lede' }, `${why.chain.length} step${why.chain.length === 1 ? '' : 's'}, root cause first; the last step set the value.`),
      path(id, why, systems));
    panel.querySelector('#why-title').focus({ preventScroll: false });
    performance.measure('why', 'why-asked');
  } catch (err) {
    clear(panel).append(notice(`The chain could not be read: ${err.message}`, 'error'));
  }
}
