// charts.js draws small line charts as SVG, with no library. Colours come
// from the stylesheet (classes), so that dark mode restyles them.
import { h, s } from './dom.js';

const W = 640, H = 220, PAD = { l: 56, r: 12, t: 12, b: 28 };

/**
 * lineChart returns a <figure> with one line per series. series: [{name,
 * cls, points: [[timeMs, value]]}]; fmt formats values for the axis and
 * the accessible summary; step draws steps (a value holds until the next);
 * minSpan is the least height of the value axis.
 */
export function lineChart({ id, title, series, fmt, step = false, yMin = 0, yMax, minSpan = 1 }) {
  const all = series.flatMap((x) => x.points);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': id + '-cap', class: 'chart', preserveAspectRatio: 'xMidYMid meet' });
  const fig = h('figure', { class: 'chart-box', id, data: { points: String(all.length) } }, svg);
  if (!all.length) {
    svg.append(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'no analysis yet'));
  } else {
    const t0 = Math.min(...all.map((p) => p[0]));
    const t1 = Math.max(...all.map((p) => p[0]), t0 + 1000);
    // Leave headroom above the highest point, and keep a flat line at
    // zero from filling the chart with noise-sized ticks.
    let y1 = yMax ?? Math.max(...all.map((p) => p[1])) * 1.1;
    if (!(y1 >= yMin + minSpan)) y1 = yMin + minSpan;
    const x = (t) => PAD.l + ((t - t0) / (t1 - t0)) * (W - PAD.l - PAD.r);
    const y = (v) => H - PAD.b - ((v - yMin) / (y1 - yMin)) * (H - PAD.t - PAD.b);
    for (const f of [0, 0.5, 1]) {
      const v = yMin + f * (y1 - yMin);
      svg.append(s('line', { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: 'grid' }),
        s('text', { x: PAD.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, fmt(v)));
    }
    svg.append(s('text', { x: PAD.l, y: H - 8, class: 'axis' }, new Date(t0).toLocaleTimeString()),
      s('text', { x: W - PAD.r, y: H - 8, 'text-anchor': 'end', class: 'axis' }, new Date(t1).toLocaleTimeString()));
    for (const ser of series) {
      if (!ser.points.length) continue;
      let d = '';
      ser.points.forEach(([t, v], i) => {
        if (i === 0) d += `M${x(t).toFixed(1)},${y(v).toFixed(1)}`;
        else if (step) d += `H${x(t).toFixed(1)}V${y(v).toFixed(1)}`;
        else d += `L${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      });
      svg.append(s('path', { d, class: 'line ' + ser.cls }));
      const [lt, lv] = ser.points[ser.points.length - 1];
      svg.append(s('circle', { cx: x(lt), cy: y(lv), r: 3.5, class: 'dot ' + ser.cls }));
    }
  }
  const last = series.map((x) => x.points.length ? `${x.name} ${fmt(x.points[x.points.length - 1][1])}` : `${x.name}: no data`).join(', ');
  fig.append(h('figcaption', { id: id + '-cap' },
    h('strong', { text: title }), ' ',
    h('span', { class: 'legend' }, series.map((x) => h('span', { class: 'key ' + x.cls, text: x.name }))),
    h('span', { class: 'sr-only', text: `. Latest: ${last}.` })));
  return fig;
}
