// Conflicts: fields both linked records changed since the last sync (G10). The open reviews
// first (`conflict = "review"`: held in both systems until a person decides), each with both
// values, when the ledger observed them, the chain of events behind each side, and for the
// admin the three ways to decide: keep one system's value, keep the other's, or enter a value
// (`resolveConflict`). A tenant's token sees its conflicts read-only. Below, the conflicts the
// policy (or a person) already decided.

import { gql } from './api.js';
import { clear, field, fmtTime, fmtValue, h, notice, pageHeading, shortId } from './dom.js';
import { eventHref } from './eventlink.js';
import { candidatesTable, choiceWords, policyWords } from './conflictview.js';

const FIELDS = `id entityId field policy open detectedAt candidates { system value observedAt } chosen { system value } resolvedBy`;
const LIST = `query($tenant: String!, $open: Boolean!, $first: Int!) {
  conflicts(tenant: $tenant, open: $open, first: $first) { edges { node { ${FIELDS} } } pageInfo { hasNextPage } } }`;
const WHOSE = `query($id: ID!) { entity(id: $id) { entityType links { system recordId collection } state summary { name } } }`;
const CHAIN = `query($id: ID!, $field: String!, $system: String) { entity(id: $id) {
  whyField(field: $field, system: $system) { value chain { sequence type explanation recordedAt } } } }`;
const RESOLVE = `mutation($id: ID!, $system: String, $value: JSON) {
  resolveConflict(id: $id, system: $system, value: $value) { ${FIELDS} } }`;
const OPEN_PAGE = 50;
const DECIDED_PAGE = 20;

/** `customer Ada Lovelace · crm contacts c-1 · erp customers E-1`: whose record this is. */
async function whose(entityId) {
  const e = (await gql(WHOSE, { id: entityId })).entity;
  let name = (e.summary && e.summary.name) || null;
  for (const fields of Object.values(e.state || {})) {
    if (fields && typeof fields.name === 'string' && fields.name) name = fields.name;
  }
  const records = e.links.map((l) => `${l.system} ${l.collection} ${l.recordId}`);
  return [`${e.entityType || 'record'} ${name || shortId(entityId)}`, ...records].join(' \u00b7 ');
}

/** The chain of events behind one side's value: each step links to its event in the timeline. */
function chainOf(c, system) {
  const body = h('div', { class: 'conflict-chain-body' }, notice(`Reading ${system}\u2019s chain\u2026`));
  const el = h('details', { class: 'conflict-chain', 'data-system': system },
    h('summary', {}, `${system}\u2019s chain: the events behind its value`), body);
  let read = false;
  el.addEventListener('toggle', async () => {
    if (!el.open || read) return;
    read = true;
    try {
      const why = (await gql(CHAIN, { id: c.entityId, field: c.field, system })).entity.whyField;
      clear(body).append(why
        ? h('ol', { class: 'chain-steps' }, why.chain.map((e) => h('li', {},
          h('a', { href: eventHref(c.entityId, e.sequence), class: 'to-event' }, `#${e.sequence}`), ' ',
          h('span', { class: 'type' }, e.type), ' \u00b7 ', e.explanation)))
        : notice(`${system} holds no ${c.field} now.`));
    } catch (err) {
      clear(body).append(notice(`The chain could not be read: ${err.message}`, 'error'));
    }
  });
  return el;
}

/** A value a person typed: JSON when the sides are not text (a number, a list), else the text. */
function entered(text, candidates) {
  const textual = candidates.every((s) => typeof s.value === 'string' || s.value === null);
  if (textual) return { value: text };
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    return { error: 'The sides are not text: enter the value as JSON (a number, true/false, a list in [ ], or a string in " ").' };
  }
}

function controls(c, onResolve) {
  const status = h('div', { class: 'resolve-status', 'aria-live': 'polite' });
  const buttons = [];
  const act = async (variables, what) => {
    for (const b of buttons) b.disabled = true;
    clear(status).append(notice(`Recording your choice: ${what}\u2026`));
    try {
      const done = (await gql(RESOLVE, { id: c.id, ...variables })).resolveConflict;
      clear(status).append(h('p', { class: 'notice notice-ok', role: 'status', id: `resolved-${c.id}` },
        h('strong', {}, 'Resolved. '), choiceWords(done.chosen, done.resolvedBy), ' The workers write it where it differs.'));
      onResolve(done);
    } catch (err) {
      clear(status).append(notice(`The choice was refused: ${err.message}`, 'error'));
      for (const b of buttons) b.disabled = false;
    }
  };
  for (const side of c.candidates) {
    const keep = h('button', { type: 'button', class: 'secondary keep', 'data-system': side.system },
      `Keep ${side.system}\u2019s`, h('span', { class: 'sr-only' }, `: ${fmtValue(side.value)}`));
    keep.addEventListener('click', () => act({ system: side.system }, `keep ${side.system}\u2019s \u201c${fmtValue(side.value)}\u201d`));
    buttons.push(keep);
  }
  const input = h('input', { type: 'text', class: 'own-value', id: `own-${c.id}`, autocomplete: 'off', spellcheck: 'false' });
  const write = h('button', { type: 'button', class: 'secondary enter' }, 'Enter a value');
  write.addEventListener('click', () => {
    const parsed = entered(input.value, c.candidates);
    if (parsed.error) {
      clear(status).append(notice(parsed.error, 'error'));
      return;
    }
    act({ value: parsed.value }, `write \u201c${fmtValue(parsed.value)}\u201d to every system`);
  });
  buttons.push(write);
  return h('div', { class: 'resolve' },
    h('div', { class: 'letter-actions' }, buttons.slice(0, -1)),
    h('div', { class: 'letter-actions' }, field(`Or a value of your own for ${c.field}`, input), write),
    status);
}

