// audit.js: the audit log as a filterable timeline; each entry opens to
// the diff of its before and after documents.
import { h, clear, put, field, showFieldErrors, timeEl } from './dom.js';
import { get, follow } from './api.js';
import { diffTable } from './diff.js';

/** auditPage renders the audit log with the filters of the URL's query. */
export async function auditPage(main, args, params) {
  const names = ['flag', 'kind', 'key', 'actor', 'since', 'until'];
  const val = (n) => params.get(n) || '';
  const toLocal = (v) => v ? v.replace(/Z$/, '').slice(0, 16) : '';
  const kind = h('select', { id: 'a-kind', name: 'kind' }, ['', 'flag', 'rollout', 'segment', 'environment', 'token'].map((k) => h('option', { value: k, text: k || 'Any kind', selected: k === val('kind') })));
  const form = h('form', { class: 'card filters', role: 'search', 'aria-label': 'Filter the audit log', novalidate: true },
    field('Flag (with its rollouts)', h('input', { id: 'a-flag', name: 'flag', value: val('flag'), autocomplete: 'off', spellcheck: 'false' })),
    field('Kind', kind),
    field('Key', h('input', { id: 'a-key', name: 'key', value: val('key'), autocomplete: 'off', spellcheck: 'false' })),
    field('Actor', h('input', { id: 'a-actor', name: 'actor', value: val('actor'), autocomplete: 'off' })),
    field('Since (UTC)', h('input', { id: 'a-since', name: 'since', type: 'datetime-local', value: toLocal(val('since')) })),
    field('Until (UTC)', h('input', { id: 'a-until', name: 'until', type: 'datetime-local', value: toLocal(val('until')) })),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'a-apply', text: 'Apply' }), h('a', { class: 'button', href: '#/audit', text: 'Clear' })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) {
      if (!v) continue;
      q.set(k, k === 'since' || k === 'until' ? v + ':00Z' : v.trim());
    }
    location.hash = '#/audit' + (q.toString() ? '?' + q : '');
  });
  const list = h('ol', { class: 'timeline', id: 'audit' });
  const more = h('button', { type: 'button', id: 'a-more', text: 'Older entries', hidden: true });
  const errBox = h('div');
  main.append(h('h1', { text: 'Audit log' }), form, errBox, list, more);

  const query = new URLSearchParams();
  for (const n of names) if (val(n)) query.set(n, val(n));
  let oldest = 0;

  function entry(e) {
    const diffBox = h('div', { class: 'diff-box', id: 'diff-' + e.id, hidden: true });
    const btn = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false', 'aria-controls': 'diff-' + e.id, text: 'Show changes' });
    btn.addEventListener('click', () => {
      const open = btn.getAttribute('aria-expanded') !== 'true';
      btn.setAttribute('aria-expanded', String(open));
      btn.textContent = open ? 'Hide changes' : 'Show changes';
      if (open && !diffBox.firstChild) diffBox.append(diffTable(e.before, e.after));
      diffBox.hidden = !open;
    });
    const target = e.kind === 'flag' || e.kind === 'rollout' ? h('a', { href: '#/flags/' + encodeURIComponent(e.key) }, h('code', { text: e.key })) : h('code', { text: e.key });
    return h('li', { class: 'entry', data: { id: String(e.id), action: e.action } },
      h('div', { class: 'entry-head' },
        timeEl(e.time), ' ',
        h('strong', { text: e.actor || '–' }), ' ',
        h('span', { class: 'badge action', text: e.action }), ' ', e.kind, ' ', target,
        e.environment ? h('span', { class: 'muted', text: ` in ${e.environment}` }) : null, ' ',
        (e.before || e.after) ? btn : null),
      diffBox);
  }

  async function page(before) {
    const q = new URLSearchParams(query);
    q.set('limit', '50');
    if (before) q.set('before', String(before));
    try {
      const { entries } = await get('/api/v1/audit?' + q);
      list.append(...entries.map(entry));
      if (entries.length) oldest = entries[entries.length - 1].id;
      more.hidden = entries.length < 50;
      if (!before && !entries.length) list.append(h('li', { class: 'muted', text: 'No entry matches.' }));
      clear(errBox);
    } catch (err) {
      const rest = showFieldErrors(form, err.errors);
      put(errBox, h('div', { class: 'alert error', role: 'alert', text: err.message }), rest.map((e) => h('p', { text: e.message })));
    }
  }
  more.addEventListener('click', () => page(oldest));
  await page(0);

  let t = null;
  return follow('', {
    change: () => {
      clearTimeout(t);
      t = setTimeout(async () => { clear(list); await page(0); }, 150);
    },
  });
}
