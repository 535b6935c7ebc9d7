// A conflict (G10) as a person reads it, wherever it appears: in the timeline, in the why panel
// and on the Conflicts page. Both sides with their values and when the ledger observed them, and
// what the policy (or a person) chose, in words: never only a colour, never raw JSON.

import { fmtTime, fmtValue, h } from './dom.js';

const POLICY_WORDS = {
  last_observed: 'the change the ledger observed last wins',
  owner: 'the field\u2019s owning system wins',
  review: 'a person decides',
};

/** `last_observed (the change the ledger observed last wins)`. */
export function policyWords(policy) {
  const words = POLICY_WORDS[policy];
  return words ? `${policy} (${words})` : String(policy || '?');
}

/** What a conflict ended with, in words: `kept erp's 'Y'`, `a person's value 'Z'`, or held. */
export function choiceWords(chosen, by) {
  if (!chosen) return 'Held in both systems, each keeping its own value, until a person resolves it.';
  const who = by ? ` (decided by ${by})` : '';
  if (chosen.system) return `Kept ${chosen.system}\u2019s value \u201c${fmtValue(chosen.value)}\u201d${who}.`;
  return `Wrote \u201c${fmtValue(chosen.value)}\u201d, a value a person entered, to every system${who}.`;
}

/** The sides of a conflict as a small table: system, value, observed at, and which one won. */
export function candidatesTable(candidates, chosen, caption) {
  const won = (c) => chosen && (chosen.system ? chosen.system === c.system : false);
  const lost = (c) => chosen && JSON.stringify(chosen.value) !== JSON.stringify(c.value);
  return h('table', { class: 'conflict-sides' },
    h('caption', { class: caption ? null : 'sr-only' }, caption || 'Both sides of the conflict'),
    h('thead', {}, h('tr', {}, ['System', 'Value', 'Observed', 'Outcome'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, candidates.map((c) => h('tr', { 'data-system': c.system, class: won(c) ? 'won' : null },
      h('th', { scope: 'row' }, c.system),
      h('td', { class: 'conflict-value' }, fmtValue(c.value)),
      h('td', {}, fmtTime(c.observedAt || c.observed_at)),
      h('td', {}, !chosen ? 'held' : won(c) ? 'kept' : lost(c) ? 'replaced' : 'same value')))));
}

/** The detail block of a `ConflictDetected` or `ConflictResolved` event, or null for others. */
export function conflictDetail(event) {
  const p = event.payload || {};
  if (event.type !== 'ConflictDetected' && event.type !== 'ConflictResolved') return null;
  const candidates = Array.isArray(p.candidates) ? p.candidates : [];
  const chosen = p.chosen || null;
  return h('div', { class: 'basis conflict-detail', 'data-conflict': p.conflict_id || '' },
    h('p', {}, h('strong', {}, 'Conflict on '), h('code', {}, p.field || '?'), ' \u00b7 policy ', policyWords(p.policy)),
    candidates.length ? candidatesTable(candidates, chosen) : null,
    h('p', { class: 'conflict-choice' }, h('strong', {}, 'Outcome: '), choiceWords(chosen, event.type === 'ConflictResolved' ? p.by : null)),
    !chosen ? h('p', {}, h('a', { href: '#/conflicts', class: 'to-conflicts' }, 'Resolve it on the Conflicts page')) : null);
}
