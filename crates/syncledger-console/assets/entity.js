// Entity: one sync entity on one page. Its records side by side with their current values as the
// log knows them; clicking a value asks `whyField`; the timeline of every event; and, for the
// admin, a dry-run replay with today's decision code. The first page of history is drawn as soon
// as it arrives and the rest follows in the background, so a long history does not hold the page.

import { ApiError, EVENT_FIELDS, gql } from './api.js';
import { clear, fmtValue, h, notice, pageHeading, scrollBox, srOnly } from './dom.js';
import { createEventFocus, eventOf } from './eventlink.js';
import { erasure } from './erase.js';
import { watchEntity } from './entitylive.js';
import { SUMMARY_FIELDS, entityTitle, heldSystems, summaryLine } from './summary.js';
import { createTimeline } from './timeline.js';
import { savedOrder, timelineControls } from './timelinecontrols.js';
import { explainField } from './why.js';

// The first page is small so the page draws at once; the rest comes in larger pages behind it.
const FIRST = 50;
const PAGE = 200;
const ENTITY = `query($id: ID!, $first: Int!) {
  entity(id: $id) { id tenant entityType version links { system recordId collection } state ${SUMMARY_FIELDS}
    archived { events segment archivedAt note }
    history(first: $first) { edges { node { ${EVENT_FIELDS} } } pageInfo { hasNextPage endCursor } } } }`;
const MORE = `query($id: ID!, $first: Int!, $after: String) {
  entity(id: $id) { history(first: $first, after: $after) { edges { node { ${EVENT_FIELDS} } } pageInfo { hasNextPage endCursor } } } }`;
const REPLAY = `mutation($id: ID!) { replayEntity(id: $id, dryRun: true) { differences { position triggerId
  recorded { kind targetSystem changes } replayed { kind targetSystem changes } } } }`;

function records(entity, onPick) {
  const systems = entity.links.map((l) => l.system);
  const stateSystems = Object.keys(entity.state || {}).filter((s) => !systems.includes(s));
  const held = heldSystems(entity);
  const heldOnly = [...held.keys()].filter((s) => !systems.includes(s) && !stateSystems.includes(s));
  const columns = [...systems, ...stateSystems, ...heldOnly];
  const fields = [...new Set(columns.flatMap((s) => Object.keys((entity.state || {})[s] || {})))].sort();
  const head = columns.map((s) => {
    const link = entity.links.find((l) => l.system === s);
    return h('th', { scope: 'col', 'data-system': s }, h('span', { class: 'sys' }, s), h('span', { class: 'rec' }, link ? `${link.collection} ${link.recordId}` : 'not linked'),
      held.has(s) ? h('span', { class: 'held' }, `held back: ${held.get(s)}`) : null);
  });
  const rows = fields.map((f) => {
    const values = columns.map((s) => ((entity.state || {})[s] || {})[f]);
    const differs = new Set(values.map((v) => JSON.stringify(v))).size > 1;
    return h('tr', { class: differs ? 'differs' : null },
      h('th', { scope: 'row' }, f, differs ? h('span', { class: 'flag' }, 'differs') : null),
      columns.map((s, i) => h('td', {}, values[i] === undefined ? h('span', { class: 'absent' }, '\u2014', srOnly('no value')) : h('button', {
        type: 'button', class: 'value', 'data-field': f, 'data-system': s,
        'aria-label': `${f} in ${s}: ${fmtValue(values[i])}. Show why.`,
        onclick: () => onPick(f, s),
      }, fmtValue(values[i])))));
  });
  return { columns, table: scrollBox(h('table', { class: 'records', id: 'records' },
    h('caption', {}, 'Current values as the log knows them. Select a value to see why it holds it.'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), head)),
    h('tbody', {}, rows))) };
}

function summaries(list) {
  return list.length ? list.map((d) => `${d.kind} in ${d.targetSystem}${d.changes.length ? `: ${d.changes.join(', ')}` : ''}`).join('; ') : 'nothing';
}

