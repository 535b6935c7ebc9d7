// What-if (`#/whatif`): paste a proposed `[[entities]]` configuration, replay the tenant's
// history under it (`replayDecisions(..., config:)`, a dry run that writes nothing), and read
// what it would have done: the summary, then each entity whose decisions would differ. Opening
// an entity shows its first differing decision as recorded and as proposed, side by side with
// the rule that fired on each side, the values that would be written differently, and its later
// decisions, which are not compared (after divergence). Needs the admin token.

import { gql } from './api.js';
import { clear, field, fmtValue, h, notice, pageHeading, shortId, table } from './dom.js';

const DECISION = 'kind targetSystem rule changes';
const WHAT_IF = `mutation($tenant: String!, $config: String!) {
  replayDecisions(tenant: $tenant, fromPosition: 0, toPosition: 2147483647, config: $config) {
    whatIf {
      summary { entitiesExamined entitiesChanged entitiesErased decisionsReplayed
        decisionsAfterDivergence decisionsWithoutInputs linksFormed linksNotFormed conflictsOtherWay
        systems { system createsAdded createsRemoved updatesAdded updatesRemoved deletesAdded
          deletesRemoved requestsRecorded requestsProposed requestDifference } }
      entities { entityId entityType position
        recorded { ${DECISION} } proposed { ${DECISION} }
        fields { system field recorded proposed }
        conflicts { field recorded proposed }
        afterDivergence { position recorded { ${DECISION} } } } } } }`;

const PLACEHOLDER = `[[entities]]
name = "customer"
match_keys = ["email"]
[entities.systems.crm]
collection = "contacts"
fields = { name = "full_name", email = "email", phone = "phone" }
[entities.systems.erp]
collection = "customers"
fields = { name = "name", email = "email_address", phone = "phones[0]" }
required = ["email", "phone"]`;

function decisions(list) {
  if (!list.length) return h('p', { class: 'hint' }, 'Nothing decided.');
  return h('ul', { class: 'decisions' }, list.map((d) => h('li', {},
    h('strong', {}, `${d.kind} ${d.targetSystem}`), ` \u00b7 rule `, h('code', {}, d.rule),
    d.changes.length ? h('span', { class: 'hint' }, ` \u00b7 ${d.changes.join(', ')}`) : null)));
}

function summary(s) {
  const figure = (label, value, count) => h('div', { class: 'figure' },
    h('dt', {}, label), h('dd', count ? { 'data-count': count } : {}, String(value)));
  const counts = h('dl', { class: 'figures', id: 'whatif-summary' },
    figure('Entities examined', s.entitiesExamined, 'examined'),
    figure('Entities changed', s.entitiesChanged, 'changed'),
    figure('Entities erased', s.entitiesErased),
    figure('Decisions replayed', s.decisionsReplayed),
    figure('After divergence (not compared)', s.decisionsAfterDivergence),
    figure('Links formed / not formed', `${s.linksFormed} / ${s.linksNotFormed}`),
    figure('Conflicts the other way', s.conflictsOtherWay, 'conflicts'));
  const rows = s.systems.map((d) => h('tr', { 'data-system': d.system },
    h('th', { scope: 'row' }, d.system),
    h('td', {}, `+${d.createsAdded} \u2212${d.createsRemoved}`),
    h('td', {}, `+${d.updatesAdded} \u2212${d.updatesRemoved}`),
    h('td', {}, `+${d.deletesAdded} \u2212${d.deletesRemoved}`),
    h('td', {}, `${d.requestsRecorded} \u2192 ${d.requestsProposed} (${d.requestDifference >= 0 ? '+' : ''}${d.requestDifference})`)));
  return h('section', { class: 'card', 'aria-labelledby': 'wi-sum' },
    h('h2', { id: 'wi-sum' }, 'Summary'), counts,
    rows.length ? table('Writes at each system, at each entity\u2019s first difference',
      ['System', 'Creates', 'Updates', 'Deletes', 'Requests recorded \u2192 proposed'], rows) : null);
}

function entity(e) {
  const fields = e.fields.map((f) => h('tr', {},
    h('td', {}, `${f.system}.${f.field}`), h('td', {}, fmtValue(f.recorded ?? undefined)), h('td', {}, fmtValue(f.proposed ?? undefined))));
  const later = e.afterDivergence.map((a) => h('li', {}, `position ${a.position}: `,
    a.recorded.map((d) => `${d.kind} ${d.targetSystem} (${d.rule})`).join('; ') || 'nothing'));
  const first = e.recorded.concat(e.proposed)[0];
  return h('li', { class: 'whatif-entity', 'data-entity': e.entityId },
    h('details', {},
      h('summary', {}, h('strong', {}, `${e.entityType} ${shortId(e.entityId)}`),
        ` \u00b7 position ${e.position}`, first ? ` \u00b7 ${first.kind} ${first.targetSystem}` : ''),
      h('div', { class: 'side-by-side' },
        h('div', { class: 'side recorded' }, h('h3', {}, 'Recorded'), decisions(e.recorded)),
        h('div', { class: 'side proposed' }, h('h3', {}, 'Proposed'), decisions(e.proposed))),
      fields.length ? table('Values written', ['Field', 'Recorded', 'Proposed'], fields) : null,
      e.conflicts.length ? h('p', {}, e.conflicts.map((c) =>
        `Conflict on ${c.field}: ${c.recorded ?? 'held'} won; the proposal picks ${c.proposed ?? 'nobody (held)'}. `)) : null,
      later.length ? h('div', {}, h('h4', {}, 'After divergence (not compared)'), h('ul', {}, later)) : null,
      h('p', {}, h('a', { href: `#/entity/${e.entityId}` }, 'Open the entity\u2019s timeline'))));
}

export function render(main, ctx) {
  main.append(pageHeading('What-if',
    'Replay this tenant\u2019s history under a proposed configuration and see what it would have decided differently. A dry run: nothing is written, no system is called.'));
  if (!ctx.admin) {
    main.append(notice('A what-if needs the admin token.'));
    return;
  }
  const input = h('textarea', { id: 'whatif-config', rows: '14', spellcheck: 'false', placeholder: PLACEHOLDER });
  const run = h('button', { type: 'submit', class: 'primary', id: 'whatif-run' }, 'Run what-if');
  const out = h('div', { id: 'whatif-result', 'aria-live': 'polite' });
  const form = h('form', { class: 'card' },
    field('Proposed [[entities]] (TOML)', input, 'Checked as the configuration is at start; a mistake is named with its line.'),
    run);
  let stopped = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    run.disabled = true;
    clear(out).append(notice('Replaying the history\u2026'));
    try {
      const data = await gql(WHAT_IF, { tenant: ctx.tenant, config: input.value });
      if (stopped) return;
      const report = data.replayDecisions.whatIf;
      clear(out).append(summary(report.summary),
        h('section', { class: 'card', 'aria-labelledby': 'wi-ent' },
          h('h2', { id: 'wi-ent' }, 'Entities that would change'),
          report.entities.length
            ? h('ul', { class: 'whatif-entities' }, report.entities.map(entity))
            : notice('No decision would differ.')));
    } catch (err) {
      if (!stopped) clear(out).append(notice(`The proposal was refused: ${err.message}`, 'error'));
    } finally {
      run.disabled = false;
    }
  });
  main.append(form, out);
  input.focus();
  return () => { stopped = true; };
}
