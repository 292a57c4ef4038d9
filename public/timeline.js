// Timeline: every operation of the live session (GET …/log), kept live with
// the SSE stream (GET …/events). Picking an earlier entry shows the state at
// that point by replaying the log prefix into a scratch session (same kernel
// and options) through POST …/ops; "Back to live" deletes the scratch session.
import { api } from './api.js';
import { state, guarded, refresh, scheduleRefresh, setStatus, emit } from './store.js';
import { showFault } from './fault.js';
import { esc, lockSummary, $ } from './util.js';

const META = new Set(['seq', 'result', 'time', 'ts', 'at', 'request_id', 'status', 'index', 'id_']);
let entries = [];          // [{seq, op, result}]
let es = null;
let sid = null;
let pending = [];
let flushTimer = 0;

function cleanOp(op) {
  const o = {};
  for (const [k, v] of Object.entries(op || {})) if (!META.has(k)) o[k] = v;
  return o;
}

/** Accepts {seq, op:{…}, result} or {op:"mmap", …, result}. */
function normalize(raw, fallbackSeq) {
  if (!raw || typeof raw !== 'object') return null;
  let op, result = raw.result ?? raw.response ?? null;
  if (raw.op && typeof raw.op === 'object') op = raw.op;
  else if (raw.operation && typeof raw.operation === 'object') op = raw.operation;
  else op = raw;
  const seq = Number(raw.seq ?? raw.index ?? op.seq ?? fallbackSeq);
  return { seq, op: cleanOp(op), result };
}

