// Races tab: threads of one process racing for mmap_lock, the VMA locks and
// RCU. A preset sets up the layout with ordinary operations in the session's
// process and fills one editable program per thread; Explore runs every
// schedule within the bounds (POST …/explore) and lists the hazards the
// detectors found and the distinct outcomes; picking one replays its schedule
// step by step (POST …/interleave, not committed) into the lane view.
// Compare models runs the same setup and programs under every kernel model.
import { api, ApiError } from './api.js';
import { state, guarded, refresh, setStatus } from './store.js';
import { reloadLog } from './timeline.js';
import { model } from './model.js';
import { RACE_PRESETS, racePreset, freeWindow, programText, parseProgram } from './racepresets.js';
import { lanesHtml, laneX, holdersOf, stepVmasHtml, stepForestHtml, LOCK_LEGEND } from './lanes.js';
import { esc, $, $$ } from './util.js';

const BASE = 0x7f3000000000;
let setup = null;   // {preset, X, pid, ops}: what Set up ran
let explored = null; // the last explore answer
let run = null;      // {steps, threads, title, firedAt: Set(step index)}
let cur = -1;

function withPid(ops, pid) { return ops.map((o) => ({ ...o, pid })); }

function threadsFromForm() {
  const threads = {};
  for (const ta of $$('[data-testid="race-program"]')) threads[ta.dataset.thread] = parseProgram(ta.dataset.thread, ta.value);
  if (!Object.keys(threads).length) throw new Error('no thread program: choose a preset and press Set up');
  return threads;
}

function exploreBody(pid) {
  const inject = {};
  for (const n of $('#race-inject').value.split(/[\s,]+/).filter(Boolean)) inject[n] = true;
  const body = { pid, threads: threadsFromForm(), preemption_bound: Number($('#race-bound').value) || 0, max_schedules: Number($('#race-max').value) || 100000 };
  if (Object.keys(inject).length) body.inject = inject;
  const mutant = $('#race-mutant').value.trim();
  body.mutant = mutant || null;
  return body;
}

function renderPrograms(threads) {
  $('#race-programs').innerHTML = Object.entries(threads).map(([t, ops]) =>
    `<label class="race-program"><span>${esc(t)}</span><textarea data-testid="race-program" data-thread="${esc(t)}" rows="2" spellcheck="false">${esc(programText(ops))}</textarea></label>`).join('');
  for (const ta of $$('[data-testid="race-program"]')) fitProgram(ta);
}

/** A program shows whole: its operations wrap (one per line still), and the box grows to fit them. */
function fitProgram(ta) {
  ta.style.height = 'auto';
  ta.style.height = `${ta.scrollHeight + 2}px`;
}

function showPreset() {
  const p = racePreset($('#race-preset').value);
  $('#race-text').textContent = p ? p.text : '';
}

async function doSetup() {
  const preset = racePreset($('#race-preset').value);
  if (!state.live) await hooks.createSession(); // as Run in this session does
  const sid = state.live.id;
  let pid = state.pid;
  const procs = (state.live.processes || []).filter((p) => p.state !== 'exited');
  if (pid == null || !procs.some((p) => p.pid === pid)) {
    const r = await api.ops(sid, [{ op: 'process', comm: 'races' }], 'summary');
    pid = r.results[0].pid;
  }
  const vmas = await api.vmas(sid, pid);
  const X = freeWindow(vmas, BASE);
  const ops = preset.setup(X);
  await api.ops(sid, withPid(ops, pid), 'summary');
  setup = { preset, X, pid, ops };
  state.pid = pid;
  $('#race-programs').dataset.pid = String(pid);
  renderPrograms(preset.threads(X));
  $('#race-inject').value = (preset.inject || []).join(', ');
  clearResults();
  $('#race-summary').innerHTML = `<p class="muted small">${esc(preset.id)} set up in pid ${pid} at <span class="mono">0x${X.toString(16)}</span> (${ops.length} operations). Edit the programs if you like, then Explore.</p>`;
  await guarded('reloading the log', reloadLog);
  await refresh();
  setStatus(`races: ${preset.id} set up in pid ${pid}`);
}

