// diff.js compares two JSON documents path by path.
import { h } from './dom.js';

function flatten(v, prefix, out) {
  if (v !== null && typeof v === 'object') {
    const keys = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v).sort();
    if (!keys.length) out.set(prefix || '(root)', JSON.stringify(v));
    for (const k of keys) flatten(v[k], prefix === '' ? String(k) : Array.isArray(v) ? `${prefix}[${k}]` : `${prefix}.${k}`, out);
  } else if (v !== undefined) {
    out.set(prefix || '(root)', JSON.stringify(v));
  }
  return out;
}

/** changes lists [path, before, after] for every path that differs. */
export function changes(before, after) {
  const a = flatten(before ?? null, '', new Map());
  const b = flatten(after ?? null, '', new Map());
  if (before == null) a.clear();
  if (after == null) b.clear();
  const rows = [];
  for (const p of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(p) !== b.get(p)) rows.push([p, a.get(p), b.get(p)]);
  }
  return rows.sort((x, y) => x[0].localeCompare(y[0]));
}

/** diffTable renders the changes between two documents. */
export function diffTable(before, after, labels = ['Before', 'After']) {
  const rows = changes(before, after);
  if (!rows.length) return h('p', { class: 'muted', text: 'No difference.' });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'diff' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Field' }), h('th', { scope: 'col', text: labels[0] }), h('th', { scope: 'col', text: labels[1] }))),
    h('tbody', {}, rows.map(([p, x, y]) => h('tr', {},
      h('th', { scope: 'row' }, h('code', { text: p })),
      h('td', { class: 'del' }, x === undefined ? h('span', { class: 'muted', text: '—' }) : h('code', { text: x })),
      h('td', { class: 'ins' }, y === undefined ? h('span', { class: 'muted', text: '—' }) : h('code', { text: y })))))));
}
