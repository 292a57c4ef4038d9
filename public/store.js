// Application state, a tiny event bus, error display and the refresh cycle.
import { api, ApiError } from './api.js';
import { addr, hex } from './util.js';

export const state = {
  kernels: [],
  live: null,        // summary of the session the user opened ({id, kernel, options, name, processes})
  view: null,        // summary of the session being displayed (live, or a scratch replay for a timeline entry)
  snapshot: null,    // {seq, sid} while showing the state at an earlier timeline entry
  pid: null,         // selected process
  vmas: [],
  pages: [],
  anonVmas: [],
  allVmas: {},       // pid -> vmas (for the forest)
  stats: null,
  busy: 0,
};

const handlers = {};
export function on(ev, fn) { (handlers[ev] ||= []).push(fn); }
export function emit(ev, arg) { for (const fn of handlers[ev] || []) fn(arg); }

export function showError(err, context) {
  const box = document.getElementById('error');
  const msg = err instanceof ApiError ? err.describe() : (err && err.message) || String(err);
  box.querySelector('[data-testid="error-message"]').textContent = (context ? `${context}: ` : '') + msg;
  box.hidden = false;
  if (!(err instanceof ApiError)) console.warn(err);
}
export function clearError() { document.getElementById('error').hidden = true; }

export function setStatus(text) {
  const el = document.getElementById('status');
  if (el) el.textContent = text;
}

/** Runs fn with the busy indicator; shows (and swallows) errors. */
export async function guarded(context, fn) {
  state.busy++;
  document.body.classList.add('busy');
  try {
    return await fn();
  } catch (e) {
    showError(e, context);
    return undefined;
  } finally {
    if (--state.busy === 0) document.body.classList.remove('busy');
  }
}

let refreshTimer = null;
let refreshing = null;
/** Refresh the displayed session soon (coalesces bursts, e.g. SSE events). */
export function scheduleRefresh(delay = 120) {
  clearTimeout(refreshTimer);
  document.body.dataset.refresh = 'pending'; // tests wait for this to go away
  refreshTimer = setTimeout(() => { refresh(); }, delay);
}

/** Reloads everything about the displayed session and re-renders. */
export async function refresh() {
  clearTimeout(refreshTimer);
  refreshTimer = null;
  if (refreshing) { await refreshing; }
  refreshing = (async () => {
    const s = state.view;
    if (!s) { emit('render'); return; }
    try {
      const summary = await api.session(s.id);
      if (state.view !== s && state.view?.id !== s.id) return;
      Object.assign(s, summary);
      const procs = summary.processes || [];
      if (!procs.some((p) => p.pid === state.pid)) {
        const alive = procs.find((p) => p.state !== 'exited') || procs[0];
        state.pid = alive ? alive.pid : null;
      }
      const tasks = [api.anonVmas(s.id), api.stats(s.id)];
      const pids = procs.map((p) => p.pid);
      // an exited process has no address space (and may answer 409): show it empty
      for (const p of procs) tasks.push(p.state === 'exited' ? Promise.resolve([]) : api.vmas(s.id, p.pid).catch((e) => { if (e instanceof ApiError && e.status === 409) return []; throw e; }));
      const [avs, stats, ...vmaLists] = await Promise.all(tasks);
      state.anonVmas = avs;
      state.stats = stats;
      state.allVmas = {};
      pids.forEach((pid, i) => { state.allVmas[pid] = vmaLists[i]; });
      state.vmas = state.pid != null ? (state.allVmas[state.pid] || []) : [];
      state.pages = [];
      if (state.vmas.length) {
        const lo = addr(state.vmas[0].start), hi = addr(state.vmas[state.vmas.length - 1].end);
        state.pages = await api.pages(s.id, state.pid, hex(lo), hex(hi));
      }
      emit('render');
    } catch (e) {
      showError(e, 'loading session state');
    }
  })();
  try { await refreshing; } finally {
    refreshing = null;
    if (!refreshTimer || document.body.dataset.refresh !== 'pending') delete document.body.dataset.refresh;
  }
}

export function selectProcess(pid) {
  state.pid = pid;
  state.vmas = state.allVmas[pid] || [];
  refresh();
}
