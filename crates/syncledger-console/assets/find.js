// Find: the way in. A person knows one of three things: a record's id in one of the systems (from
// a support ticket), the customer's name or a value that identifies it (an email), or the sync
// entity's id (from a log line or an alert). Each leads to the entity page.

import { ApiError, gql } from './api.js';
import { clear, field, fmtValue, h, notice, pageHeading, shortId } from './dom.js';
import { entityTitle } from './summary.js';

const BY_RECORD = `query($tenant: String!, $system: String!, $recordId: String!) {
  entityByRecord(tenant: $tenant, system: $system, recordId: $recordId) { id } }`;
const BY_VALUE = `query($tenant: String!, $value: String!) {
  findEntities(tenant: $tenant, value: $value) { id entityType links { system recordId } state summary { name standing } } }`;
const BY_ID = `query($id: ID!) { entity(id: $id) { id } }`;

function open(id) {
  location.hash = `#/entity/${encodeURIComponent(id)}`;
}

function problem(err, what) {
  if (err instanceof ApiError && err.code === 'NOT_FOUND') return notice(`${what} is not known to the ledger (or not visible to this token).`, 'error');
  if (err instanceof ApiError && err.code === 'BAD_USER_INPUT') return notice(err.message, 'error');
  return notice(`The search failed: ${err.message}`, 'error');
}

function form(title, controls, button, onSubmit) {
  const status = h('div', { class: 'result', 'aria-live': 'polite' });
  const headingId = `h-${title.toLowerCase().replace(/[^a-z]+/g, '-')}`;
  const el = h('form', { class: 'card', 'aria-labelledby': headingId },
    h('h2', { id: headingId }, title),
    controls,
    h('button', { type: 'submit', class: 'primary' }, button),
    status);
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear(status).append(notice('Searching\u2026'));
    try {
      await onSubmit(status);
    } catch (err) {
      clear(status).append(problem(err, 'That'));
    }
  });
  return el;
}

function byRecord(ctx) {
  const systems = ctx.systemsOf(ctx.tenant);
  const system = h('select', { id: 'find-system', name: 'system' }, systems.map((s) => h('option', { value: s }, s)));
  const recordId = h('input', { id: 'find-record-id', name: 'recordId', required: true, autocomplete: 'off', spellcheck: 'false' });
  return form('By record id', [field('System', system), field('Record id', recordId, 'The id the system itself gives the record, e.g. c-42.')],
    'Find record', async (status) => {
      const id = recordId.value.trim();
      try {
        const data = await gql(BY_RECORD, { tenant: ctx.tenant, system: system.value, recordId: id });
        open(data.entityByRecord.id);
      } catch (err) {
        clear(status).append(problem(err, `Record ${id} in ${system.value}`));
      }
    });
}

function summary(entity) {
  const values = {};
  for (const fields of Object.values(entity.state || {})) {
    for (const [k, v] of Object.entries(fields || {})) if (!(k in values)) values[k] = v;
  }
  return Object.entries(values).slice(0, 4).map(([k, v]) => h('span', { class: 'kv' }, h('span', { class: 'k' }, k), ' ', fmtValue(v)));
}

/** The whole words of a search, as the ledger cuts them (letters and digits, lower-cased). */
function wordsOf(text) {
  return [...new Set(text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean))];
}

function byValue(ctx) {
  const keys = [...new Set(ctx.viewer.entityTypes.flatMap((t) => t.matchKeys))];
  const value = h('input', { id: 'find-value', name: 'value', required: true, autocomplete: 'off', spellcheck: 'false' });
  const hint = `A name or any whole words of it (Alan Turing, turing: every word must appear), or ${keys.length ? `an exact ${keys.join(' or ')}` : 'a value'} (trimmed, case-insensitive).`;
  return form(`By name or ${keys[0] || 'match key'}`, [field(`Name${keys.length ? ` or ${keys.join(' or ')}` : ''}`, value, hint)],
    'Search', async (status) => {
      const text = value.value.trim();
      const data = await gql(BY_VALUE, { tenant: ctx.tenant, value: text });
      const found = data.findEntities;
      clear(status);
      if (!found.length) {
        const words = wordsOf(text);
        status.append(notice(`Nothing the ledger has seen matches \u201c${text}\u201d: no record held it as ${keys.length ? `its ${keys.join(' or ')}` : 'a match key'}, and no record\u2019s text fields held ${words.length > 1 ? `all of the words ${words.join(', ')}` : words.length ? `the word ${words[0]}` : 'any word of it'} when the ledger last saw them. Records the ledger has never fetched are not searched.`));
        return;
      }
      status.append(h('p', { class: 'count' }, `${found.length} ${found.length === 1 ? 'entity' : 'entities'} found`),
        h('ul', { class: 'found', id: 'found-entities' }, found.map((e) => h('li', {},
          h('a', { href: `#/entity/${e.id}`, class: 'found-link', 'data-entity': e.id }, entityTitle(e)),
          h('span', { class: 'links' }, e.links.map((l) => h('span', { class: 'chip' }, `${l.system} ${l.recordId}`)),
            h('span', { class: 'hint', title: `entity ${e.id}` }, ` entity ${shortId(e.id)}`)),
          h('span', { class: 'values' }, summary(e))))));
    });
}

function byId() {
  const id = h('input', { id: 'find-entity-id', name: 'entityId', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: '0193f2a1-\u2026' });
  return form('By entity id', [field('Entity id', id, 'The UUID of the sync entity\u2019s stream, as logs and the API show it.')],
    'Open entity', async (status) => {
      const wanted = id.value.trim();
      try {
        const data = await gql(BY_ID, { id: wanted });
        open(data.entity.id);
      } catch (err) {
        clear(status).append(problem(err, `Entity ${wanted}`));
      }
    });
}

export function render(main, ctx) {
  main.append(
    pageHeading('Find a record', `Tenant ${ctx.tenant}. Look a record up by its id in a connected system, by a value that identifies it, or by its sync entity\u2019s id; the entity page then shows every record linked to it and why each value is what it is.`),
    h('div', { class: 'grid3' }, byValue(ctx), byRecord(ctx), byId()));
}
