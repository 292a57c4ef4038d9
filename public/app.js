// Entry point: session bar, processes, scenarios, tabs and rendering.
import { api, ApiError } from './api.js';
import { state, on, refresh, guarded, clearError, setStatus, selectProcess } from './store.js';
import { renderStrip, renderTable, addressAt } from './strip.js';
import { renderForest } from './forest.js';
import { initFault, showFault, clearFault, setFaultAddress, updateFaultForm } from './fault.js';
import { initTimeline, openTimeline, reloadLog, backToLive } from './timeline.js';
import { initCompare, renderCompareKernels } from './compare.js';
import { loadModel, model, renderModelForms, sessionOptions } from './model.js';
import { initTrace } from './trace.js';
import { renderPlot, initPlot } from './plot.js';
import { initRaces, resetRaces } from './races.js';
import { SCENARIOS, scenarioById, runOps } from './scenarios.js';
import { knownSessions, rememberSession, forgetSessions } from './sessions.js';
import { esc, lockSummary, $, $$ } from './util.js';

window.__mmsimLastRenderMs = null;

// ---------- session bar ----------
async function createSession() {
  const s = await api.createSession($('#kernel').value, sessionOptions(), $('#session-name').value.trim() || undefined);
  await openSession(s.id, s);
  return s;
}

async function openSession(id, summary) {
  if (state.snapshot) await backToLive();
  let s = summary;
  if (!s) {
    try {
      s = await api.session(id);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) { forgetSessions([id]); listSessions(); }
      throw e;
    }
  }
  rememberSession(s.id);
  state.live = s;
  state.view = s;
  state.pid = null;
  state.vmas = []; state.pages = []; state.anonVmas = []; state.allVmas = {};
  $('#scenario-results').innerHTML = '';
  $('#scenario-summary').hidden = true;
  $('#trace-report').innerHTML = '';
  resetRaces();
  clearFault();
  $('#fault-address').value = '';
  if (location.hash !== `#session=${s.id}`) history.replaceState(null, '', `#session=${s.id}`);
  const opts = Object.entries(s.options || {}).filter(([, v]) => v).map(([k]) => k).join(', ');
  $('#session-info').innerHTML = `Session <code data-testid="session-id" title="${esc(s.id)}">${esc(s.id.slice(0, 12))}…</code> kernel <b data-testid="session-kernel">${esc(s.kernel)}</b>${opts ? ` · ${esc(opts)}` : ''}${s.name ? ` · “${esc(s.name)}”` : ''} <button type="button" id="copy-link" title="copy a link to this session">Copy link</button>`;
  $('#copy-link').addEventListener('click', () => navigator.clipboard?.writeText(location.href).then(() => setStatus('link copied'), () => setStatus(location.href)));
  document.title = `mmsim — ${s.kernel} — ${s.id.slice(0, 8)}`;
  clearError();
  await openTimeline(s.id);
  await refresh();
  listSessions();
  setStatus(`opened session ${s.id} (${s.kernel})`);
}

/** Fills "Yours" and the id field's suggestions with the remembered sessions the server still has. */
async function listSessions() {
  let list;
  try { list = await knownSessions(); } catch { return; } // the server is away: keep what is shown
  const when = (t) => { const d = new Date(t); return isNaN(d) ? '' : ` · ${d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })}`; };
  const label = (s) => `${s.kernel}${s.name ? ` “${s.name}”` : ''} · ${s.id.slice(0, 8)}${when(s.created_at)}`;
  const cur = state.live?.id;
  $('#session-recent').innerHTML = (list.length ? `<option value="">${list.length} session${list.length === 1 ? '' : 's'}…</option>` : '<option value="">none yet</option>')
    + list.map((s) => `<option value="${esc(s.id)}" data-testid="session-recent-item"${s.id === cur ? ' disabled' : ''}>${esc(label(s))}${s.id === cur ? ' (open)' : ''}</option>`).join('');
  $('#session-recent').value = '';
  $('#session-list').innerHTML = list.map((s) => `<option value="${esc(s.id)}">${esc(label(s))}</option>`).join('');
}

async function openFromHash() {
  const m = /session=([^&]+)/.exec(location.hash);
  if (!m) return;
  const id = decodeURIComponent(m[1]);
  if (state.live && state.live.id === id) return;
  await guarded(`opening session ${id}`, () => openSession(id));
}

