// flag.js: one flag — its environments with percentage and kill switch,
// guarded rollouts, variants, rules, segments, and the edit form with the
// API's validation messages and version conflicts.
import { h, clear, put, field, showFieldErrors, fmtPct, timeEl } from './dom.js';
import { get, request, follow, percentage, flagPath, APIError } from './api.js';
import { diffTable } from './diff.js';

function clauseText(c) {
  const vals = (c.values || []).join(', ');
  return c.op === 'inSegment' || c.op === 'notInSegment' ? `${c.op} ${vals}` : `${c.attribute} ${c.op} ${vals}`;
}

function serveText(s) {
  if (!s) return '–';
  if (s.variant) return s.variant;
  return (s.split || []).map((a) => `${a.variant} ${fmtPct(a.percent)}`).join(' / ') + (s.bucketBy ? ` by ${s.bucketBy}` : '');
}

// rolledOut names the one variant besides the off variant that the
// fallthrough serves, as the server does, or ''.
function rolledOut(fe, off) {
  const ft = fe.fallthrough || {};
  if (ft.variant) return ft.variant === off ? '' : ft.variant;
  const others = [...new Set((ft.split || []).map((a) => a.variant).filter((v) => v !== off))];
  return others.length === 1 ? others[0] : '';
}

function segmentKeys(flag) {
  const keys = new Set();
  for (const fe of Object.values(flag.environments || {})) {
    for (const r of fe.rules || []) for (const c of r.clauses || []) if (c.op === 'inSegment' || c.op === 'notInSegment') for (const v of c.values || []) keys.add(v);
  }
  return [...keys].sort();
}

// parseStages reads "5:30s,25:1m,100" into plan stages.
function parseStages(text) {
  return text.split(',').map((s) => s.trim()).filter(Boolean).map((item) => {
    const [p, d] = item.split(':');
    const st = { percent: Number(p.replace('%', '')) };
    if (d) st.duration = d.trim();
    return st;
  });
}

