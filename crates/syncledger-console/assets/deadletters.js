// Dead letters: writes a target refused for good, with the request that was sent and the answer
// that came back, each naming its record and customer. The admin may retry one or several (the
// console follows each entity's stream until the retried write has an outcome, then reads the
// list again), or discard one with a reason (recorded in the entity's stream with who did it).

import { EVENT_FIELDS, gql } from './api.js';
import { clear, fmtTime, h, notice, pretty, shortId } from './dom.js';

const LETTERS = `query($tenant: String) { deadLetters(tenant: $tenant, first: 50) { edges { node {
  id tenant entityId position deadLetteredAt targetSystem reason request status body } } } }`;
const RETRY = `mutation($id: ID!) { retryDeadLetter(id: $id) { entityId sequence position } }`;
const DISCARD = `mutation($id: ID!, $reason: String!) { discardDeadLetter(id: $id, reason: $reason) { sequence } }`;
const AFTER = `query($id: ID!, $after: String) { entity(id: $id) { history(first: 50, after: $after) {
  edges { node { ${EVENT_FIELDS} } } } } }`;
const WHOSE = `query($id: ID!) { entity(id: $id) { entityType links { system recordId collection } state summary { name } } }`;
const OUTCOMES = ['WriteSucceeded', 'WriteFailed', 'DeadLettered'];

/** The retried write's outcome event, polling the entity's stream after `sequence` (bounded). */
async function outcomeOf(appended, stopped) {
  for (let i = 0; i < 60 && !stopped(); i += 1) {
    const data = await gql(AFTER, { id: appended.entityId, after: String(appended.sequence) });
    const outcome = data.entity.history.edges.map((e) => e.node).find((e) => OUTCOMES.includes(e.type));
    if (outcome) return outcome;
    await new Promise((r) => setTimeout(r, 500));
  }
  return null;
}

function outcomeNotice(outcome) {
  if (!outcome) return notice('The retry is queued; its outcome is not recorded yet. The entity\u2019s timeline will show it.');
  const ok = outcome.type === 'WriteSucceeded';
  return h('p', { class: ['notice', ok ? 'notice-ok' : 'notice-error'], role: 'status', id: 'retry-outcome', 'data-outcome': outcome.type },
    h('strong', {}, ok ? 'Retry succeeded. ' : 'Retry failed. '), outcome.explanation);
}

/** `customer Ada Lovelace · erp customers E-1`: whose record the letter is about. */
async function whose(d) {
  const e = (await gql(WHOSE, { id: d.entityId })).entity;
  let name = (e.summary && e.summary.name) || null;
  for (const fields of Object.values(e.state || {})) {
    if (fields && typeof fields.name === 'string' && fields.name) name = fields.name;
  }
  const link = e.links.find((l) => l.system === d.targetSystem);
  const record = link ? `${d.targetSystem} ${link.collection} ${link.recordId}`
    : d.targetSystem ? `no ${d.targetSystem} record yet` : 'work that named no record';
  return `${e.entityType || 'record'} ${name || shortId(d.entityId)} \u00b7 ${record}`;
}

function letter(d, admin, act) {
  const who = h('p', { class: 'letter-who' }, 'Reading whose record this is\u2026');
  whose(d).then((text) => { who.textContent = text; }).catch(() => { who.textContent = `entity ${d.entityId}`; });
  let controls = null;
  if (admin) {
    const pick = h('input', { type: 'checkbox', class: 'pick', id: `pick-${d.id}`, 'data-dead-letter': d.id });
    const retry = h('button', { type: 'button', class: 'secondary retry', 'data-dead-letter': d.id }, 'Retry');
    retry.addEventListener('click', () => act.retry([d.id]));
    const reason = h('input', { type: 'text', class: 'discard-reason', id: `reason-${d.id}`, maxlength: '500', autocomplete: 'off' });
    const discard = h('button', { type: 'button', class: 'quiet discard', 'data-dead-letter': d.id }, 'Discard');
    discard.addEventListener('click', () => act.discard(d.id, reason.value));
    controls = h('div', { class: 'letter-actions' },
      h('span', {}, pick, ' ', h('label', { for: pick.id }, 'Select')), retry,
      h('span', { class: 'discard-field' }, h('label', { for: reason.id }, 'Reason to discard'), ' ', reason, ' ', discard));
  }
  return h('li', { class: 'letter', 'data-id': d.id },
    h('div', { class: 'letter-head' },
      who,
      h('p', {}, h('strong', {}, `${d.targetSystem ?? 'the work'} answered ${d.status ?? 'no status'}`), ` \u00b7 ${d.reason}`),
      h('p', { class: 'hint' }, `${fmtTime(d.deadLetteredAt)} \u00b7 tenant ${d.tenant} \u00b7 `,
        h('a', { href: `#/entity/${d.entityId}` }, `entity ${shortId(d.entityId)}`))),
    controls,
    h('details', {}, h('summary', {}, 'Request and response'),
      h('h4', {}, d.request && d.request.kind === 'write' ? 'Request (canonical fields)' : 'Work item'), h('pre', {}, pretty(d.request)),
      h('h4', {}, `Response ${d.status ?? ''}`), h('pre', {}, d.body || '(empty)')));
}

