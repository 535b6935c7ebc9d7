// Operations: is the sync keeping up, and what is stuck? The queue's deepest depth, intake and
// writes minute by minute over the last hour (the ledger's own samples, `opsHistory`, so the
// chart has history the moment the page opens), the write error rate of the last 5 minutes and
// the last hour, each system's recent error rate, the initial sync, the projections with their
// checkpoints (and, for the admin, rebuild, confirmed first, with live progress), and the dead
// letters.

import { gql } from './api.js';
import { queueChart } from './chart.js';
import { deadLetters } from './deadletters.js';
import { clear, fmtPercent, fmtSeconds, fmtTime, h, notice, pageHeading, table } from './dom.js';

const STATUS = `query($tenant: String!) { syncStatus(tenant: $tenant) { tenant queueDepth dueNow
  oldestPendingAgeSeconds errorRate writesSucceeded writesFailed deadLetters lag
  systems { system recentWritesSucceeded recentWritesFailed recentErrorRate }
  initialSyncs { entityType state recordsSeen pages startedAt finishedAt startedBy earlierRuns } }
  opsHistory(tenant: $tenant, minutes: 60) { minute queueDepthMax queueDepthLast intake writesSucceeded writesFailed } }`;
const PROJECTIONS = `{ projections { name mode checkpoint head lag status rebuildDone rebuildTotal } }`;
const REBUILD = `mutation($name: String!) { rebuildProjection(name: $name) { name status } }`;
const EVERY_MS = 2000;

/** The chart's points: one a minute, from the ledger's samples. */
function points(history) {
  return history.map((m) => ({
    at: Date.parse(m.minute),
    depth: m.queueDepthMax,
    depthLast: m.queueDepthLast,
    intake: m.intake,
    writes: (m.writesSucceeded || 0) + (m.writesFailed || 0),
  }));
}

/** The write error rate over the last `minutes` minutes of `history`, in words. */
function errorRate(history, minutes) {
  const since = Date.now() - minutes * 60000;
  let ok = 0;
  let failed = 0;
  for (const m of history) {
    if (Date.parse(m.minute) + 60000 <= since) continue;
    ok += m.writesSucceeded || 0;
    failed += m.writesFailed || 0;
  }
  if (ok + failed === 0) return 'no writes';
  return `${fmtPercent(failed / (ok + failed))} of ${ok + failed}`;
}

function figure(label, value, id) {
  return h('div', { class: 'figure' }, h('dt', {}, label), h('dd', { id }, value));
}

function statusView(s, history) {
  return [
    h('dl', { class: 'figures' },
      figure('Queue depth', String(s.queueDepth), 'queue-depth'),
      figure('Due now', String(s.dueNow)),
      figure('Oldest pending', fmtSeconds(s.oldestPendingAgeSeconds)),
      figure('Write errors, last 5 min', errorRate(history, 5), 'error-rate-5m'),
      figure('Write errors, last hour', errorRate(history, 60), 'error-rate-1h'),
      figure('Writes ok / failed, all time', `${s.writesSucceeded} / ${s.writesFailed}`),
      figure('Open dead letters', String(s.deadLetters)),
      figure('Projection lag', `${s.lag} events`)),
    queueChart(points(history), s.tenant),
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
      const data = await gql(STATUS, { tenant });
      clear(body).append(...statusView(data.syncStatus, data.opsHistory));
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
  // The projection whose rebuild waits for a yes: kept across the refreshes that redraw the table.
  let confirming = null;
  let refresh = async () => {};
  const actions = (p) => {
    if (confirming !== p.name) {
      const button = h('button', { type: 'button', class: 'secondary rebuild', 'data-name': p.name, disabled: p.status === 'REBUILDING' }, 'Rebuild');
      button.addEventListener('click', () => {
        confirming = p.name;
        refresh(true).then(() => {
          const yes = body.querySelector(`button.confirm-rebuild[data-name="${p.name}"]`);
          if (yes) yes.focus();
        });
      });
      return button;
    }
    const yes = h('button', { type: 'button', class: 'primary confirm-rebuild', 'data-name': p.name }, `Yes, rebuild ${p.name}`);
    const no = h('button', { type: 'button', class: 'quiet cancel-rebuild', 'data-name': p.name }, 'Cancel');
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      confirming = null;
      try {
        await gql(REBUILD, { name: p.name });
        rebuilding = true;
        await refresh(true);
      } catch (err) {
        body.append(notice(`The rebuild of ${p.name} was refused: ${err.message}`, 'error'));
      }
    });
    no.addEventListener('click', () => {
      confirming = null;
      refresh(true);
    });
    return h('div', { class: 'confirm-rebuild-box', role: 'group', 'aria-label': `Confirm the rebuild of ${p.name}` },
      h('span', {}, `Rebuild ${p.name}? Every event is read again into a fresh table (the live one keeps serving until the swap).`), yes, no);
  };
  // The 2-second tick leaves the table alone while a rebuild waits for a yes (focus stays put).
  refresh = async (force = false) => {
    if (confirming && !force) return;
    try {
      const list = (await gql(PROJECTIONS)).projections;
      rebuilding = list.some((p) => p.status === 'REBUILDING');
      clear(body).append(table('Each projection\u2019s checkpoint against the head of the log', ['Projection', 'Mode', 'Checkpoint', 'Head', 'Lag', 'Status', ''],
        list.map((p) => h('tr', {}, h('th', { scope: 'row' }, p.name), h('td', {}, p.mode === 'INLINE' ? 'inline' : 'catch-up'),
          h('td', { class: 'num' }, String(p.checkpoint)), h('td', { class: 'num' }, String(p.head)), h('td', { class: 'num' }, String(p.lag)),
          progressCell(p), h('td', {}, actions(p)))), { id: 'projection-table' }));
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
    pageHeading('Operations', 'Is the sync keeping up, and what is stuck? Figures refresh every 2 seconds while this page is open; the chart is the ledger\u2019s own record of the last hour.'),
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
