// The line at the top of an entity page: where it is linked, whether (when, why) it was deleted,
// which system a record is held back from and why (`Entity.summary`, derived by the ledger from
// the stream), and a title that names the customer even after its records are gone.

import { h } from './dom.js';

export const SUMMARY_FIELDS = 'summary { standing text name held { system reason since } redirectedTo }';

/** `customer: Ada Lovelace`, from the current values, else the last name the log saw. */
export function entityTitle(entity) {
  const type = entity.entityType || 'Entity';
  for (const fields of Object.values(entity.state || {})) {
    if (fields && typeof fields.name === 'string' && fields.name) return `${type}: ${fields.name}`;
  }
  const s = entity.summary || {};
  if (s.name) return `${type}: ${s.name}${s.standing === 'deleted' ? ' (deleted)' : ''}`;
  return s.standing === 'deleted' ? `Deleted ${type.toLowerCase()}` : `${type} ${entity.id}`;
}

export function summaryLine(entity) {
  const s = entity.summary;
  if (!s) return null;
  return h('p', { class: ['entity-summary', `standing-${s.standing}`], id: 'entity-summary', 'data-standing': s.standing },
    s.text,
    s.redirectedTo ? [' ', h('a', { href: `#/entity/${encodeURIComponent(s.redirectedTo)}`, id: 'redirected-to' }, 'Open that entity')] : null);
}

/** The systems of the tenant a record is held back from, with the reason, for the records table. */
export function heldSystems(entity) {
  return new Map(((entity.summary || {}).held || []).map((x) => [x.system, x.reason]));
}
