// Dead letters: writes a target refused for good, with the request that was sent and the answer
// that came back. The admin may retry one; the console then follows the entity's stream until the
// retried write has an outcome, so the person sees it succeed (or fail again) without a reload.

import { EVENT_FIELDS, gql } from './api.js';
import { clear, fmtTime, h, notice, pretty, shortId } from './dom.js';

const LETTERS = `query($tenant: String) { deadLetters(tenant: $tenant, first: 50) { edges { node {
  id tenant entityId position deadLetteredAt targetSystem reason request status body } } } }`;
const RETRY = `mutation($id: ID!) { retryDeadLetter(id: $id) { entityId sequence position } }`;
const AFTER = `query($id: ID!, $after: String) { entity(id: $id) { history(first: 50, after: $after) {
  edges { node { ${EVENT_FIELDS} } } } } }`;
const OUTCOMES = ['WriteSucceeded', 'WriteFailed', 'DeadLettered'];

/** Polls the entity's events after `sequence` until a write outcome appears (bounded). */
async function followRetry(appended, out, stopped) {
  for (let i = 0; i < 60 && !stopped(); i += 1) {
    const data = await gql(AFTER, { id: appended.entityId, after: String(appended.sequence) });
    const events = data.entity.history.edges.map((e) => e.node);
    const outcome = events.find((e) => OUTCOMES.includes(e.type));
    if (outcome) {
      const ok = outcome.type === 'WriteSucceeded';
      clear(out).append(h('p', { class: ['notice', ok ? 'notice-ok' : 'notice-error'], role: 'status', id: 'retry-outcome', 'data-outcome': outcome.type },
        h('strong', {}, ok ? 'Retry succeeded. ' : 'Retry failed. '), outcome.explanation));
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  if (!stopped()) clear(out).append(notice('The retry is queued; its outcome is not recorded yet. The entity\u2019s timeline will show it.'));
}

function letter(d, admin, stopped) {
  const out = h('div', { class: 'result', 'aria-live': 'polite' });
  let retry = null;
  if (admin) {
    retry = h('button', { type: 'button', class: 'secondary retry', 'data-dead-letter': d.id }, 'Retry');
    retry.addEventListener('click', async () => {
      retry.disabled = true;
      clear(out).append(notice('Retry requested; waiting for the write\u2019s outcome\u2026'));
      try {
        const appended = (await gql(RETRY, { id: d.id })).retryDeadLetter;
        await followRetry(appended, out, stopped);
      } catch (err) {
        retry.disabled = false;
        clear(out).append(notice(`The retry was refused: ${err.message}`, 'error'));
      }
    });
  }
  return h('li', { class: 'letter', 'data-id': d.id },
    h('div', { class: 'letter-head' },
      h('p', {}, h('strong', {}, `${d.targetSystem} answered ${d.status ?? 'no status'}`), ` \u00b7 ${d.reason}`),
      h('p', { class: 'hint' }, `${fmtTime(d.deadLetteredAt)} \u00b7 tenant ${d.tenant} \u00b7 `,
        h('a', { href: `#/entity/${d.entityId}` }, `entity ${shortId(d.entityId)}`)),
      retry),
    h('details', {}, h('summary', {}, 'Request and response'),
      h('h4', {}, 'Request (canonical fields)'), h('pre', {}, pretty(d.request)),
      h('h4', {}, `Response ${d.status ?? ''}`), h('pre', {}, d.body || '(empty)')),
    out);
}

/** The dead-letter section; `refresh()` re-reads the list. */
export function deadLetters(ctx, stopped) {
  const body = h('div', {});
  const again = h('button', { type: 'button', class: 'quiet', id: 'dl-refresh' }, 'Refresh');
  const section = h('section', { class: 'card', 'aria-labelledby': 'dl-h', id: 'dead-letters' },
    h('div', { class: 'card-head' }, h('h2', { id: 'dl-h' }, 'Dead letters'), again),
    h('p', { class: 'hint' }, ctx.admin
      ? 'Writes a target refused for good. Fix the cause (a validation rule, a mapping), then retry: the write is sent again under a new request id.'
      : 'Writes a target refused for good. Retrying needs the admin token.'),
    body);
  const refresh = async () => {
    try {
      const data = await gql(LETTERS, { tenant: ctx.admin ? null : ctx.tenant });
      const letters = data.deadLetters.edges.map((e) => e.node);
      if (stopped()) return;
      clear(body).append(letters.length
        ? h('ul', { class: 'letters' }, letters.map((d) => letter(d, ctx.admin, stopped)))
        : notice('No dead letters.'));
    } catch (err) {
      clear(body).append(notice(`Dead letters could not be read: ${err.message}`, 'error'));
    }
  };
  again.addEventListener('click', refresh);
  return { section, refresh };
}