function clearResults() {
  explored = null; run = null; cur = -1;
  $('#race-schedule').value = '';
  for (const id of ['#race-hazards', '#race-outcomes']) $(id).innerHTML = '';
  $('#race-lanes').innerHTML = '<p class="empty small">Pick a hazard or an outcome to replay its schedule here.</p>';
  $('#race-strip').innerHTML = ''; $('#race-forest').innerHTML = ''; $('#race-stepinfo').innerHTML = '';
  updateStepper();
}

const fixedBy = (h) => (h.fixed_by ? `fixed by <code class="commit">${esc(h.fixed_by)}</code>` : 'not fixed in this model\'s history');
const sched = (s) => (Array.isArray(s) ? s.join(' ') : '');

function renderExplore(d) {
  const hz = d.hazards || [], oc = d.outcomes || [], dl = d.deadlocks || [];
  $('#race-hazards').innerHTML = hz.length ? hz.map((h, i) => `<li data-detector="${esc(h.detector)}"><button type="button" class="linkish race-pick" data-kind="hazard" data-i="${i}"><b class="det">${esc(h.detector)}</b> <span class="hz-name">${esc(h.name || '')}</span></button> <span class="small">${fixedBy(h)}</span><br><span class="small">${esc(h.explanation || '')}</span>${h.thread ? `<br><span class="muted small">${esc(h.thread)} at step ${esc(h.step)}${(h.locations || []).length ? `, ${esc(h.locations.join(', '))}` : ''}${(h.locks_held || []).length ? `; holding ${esc(h.locks_held.join(', '))}` : '; holding no lock'}</span>` : ''}</li>`).join('')
    : '<li class="none" data-testid="race-no-hazard">No detector fired in any explored schedule.</li>';
  $('#race-outcomes').innerHTML = oc.map((o, i) => `<li><button type="button" class="linkish race-pick" data-kind="outcome" data-i="${i}">${esc(o.summary || o.digest)}</button> <span class="muted small">×${esc(o.count)}; first: <span class="mono">${esc(sched(o.first_schedule))}</span></span></li>`).join('')
    + dl.map((x, i) => `<li class="deadlock"><button type="button" class="linkish race-pick" data-kind="deadlock" data-i="${i}"><b>deadlock</b> ${esc((x.cycle || []).join(' ↔ '))}</button></li>`).join('');
  const paths = Object.entries(d.fault_paths || {}).map(([t, l]) => `${esc(t)}: ${esc(l.join(', '))}`).join('; ');
  const waits = (d.lock_wait_graph || []).map((e) => `${esc(e.from)}→${esc(e.to)} (${esc(e.lock)} ×${esc(e.count)})`).join(', ');
  $('#race-summary').innerHTML = `<p class="small"><b>${esc(d.kernel || state.live?.kernel || '')}</b>: ${esc(d.schedules_explored)} schedules explored${d.bounded ? ` (<span class="fallback">cut by ${esc((d.bounded_by || []).join(', ') || 'a bound')}</span>)` : ', exhaustive within the bounds'}; ${hz.length} hazard${hz.length === 1 ? '' : 's'}, ${oc.length} outcome${oc.length === 1 ? '' : 's'}${dl.length ? `, ${dl.length} deadlock${dl.length === 1 ? '' : 's'}` : ''}.${paths ? `<br>fault paths — ${paths}` : ''}${waits ? `<br>waits — ${waits}` : ''}</p>`;
}

async function doExplore() {
  if (!state.live) throw new Error('open or create a session first');
  const pid = setup?.pid ?? state.pid;
  const body = exploreBody(pid);
  setStatus('races: exploring…');
  $('#race-summary').innerHTML = '<p class="muted">exploring…</p>';
  const d = await api.explore(state.live.id, body);
  clearResults();
  explored = { d, body };
  renderExplore(d);
  setStatus(`races: ${d.schedules_explored} schedules, ${(d.hazards || []).length} hazards`);
}