/** The dead-letter section; `refresh()` re-reads the list. */
export function deadLetters(ctx, stopped) {
  const body = h('div', {});
  const status = h('div', { class: 'result', id: 'dl-status', 'aria-live': 'polite' });
  const again = h('button', { type: 'button', class: 'quiet', id: 'dl-refresh' }, 'Refresh');
  const several = ctx.admin ? h('button', { type: 'button', class: 'secondary', id: 'retry-selected' }, 'Retry selected') : null;
  const section = h('section', { class: 'card', 'aria-labelledby': 'dl-h', id: 'dead-letters' },
    h('div', { class: 'card-head' }, h('h2', { id: 'dl-h' }, 'Dead letters'), h('span', {}, several, ' ', again)),
    h('p', { class: 'hint' }, ctx.admin
      ? 'Writes a target refused for good. Fix the cause (a validation rule, a mapping), then retry: the write is sent again under a new request id. Or discard a letter, saying why: it is recorded with your name, and nothing is written.'
      : 'Writes a target refused for good. Retrying or discarding a letter needs the admin token.'),
    status, body);
  // `gone`: letters just retried or discarded. The list is a catch-up projection, so it is read
  // again (for up to 10 s) until it no longer holds them, rather than showing them once more.
  const refresh = async (gone = []) => {
    try {
      let letters = [];
      for (let i = 0; i < 40 && !stopped(); i += 1) {
        const data = await gql(LETTERS, { tenant: ctx.admin ? null : ctx.tenant });
        letters = data.deadLetters.edges.map((e) => e.node);
        if (!letters.some((d) => gone.includes(d.id))) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      if (stopped()) return;
      clear(body).append(letters.length
        ? h('ul', { class: 'letters' }, letters.map((d) => letter(d, ctx.admin, act)))
        : notice('No dead letters.'));
    } catch (err) {
      clear(body).append(notice(`Dead letters could not be read: ${err.message}`, 'error'));
    }
  };
  const act = {
    async retry(ids) {
      if (!ids.length) {
        clear(status).append(notice('Select the letters to retry first.', 'error'));
        return;
      }
      for (const b of section.querySelectorAll('button')) b.disabled = true;
      clear(status).append(notice(`Retry of ${ids.length} requested; waiting for the writes\u2019 outcomes\u2026`));
      try {
        const appended = [];
        for (const id of ids) appended.push((await gql(RETRY, { id })).retryDeadLetter);
        const outcomes = await Promise.all(appended.map((a) => outcomeOf(a, stopped)));
        if (stopped()) return;
        if (outcomes.length === 1) {
          clear(status).append(outcomeNotice(outcomes[0]));
        } else {
          const ok = outcomes.filter((o) => o && o.type === 'WriteSucceeded').length;
          clear(status).append(h('p', { class: ['notice', ok === outcomes.length ? 'notice-ok' : 'notice-error'], role: 'status', id: 'retry-outcome' },
            `${outcomes.length} retried: ${ok} succeeded, ${outcomes.length - ok} failed or pending.`));
        }
      } catch (err) {
        clear(status).append(notice(`The retry was refused: ${err.message}`, 'error'));
      }
      await refresh(ids);
      for (const b of [several, again]) if (b) b.disabled = false;
    },
    async discard(id, reason) {
      if (!reason.trim()) {
        clear(status).append(notice('Say why the letter is discarded: a reason is required.', 'error'));
        return;
      }
      try {
        await gql(DISCARD, { id, reason: reason.trim() });
        clear(status).append(h('p', { class: ['notice', 'notice-ok'], role: 'status', id: 'discard-outcome' }, 'Discarded; the reason is in the entity\u2019s timeline.'));
      } catch (err) {
        clear(status).append(notice(`The discard was refused: ${err.message}`, 'error'));
        return;
      }
      await refresh([id]);
    },
  };
  if (several) {
    several.addEventListener('click', () => act.retry([...section.querySelectorAll('input.pick:checked')].map((c) => c.dataset.deadLetter)));
  }
  again.addEventListener('click', () => refresh());
  return { section, refresh };
}