// ---------- processes ----------
function renderProcesses() {
  const root = $('#process-tree');
  const procs = state.view ? state.view.processes || [] : [];
  if (!state.view) { root.innerHTML = '<p class="empty">No session.</p>'; return; }
  if (!procs.length) { root.innerHTML = '<p class="empty">No process yet — run a scenario.</p>'; return; }
  const pids = new Set(procs.map((p) => p.pid));
  const kids = new Map();
  for (const p of procs) {
    const parent = p.ppid != null && pids.has(p.ppid) ? p.ppid : 0;
    if (!kids.has(parent)) kids.set(parent, []);
    kids.get(parent).push(p);
  }
  const li = (p) => {
    const sel = p.pid === state.pid;
    const sub = kids.get(p.pid) || [];
    return `<li><button type="button" class="proc ${p.state === 'exited' ? 'exited' : ''}" data-testid="process" data-pid="${p.pid}" aria-pressed="${sel}">pid ${p.pid} <b>${esc(p.comm)}</b> <span class="muted">${p.ppid != null ? `ppid ${p.ppid} · ` : ''}${esc(p.state)}</span></button>${sub.length ? `<ul>${sub.map(li).join('')}</ul>` : ''}</li>`;
  };
  root.innerHTML = `<ul class="tree">${(kids.get(0) || []).map(li).join('')}</ul>`;
}

// ---------- rendering ----------
function renderStats() {
  const s = state.stats;
  if (!s) { $('#stats').textContent = ''; return; }
  const f = s.faults || {}, a = s.anon_vma || {}, v = s.vmas || {};
  const vl = f.vma_lock || {};
  $('#stats').innerHTML = `<b>faults</b> ${f.total ?? 0} (per-VMA lock success ${vl.success ?? 0}, abort ${vl.abort ?? 0}, retry ${vl.retry ?? 0}, miss ${vl.miss ?? 0}; mmap_lock ${f.mmap_lock ?? 0}; SIGSEGV ${f.sigsegv ?? 0}) · <b>anon_vma</b> allocated ${a.allocated ?? 0}, reused prev ${a.reused_prev ?? 0} / next ${a.reused_next ?? 0}, fork cloned ${a.fork_cloned ?? 0} / reused ${a.fork_reused ?? 0}, live ${a.live ?? 0} · <b>VMAs</b> live ${v.live ?? 0}, merged ${v.merged ?? 0}, split ${v.split ?? 0}`;
}

function render() {
  renderProcesses();
  const t0 = performance.now();
  renderStrip($('#strip'), state.vmas, state.pages, state.pid);
  const t1 = performance.now();
  renderTable($('#vma-table'), state.vmas);
  const t2 = performance.now();
  void $('#strip').offsetHeight; // include style and layout in the measurement
  const ms = performance.now() - t0;
  window.__mmsimLastRenderMs = ms;
  window.__mmsimLastRender = { ms, strip: t1 - t0, table: t2 - t1, layout: ms - (t2 - t0), vmas: state.vmas.length, pid: state.pid, session: state.view?.id, at: Date.now() };
  (window.__mmsimRenders ||= []).push(window.__mmsimLastRender); // every render, for the performance check
  if (window.__mmsimRenders.length > 500) window.__mmsimRenders.shift();
  renderForest($('#forest'), state.anonVmas, state.allVmas);
  renderStats();
  renderPlot();
  updateFaultForm();
  const s = state.view;
  setStatus(s ? `${state.snapshot ? 'snapshot' : 'live'} · kernel ${s.kernel} · pid ${state.pid ?? '–'} · ${state.vmas.length} VMAs · strip+table rendered in ${ms.toFixed(1)} ms` : 'no session');
}

// ---------- scenarios ----------
function resultLine(op, r) {
  if (!r) return esc(op.op);
  if (r.note) return esc(r.note);
  if (op.op === 'fault') {
    const s = lockSummary(r);
    return `pid ${op.pid} ${esc(op.access)} ${esc(op.address)} → <span class="${s.cls}">${esc(s.text)}</span>${r.outcome && r.outcome !== 'handled' ? ` <b>${esc(r.outcome)}</b>` : ''}`;
  }
  if (r.strace) return `<span class="mono">${esc(r.strace)}</span>`;
  if (op.op === 'process') return `process “${esc(op.comm)}” → pid ${esc(r.pid)}`;
  if (op.op === 'file') return `file ${esc(op.path)}`;
  return esc(JSON.stringify(r).slice(0, 120));
}

let lastRun = [];
async function runScenario() {
  const scn = scenarioById($('#scenario-select').value);
  if (state.snapshot) await backToLive();
  if (!state.live) await createSession();
  const sid = state.live.id;
  setStatus(`running “${scn.title}”…`);
  const t0 = performance.now();
  const { results, pidMap } = await runOps(sid, scn.build(), (n, total) => setStatus(`running “${scn.title}”: ${n}/${total}`));
  lastRun = results;
  const shown = results.length > 60 ? results.filter((x) => x.op.op === 'fault' || x.op.op === 'process') : results;
  $('#scenario-results').innerHTML = (results.length > shown.length ? `<li class="muted">${results.length - shown.length} syscalls not listed</li>` : '') + shown.map((x) => {
    const i = results.indexOf(x);
    const line = resultLine(x.op, x.result);
    const n = `<span class="seq">${i + 1}.</span> `;
    return x.op.op === 'fault'
      ? `<li>${n}<button type="button" class="linkish" data-testid="scenario-fault" data-index="${i}" data-address="${esc(x.op.address)}" data-access="${esc(x.op.access)}">${line}</button></li>`
      : `<li data-testid="scenario-op">${n}${line}</li>`;
  }).join('');
  if (pidMap.has(1)) state.pid = pidMap.get(1);
  await guarded('reloading the log', reloadLog);
  await refresh();
  announceResults(scn, results);
  setStatus(`ran “${scn.title}”: ${results.length} operations in ${(performance.now() - t0).toFixed(0)} ms; strip+table rendered in ${(window.__mmsimLastRenderMs ?? 0).toFixed(1)} ms`);
}

