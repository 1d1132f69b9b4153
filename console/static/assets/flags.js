// flags.js: the list of flags with search and filters, and the form that
// creates a flag.
import { h, clear, put, field, showFieldErrors, fmtPct, timeEl } from './dom.js';
import { get, request, follow, percentage, flagPath } from './api.js';

// The filters outlive the page, so that coming back from a flag keeps them.
const filters = { q: '', env: '', tag: '', owner: '', state: '', stale: '' };

const DAY = 86400000;

/** stateOf names what env of the flag serves: off, on-0, partial, full. */
function stateOf(flag, env) {
  const fe = flag.environments && flag.environments[env];
  if (!fe || !fe.on) return 'off';
  const p = percentage(flag, env);
  if (p === 0) return 'on-0';
  if (p === 100) return 'full';
  return 'partial';
}

function matches(flag, envs, active) {
  const q = filters.q.trim().toLowerCase();
  if (q && !flag.key.includes(q) && !(flag.name || '').toLowerCase().includes(q) && !(flag.description || '').toLowerCase().includes(q)) return false;
  if (filters.tag && !(flag.tags || []).includes(filters.tag)) return false;
  if (filters.owner && flag.owner !== filters.owner) return false;
  const inEnvs = filters.env ? [filters.env] : envs;
  if (filters.state) {
    const ok = inEnvs.some((e) => filters.state === 'rollout' ? active.has(flag.key + '\u0000' + e) : stateOf(flag, e) === filters.state);
    if (!ok) return false;
  }
  if (filters.stale !== '') {
    const days = Number(filters.stale);
    const age = Date.now() - new Date(flag.updatedAt).getTime();
    if (age < days * DAY) return false;
    if (!inEnvs.every((e) => [0, 100].includes(percentage(flag, e)))) return false;
  }
  return true;
}

function envCell(flag, env, active) {
  const st = stateOf(flag, env);
  const p = percentage(flag, env);
  const label = { off: 'off', 'on-0': 'on', partial: 'on', full: 'on' }[st];
  const rolling = active.get(flag.key + '\u0000' + env);
  return h('td', { class: 'env-cell', data: { env, state: st } },
    h('span', { class: 'badge ' + st, text: label }), ' ',
    h('span', { class: 'pct', text: fmtPct(p) }),
    rolling ? [' ', h('a', { class: 'badge rollout', href: '#/rollouts/' + rolling.id, text: 'rollout', 'aria-label': `rollout ${rolling.id} in ${env}` })] : null);
}

/** flagsPage renders the flag list; it refreshes on every change. */
export async function flagsPage(main) {
  const [envs, flagList, rolloutList] = await Promise.all([
    get('/api/v1/environments'), get('/api/v1/flags'), get('/api/v1/rollouts?active=true'),
  ]);
  const envKeys = envs.environments.map((e) => e.key);
  let flags = flagList.flags;
  let active = new Map(rolloutList.rollouts.map((r) => [r.flag + '\u0000' + r.environment, r]));

  const tags = () => [...new Set(flags.flatMap((f) => f.tags || []))].sort();
  const owners = () => [...new Set(flags.map((f) => f.owner).filter(Boolean))].sort();
  const select = (id, label, options, all) => {
    const el = h('select', { id, name: id },
      h('option', { value: '', text: all }),
      options.map(([v, t]) => h('option', { value: v, text: t, selected: filters[id] === v })));
    el.value = filters[id];
    el.addEventListener('change', () => { filters[id] = el.value; render(); });
    return field(label, el);
  };
  const search = h('input', { id: 'q', name: 'q', type: 'search', value: filters.q, placeholder: 'key, name or description', autocomplete: 'off' });
  search.addEventListener('input', () => { filters.q = search.value; render(); });
  const stale = h('input', { id: 'stale', name: 'stale', type: 'number', min: '0', step: '1', value: filters.stale, inputmode: 'numeric', placeholder: 'days' });
  stale.addEventListener('input', () => { filters.stale = stale.value; render(); });

  const filterBox = h('div', { class: 'filters' });
  const drawFilters = () => put(filterBox,
    field('Search', search),
    select('env', 'Environment', envKeys.map((e) => [e, e]), 'All environments'),
    select('tag', 'Tag', tags().map((t) => [t, t]), 'Any tag'),
    select('owner', 'Owner', owners().map((o) => [o, o]), 'Any owner'),
    select('state', 'State', [['off', 'Off'], ['on-0', 'On at 0%'], ['partial', 'Partly rolled out'], ['full', 'On at 100%'], ['rollout', 'Guarded rollout running']], 'Any state'),
    field('Stale for (days)', stale, 'Unchanged this long at 0% or 100%'));
  drawFilters();

  const count = h('p', { class: 'muted', id: 'flag-count', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'flags', id: 'flags' },
    h('caption', { class: 'sr-only', text: 'Flags and their state in each environment' }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'Flag' }), h('th', { scope: 'col', text: 'Owner' }), h('th', { scope: 'col', text: 'Tags' }),
      envKeys.map((e) => h('th', { scope: 'col', text: e })),
      h('th', { scope: 'col', text: 'Changed' }))),
    tbody));

  function render() {
    const shown = flags.filter((f) => matches(f, envKeys, active));
    count.textContent = `${shown.length} of ${flags.length} flags`;
    put(tbody, shown.map((f) => h('tr', { data: { flag: f.key } },
      h('th', { scope: 'row' }, h('a', { href: '#/flags/' + encodeURIComponent(f.key), text: f.key }),
        f.name ? h('div', { class: 'muted small', text: f.name }) : null),
      h('td', { text: f.owner || '–' }),
      h('td', {}, (f.tags || []).map((t) => h('span', { class: 'tag', text: t }))),
      envKeys.map((e) => envCell(f, e, active)),
      h('td', { class: 'small' }, timeEl(f.updatedAt)))));
    if (!shown.length) tbody.append(h('tr', {}, h('td', { colspan: String(envKeys.length + 4), class: 'muted', text: flags.length ? 'No flag matches these filters.' : 'No flags yet: create one.' })));
  }

  main.append(
    h('div', { class: 'page-head' }, h('h1', { text: 'Flags' }), h('a', { class: 'button primary', href: '#/flags/new', text: 'New flag' })),
    h('form', { role: 'search', class: 'card', 'aria-label': 'Filter flags', onsubmit: (e) => e.preventDefault() }, filterBox),
    count, table);
  render();

  let pending = null;
  return follow('', {
    change: () => {
      clearTimeout(pending);
      pending = setTimeout(async () => {
        try {
          const [fl, rl] = await Promise.all([get('/api/v1/flags'), get('/api/v1/rollouts?active=true')]);
          flags = fl.flags;
          active = new Map(rl.rollouts.map((r) => [r.flag + '\u0000' + r.environment, r]));
          render();
        } catch { /* the next change retries */ }
      }, 100);
    },
  });
}

