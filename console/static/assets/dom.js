// dom.js builds elements without HTML strings, so that no value from the
// API is ever parsed as markup.

/**
 * h creates an element. attrs: class, text, for, on* handlers, dataset
 * (data), aria-* and any other attribute; children: nodes, strings,
 * arrays, null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVGNS = 'http://www.w3.org/2000/svg';

/** s creates an SVG element. */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'data') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden' || k === 'required') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** clear removes every child of el and returns it. */
export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** field wraps an input with its label and a slot for its error. */
export function field(label, input, hint) {
  const id = input.id;
  const err = h('p', { class: 'field-error', id: id + '-error', hidden: true });
  input.setAttribute('aria-describedby', (hint ? id + '-hint ' : '') + id + '-error');
  return h('div', { class: 'field', data: { field: input.name || id } },
    h('label', { for: id, text: label }),
    input,
    hint ? h('p', { class: 'hint', id: id + '-hint', text: hint }) : null,
    err);
}

/** showFieldErrors puts each API field error next to its input in form. */
export function showFieldErrors(form, errors, map = (f) => f) {
  for (const el of form.querySelectorAll('.field-error')) { el.hidden = true; el.textContent = ''; }
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const rest = [];
  for (const e of errors || []) {
    const name = map(e.field);
    const input = name && form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!input) { rest.push(e); continue; }
    const slot = form.querySelector('#' + CSS.escape(input.id) + '-error');
    slot.hidden = false;
    slot.textContent = (slot.textContent ? slot.textContent + ' ' : '') + (name === e.field ? '' : e.field + ': ') + e.message;
    input.setAttribute('aria-invalid', 'true');
  }
  return rest;
}

/** fmtPct formats a percentage. */
export function fmtPct(p) {
  if (p === undefined || p === null || Number.isNaN(p)) return '–';
  return (Math.round(p * 1000) / 1000) + '%';
}

/** fmtRate formats a rate in [0,1] as a percentage. */
export function fmtRate(r) {
  if (r === undefined || r === null || Number.isNaN(r)) return '–';
  if (r === 0) return '0%';
  return (r * 100).toFixed(r < 0.001 ? 3 : 2) + '%';
}

/** fmtSeconds formats seconds of latency. */
export function fmtSeconds(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return '–';
  return v < 1 ? Math.round(v * 1000) + ' ms' : v.toFixed(2) + ' s';
}

/** fmtDuration formats milliseconds as 1d2h, 3m4s or 5s. */
export function fmtDuration(ms) {
  if (ms < 0) ms = 0;
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${d}d${hh ? hh + 'h' : ''}`;
  if (hh) return `${hh}h${m ? m + 'm' : ''}`;
  if (m) return `${m}m${s ? s + 's' : ''}`;
  return `${s}s`;
}

/** fmtTime formats an RFC 3339 time for people, in their time zone. */
export function fmtTime(t) {
  if (!t) return '–';
  const d = new Date(t);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** timeEl is a <time> element for t. */
export function timeEl(t) {
  return h('time', { datetime: t, text: fmtTime(t) });
}

/** parseDuration reads Go durations such as 72h, 1h30m, 20s, 4d. */
export function parseDuration(v) {
  if (typeof v === 'number') return v / 1e6; // nanoseconds
  if (!v) return 0;
  const re = /(\d+(?:\.\d+)?)(ms|d|h|m|s)/g;
  let ms = 0, m;
  while ((m = re.exec(v))) ms += parseFloat(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 }[m[2]];
  return ms;
}

/** put replaces the children of el, skipping null and flattening arrays. */
export function put(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}
