// "N new events" on the entity page: the `eventAppended` subscription the Live page uses, kept
// to this entity, counts what the ledger appended since the page was drawn; a button shows them
// at the end of the timeline without a reload. The count never misses an event appended while
// the connection opened: at each (re)connection the entity's version is read again.

import { EVENT_FIELDS, gql, subscribe } from './api.js';
import { h } from './dom.js';

const APPENDED = `subscription($tenant: String, $after: Int) { eventAppended(tenant: $tenant, afterPosition: $after) {
  position sequence entityId } }`;
const VERSION = `query($id: ID!) { entity(id: $id) { version } }`;
const AFTER = `query($id: ID!, $first: Int!, $after: String) { entity(id: $id) { history(first: $first, after: $after) {
  edges { node { ${EVENT_FIELDS} } } pageInfo { hasNextPage endCursor } } } }`;

/**
 * Watches entity `entity` for new events; `onEvents(list)` draws the ones a person asks to see.
 * Returns `{ el, ready(lastShown), close() }`: `ready` is called once the timeline holds every
 * event up to sequence `lastShown`.
 */
export function watchEntity(entity, onEvents) {
  let shown = entity.version;
  let latest = entity.version;
  let after = null;
  let ready = false;
  const state = h('span', { class: 'hint', id: 'entity-live', 'data-state': 'connecting' }, 'Connecting for new events\u2026');
  const button = h('button', { type: 'button', class: 'secondary', id: 'new-events', hidden: true });
  const update = () => {
    const n = Math.max(latest - shown, 0);
    button.dataset.count = String(n);
    button.textContent = `${n} new event${n === 1 ? '' : 's'}: show ${n === 1 ? 'it' : 'them'}`;
    button.hidden = !ready || n === 0;
  };
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      let cursor = String(shown);
      for (;;) {
        const page = (await gql(AFTER, { id: entity.id, first: 200, after: cursor })).entity.history;
        const events = page.edges.map((e) => e.node);
        if (events.length) {
          onEvents(events);
          shown = events[events.length - 1].sequence;
          latest = Math.max(latest, shown);
        }
        if (!page.pageInfo.hasNextPage) break;
        cursor = page.pageInfo.endCursor;
      }
    } finally {
      button.disabled = false;
      update();
    }
  });
  const sub = subscribe(APPENDED, () => ({ tenant: entity.tenant, after }), {
    onNext(data) {
      const e = data.eventAppended;
      after = e.position;
      if (e.entityId === entity.id && e.sequence > latest) {
        latest = e.sequence;
        update();
      }
    },
    onError() {},
    onStatus(s) {
      state.dataset.state = s;
      state.textContent = s === 'live' ? 'New events are counted as the ledger appends them.' : s === 'retrying' ? 'Reconnecting for new events\u2026' : '';
      if (s === 'live') {
        gql(VERSION, { id: entity.id }).then((d) => {
          latest = Math.max(latest, d.entity.version);
          update();
        }).catch(() => {});
      }
    },
  });
  return {
    el: h('div', { class: 'new-events', 'aria-live': 'polite' }, button, ' ', state),
    ready(lastShown) {
      shown = lastShown;
      latest = Math.max(latest, lastShown);
      ready = true;
      update();
    },
    close() {
      sub.close();
    },
  };
}
