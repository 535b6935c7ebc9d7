// Live: events as they are appended, without a reload, over the `eventAppended` subscription.
// After a dropped connection it resumes after the last position it showed, so nothing is missed
// and nothing is shown twice.

import { subscribe } from './api.js';
import { clear, fmtClock, fmtTime, h, notice, pageHeading, shortId } from './dom.js';

const EVENTS = `subscription($tenant: String, $after: Int) { eventAppended(tenant: $tenant, afterPosition: $after) {
  position sequence type tenant entityId recordedAt explanation } }`;
const KEEP = 200;
const STATES = {
  connecting: 'Connecting\u2026',
  live: 'Live: new events appear at the top.',
  retrying: 'Connection lost; reconnecting\u2026',
  closed: 'Not connected.',
};

function row(e) {
  return h('li', { class: 'live-event', 'data-type': e.type, 'data-position': e.position },
    h('time', { datetime: e.recordedAt, title: fmtTime(e.recordedAt) }, fmtClock(e.recordedAt)),
    h('span', { class: 'type' }, e.type),
    h('span', { class: 'explanation' }, e.explanation),
    h('a', { href: `#/entity/${e.entityId}`, 'aria-label': `Open entity ${e.entityId}` }, `${e.tenant} \u00b7 ${shortId(e.entityId)}`));
}

export function render(main, ctx) {
  let last = null;
  let paused = false;
  const state = h('p', { class: 'live-state', id: 'live-state', role: 'status' }, STATES.connecting);
  const list = h('ol', { class: 'live', id: 'live-events', 'aria-label': 'Newest events first' });
  const empty = notice('Waiting for the next event\u2026');
  const pause = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Pause');
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume' : 'Pause';
  });
  const errors = h('div', { 'aria-live': 'assertive' });
  main.append(
    pageHeading('Live', `Events of ${ctx.admin ? 'every tenant' : `tenant ${ctx.tenant}`} as the ledger appends them.`),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, state, pause), errors, empty, list));
  const sub = subscribe(EVENTS, () => ({ tenant: ctx.admin ? null : ctx.tenant, after: last }), {
    onNext(data) {
      const e = data.eventAppended;
      last = e.position;
      if (paused) return;
      empty.remove();
      list.prepend(row(e));
      while (list.children.length > KEEP) list.lastChild.remove();
    },
    onError(err) {
      clear(errors).append(notice(err.message, 'error'));
    },
    onStatus(s) {
      state.textContent = STATES[s] || s;
      state.dataset.state = s;
    },
  });
  return () => sub.close();
}