/** flagPage renders a flag and follows its changes. */
export async function flagPage(main, [key], params, app) {
  const [envList, templates, segList] = await Promise.all([
    get('/api/v1/environments'), get('/api/v1/rollout-templates'), get('/api/v1/segments'),
  ]);
  const envKeys = envList.environments.map((e) => e.key);
  let flag, etag, rollouts = [];
  const killed = {}; // env -> message of the last kill switch

  async function load() {
    const r = await request('GET', flagPath(key));
    flag = r.data; etag = r.etag;
    rollouts = (await get('/api/v1/rollouts?flag=' + encodeURIComponent(key) + '&limit=20')).rollouts;
  }
  await load();

  const head = h('div');
  const envBox = h('section', { 'aria-labelledby': 'envs-h' });
  const rolloutBox = h('section', { 'aria-labelledby': 'rollouts-h' });
  const detailBox = h('section', { 'aria-labelledby': 'variants-h' });
  const editBox = h('section', { 'aria-labelledby': 'edit-h' });
  main.append(head, envBox, rolloutBox, detailBox, editBox);

  function drawHead() {
    put(head,
      h('p', { class: 'crumbs' }, h('a', { href: '#/flags', text: 'Flags' }), ' / '),
      h('div', { class: 'page-head' },
        h('h1', {}, h('code', { text: flag.key }), flag.name ? h('span', { class: 'muted', text: ' ' + flag.name }) : null),
        h('a', { class: 'button', href: '#/audit?flag=' + encodeURIComponent(flag.key), text: 'Audit log' })),
      flag.description ? h('p', { text: flag.description }) : null,
      h('dl', { class: 'facts' },
        h('dt', { text: 'Type' }), h('dd', { text: flag.type }),
        h('dt', { text: 'Owner' }), h('dd', { text: flag.owner || '–' }),
        h('dt', { text: 'Tags' }), h('dd', {}, (flag.tags || []).length ? flag.tags.map((t) => h('span', { class: 'tag', text: t })) : '–'),
        h('dt', { text: 'Version' }), h('dd', { id: 'flag-version', text: String(flag.version) }),
        h('dt', { text: 'Changed' }), h('dd', {}, timeEl(flag.updatedAt))));
  }

  function envCard(env) {
    const fe = (flag.environments || {})[env] || {};
    const p = percentage(flag, env);
    const active = rollouts.find((r) => r.environment === env && ['pending', 'running', 'paused'].includes(r.status));
    // data-etag is the version the percentage is set against; data-dirty
    // marks a value someone typed, which redraws keep (see drawEnvs).
    const pctInput = h('input', { id: 'pct-' + env, name: 'percentage', type: 'number', min: '0', max: '100', step: '0.001', inputmode: 'decimal', required: true, value: String(p), data: etag ? { etag } : {} });
    pctInput.addEventListener('input', () => { pctInput.dataset.dirty = '1'; });
    const pctForm = h('form', { class: 'inline', novalidate: true, 'aria-label': `Set the percentage in ${env}` },
      field('Percentage', pctInput), h('button', { type: 'submit', id: 'set-' + env, text: 'Set' }));
    pctForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const r = await request('POST', flagPath(key) + '/environments/' + encodeURIComponent(env) + '/percentage',
          { percentage: pctInput.value === '' ? null : Number(pctInput.value) }, { ifMatch: pctInput.dataset.etag });
        flag = r.data; etag = r.etag; delete killed[env];
        delete pctInput.dataset.dirty;
        app.toast(`${key} serves ${fmtPct(percentage(flag, env))} in ${env}`);
        drawAll();
      } catch (err) {
        if (err.status !== 409) {
          showFieldErrors(pctForm, err.errors.length ? err.errors : [{ field: 'percentage', message: err.message }]);
          return;
        }
        // Someone else changed the flag since this card was drawn: show
        // their change, keep the typed value, and let a second Set apply
        // it to what is now on the page.
        try { await load(); } catch { /* the stream refreshes the page */ }
        drawAll();
        const input = document.getElementById('pct-' + env);
        input.dataset.etag = etag;
        showFieldErrors(input.form, [{ field: 'percentage', message: `someone else changed this flag meanwhile (it is now at version ${err.problem.currentVersion ?? flag.version}); check the figures above and press Set again to apply ${input.value}%` }]);
        input.focus();
      }
    });
    const kill = h('button', { type: 'button', class: 'danger kill', id: 'kill-' + env, text: 'Kill switch', 'aria-label': `Kill switch: roll ${key} back to 0% in ${env}` });
    kill.addEventListener('click', async () => {
      const ok = await app.confirmDialog(`Roll back ${key} in ${env}?`,
        `Everyone in ${env} gets the off variant at once${active ? ', and rollout ' + active.id + ' is aborted' : ''}. The change is in the audit log.`, 'Roll back to 0%');
      if (!ok) return;
      const t0 = performance.now();
      try {
        const r = await request('POST', flagPath(key) + '/environments/' + encodeURIComponent(env) + '/rollback');
        flag = r.data; etag = r.etag;
        const ms = Math.round(performance.now() - t0);
        killed[env] = `Rolled back to ${fmtPct(percentage(flag, env))} in ${ms} ms`;
        app.toast(`${key} rolled back in ${env}: 0% in ${ms} ms`, 'danger');
        await load();
        drawAll();
        document.getElementById('kill-' + env)?.focus();
      } catch (err) {
        app.toast('Kill switch failed: ' + err.message, 'danger');
      }
    });
    return h('article', { class: 'card env', id: 'env-' + env, data: { env } },
      h('header', {}, h('h3', { text: env }), h('span', { class: 'badge ' + (fe.on ? 'on' : 'off'), text: fe.on ? 'on' : 'off' })),
      h('p', { class: 'big' }, h('span', { class: 'pct', id: 'pct-value-' + env, text: fmtPct(p) }),
        h('span', { class: 'muted small', text: ` of users get ${rolledOut(fe, fe.offVariant || flag.defaultVariant) || 'a variant other than the off variant'}` })),
      killed[env] ? h('p', { class: 'alert danger', role: 'status', id: 'killed-' + env, text: killed[env] }) : null,
      h('p', { class: 'small' }, 'Fallthrough: ', h('code', { text: serveText(fe.fallthrough) }), ' · off variant ', h('code', { text: fe.offVariant || flag.defaultVariant }),
        ' · ', String((fe.rules || []).length), ' rules'),
      active ? h('p', {}, h('a', { class: 'badge rollout', href: '#/rollouts/' + active.id, id: 'rollout-link-' + env, text: `Rollout ${active.id}: ${active.status}` })) : null,
      pctForm,
      h('div', { class: 'actions' }, kill));
  }

  function drawEnvs() {
    // A percentage someone typed survives the redraw, with the version it
    // was typed on: setting it after another change meets the conflict.
    const typed = {};
    for (const env of envKeys) {
      const old = document.getElementById('pct-' + env);
      if (old && old.dataset.dirty) typed[env] = { value: old.value, etag: old.dataset.etag };
    }
    put(envBox, h('h2', { id: 'envs-h', text: 'Environments' }), h('div', { class: 'grid' }, envKeys.map(envCard)));
    for (const [env, t] of Object.entries(typed)) {
      const input = document.getElementById('pct-' + env);
      input.value = t.value; input.dataset.etag = t.etag; input.dataset.dirty = '1';
    }
  }

  // The form that starts a rollout is built once: redraws caused by other
  // people's changes replace the table of rollouts above it, never what
  // someone is typing in it.
  const rolloutTable = h('div');
  function startRolloutForm() {
    const env = h('select', { id: 'ro-env', name: 'environment' }, envKeys.map((e) => h('option', { value: e, text: e, selected: e === 'production' })));
    const tpl = h('select', { id: 'ro-template', name: 'template' }, Object.keys(templates.templates).sort().map((t) => h('option', { value: t, text: t, selected: t === 'standard' })));
    const stages = h('input', { id: 'ro-stages', name: 'stages', autocomplete: 'off', spellcheck: 'false', placeholder: '5:72h,25:4d,50:4d,100' });
    const interval = h('input', { id: 'ro-interval', name: 'interval', autocomplete: 'off', spellcheck: 'false', placeholder: 'from the template' });
    const form = h('form', { class: 'card form', id: 'start-rollout', novalidate: true },
      h('h3', { text: 'Start a guarded rollout' }),
      h('div', { class: 'alert error', role: 'alert', id: 'ro-error', hidden: true }),
      h('div', { class: 'row' }, field('Environment', env), field('Template', tpl, 'Stages, interval and guards (error rate, p99 latency).'),
        field('Stages (optional)', stages, 'PERCENT:DURATION items, e.g. 5:1h,25:2h,100; the template\'s guards apply.'),
        field('Interval (optional)', interval, 'How often the judge looks, e.g. 1m.')),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'ro-start', text: 'Start rollout' })));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = { flag: key, environment: env.value };
      if (stages.value.trim() || interval.value.trim()) {
        const plan = structuredClone(templates.templates[tpl.value]);
        if (stages.value.trim()) plan.stages = parseStages(stages.value);
        if (interval.value.trim()) plan.interval = interval.value.trim();
        body.plan = plan;
      } else {
        body.template = tpl.value;
      }
      const box = form.querySelector('#ro-error');
      box.hidden = true;
      try {
        const { data } = await request('POST', '/api/v1/rollouts', body);
        location.hash = '#/rollouts/' + data.id;
      } catch (err) {
        const rest = showFieldErrors(form, err.errors, (f) => f.startsWith('plan.stages') || f.startsWith('stages') ? 'stages' : f.startsWith('plan.interval') || f === 'interval' ? 'interval' : f);
        if (rest.length || !err.errors.length) {
          box.hidden = false;
          put(box, err.message, rest.length ? h('ul', {}, rest.map((e) => h('li', { text: `${e.field}: ${e.message}` }))) : null);
        }
      }
    });
    return form;
  }
  put(rolloutBox, h('h2', { id: 'rollouts-h', text: 'Guarded rollouts' }), rolloutTable, startRolloutForm());

  function drawRollouts() {
    put(rolloutTable,
      rollouts.length ? h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, ['Rollout', 'Environment', 'Status', 'Stage', 'Started'].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, rollouts.map((r) => h('tr', {},
          h('td', {}, h('a', { href: '#/rollouts/' + r.id, text: '#' + r.id })), h('td', { text: r.environment }),
          h('td', {}, h('span', { class: 'badge ' + r.status, text: r.status })), h('td', { text: String(r.stage + 1) }),
          h('td', {}, timeEl(r.createdAt))))))) : h('p', { class: 'muted', text: 'No rollout yet.' }));
  }

  function drawDetails() {
    const segs = segmentKeys(flag);
    const segByKey = new Map(segList.segments.map((s) => [s.key, s]));
    put(detailBox,
      h('h2', { id: 'variants-h', text: 'Variants' }),
      h('div', { class: 'table-wrap' }, h('table', { id: 'variants-table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Key' }), h('th', { scope: 'col', text: 'Value' }), h('th', { scope: 'col', text: 'Description' }))),
        h('tbody', {}, flag.variants.map((v) => h('tr', {},
          h('th', { scope: 'row' }, h('code', { text: v.key }), v.key === flag.defaultVariant ? h('span', { class: 'badge off', text: 'default' }) : null),
          h('td', {}, h('code', { text: JSON.stringify(v.value) })), h('td', { text: v.description || '' })))))),
      h('h2', { text: 'Targeting rules' }),
      envKeys.map((env) => {
        const rules = ((flag.environments || {})[env] || {}).rules || [];
        return h('div', {}, h('h3', { text: env }), rules.length ? h('ol', { class: 'rules' }, rules.map((r) => h('li', {},
          r.description ? h('span', { text: r.description + ': ' }) : null,
          h('code', { text: (r.clauses || []).map(clauseText).join(' and ') }), ' → ', h('code', { text: serveText(r.serve) })))) : h('p', { class: 'muted', text: 'No rules: everyone gets the fallthrough.' }));
      }),
      h('h2', { text: 'Segments used' }),
      segs.length ? h('ul', {}, segs.map((s) => {
        const seg = segByKey.get(s);
        return h('li', {}, h('code', { text: s }), seg ? h('span', { class: 'muted', text: ` ${seg.name || ''} — ${(seg.included || []).length} included, ${(seg.excluded || []).length} excluded, ${(seg.rules || []).length} rules` }) : h('span', { class: 'alert error', text: ' missing' }));
      })) : h('p', { class: 'muted', text: 'No rule refers to a segment.' }));
  }

  // The edit form: it shows the flag as of one version (base, editEtag)
  // and saves against that version. While nobody edits it, other people's
  // changes (the live stream) refresh it in place. Once someone types in it
  // (dirty), or while the cursor is in one of its fields, it keeps what
  // they typed and the version they typed on, so that saving meets the
  // API's version conflict rather than overwriting the other change; only
  // "Reload" or a successful save replaces it.
  let dirty = false;
  let base = null; // the flag the edit form started from
  let editEtag = null; // its ETag, sent as If-Match
  const conflictBox = h('div', { class: 'alert warning', role: 'alert', id: 'conflict', hidden: true });

  function conflict(err) {
    const current = err.problem.currentVersion;
    conflictBox.hidden = false;
    const compareBox = h('div');
    put(conflictBox,
      h('p', {}, h('strong', { text: 'Someone else changed this flag' }), ` (it is now at version ${current ?? '?'}; you edited version ${(editEtag || '').replaceAll('"', '')}): reload or compare.`),
      h('div', { class: 'actions' },
        h('button', { type: 'button', id: 'conflict-reload', text: 'Reload', onclick: async () => {
          await load(); conflictBox.hidden = true; drawAll(); resetEdit(); editForm.querySelector('input').focus();
        } }),
        h('button', { type: 'button', id: 'conflict-compare', text: 'Compare', onclick: async () => {
          const theirs = (await request('GET', flagPath(key))).data;
          put(compareBox, h('h3', { text: `Their version ${theirs.version} against yours` }), diffTable(strip(theirs), strip(formFlag()), ['Theirs (saved)', 'Yours (not saved)']));
        } })),
      compareBox);
    conflictBox.scrollIntoView({ block: 'nearest' });
    conflictBox.querySelector('#conflict-reload').focus();
  }
  // strip leaves out what a comparison should not show: the bookkeeping,
  // and empty fields, which the API leaves out of what it returns.
  const strip = (f) => {
    const c = structuredClone(f);
    delete c.version; delete c.updatedAt; delete c.createdAt;
    for (const [k, v] of Object.entries(c)) if (v === '' || (Array.isArray(v) && !v.length)) delete c[k];
    return c;
  };

  // formFlag is the flag the edit form describes: its base version with
  // the form's fields, so that the body's version and If-Match agree.
  function formFlag() {
    const fd = new FormData(editForm);
    const f = structuredClone(base);
    f.name = fd.get('name'); f.description = fd.get('description'); f.owner = fd.get('owner');
    f.tags = fd.get('tags').split(',').map((t) => t.trim()).filter(Boolean);
    f.defaultVariant = fd.get('defaultVariant');
    try { f.variants = JSON.parse(fd.get('variants')); } catch { f.variants = fd.get('variants'); }
    try { f.environments = JSON.parse(fd.get('environments')); } catch { f.environments = fd.get('environments'); }
    return f;
  }

  const fieldOf = (f) => {
    if (f.startsWith('variants')) return 'variants';
    if (f.startsWith('environments')) return 'environments';
    return f;
  };
  const editVersion = h('span', { class: 'muted small', id: 'edit-version' });
  const editForm = h('form', { class: 'card form', id: 'edit-flag', novalidate: true },
    h('div', { class: 'alert error', role: 'alert', id: 'edit-error', hidden: true }),
    field('Name', h('input', { id: 'edit-name', name: 'name', autocomplete: 'off' })),
    field('Description', h('textarea', { id: 'edit-description', name: 'description', rows: '2' })),
    field('Owner', h('input', { id: 'edit-owner', name: 'owner', autocomplete: 'off' })),
    field('Tags', h('input', { id: 'edit-tags', name: 'tags', autocomplete: 'off' }), 'Comma-separated.'),
    field('Default variant', h('input', { id: 'edit-default', name: 'defaultVariant', autocomplete: 'off', spellcheck: 'false' }), 'Served where an environment is off, unless it names its own off variant.'),
    field('Variants (JSON)', h('textarea', { id: 'edit-variants', name: 'variants', rows: '5', spellcheck: 'false', class: 'code' })),
    field('Environments: rules and fallthrough (JSON)', h('textarea', { id: 'edit-environments', name: 'environments', rows: '10', spellcheck: 'false', class: 'code' })),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'save', text: 'Save' }), editVersion));
  editForm.addEventListener('input', () => { dirty = true; });
  editForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = formFlag();
    const bad = [];
    if (typeof f.variants === 'string') bad.push({ field: 'variants', message: 'is not valid JSON' });
    if (typeof f.environments === 'string') bad.push({ field: 'environments', message: 'is not valid JSON' });
    if (bad.length) { showFieldErrors(editForm, bad); return; }
    delete f.createdAt; delete f.updatedAt;
    const box = editForm.querySelector('#edit-error');
    box.hidden = true;
    try {
      const r = await request('PUT', flagPath(key), f, { ifMatch: editEtag });
      flag = r.data; etag = r.etag; conflictBox.hidden = true;
      showFieldErrors(editForm, []);
      resetEdit();
      app.toast(`Saved ${key}: version ${flag.version}`);
      await load();
      drawAll();
    } catch (err) {
      if (err.status === 409) { conflict(err); return; }
      const rest = showFieldErrors(editForm, err.errors, fieldOf);
      if (rest.length || !err.errors.length) {
        box.hidden = false;
        put(box, err.message, rest.length ? h('ul', {}, rest.map((e) => h('li', { text: `${e.field}: ${e.message}` }))) : null);
      }
      const first = editForm.querySelector('[aria-invalid]');
      if (first) first.focus();
    }
  });
  put(editBox, h('h2', { id: 'edit-h', text: 'Edit' }), conflictBox, editForm);

  // resetEdit fills the edit form with the flag as loaded, in place (the
  // fields stay the same elements, so focus and typing are not lost).
  function resetEdit() {
    base = structuredClone(flag); editEtag = etag; dirty = false;
    const el = editForm.elements;
    el.name.value = base.name || '';
    el.description.value = base.description || '';
    el.owner.value = base.owner || '';
    el.tags.value = (base.tags || []).join(', ');
    el.defaultVariant.value = base.defaultVariant || '';
    el.variants.value = JSON.stringify(base.variants, null, 2);
    el.environments.value = JSON.stringify(base.environments || {}, null, 2);
    editVersion.textContent = `editing version ${base.version}`;
  }

  // drawEdit follows the flag as loaded unless someone is editing the
  // form: they typed in it, or the cursor is in one of its text fields.
  function drawEdit() {
    const a = document.activeElement;
    if (dirty || (a && editForm.contains(a) && a.matches('input, textarea'))) return;
    resetEdit();
  }

  function drawAll() {
    drawHead(); drawEnvs(); drawRollouts(); drawDetails(); drawEdit();
  }
  drawAll();

  let pending = null;
  return follow('', {
    change: (ev) => {
      if (!ev.entries.some((e) => e.key === key && (e.kind === 'flag' || e.kind === 'rollout')) && !ev.truncated) return;
      clearTimeout(pending);
      pending = setTimeout(async () => {
        try {
          await load();
          // What has the focus now, not before the load: the person may
          // have moved on meanwhile.
          const focused = document.activeElement && document.activeElement.id;
          drawAll();
          if (focused && document.activeElement?.id !== focused) document.getElementById(focused)?.focus();
        } catch (err) {
          if (err instanceof APIError && err.status === 404) put(main, app.errorBox(err));
        }
      }, 100);
    },
  });
}