function conflictItem(c, ctx, onResolve) {
  const who = h('p', { class: 'letter-who' }, h('a', { href: `#/entity/${encodeURIComponent(c.entityId)}`, class: 'to-entity' }, `entity ${shortId(c.entityId)}`));
  whose(c.entityId).then((text) => { who.firstChild.textContent = text; }).catch(() => {});
  return h('li', { class: ['conflict', c.open ? 'open' : 'decided'], 'data-conflict': c.id, 'data-field': c.field },
    h('div', { class: 'letter-head' }, who, h('span', { class: 'hint' }, `detected ${fmtTime(c.detectedAt)}`)),
    h('p', {}, h('strong', {}, 'Field '), h('code', {}, c.field), ' \u00b7 policy ', policyWords(c.policy)),
    candidatesTable(c.candidates, c.chosen, `Both sides of ${c.field}`),
    h('p', { class: 'conflict-choice' }, choiceWords(c.chosen, c.resolvedBy)),
    h('div', { class: 'conflict-chains' }, c.candidates.map((s) => chainOf(c, s.system))),
    c.open && ctx.admin ? controls(c, onResolve) : null);
}

function listSection(title, id, hint) {
  const body = h('div', { 'aria-live': 'polite' }, notice('Reading the conflicts\u2026'));
  const section = h('section', { class: 'card', 'aria-labelledby': `${id}-h`, id },
    h('h2', { id: `${id}-h` }, title), hint ? h('p', { class: 'hint' }, hint) : null, body);
  return { section, body };
}

export function render(main, ctx) {
  let stopped = false;
  const open = listSection('Open reviews', 'open-reviews', ctx.admin
    ? 'Each field is held in both systems until you decide: keep one side\u2019s value, or enter one. The choice and who made it are recorded in the entity\u2019s stream; the workers then write it where it differs, once.'
    : 'Each field is held in both systems until the admin decides. This token may read them, not resolve them.');
  const decided = listSection('Decided', 'decided-conflicts', `Conflicts a policy or a person decided, oldest first (up to ${DECIDED_PAGE}); the value that lost is always in the log.`);
  main.append(
    pageHeading('Conflicts', `Tenant ${ctx.tenant}. A conflict is a field both linked records changed since the last sync; whatever the policy, both values are recorded.`),
    open.section, decided.section);
  const refresh = async () => {
    try {
      const [o, d] = await Promise.all([
        gql(LIST, { tenant: ctx.tenant, open: true, first: OPEN_PAGE }),
        gql(LIST, { tenant: ctx.tenant, open: false, first: DECIDED_PAGE }),
      ]);
      if (stopped) return;
      const reviews = o.conflicts.edges.map((e) => e.node);
      clear(open.body).append(reviews.length
        ? h('ul', { class: 'letters', id: 'open-conflicts' }, reviews.map((c) => conflictItem(c, ctx, () => refreshDecided())))
        : notice('No review is waiting for a person.'),
      o.conflicts.pageInfo.hasNextPage ? h('p', { class: 'hint' }, `The first ${OPEN_PAGE} are shown.`) : '');
      showDecided(d);
    } catch (err) {
      clear(open.body).append(notice(`The conflicts could not be read: ${err.message}`, 'error'));
    }
  };
  const showDecided = (d) => {
    const list = d.conflicts.edges.map((e) => e.node);
    clear(decided.body).append(list.length
      ? h('ul', { class: 'letters', id: 'decided-list' }, list.map((c) => conflictItem(c, ctx, () => {})))
      : notice('No conflict has been decided yet.'));
  };
  // After a resolution the review stays in view with its outcome; the decided list is read again.
  const refreshDecided = async () => {
    try {
      const d = await gql(LIST, { tenant: ctx.tenant, open: false, first: DECIDED_PAGE });
      if (!stopped) showDecided(d);
    } catch (err) {
      clear(decided.body).append(notice(`The decided conflicts could not be read: ${err.message}`, 'error'));
    }
  };
  refresh();
  return () => {
    stopped = true;
  };
}