function replay(id) {
  const out = h('div', { class: 'result', 'aria-live': 'polite', id: 'replay-result' });
  const button = h('button', { type: 'button', id: 'replay', class: 'secondary' }, 'Replay with today\u2019s code');
  button.addEventListener('click', async () => {
    button.disabled = true;
    clear(out).append(notice('Replaying the recorded history with today\u2019s decision code (dry run, nothing is written)\u2026'));
    try {
      const data = await gql(REPLAY, { id });
      const diffs = data.replayEntity.differences;
      clear(out).append(diffs.length
        ? scrollBox(h('table', { class: 'replay' }, h('caption', {}, `${diffs.length} decision${diffs.length === 1 ? '' : 's'} would now differ`),
          h('thead', {}, h('tr', {}, ['Position', 'Recorded', 'Today\u2019s code'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, diffs.map((d) => h('tr', {}, h('td', {}, String(d.position)), h('td', {}, summaries(d.recorded)), h('td', {}, summaries(d.replayed)))))))
        : notice('No differences: today\u2019s code decides exactly as recorded.'));
    } catch (err) {
      clear(out).append(notice(`The replay failed: ${err.message}`, 'error'));
    } finally {
      button.disabled = false;
    }
  });
  return h('section', { class: 'card', 'aria-labelledby': 'replay-h' },
    h('h2', { id: 'replay-h' }, 'Replay'),
    h('p', { class: 'hint' }, 'Re-runs today\u2019s decision code over this entity\u2019s history and lists where it would decide differently. A dry run: nothing is written.'),
    button, out);
}

// The entity page on screen, so that a link to one of its events need not draw it again.
let active = null;
// The stub a link pointed to, when the page went on to the real entity instead.
let arrivedFrom = null;

/** Called by the router for a route on the page already shown: true when it was handled here. */
export function revisit(args) {
  if (!active || args[0] !== active.id) return false;
  const n = eventOf(args);
  if (n !== null) active.focus.show(n);
  return true;
}

/**
 * Loads the history into a fresh timeline in `order`, page by page: oldest first from sequence 1,
 * or newest first from the stream's end backwards (the first page drawn is then the newest 50).
 * Returns `{ timeline, start, stop }`; `hooks` hears each page drawn and the end. Newest first
 * starts at sequence `upTo`; oldest first from `first` (the entity query's first page) on.
 */
function loadHistory(entity, order, first, upTo, hooks) {
  const timeline = createTimeline(order);
  let stopped = false;
  const desc = order === 'desc';
  // An entity whose first events were archived has its history from the one after them on.
  const floor = (entity.archived ? entity.archived.events : 0) + 1;
  const start = async () => {
    let page = desc ? null : first;
    let oldest = upTo + 1;
    for (let n = 0; !stopped; n += 1) {
      if (desc) {
        if (oldest <= floor) break;
        const size = n === 0 ? FIRST : PAGE;
        const after = Math.max(0, oldest - 1 - size);
        try {
          page = (await gql(MORE, { id: entity.id, first: oldest - 1 - after, after: after ? String(after) : null })).entity.history;
        } catch (err) {
          hooks.failed(err);
          return;
        }
        if (stopped) return;
        const events = page.edges.map((e) => e.node);
        if (!events.length) break;
        oldest = events[0].sequence;
        timeline.addOlder(events);
        hooks.page(events, oldest > floor);
      } else {
        if (n > 0 || !page) {
          if (page && !page.pageInfo.hasNextPage) break;
          try {
            const next = page ? { first: PAGE, after: page.pageInfo.endCursor } : { first: FIRST, after: null };
            page = (await gql(MORE, { id: entity.id, ...next })).entity.history;
          } catch (err) {
            hooks.failed(err);
            return;
          }
          if (stopped) return;
        }
        const events = page.edges.map((e) => e.node);
        timeline.addNewer(events);
        hooks.page(events, page.pageInfo.hasNextPage);
      }
    }
    if (stopped) return;
    timeline.complete();
    hooks.done();
  };
  return { timeline, start, stop: () => { stopped = true; } };
}

export function render(main, ctx, args) {
  const [id] = args;
  let stopped = false;
  let stopLive = () => {};
  let stopHistory = () => {};
  const status = h('div', { 'aria-live': 'polite' }, notice('Loading the entity\u2026'));
  main.append(pageHeading('Entity', id), status);
  (async () => {
    let entity;
    const order = savedOrder();
    try {
      // Newest first reads the stream's end, once the entity's version is known.
      entity = (await gql(ENTITY, { id, first: order === 'desc' ? 1 : FIRST })).entity;
    } catch (err) {
      if (stopped) return;
      const missing = err instanceof ApiError && (err.code === 'NOT_FOUND' || err.code === 'BAD_USER_INPUT');
      clear(status).append(notice(missing ? `No entity ${id} is visible to this token.` : `The entity could not be read: ${err.message}`, 'error'));
      return;
    }
    if (stopped) return;
    // A stub (a stream whose records turned out to belong to another entity) is not what a
    // link to it means: land on the real entity, saying so. `#/entity/<id>/stub` shows the stub.
    const redirected = entity.summary && entity.summary.redirectedTo;
    if (redirected && args[1] !== 'stub' && eventOf(args) === null) {
      arrivedFrom = entity.id;
      location.replace(`#/entity/${encodeURIComponent(redirected)}`);
      return;
    }
    const from = arrivedFrom;
    arrivedFrom = null;
    const why = h('section', { class: 'card why', id: 'why', 'aria-live': 'polite', 'aria-labelledby': 'why-h' },
      h('h2', { id: 'why-h' }, 'Why this value?'),
      h('p', { class: 'hint' }, 'Select any value in the records table: the chain of events that gave it that value appears here.'));
    const panel = h('div', {});
    why.append(panel);
    const { columns, table } = records(entity, (field, system) => explainField(panel, entity.id, field, system, columns));
    const progress = h('p', { class: 'count', id: 'timeline-count', 'aria-live': 'polite' });
    const holder = h('div', { class: 'timeline-holder' });
    const archivedCount = entity.archived ? entity.archived.events : 0;
    let total = entity.version;
    let lastShown = entity.version;
    let current = null;
    let focus = null;
    const setCount = (more) => { progress.textContent = `${current.timeline.count} of ${total - archivedCount} events${archivedCount ? ' (and the archived ones)' : ''}${more ? ', loading the rest\u2026' : ''}`; };
    const live = watchEntity(entity, (events) => {
      current.timeline.addNewer(events);
      current.controls.noticeEvents(events);
      if (events.length) lastShown = events[events.length - 1].sequence;
      total = Math.max(total, lastShown);
      setCount(false);
    });
    stopLive = () => live.close();
    const section = h('section', { class: 'card', 'aria-labelledby': 'timeline-h' },
      h('h2', { id: 'timeline-h' }, 'Timeline'),
      h('p', { class: 'hint' }, 'Every event of this entity, grouped by the webhook that caused it. Open an event for its payload and ids. The field filter shows the decisions, writes and conflicts that change that field.'),
      entity.archived ? h('p', { class: 'notice', role: 'note', id: 'archived-note' },
        `${entity.archived.note}: they are not shown here (syncledger history --archive DIR reads them back).`) : '',
      holder);
    // Draws the timeline in `order` (again, when a person switches it).
    const draw = (order, firstPage) => {
      stopHistory();
      document.body.dataset.timelineComplete = '';
      let rendered = false;
      const loaded = loadHistory(entity, order, firstPage, lastShown, {
        page(events, more) {
          current.controls.noticeEvents(events);
          if (events.length && order !== 'desc') lastShown = Math.max(lastShown, events[events.length - 1].sequence);
          setCount(more);
          if (!rendered) {
            rendered = true;
            document.body.dataset.entityRendered = entity.id;
            performance.mark('entity-rendered');
          }
          focus.check();
        },
        failed(err) {
          progress.after(notice(`The rest of the timeline could not be read: ${err.message}`, 'error'));
        },
        done() {
          focus.done(progress);
          live.ready(lastShown);
          document.body.dataset.timelineOrder = order;
          document.body.dataset.timelineComplete = entity.id;
          performance.mark('entity-timeline-complete');
        },
      });
      stopHistory = loaded.stop;
      const controls = timelineControls(entity, loaded.timeline, { onOrder: (next) => draw(next, null), countEl: progress });
      current = { timeline: loaded.timeline, controls };
      focus = createEventFocus(loaded.timeline.el);
      active = { id, focus };
      clear(holder).append(controls.el, live.el, loaded.timeline.el);
      if (eventOf(args) !== null) focus.show(eventOf(args));
      loaded.start();
    };
    clear(main).append(
      pageHeading(entityTitle(entity), `Entity ${entity.id} \u00b7 tenant ${entity.tenant} \u00b7 ${entity.version} events`),
      summaryLine(entity) || '',
      from ? h('p', { class: 'notice', role: 'status', id: 'arrived-from' }, `The link pointed to entity ${from}, a stub whose records belong to this entity; you are shown this one. `,
        h('a', { href: `#/entity/${encodeURIComponent(from)}/stub` }, 'Show the stub\u2019s own history')) : '',
      h('div', { class: 'entity-top' },
        h('section', { class: 'card', 'aria-labelledby': 'records-h' }, h('h2', { id: 'records-h' }, 'Linked records'), table),
        why),
      ctx.admin ? replay(entity.id) : '',
      ctx.admin ? erasure(entity) : '',
      section);
    const heading = document.getElementById('page-title');
    if (heading && (document.activeElement === document.body || !document.activeElement)) heading.focus({ preventScroll: true });
    draw(order, order === 'desc' ? null : entity.history);
  })();
  return () => {
    stopped = true;
    stopLive();
    stopHistory();
    active = null;
  };
}