/**
 * The threads parked after each step: `blocked` of the interleave answer is
 * the state at its end, so each earlier step asks for its own prefix. Only
 * when the exploration saw a thread wait at all (lock_wait_graph).
 */
async function waitsPerStep(body, schedule, r) {
  const n = (r.steps || []).length;
  const waits = new Array(n).fill(null).map(() => ({}));
  if (n) waits[n - 1] = r.blocked || {};
  const waited = (explored?.d.lock_wait_graph || []).length || Object.keys(r.blocked || {}).length;
  if (!waited) return waits;
  const sid = state.live.id;
  for (let k = 0; k < n - 1; k += 6) {
    const batch = [];
    for (let i = k; i < Math.min(n - 1, k + 6); i++) {
      batch.push(api.interleave(sid, { ...body, schedule: schedule.slice(0, i + 1), commit: false }).then((p) => { waits[i] = p.blocked || {}; }));
    }
    await Promise.all(batch);
  }
  return waits;
}

async function loadSchedule(kind, i) {
  if (!explored) return;
  const src = kind === 'hazard' ? explored.d.hazards[i] : kind === 'outcome' ? explored.d.outcomes[i] : explored.d.deadlocks[i];
  const title = kind === 'hazard' ? `${src.detector} ${src.name || ''}` : kind === 'outcome' ? (src.summary || src.digest) : `deadlock ${(src.cycle || []).join(' ↔ ')}`;
  await replay(src.first_schedule || src.schedule || [], title, kind === 'hazard' && Number.isInteger(src.step) ? src.step : null);
  for (const b of $$('.race-pick')) b.setAttribute('aria-current', String(b.dataset.kind === kind && Number(b.dataset.i) === i));
}