// argument order of the man pages, for ops whose result (and strace) is not known
const ARGS = {
  mmap: ['addr', 'length', 'prot', 'flags', 'fd', 'offset'], munmap: ['addr', 'length'], mprotect: ['addr', 'length', 'prot'],
  madvise: ['addr', 'length', 'advice'], mremap: ['old_address', 'old_size', 'new_size', 'flags', 'new_address'],
  brk: ['brk'], open: ['path', 'flags'], close: ['fd'], fork: [], exit: ['status'],
};
function straceLike(o) {
  const order = ARGS[o.op] || Object.keys(o).filter((k) => k !== 'op' && k !== 'pid');
  const fmt = (k, v) => (v == null ? (k === 'addr' ? 'NULL' : '') : k === 'path' ? JSON.stringify(v)
    : Array.isArray(v) ? v.join('|') : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const args = order.filter((k) => k in o || k === 'addr').map((k) => fmt(k, o[k]));
  while (args.length && args[args.length - 1] === '') args.pop();
  return `${o.op}(${args.join(', ')})`;
}

function describe(e) {
  const o = e.op, r = e.result;
  if (o.op === 'fault') {
    const s = r ? lockSummary(r) : null;
    return { cls: s ? s.cls : '', text: `pid ${o.pid} ${o.access || 'read'} fault ${o.address}${s ? ` → ${s.text}${r.outcome && r.outcome !== 'handled' ? ` (${r.outcome})` : ''}` : ''}` };
  }
  if (r && r.strace) return { cls: r.errno ? 'err' : '', text: `pid ${o.pid}: ${r.strace}` };
  if (o.op === 'process') return { cls: '', text: `new process "${o.comm ?? ''}"${r && r.pid != null ? ` → pid ${r.pid}` : ''}` };
  if (o.op === 'file') return { cls: '', text: `file ${o.path} (${o.size ?? 0} bytes)` };
  if (o.op === 'replay') {
    const n = typeof o.text === 'string' ? o.text.split('\n').filter((l) => l.trim()).length : 0;
    const did = r && r.applied != null ? `: ${r.applied} applied, ${r.skipped ?? 0} skipped` : r && Array.isArray(r.lines) ? `: ${r.lines.length} VMAs into pid ${r.pid}` : '';
    return { cls: '', text: `replay of a ${o.format ?? ''} trace (${n} lines)${did}` };
  }
  return { cls: '', text: `pid ${o.pid ?? '?'}: ${straceLike(o)}` };
}

function entryHtml(e) {
  const d = describe(e);
  const cur = state.snapshot && state.snapshot.seq === e.seq ? ' aria-current="true"' : '';
  return `<li><button type="button" class="tl-entry ${d.cls}" data-testid="timeline-entry" data-seq="${e.seq}" data-op="${esc(e.op.op)}"${e.op.address != null ? ` data-address="${esc(e.op.address)}"` : ''}${cur} title="${esc(JSON.stringify(e.op))}"><span class="seq">#${e.seq}</span> ${esc(d.text)}</button></li>`;
}

function renderAll() {
  const list = $('#timeline-list');
  list.innerHTML = entries.map(entryHtml).join('');
  $('#timeline-count').textContent = `${entries.length} operation${entries.length === 1 ? '' : 's'}`;
  const cur = list.querySelector('[aria-current="true"]');
  if (cur) cur.scrollIntoView({ block: 'nearest' });
}

function upsert(e) {
  const i = entries.findIndex((x) => x.seq === e.seq);
  if (i >= 0) {
    entries[i] = { ...entries[i], ...e, result: e.result ?? entries[i].result };
    return false;
  }
  if (!entries.length || e.seq > entries[entries.length - 1].seq) { entries.push(e); return true; }
  entries.push(e);
  entries.sort((a, b) => a.seq - b.seq);
  return false;
}

function flush() {
  flushTimer = 0;
  const batch = pending; pending = [];
  let full = false;
  const add = [];
  for (const e of batch) { if (upsert(e)) add.push(e); else full = true; }
  if (full) renderAll();
  else if (add.length) {
    $('#timeline-list').insertAdjacentHTML('beforeend', add.map(entryHtml).join(''));
    $('#timeline-count').textContent = `${entries.length} operations`;
  }
  if (!state.snapshot) scheduleRefresh();
  else setStatus(`${entries.length} operations in the live session (showing #${state.snapshot.seq})`);
}

function onEvent(ev) {
  let data;
  try { data = JSON.parse(ev.data); } catch { return; }
  const fallback = Number(ev.lastEventId) || (entries.length ? entries[entries.length - 1].seq + 1 + pending.length : 1 + pending.length);
  const e = normalize(data, fallback);
  if (!e || !e.op || !e.op.op) return;
  pending.push(e);
  // a timer, not requestAnimationFrame: rAF does not run in a hidden tab
  if (!flushTimer) flushTimer = setTimeout(flush, 40);
}

export async function reloadLog() {
  if (!sid) return;
  const data = await api.log(sid);
  const list = Array.isArray(data) ? data : (data.ops || data.log || data.entries || []);
  const known = new Map(entries.map((e) => [e.seq, e]));
  entries = list.map((raw, i) => {
    const e = normalize(raw, i + 1);
    const old = known.get(e.seq);
    return old && !e.result ? { ...e, result: old.result } : e;
  }).filter((e) => e && e.op);
  renderAll();
}

export async function openTimeline(newSid) {
  closeTimeline();
  sid = newSid;
  entries = [];
  renderAll();
  const src = new EventSource(api.eventsUrl(sid));
  es = src;
  const live = $('#timeline-live');
  src.onopen = () => { live.textContent = 'live'; live.className = 'live-on'; };
  src.onerror = () => {
    live.textContent = src.readyState === EventSource.CLOSED ? 'live updates stopped' : 'reconnecting…';
    live.className = 'live-off';
    if (src.readyState === EventSource.CLOSED) console.warn('event stream closed');
  };
  src.onmessage = onEvent;
  for (const name of ['op', 'operation', 'result']) src.addEventListener(name, onEvent);
  await guarded('loading the log', reloadLog);
}

export function closeTimeline() {
  if (es) { es.close(); es = null; }
  sid = null;
}

async function dropScratch() {
  const snap = state.snapshot;
  state.snapshot = null;
  if (snap) { try { await api.deleteSession(snap.sid); } catch { /* already gone */ } }
}

export async function backToLive() {
  await dropScratch();
  state.view = state.live;
  $('#snapshot-banner').hidden = true;
  renderAll();
  emit('mode');
  await refresh();
}

/** Shows the state right after entry `seq` (replayed into a scratch session). */
export async function viewAt(seq) {
  const idx = entries.findIndex((e) => e.seq === seq);
  if (idx < 0 || !state.live) return;
  const target = entries[idx];
  if (idx === entries.length - 1) {
    await backToLive();
    if (target.result && target.op.op === 'fault') showFault(target.result, `timeline #${seq}`, target.op.pid);
    return;
  }
  await guarded(`replaying the log up to #${seq}`, async () => {
    await dropScratch();
    const live = state.live;
    const scratch = await api.createSession(live.kernel, live.options || {}, `scratch: ${live.id.slice(0, 8)} at #${seq}`);
    const ops = entries.slice(0, idx + 1).map((e) => e.op);
    const last = ops.pop();
    for (let i = 0; i < ops.length; i += 250) await api.ops(scratch.id, ops.slice(i, i + 250), 'summary');
    const res = ((await api.ops(scratch.id, [last], 'full')).results || [])[0];
    state.snapshot = { seq, sid: scratch.id };
    state.view = scratch;
    const banner = $('#snapshot-banner');
    banner.hidden = false;
    $('#snapshot-text').textContent = `Showing the state after #${seq} of ${entries.length} (log prefix replayed into scratch session ${scratch.id.slice(0, 8)}…).`;
    renderAll();
    emit('mode');
    if (target.op.op === 'fault') showFault(target.result || res, `timeline #${seq}: pid ${target.op.pid} ${target.op.access} fault at ${target.op.address}`);
    if (target.op.pid != null) state.pid = target.op.pid;
    await refresh();
  });
}

export function initTimeline() {
  $('#timeline-list').addEventListener('click', (ev) => {
    const b = ev.target.closest('[data-testid="timeline-entry"]');
    if (b) viewAt(Number(b.dataset.seq));
  });
  $('#snapshot-back').addEventListener('click', () => backToLive());
  window.addEventListener('beforeunload', () => {
    if (state.snapshot) fetch(`/v1/sessions/${state.snapshot.sid}`, { method: 'DELETE', keepalive: true });
  });
}

export const timelineEntries = () => entries;