/** A summary line above the results, scrolled into view and flashed, so a run's outcome is seen. */
function announceResults(scn, results) {
  const faults = results.filter((x) => x.op.op === 'fault');
  const by = {};
  for (const x of faults) { const c = lockSummary(x.result).cls; by[c] = (by[c] || 0) + 1; }
  const parts = Object.entries(by).map(([c, n]) => `<span class="${c}">${n} ${esc(PATH_WORDS[c] || c)}</span>`).join(', ');
  const box = $('#scenario-summary');
  box.innerHTML = `<b>“${esc(scn.title)}”</b>: ${results.length} operations, ${faults.length} fault${faults.length === 1 ? '' : 's'}${parts ? ` (${parts})` : ''}. Click a fault below for its lock path.`;
  box.hidden = false;
  box.classList.remove('flash'); void box.offsetWidth; box.classList.add('flash');
  box.scrollIntoView({ block: 'start', behavior: 'smooth' });
}
const PATH_WORDS = { vmalock: 'per-VMA lock', fallback: 'fell back to mmap_lock', legacy: 'mmap_lock only', nofault: 'no fault' };

// ---------- tabs ----------
function selectTab(btn) {
  for (const b of $$('[role="tab"]')) {
    const on = b === btn;
    b.setAttribute('aria-selected', String(on));
    b.tabIndex = on ? 0 : -1;
    $('#' + b.getAttribute('aria-controls')).hidden = !on;
  }
}

// ---------- wiring ----------
async function init() {
  initFault();
  initTimeline();
  initCompare();
  initTrace();
  initPlot();
  initRaces({ createSession });
  $('#scenario-select').innerHTML = SCENARIOS.map((s) => `<option value="${s.id}">${esc(s.title)}</option>`).join('');
  const showText = () => { $('#scenario-text').textContent = scenarioById($('#scenario-select').value).text; };
  $('#scenario-select').addEventListener('change', showText);
  showText();
  on('render', render);
  on('mode', updateFaultForm);

  $('#create-form').addEventListener('submit', (ev) => { ev.preventDefault(); guarded('creating a session', createSession); });
  $('#open-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = $('#open-id').value.trim();
    if (id) guarded(`opening session ${id}`, () => openSession(id));
  });
  $('#open-id').addEventListener('focus', listSessions);
  $('#session-recent').addEventListener('change', (ev) => {
    const id = ev.target.value;
    if (id) guarded(`opening session ${id}`, () => openSession(id));
  });
  $('#error-close').addEventListener('click', clearError);
  $('#scenario-form').addEventListener('submit', (ev) => { ev.preventDefault(); guarded('running the scenario', runScenario); });
  $('#scenario-results').addEventListener('click', (ev) => {
    const b = ev.target.closest('[data-testid="scenario-fault"]');
    if (!b) return;
    const x = lastRun[Number(b.dataset.index)];
    if (x) showFault(x.result, `scenario: pid ${x.op.pid} ${x.op.access} fault at ${x.op.address}`, x.op.pid);
  });
  $('#process-tree').addEventListener('click', (ev) => {
    const b = ev.target.closest('[data-testid="process"]');
    if (b) selectProcess(Number(b.dataset.pid));
  });
  $('#strip').addEventListener('click', (ev) => {
    const el = ev.target.closest('.vma, .gap');
    if (el) setFaultAddress(addressAt(el, ev));
  });
  $('#vma-table').addEventListener('click', (ev) => {
    const b = ev.target.closest('button.linkish');
    if (b) setFaultAddress(b.dataset.start);
  });
  const tabs = $$('[role="tab"]');
  tabs.forEach((b, i) => {
    b.addEventListener('click', () => selectTab(b));
    b.addEventListener('keydown', (ev) => {
      const d = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
      if (d) { const n = tabs[(i + d + tabs.length) % tabs.length]; selectTab(n); n.focus(); }
    });
  });
  window.addEventListener('hashchange', openFromHash);

  await guarded('loading kernel models', loadModel);
  state.kernels = model.kernels;
  renderModelForms();
  renderCompareKernels();
  render();
  await listSessions();
  await openFromHash();
  document.body.dataset.ready = 'true';
}

window.__mmsimRender = render; // lets tests re-measure a render
init();
