// rollout.js: the list of guarded rollouts, and one rollout live: its
// stage timeline, the next decision, every guard's latest verdict and
// charts fed by the server's event stream.
import { h, clear, put, fmtPct, fmtRate, fmtSeconds, fmtDuration, parseDuration, timeEl } from './dom.js';
import { get, request, follow } from './api.js';
import { lineChart } from './charts.js';

const ACTIVE = ['pending', 'running', 'paused'];

/** rolloutsPage lists active rollouts and the latest ended ones. */
export async function rolloutsPage(main) {
  const box = h('div');
  main.append(h('h1', { text: 'Guarded rollouts' }), box);
  async function draw() {
    const { rollouts } = await get('/api/v1/rollouts?limit=100');
    const table = (list) => list.length ? h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Rollout', 'Flag', 'Environment', 'Status', 'Stage', 'Updated'].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, list.map((r) => {
        const plan = r.plan || {};
        const st = (plan.stages || [])[r.stage] || {};
        return h('tr', {},
          h('td', {}, h('a', { href: '#/rollouts/' + r.id, text: '#' + r.id })),
          h('td', {}, h('a', { href: '#/flags/' + encodeURIComponent(r.flag), text: r.flag })),
          h('td', { text: r.environment }),
          h('td', {}, h('span', { class: 'badge ' + r.status, text: r.status })),
          h('td', { text: `${r.stage + 1} of ${(plan.stages || []).length} (${fmtPct(st.percent)})` }),
          h('td', {}, timeEl(r.updatedAt)));
      })))) : h('p', { class: 'muted', text: 'None.' });
    put(box,
      h('h2', { text: 'Active' }), table(rollouts.filter((r) => ACTIVE.includes(r.status))),
      h('h2', { text: 'Ended' }), table(rollouts.filter((r) => !ACTIVE.includes(r.status))));
  }
  await draw();
  let t = null;
  return follow('', { change: (ev) => { if (ev.entries.some((e) => e.kind === 'rollout') || ev.truncated) { clearTimeout(t); t = setTimeout(draw, 100); } } });
}

function figures(v, f) {
  if (!f) return '–';
  if (v.metric === 'error_rate') return `${Math.round(f.errors).toLocaleString()}/${Math.round(f.requests).toLocaleString()} failed (${fmtRate(f.errorRate)})`;
  if (v.metric === 'latency') {
    const q = v.quantile || 0.99;
    const val = f.latency || (q === 0.99 ? f.p99 : q === 0.9 ? f.p90 : f.p50);
    return `p${Math.round(q * 100)} ${fmtSeconds(val)} of ${Math.round(f.requests).toLocaleString()}`;
  }
  if (v.metric === 'throughput') return `${Math.round(f.requests).toLocaleString()} requests${f.share ? ` (${fmtRate(f.share)} share)` : ''}`;
  return `${Math.round(f.requests).toLocaleString()} requests`;
}