/** Runs one schedule (POST …/interleave, uncommitted) into the lane view; `at`: the step to show first (a hazard's). */
async function replay(schedule, title, at = null) {
  const r = await api.interleave(state.live.id, { ...explored.body, schedule, commit: false });
  const steps = r.steps || [];
  const waits = await waitsPerStep(explored.body, schedule, r);
  const firedAt = new Set();
  steps.forEach((s, k) => { if ((s.detectors || []).length) firedAt.add(k); });
  if (at != null) firedAt.add(Math.min(steps.length - 1, at));
  run = { steps, waits, threads: Object.keys(explored.body.threads), firedAt, title, schedule, finished: r.finished, deadlock: r.deadlock || null };
  cur = at != null ? Math.min(steps.length - 1, at) : steps.length - 1;
  $('#race-lanes').dataset.schedule = schedule.join(' ');
  $('#race-schedule').value = schedule.join(' ');
  for (const b of $$('.race-pick')) b.setAttribute('aria-current', 'false');
  renderRun();
  $('#race-lanes').scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

/** The schedule typed by the user (thread names and rcu), replayed as is. */
async function replayTyped() {
  if (!explored) throw new Error('press Explore first: a schedule runs the explored programs');
  const schedule = $('#race-schedule').value.split(/[\s,]+/).filter(Boolean);
  if (!schedule.length) throw new Error('type a schedule: thread names (and rcu) in the order they run, e.g. T1 T1 T2');
  await replay(schedule, 'your schedule');
}

const waitText = (waits, locks) => Object.entries(waits || {}).map(([t, l]) => {
  const h = holdersOf(t, l, locks);
  return `${t} waits for ${l}${h.length ? `, held by ${h.join(', ')}` : ''}`;
}).join('; ');

function renderRun() {
  if (!run) { updateStepper(); return; }
  const end = run.deadlock ? ' — ends in a deadlock' : run.finished === false ? ' (the threads have not finished)' : '';
  $('#race-lanes').innerHTML = `<p class="small lanes-title"><b>${esc(run.title)}</b> <span class="muted">schedule <span class="mono">${esc(sched(run.schedule))}</span>${esc(end)}</span></p>
    ${lanesHtml(run, cur, run.firedAt)}
    <p class="lock-legend small">${LOCK_LEGEND.map(([k, n]) => `<span><i class="lk-${k}"></i>${esc(n)}</span>`).join('')}<span><i class="lk-wait"></i>waits for</span><span><i class="lk-fired"></i>detector fired</span></p>`;
  const scroller = $('#race-lanes .lanes-scroll');
  if (scroller) scroller.scrollLeft = Math.max(0, laneX(cur) - scroller.clientWidth / 2);
  const s = run.steps[cur], earlier = run.steps.slice(0, Math.max(0, cur));
  $('#race-strip').innerHTML = stepVmasHtml(s, earlier);
  $('#race-forest').innerHTML = stepForestHtml(s, earlier);
  const waits = waitText(run.waits?.[cur], s?.locks);
  const held = Object.entries(s?.locks || {}).filter(([, l]) => l.length).map(([t, l]) => `${t}: ${l.join(', ')}`).join('; ');
  $('#race-stepinfo').innerHTML = s ? `<p class="small"><b>step ${cur + 1}</b>: ${esc(s.thread)} <code>${esc(s.fn)}</code> — ${esc(s.note || '')}${(s.reads || []).length ? ` · reads ${esc(s.reads.join(', '))}` : ''}${(s.writes || []).length ? ` · writes ${esc(s.writes.join(', '))}` : ''}`
    + `<br><span class="muted">holding — ${esc(held || 'no lock')}</span>${waits ? `<br><span class="fallback" data-testid="race-step-waits">${esc(waits)}</span>` : ''}`
    + `${(s.detectors || []).length ? `<br><span class="fired-text" data-testid="race-step-fired">fired: ${esc(s.detectors.map((d) => `${d.detector ?? d} ${d.name ?? ''}`).join(', '))}</span>` : ''}</p>` : '';
  updateStepper();
}

function updateStepper() {
  const n = run ? run.steps.length : 0;
  $('#race-state').hidden = !run;
  $('#race-step').textContent = `${n ? cur + 1 : 0} / ${n}`;
  $('#race-first').disabled = $('#race-prev').disabled = !n || cur <= 0;
  $('#race-last').disabled = $('#race-next').disabled = !n || cur >= n - 1;
}

function go(to) {
  if (!run) return;
  cur = Math.max(0, Math.min(run.steps.length - 1, to));
  renderRun();
}

/** Runs the set-up layout and the programs under every model, in scratch sessions. */
async function compareModels() {
  if (!setup) throw new Error('press Set up first: the comparison replays that setup in a fresh process per model');
  const base = exploreBody(null);
  const rows = [];
  for (const k of model.kernels) {
    setStatus(`races: exploring under ${k.id}…`);
    const s = await api.createSession(k.id, state.live?.options || {}, `races ${setup.preset.id} ${k.id}`);
    try {
      const pid = (await api.ops(s.id, [{ op: 'process', comm: 'races' }], 'summary')).results[0].pid;
      await api.ops(s.id, withPid(setup.ops, pid), 'summary');
      const d = await api.explore(s.id, { ...base, pid });
      rows.push({ kernel: k.id, d });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      rows.push({ kernel: k.id, error: e.describe() });
    } finally {
      try { await api.deleteSession(s.id); } catch { /* gone */ }
    }
  }
  const dets = [...new Set(rows.flatMap((r) => (r.d?.hazards || []).map((h) => h.detector)))].sort((a, b) => parseFloat(a.slice(1)) - parseFloat(b.slice(1)) || a.localeCompare(b));
  const names = new Map(rows.flatMap((r) => (r.d?.hazards || []).map((h) => [h.detector, h.name])));
  const head = dets.map((d) => `<th scope="col" title="${esc(names.get(d) || '')}">${esc(d)}<br><small>${esc(names.get(d) || '').replaceAll('_', '_<wbr>')}</small></th>`).join('');
  const body = rows.map((r) => {
    if (r.error) return `<tr data-kernel="${esc(r.kernel)}"><th scope="row">${esc(r.kernel)}</th><td colspan="${dets.length + 1}" class="signal">${esc(r.error)}</td></tr>`;
    const fired = new Map();
    for (const h of r.d.hazards || []) fired.set(h.detector, h);
    return `<tr data-kernel="${esc(r.kernel)}"><th scope="row">${esc(r.kernel)}</th>${dets.map((d) => fired.has(d)
      ? `<td class="fires" data-detector="${esc(d)}" title="${esc(fired.get(d).fixed_by ? `fixed by ${fired.get(d).fixed_by}` : '')}">fires</td>`
      : `<td class="never" data-detector="${esc(d)}">never</td>`).join('')}<td class="small">${esc(r.d.schedules_explored)}${r.d.bounded ? ' (bounded)' : ''}</td></tr>`;
  }).join('');
  $('#race-compare').innerHTML = `<div class="table-wrap"><table class="cmp-table race-cmp" data-testid="race-compare-table"><caption>${esc(setup.preset.id)} under every model: does the detector fire in some schedule?</caption><thead><tr><th scope="col">model</th>${head}<th scope="col">schedules</th></tr></thead><tbody>${body}</tbody></table></div>`
    + (dets.length ? '' : '<p class="muted small">No detector fired under any model.</p>');
  $('#race-compare').scrollIntoView({ block: 'nearest', behavior: 'smooth' }); // the table is below the explore results
  setStatus(`races: compared ${rows.length} models`);
}

const hooks = { createSession: async () => { throw new Error('open or create a session first'); } };

/** `createSession`: makes and opens a session from the session bar (Set up uses it when none is open). */
export function initRaces({ createSession } = {}) {
  if (createSession) hooks.createSession = createSession;
  $('#race-programs').addEventListener('input', (ev) => { if (ev.target.matches('[data-testid="race-program"]')) fitProgram(ev.target); });
  $('#race-preset').innerHTML = RACE_PRESETS.map((p) => `<option value="${p.id}">${esc(p.title)}</option>`).join('');
  $('#race-preset').addEventListener('change', showPreset);
  showPreset();
  clearResults();
  $('#race-setup').addEventListener('click', () => guarded('setting up the race', doSetup));
  $('#race-form').addEventListener('submit', (ev) => { ev.preventDefault(); guarded('exploring schedules', doExplore); });
  $('#race-compare-run').addEventListener('click', () => {
    $('#race-compare').innerHTML = '<p class="muted">running every model…</p>';
    $('#race-compare').scrollIntoView({ block: 'nearest' });
    guarded('comparing models', compareModels);
  });
  for (const [id, f] of [['#race-first', () => 0], ['#race-prev', () => cur - 1], ['#race-next', () => cur + 1], ['#race-last', () => Infinity]]) {
    $(id).addEventListener('click', () => go(f()));
  }
  for (const id of ['#race-hazards', '#race-outcomes']) {
    $(id).addEventListener('click', (ev) => {
      const b = ev.target.closest('.race-pick');
      if (b) guarded('replaying the schedule', () => loadSchedule(b.dataset.kind, Number(b.dataset.i)));
    });
  }
  $('#race-replay-form').addEventListener('submit', (ev) => { ev.preventDefault(); guarded('replaying the schedule', replayTyped); });
  $('#race-lanes').addEventListener('click', (ev) => {
    const g = ev.target.closest('[data-testid="race-box"]');
    if (g) go(Number(g.dataset.index));
  });
  // ← → Home End step through the schedule while the lane view has focus
  const keys = { ArrowLeft: () => cur - 1, ArrowRight: () => cur + 1, Home: () => 0, End: () => Infinity };
  $('#race-lanes').addEventListener('keydown', (ev) => {
    if (!run || !keys[ev.key]) return;
    ev.preventDefault();
    go(keys[ev.key]());
  });
}

/** A new session was opened: what was set up belongs to the old one. */
export function resetRaces() {
  setup = null;
  $('#race-programs').innerHTML = '';
  $('#race-summary').innerHTML = '';
  $('#race-compare').innerHTML = '';
  clearResults();
}
