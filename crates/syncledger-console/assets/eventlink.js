// Links to one event of an entity's timeline: `#/entity/<id>/event/<n>`. They are routes like any
// other, so they can be shared and survive sign-in; on the entity page already shown they scroll
// to the event and highlight it without drawing the page again.

import { notice } from './dom.js';

export function eventHref(entityId, sequence) {
  return `#/entity/${encodeURIComponent(entityId)}/event/${sequence}`;
}

/** The event number of a route's arguments (`[id, 'event', n]`), or null. */
export function eventOf(args) {
  return args[1] === 'event' && /^\d+$/.test(args[2] || '') ? Number(args[2]) : null;
}

/**
 * Shows event `n` of the timeline under `root` as soon as it is drawn: `show(n)` asks for it,
 * `check()` is called after each page of history arrives, `done(status)` when the whole history
 * is drawn, to say so when the event is not in it.
 */
export function createEventFocus(root) {
  let wanted = null;
  const check = () => {
    if (wanted === null) return false;
    const el = root.querySelector(`#event-${wanted}`);
    if (!el) return false;
    for (const old of root.querySelectorAll('li.event.highlight')) old.classList.remove('highlight');
    el.classList.add('highlight');
    el.setAttribute('tabindex', '-1');
    el.scrollIntoView({ block: 'center' });
    el.focus({ preventScroll: true });
    document.body.dataset.eventShown = String(wanted);
    wanted = null;
    return true;
  };
  return {
    show(n) {
      wanted = n;
      return check();
    },
    check,
    done(status) {
      if (wanted !== null && !check()) status.append(notice(`Event #${wanted} is not in this entity\u2019s history.`, 'error'));
      wanted = null;
    },
  };
}