/** newFlagPage is the form that creates a flag. */
export async function newFlagPage(main) {
  const type = h('select', { id: 'type', name: 'type' }, ['boolean', 'string', 'number', 'object'].map((t) => h('option', { value: t, text: t })));
  const variants = h('textarea', { id: 'variants', name: 'variants', rows: '4', spellcheck: 'false', placeholder: 'on = true\noff = false' });
  const variantsField = field('Variants', variants, 'One a line: key = JSON value. The first is the default (served while off).');
  variantsField.hidden = true;
  type.addEventListener('change', () => { variantsField.hidden = type.value === 'boolean'; });
  const form = h('form', { class: 'card form', id: 'new-flag', novalidate: true },
    h('div', { class: 'alert error', role: 'alert', id: 'form-error', hidden: true }),
    field('Key', h('input', { id: 'key', name: 'key', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'checkout-v2' }), 'Lower-case letters, digits, ".", "_" and "-".'),
    field('Name', h('input', { id: 'name', name: 'name', autocomplete: 'off' })),
    field('Description', h('textarea', { id: 'description', name: 'description', rows: '2' })),
    field('Owner', h('input', { id: 'owner', name: 'owner', autocomplete: 'off' })),
    field('Tags', h('input', { id: 'tags', name: 'tags', autocomplete: 'off' }), 'Comma-separated.'),
    field('Type', type, 'Boolean flags get the variants on (true) and off (false), off by default.'),
    variantsField,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'create', text: 'Create flag' }), h('a', { href: '#/flags', class: 'button', text: 'Cancel' })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const fd = new FormData(form);
    const flag = {
      key: fd.get('key').trim(), name: fd.get('name').trim(), description: fd.get('description').trim(),
      owner: fd.get('owner').trim(), tags: fd.get('tags').split(',').map((t) => t.trim()).filter(Boolean), type: type.value,
    };
    const errBox = form.querySelector('#form-error');
    errBox.hidden = true;
    if (type.value === 'boolean') {
      flag.variants = [{ key: 'on', value: true }, { key: 'off', value: false }];
      flag.defaultVariant = 'off';
    } else {
      flag.variants = [];
      const bad = [];
      for (const [i, line] of variants.value.split('\n').entries()) {
        if (!line.trim()) continue;
        const [k, ...rest] = line.split('=');
        const raw = rest.join('=').trim();
        try { flag.variants.push({ key: k.trim(), value: JSON.parse(raw) }); } catch {
          bad.push({ field: 'variants', message: `line ${i + 1}: ${JSON.stringify(raw)} is not a JSON value (strings need quotes)` });
        }
      }
      if (bad.length) { showFieldErrors(form, bad); return; }
      flag.defaultVariant = flag.variants.length ? flag.variants[0].key : '';
    }
    try {
      const { data } = await request('POST', '/api/v1/flags', flag);
      location.hash = '#/flags/' + encodeURIComponent(data.key);
    } catch (err) {
      const rest = showFieldErrors(form, err.errors, (f) => f.startsWith('variants') ? 'variants' : f);
      if (rest.length || !err.errors.length) {
        errBox.hidden = false;
        put(errBox, err.message, rest.length ? h('ul', {}, rest.map((e) => h('li', { text: `${e.field}: ${e.message}` }))) : null);
      }
      const first = form.querySelector('[aria-invalid]');
      if (first) first.focus();
    }
  });
  main.append(h('h1', { text: 'New flag' }), form);
  form.querySelector('#key').focus();
}

export { flagPath };
