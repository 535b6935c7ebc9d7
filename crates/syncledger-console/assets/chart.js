// A small line chart in SVG for one tenant's last hour, minute by minute, from the ledger's own
// samples (`opsHistory`): the deepest queue of each minute on the left axis, the minute's intake
// and writes on the right. Lines differ by dash as well as colour, and a text summary beside the
// chart says the same in words.

import { h, svg } from './dom.js';

const W = 640;
const H = 180;
const PAD = { left: 44, right: 52, top: 12, bottom: 24 };

function scale(values) {
  const max = Math.max(1, ...values);
  const nice = 10 ** Math.floor(Math.log10(max));
  return Math.ceil(max / nice) * nice;
}

function line(points, pick, max, cls, t0, span) {
  if (points.length < 2) return null;
  const x = (p) => PAD.left + ((p.at - t0) / span) * (W - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - v / max) * (H - PAD.top - PAD.bottom);
  const coords = points.map((p) => `${x(p).toFixed(1)},${y(pick(p) || 0).toFixed(1)}`).join(' ');
  return svg('polyline', { points: coords, class: cls, fill: 'none' });
}

/** The chart of `points` (`{at, depth, intake, writes}`, one a minute, oldest first). */
export function queueChart(points, tenant) {
  const depthMax = scale(points.map((p) => p.depth));
  const rateMax = scale(points.flatMap((p) => [p.intake || 0, p.writes || 0]));
  const last = points[points.length - 1];
  const t0 = points.length ? points[0].at : 0;
  const span = Math.max(60000, last ? last.at - t0 : 0);
  const minutes = points.length ? Math.round(span / 60000) + 1 : 0;
  const peak = Math.max(0, ...points.map((p) => p.depth));
  const sum = (k) => points.reduce((n, p) => n + (p[k] || 0), 0);
  const words = last
    ? `Peak queue depth ${peak} over the last ${minutes} min (${points.length} minute${points.length === 1 ? '' : 's'} sampled); now ${last.depthLast}. Intake ${sum('intake')}, writes ${sum('writes')} in that time.`
    : 'No samples yet: the ledger samples every 5 seconds.';
  const gy = (f) => PAD.top + f * (H - PAD.top - PAD.bottom);
  // Grid lines at 0, half and the top; labels at 0 and the top only, which are always whole.
  const grid = [0, 0.5, 1].map((f) => [
    svg('line', { x1: PAD.left, x2: W - PAD.right, y1: gy(f), y2: gy(f), class: 'grid' }),
    f === 0.5 ? null : svg('text', { x: PAD.left - 6, y: gy(f) + 4, class: 'axis', 'text-anchor': 'end' }, String(depthMax * (1 - f))),
    f === 0.5 ? null : svg('text', { x: W - PAD.right + 6, y: gy(f) + 4, class: 'axis' }, `${rateMax * (1 - f)}/min`),
  ]);
  // A single minute is drawn as a flat line across the chart.
  const drawn = points.length === 1 ? [{ ...points[0], at: t0 }, { ...points[0], at: t0 + span }] : points;
  return h('figure', { class: 'chart', id: `chart-${tenant}`, 'data-peak': String(peak) },
    svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Queue of ${tenant} over time. ${words}` },
      grid,
      svg('text', { x: PAD.left, y: H - 6, class: 'axis' }, `${minutes} min ago`),
      svg('text', { x: W - PAD.right, y: H - 6, class: 'axis', 'text-anchor': 'end' }, 'now'),
      line(drawn, (p) => p.depth, depthMax, 'series-depth', t0, span),
      line(drawn, (p) => p.intake, rateMax, 'series-age', t0, span),
      line(drawn, (p) => p.writes, rateMax, 'series-writes', t0, span)),
    h('figcaption', {},
      h('span', { class: 'legend legend-depth' }, 'deepest queue each minute (left axis, solid)'),
      h('span', { class: 'legend legend-age' }, 'intake per minute (right axis, dashed)'),
      h('span', { class: 'legend legend-writes' }, 'writes per minute (right axis, dotted)'),
      h('span', { class: 'chart-words' }, words)));
}
