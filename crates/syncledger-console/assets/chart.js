// A small line chart in SVG for the queue's depth and its oldest item's age over time. Two
// series share the time axis, each with its own scale; lines differ by dash as well as colour, and
// a text summary beside the chart says the same in words.

import { h, svg } from './dom.js';

const W = 640;
const H = 180;
const PAD = { left: 44, right: 52, top: 12, bottom: 24 };

function scale(values) {
  const max = Math.max(1, ...values);
  const nice = 10 ** Math.floor(Math.log10(max));
  return Math.ceil(max / nice) * nice;
}

function line(samples, pick, max, cls) {
  if (samples.length < 2) return null;
  const t0 = samples[0].at;
  const span = Math.max(1, samples[samples.length - 1].at - t0);
  const x = (s) => PAD.left + ((s.at - t0) / span) * (W - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - v / max) * (H - PAD.top - PAD.bottom);
  const points = samples.map((s) => `${x(s).toFixed(1)},${y(pick(s)).toFixed(1)}`).join(' ');
  return svg('polyline', { points, class: cls, fill: 'none' });
}

/** The chart of `samples` (`{at, depth, age}`), with its legend and a summary in words. */
export function queueChart(samples, tenant) {
  const depthMax = scale(samples.map((s) => s.depth));
  const ageMax = scale(samples.map((s) => s.age));
  const last = samples[samples.length - 1];
  const minutes = samples.length > 1 ? ((last.at - samples[0].at) / 60000).toFixed(1) : '0';
  const words = last
    ? `Queue depth ${last.depth}, oldest item ${last.age.toFixed(1)} s old; peak depth ${Math.max(...samples.map((s) => s.depth))} over the last ${minutes} min (${samples.length} samples).`
    : 'No samples yet.';
  const gy = (f) => PAD.top + f * (H - PAD.top - PAD.bottom);
  // Grid lines at 0, half and the top; labels at 0 and the top only, which are always whole.
  const grid = [0, 0.5, 1].map((f) => [
    svg('line', { x1: PAD.left, x2: W - PAD.right, y1: gy(f), y2: gy(f), class: 'grid' }),
    f === 0.5 ? null : svg('text', { x: PAD.left - 6, y: gy(f) + 4, class: 'axis', 'text-anchor': 'end' }, String(depthMax * (1 - f))),
    f === 0.5 ? null : svg('text', { x: W - PAD.right + 6, y: gy(f) + 4, class: 'axis' }, `${ageMax * (1 - f)} s`),
  ]);
  return h('figure', { class: 'chart' },
    svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Queue of ${tenant} over time. ${words}` },
      grid,
      svg('text', { x: PAD.left, y: H - 6, class: 'axis' }, `${minutes} min ago`),
      svg('text', { x: W - PAD.right, y: H - 6, class: 'axis', 'text-anchor': 'end' }, 'now'),
      line(samples, (s) => s.depth, depthMax, 'series-depth'),
      line(samples, (s) => s.age, ageMax, 'series-age')),
    h('figcaption', {},
      h('span', { class: 'legend legend-depth' }, 'queue depth (left axis, solid)'),
      h('span', { class: 'legend legend-age' }, 'oldest item\u2019s age (right axis, dashed)'),
      h('span', { class: 'chart-words' }, words)));
}
