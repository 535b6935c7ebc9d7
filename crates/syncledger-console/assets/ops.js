// Operations: is the sync keeping up, and what is stuck? The queue's depth and oldest age over
// time (sampled from `syncStatus` while this page is open, kept for the tab's life), each
// system's recent error rate, the initial sync, the projections with their checkpoints (and,
// for the admin, rebuild with live progress), and the dead letters.

import { gql } from './api.js';
import { queueChart } from './chart.js';
import { deadLetters } from './deadletters.js';
import { clear, fmtPercent, fmtSeconds, fmtTime, h, notice, pageHeading, table } from './dom.js';

const STATUS = `query($tenant: String!) { syncStatus(tenant: $tenant) { tenant queueDepth dueNow
  oldestPendingAgeSeconds errorRate writesSucceeded writesFailed deadLetters lag
  systems { system recentWritesSucceeded recentWritesFailed recentErrorRate }
  initialSyncs { entityType state recordsSeen pages startedAt finishedAt startedBy earlierRuns } } }`;
const PROJECTIONS = `{ projections { name mode checkpoint head lag status rebuildDone rebuildTotal } }`;
const REBUILD = `mutation($name: String!) { rebuildProjection(name: $name) { name status } }`;
const EVERY_MS = 2000;
const KEEP = 900; // 30 minutes of samples at one every 2 s

const samples = new Map();

function sample(status) {
  const list = samples.get(status.tenant) || [];
  list.push({ at: Date.now(), depth: status.queueDepth, age: status.oldestPendingAgeSeconds });
  if (list.length > KEEP) list.splice(0, list.length - KEEP);
  samples.set(status.tenant, list);
  return list;
}

function figure(label, value, id) {
  return h('div', { class: 'figure' }, h('dt', {}, label), h('dd', { id }, value));
}

function statusView(s) {
  return [
    h('dl', { class: 'figures' },
      figure('Queue depth', String(s.queueDepth), 'queue-depth'),
      figure('Due now', String(s.dueNow)),
      figure('Oldest pending', fmtSeconds(s.oldestPendingAgeSeconds)),
      figure('Write error rate', fmtPercent(s.errorRate)),
      figure('Writes ok / failed', `${s.writesSucceeded} / ${s.writesFailed}`),
      figure('Open dead letters', String(s.deadLetters)),
      figure('Projection lag', `${s.lag} events`)),
    queueChart(samples.get(s.tenant) || [], s.tenant),
    h('div', { class: 'two' },
      table('Recent write outcomes per system (the log\u2019s last 10,000 events)', ['System', 'Succeeded', 'Failed', 'Error rate'],
        s.systems.map((x) => h('tr', {}, h('th', { scope: 'row' }, x.system), h('td', { class: 'num' }, String(x.recentWritesSucceeded)),
          h('td', { class: 'num' }, String(x.recentWritesFailed)), h('td', { class: 'num' }, fmtPercent(x.recentErrorRate)))),
        { id: 'system-errors' }),
      table('Initial sync', ['Entity type', 'State', 'Records', 'Pages', 'Started', 'Finished'],
        s.initialSyncs.map((i) => h('tr', {}, h('th', { scope: 'row' }, i.entityType), h('td', {}, i.state.replace('_', ' ')),
          h('td', { class: 'num' }, String(i.recordsSeen)), h('td', { class: 'num' }, String(i.pages)),
          h('td', {}, fmtTime(i.startedAt)), h('td', {}, fmtTime(i.finishedAt)))),
        { id: 'initial-syncs' })),
  ];
}

function tenantSection(tenant) {
  const body = h('div', { 'aria-live': 'off' }, notice('Reading the status\u2026'));
  const section = h('section', { class: 'card', 'aria-labelledby': `t-${tenant}` },
    h('h2', { id: `t-${tenant}` }, `Tenant ${tenant}`), body);
  const refresh = async () => {
    try {
      const s = (await gql(STATUS, { tenant })).syncStatus;
      sample(s);
      clear(body).append(...statusView(s));
    } catch (err) {
      clear(body).append(notice(`The status could not be read: ${err.message}`, 'error'));
    }
  };
  return { section, refresh };
}

function progressCell(p) {
  if (p.status !== 'REBUILDING') return h('td', {}, 'live');
  const done = p.rebuildDone || 0;
  const total = Math.max(p.rebuildTotal || 0, done, 1);
  return h('td', {}, h('label', { class: 'progress-label' }, `rebuilding ${done} / ${total}`,
    h('progress', { max: String(total), value: String(done), class: 'rebuild-progress', 'data-name': p.name })));
}

function projectionsSection(ctx) {
  const body = h('div', {});
  const section = h('section', { class: 'card', 'aria-labelledby': 'proj-h', id: 'projections' },
    h('h2', { id: 'proj-h' }, 'Projections'), body);
  if (!ctx.admin) {
    body.append(notice('Projection checkpoints cover every tenant\u2019s events, so they are shown to the admin token only; this tenant\u2019s own lag is in its status above.'));
    return { section, refresh: async () => {}, rebuilding: () => false };
  }
  let rebuilding = false;
  const refresh = async () => {
    try {
      const list = (await gql(PROJECTIONS)).projections;
      rebuilding = list.some((p) => p.status === 'REBUILDING');
      clear(body).append(table('Each projection\u2019s checkpoint against the head of the log', ['Projection', 'Mode', 'Checkpoint', 'Head', 'Lag', 'Status', ''],
        list.map((p) => {
          const button = h('button', { type: 'button', class: 'secondary rebuild', 'data-name': p.name, disabled: p.status === 'REBUILDING' }, 'Rebuild');
          button.addEventListener('click', async () => {
            button.disabled = true;
            try {
              await gql(REBUILD, { name: p.name });
              rebuilding = true;
              await refresh();
            } catch (err) {
              body.append(notice(`The rebuild of ${p.name} was refused: ${err.message}`, 'error'));
            }
          });
          return h('tr', {}, h('th', { scope: 'row' }, p.name), h('td', {}, p.mode === 'INLINE' ? 'inline' : 'catch-up'),
            h('td', { class: 'num' }, String(p.checkpoint)), h('td', { class: 'num' }, String(p.head)), h('td', { class: 'num' }, String(p.lag)),
            progressCell(p), h('td', {}, button));
        }), { id: 'projection-table' }));
    } catch (err) {
      clear(body).append(notice(`Projections could not be read: ${err.message}`, 'error'));
    }
  };
  return { section, refresh, rebuilding: () => rebuilding };
}

export function render(main, ctx) {
  let stopped = false;
  const tenants = ctx.admin ? ctx.viewer.tenants.map((t) => t.id) : [ctx.tenant];
  const sections = tenants.map(tenantSection);
  const projections = projectionsSection(ctx);
  const letters = deadLetters(ctx, () => stopped);
  main.append(
    pageHeading('Operations', 'Is the sync keeping up, and what is stuck? Figures refresh every 2 seconds while this page is open.'),
    ...sections.map((s) => s.section), projections.section, letters.section);
  let timer = null;
  const tick = async () => {
    await Promise.all([...sections.map((s) => s.refresh()), projections.refresh()]);
    if (!stopped) timer = setTimeout(tick, projections.rebuilding() ? EVERY_MS / 2 : EVERY_MS);
  };
  tick();
  letters.refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