/** rolloutPage renders one rollout and keeps it current from the stream. */
export async function rolloutPage(main, [idText], params, app) {
  const id = Number(idText);
  let ro = await get('/api/v1/rollouts/' + id);
  let analyses = (await get(`/api/v1/rollouts/${id}/analyses?limit=500`)).analyses;
  let updates = 0;

  const head = h('div');
  const timeline = h('section', { 'aria-labelledby': 'timeline-h' });
  const decision = h('section', { 'aria-labelledby': 'decision-h' });
  const guards = h('section', { 'aria-labelledby': 'guards-h' });
  const charts = h('section', { 'aria-labelledby': 'charts-h' });
  const history = h('section', { 'aria-labelledby': 'history-h' });
  main.append(head, timeline, decision, guards, charts, history);

  const plan = () => ro.plan || { stages: [] };
  const state = () => ro.state || {};
  const active = () => ACTIVE.includes(ro.status);
  const currentPercent = () => {
    const tr = state().transitions || [];
    if (!active() && ro.status !== 'promoted') return 0;
    return tr.length ? tr[tr.length - 1].percent : 0;
  };

  async function move(action) {
    if (action === 'abort') {
      const ok = await app.confirmDialog(`Abort rollout ${id}?`, `${ro.flag} goes back to 0% in ${ro.environment}.`, 'Abort rollout');
      if (!ok) return;
    }
    try {
      const { data } = await request('POST', `/api/v1/rollouts/${id}/${action}`);
      ro = { ...data, latest: ro.latest };
      app.toast(`Rollout ${id}: ${action} done, now ${ro.status}`);
      drawAll();
    } catch (err) {
      app.toast(`${action} failed: ${err.message}`, 'danger');
    }
  }

  function drawHead() {
    const stages = plan().stages;
    const buttons = [];
    if (ro.status === 'running') buttons.push(['pause', 'Pause']);
    if (ro.status === 'paused') buttons.push(['resume', 'Resume']);
    if (active()) buttons.push(['promote', 'Promote now'], ['abort', 'Abort']);
    put(head,
      h('p', { class: 'crumbs' }, h('a', { href: '#/rollouts', text: 'Rollouts' }), ' / '),
      h('div', { class: 'page-head' },
        h('h1', {}, `Rollout ${ro.id} of `, h('a', { href: '#/flags/' + encodeURIComponent(ro.flag) }, h('code', { text: ro.flag })), ` in ${ro.environment}`),
        h('div', { class: 'actions' }, buttons.map(([a, label]) => h('button', { type: 'button', id: 'ro-' + a, class: a === 'abort' ? 'danger' : '', text: label, onclick: () => move(a) })))),
      h('p', { class: 'big' },
        h('span', { class: 'badge ' + ro.status, id: 'ro-status', text: ro.status }), ' ',
        h('span', { id: 'ro-stage', text: `stage ${ro.stage + 1} of ${stages.length}` }), ' at ',
        h('span', { class: 'pct', id: 'ro-percent', text: fmtPct(currentPercent()) })),
      ro.reason ? h('p', { class: 'muted', id: 'ro-reason', text: ro.reason }) : null,
      h('p', { class: 'small muted' }, `${state().canary || plan().variant || 'canary'} (canary) against ${state().baseline || 'off'} (baseline) · every ${plan().interval || '1m'} from ${plan().source || 'sdk'} · on warning ${plan().onWarning || 'step_back'} · started `, timeEl(ro.createdAt), ro.createdBy ? ` by ${ro.createdBy}` : ''));
  }

  function drawTimeline() {
    const stages = plan().stages;
    const started = state().stageStarted ? new Date(state().stageStarted).getTime() : null;
    put(timeline, h('h2', { id: 'timeline-h', text: 'Stages' }),
      h('ol', { class: 'stages', id: 'stages' }, stages.map((st, i) => {
        const done = i < ro.stage || ro.status === 'promoted';
        const cur = i === ro.stage && active();
        const min = parseDuration(st.duration);
        let extra = null;
        if (cur && started) {
          const inStage = Date.now() - started;
          extra = h('div', { class: 'progress' },
            min ? h('progress', { max: String(min), value: String(Math.min(inStage, min)), 'aria-label': `time in stage ${i + 1}` }) : null,
            h('span', { class: 'small', id: 'in-stage', text: `${fmtDuration(inStage)} in stage` + (min ? (inStage < min ? `, ${fmtDuration(min - inStage)} left of ${st.duration}` : `; minimum ${st.duration} reached: promoted when every guard passes`) : '') }));
        }
        return h('li', { class: 'stage ' + (done ? 'done' : cur ? 'current' : 'pending'), 'aria-current': cur ? 'step' : null, data: { stage: String(i) } },
          h('span', { class: 'stage-pct', text: fmtPct(st.percent) }),
          h('span', { class: 'small muted', text: st.duration ? `min ${st.duration}` : 'final' }),
          h('span', { class: 'small', text: done ? 'done' : cur ? 'current' : 'pending' }),
          extra);
      })));
  }

  function drawDecision() {
    const a = ro.latest;
    const interval = parseDuration(plan().interval || '1m');
    let next = '';
    if (active() && ro.status !== 'paused') {
      const due = a ? new Date(a.time).getTime() + interval : Date.now();
      next = due > Date.now() ? `next look in ${fmtDuration(due - Date.now())}` : 'next look due now';
    } else if (ro.status === 'paused') next = 'paused: no analysis until resumed';
    else next = 'ended: no further decision';
    put(decision, h('h2', { id: 'decision-h', text: 'Decisions: latest and next' }),
      a ? h('p', { id: 'decision' }, h('span', { class: 'badge ' + a.decision, text: a.decision }), ' ', a.reason || '', ' ', h('span', { class: 'muted small' }, '(', timeEl(a.time), ')')) : h('p', { class: 'muted', id: 'decision', text: 'No analysis yet.' }),
      h('p', { class: 'small', id: 'next-look', text: next }));
  }

  function drawGuards() {
    const vs = (ro.latest && ro.latest.verdicts) || [];
    put(guards, h('h2', { id: 'guards-h', text: 'Guards: latest verdicts' }),
      vs.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'verdicts' },
        h('thead', {}, h('tr', {}, ['Guard', 'Metric', 'Verdict', 'Canary', 'Baseline'].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, vs.map((v) => [
          h('tr', { data: { guard: v.guard } },
            h('th', { scope: 'row', text: v.guard }), h('td', { text: v.metric }),
            h('td', {}, h('span', { class: 'badge ' + v.outcome, text: v.outcome })),
            h('td', { text: figures(v, v.canary) }), h('td', { text: figures(v, v.baseline) })),
          h('tr', { class: 'summary' }, h('td', { colspan: '5', class: 'small muted', text: v.summary || '' })),
        ])))) : h('p', { class: 'muted', text: 'No verdict yet: the judge has not looked, or no guard is configured.' }));
  }

  function drawCharts() {
    const pts = (pick) => analyses.flatMap((a) => {
      const v = (a.verdicts || []).find(pick);
      return v ? [[new Date(a.time).getTime(), v]] : [];
    });
    // An analysis without figures (no traffic yet, a source down) has no point.
    const err = pts((v) => v.metric === 'error_rate' && v.canary && v.baseline && v.canary.requests > 0 && v.baseline.requests > 0);
    const lat = pts((v) => v.metric === 'latency' && v.canary && v.baseline && v.canary.requests > 0 && v.baseline.requests > 0);
    const p99 = (f, v) => (f && (f.latency || ((v.quantile || 0.99) === 0.99 ? f.p99 : 0))) || 0;
    const tr = state().transitions || [];
    const pct = tr.map((t) => [new Date(t.time).getTime(), t.percent]);
    if (!active() && ro.status !== 'promoted') pct.push([new Date(ro.updatedAt).getTime(), 0]);
    if (pct.length) pct.push([Math.max(Date.now(), pct[pct.length - 1][0]), pct[pct.length - 1][1]]);
    put(charts, h('h2', { id: 'charts-h', text: 'Live charts' }),
      h('p', { class: 'small muted', id: 'chart-updates', text: `Updated live from the server (${updates} ${updates === 1 ? 'update' : 'updates'} received).` }),
      h('div', { class: 'charts' },
        lineChart({ id: 'chart-errors', title: 'Error rate: canary vs baseline', fmt: fmtRate, minSpan: 0.01, series: [
          { name: 'canary', cls: 'canary', points: err.map(([t, v]) => [t, v.canary.errorRate || 0]) },
          { name: 'baseline', cls: 'baseline', points: err.map(([t, v]) => [t, v.baseline.errorRate || 0]) }] }),
        lineChart({ id: 'chart-latency', title: 'p99 latency: canary vs baseline', fmt: fmtSeconds, minSpan: 0.01, series: [
          { name: 'canary', cls: 'canary', points: lat.map(([t, v]) => [t, p99(v.canary, v)]) },
          { name: 'baseline', cls: 'baseline', points: lat.map(([t, v]) => [t, p99(v.baseline, v)]) }] }),
        lineChart({ id: 'chart-percent', title: 'Percentage over time', fmt: fmtPct, step: true, yMax: 100, series: [
          { name: 'percentage', cls: 'percent', points: pct }] })));
  }

  function drawHistory() {
    const tr = state().transitions || [];
    put(history, h('h2', { id: 'history-h', text: 'Transitions' }),
      h('div', { class: 'table-wrap' }, h('table', { id: 'transitions' },
        h('thead', {}, h('tr', {}, ['Time', 'Action', 'Stage', 'Percent', 'Status', 'Actor', 'Reason'].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, tr.map((t) => h('tr', {},
          h('td', {}, timeEl(t.time)), h('td', { text: t.action }),
          h('td', { text: t.from === t.to ? String(t.to + 1) : `${t.from + 1}→${t.to + 1}` }),
          h('td', { text: fmtPct(t.percent) }), h('td', { text: t.status }), h('td', { text: t.actor }), h('td', { class: 'small', text: t.reason || '' }))),
        !active() && ro.status === 'aborted' && !tr.some((t) => t.action === 'rollout.abort') ? h('tr', {},
          h('td', {}, timeEl(ro.updatedAt)), h('td', { text: 'rollout.abort' }), h('td', { text: String(ro.stage + 1) }),
          h('td', { text: '0%' }), h('td', { text: 'aborted' }), h('td', { text: '–' }), h('td', { class: 'small', text: ro.reason || '' })) : null))));
  }

  function drawAll() {
    const focused = document.activeElement && document.activeElement.id;
    drawHead(); drawTimeline(); drawDecision(); drawGuards(); drawCharts(); drawHistory();
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
  }
  drawAll();

  // The clock-driven parts (time in stage, next look) tick every second.
  const timer = setInterval(() => { drawTimeline(); drawDecision(); }, 1000);
  const stop = follow('?rollout=' + id, {
    rollout: (v) => {
      updates++;
      ro = v;
      if (v.latest && !analyses.some((a) => a.id === v.latest.id)) analyses.push(v.latest);
      drawAll();
    },
  });
  return () => { clearInterval(timer); stop(); };
}
