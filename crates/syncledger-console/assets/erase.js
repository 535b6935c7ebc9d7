// Erasure (GDPR Art. 17), for the admin only: destroys the entity's data keys so every value the
// ledger held for it reads as erased; the history keeps its events and the links keep working.
// A person confirms first, with the linked records named, and gets the receipt back
// (docs/privacy.md).

import { gql } from './api.js';
import { clear, h, notice } from './dom.js';

const ERASE = `mutation($id: ID!, $reason: String!) {
  eraseEntity(id: $id, reason: $reason) { entityId erasedAt reason verified residue } }`;

function linkedRecords(entity) {
  return entity.links.length
    ? entity.links.map((l) => `${l.system} ${l.collection} ${l.recordId}`).join(', ')
    : 'no linked record';
}

/** The erasure card of an entity page. */
export function erasure(entity) {
  const out = h('div', { class: 'result', 'aria-live': 'polite', id: 'erase-result' });
  const reason = h('input', { type: 'text', id: 'erase-reason', maxlength: '500', autocomplete: 'off' });
  const start = h('button', { type: 'button', class: 'quiet', id: 'erase' }, 'Erase this person\u2026');
  start.addEventListener('click', () => {
    if (!reason.value.trim()) {
      clear(out).append(notice('An erasure needs a reason (1 to 500 characters).', 'error'));
      reason.focus();
      return;
    }
    const confirm = h('button', { type: 'button', class: 'danger', id: 'erase-confirm' }, 'Erase for good');
    const cancel = h('button', { type: 'button', class: 'secondary', id: 'erase-cancel' }, 'Cancel');
    cancel.addEventListener('click', () => clear(out));
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      cancel.disabled = true;
      try {
        const r = (await gql(ERASE, { id: entity.id, reason: reason.value })).eraseEntity;
        clear(out).append(notice(r.verified
          ? `Erased at ${r.erasedAt}: no value of this ${entity.entityType || 'record'} was found anywhere in the database.`
          : `Erased at ${r.erasedAt}, but values remain in: ${r.residue.join(', ')}.`, r.verified ? 'info' : 'error'));
      } catch (err) {
        clear(out).append(notice(`The erasure failed: ${err.message}`, 'error'));
      }
    });
    clear(out).append(h('div', { class: 'confirm', role: 'alertdialog', 'aria-labelledby': 'erase-q' },
      h('p', { id: 'erase-q' }, h('strong', {}, `Erase every value the ledger holds for ${linkedRecords(entity)}?`)),
      h('p', {}, 'The history keeps its events, times and record ids; every value in it will read as erased. Later changes of these records still sync. This cannot be undone.'),
      confirm, ' ', cancel));
    confirm.focus();
  });
  return h('section', { class: 'card', 'aria-labelledby': 'erase-h' },
    h('h2', { id: 'erase-h' }, 'Erase (right to erasure)'),
    h('p', { class: 'hint' }, 'Destroys this entity\u2019s keys: its values become unreadable everywhere in the database, and you get a verified receipt.'),
    h('label', { for: reason.id }, 'Reason'), ' ', reason, ' ', start, out);
}
