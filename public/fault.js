// Fault panel: a form that makes the selected process touch an address, and
// the answer drawn as a path: lock_vma_under_rcu → success or why it gave up
// → mmap_lock → handler → anon_vma decision → PTE before/after.
import { api } from './api.js';
import { state, guarded, scheduleRefresh, emit } from './store.js';
import { addr, hex, esc, avBadge, lockSummary, $ } from './util.js';
import { faultInjections } from './model.js';

const BAD = new Set(['abort', 'retry', 'miss', 'fail', 'failed', 'error', 'busy', 'contended']);

function pteText(p) {
  if (!p || !p.present) {
    if (p && p.guard) return 'guard marker';
    return 'none (not present)';
  }
  const bits = [p.writable ? 'RW' : 'RO'];
  if (p.dirty) bits.push('dirty');
  if (p.guard) bits.push('guard');
  if (p.folio) bits.push(`folio ${typeof p.folio === 'object' ? p.folio.id : p.folio}`);
  return 'present, ' + bits.join(', ');
}

function synthSteps(lock) {
  if (lock.path === 'vma_lock') return [{ fn: 'lock_vma_under_rcu', result: 'success' }];
  if (lock.path === 'vma_lock_then_mmap_lock') return [{ fn: 'lock_vma_under_rcu', result: lock.stat || 'abort', reason: lock.reason }, { fn: 'lock_mm_and_find_vma', result: 'locked' }];
  return [{ fn: 'mmap_read_lock', result: 'locked' }];
}

function box(cls, title, body, testid) {
  return `<li class="step ${cls}"${testid ? ` data-testid="${testid}"` : ''}><div class="step-fn">${title}</div>${body ? `<div class="step-body">${body}</div>` : ''}</li>`;
}

/** The full drawing of one fault result. */
export function faultHtml(res, source) {
  const src = source ? `<div class="fault-source">${esc(source)}</div>` : '';
  if (!res) return src;
  if (res.fault === false) {
    return `${src}<div class="lock-headline nofault" data-testid="lock-path">no fault: the PTE already allows ${esc(res.access)} at ${esc(res.address)}</div>`;
  }
  const lock = res.lock || {};
  const sum = lockSummary(res);
  const parts = [];
  parts.push(`${src}<div class="lock-headline ${sum.cls}" data-testid="lock-path" data-path="${esc(lock.path || '')}">${esc(sum.text)}</div>`);
  parts.push(`<dl class="lock-facts"><dt>address</dt><dd class="mono">${esc(res.address)} (${esc(res.access)})</dd><dt>lock.code</dt><dd><code data-testid="lock-code">${esc(lock.code ?? '—')}</code></dd><dt>lock.reason</dt><dd><code data-testid="lock-reason">${esc(lock.reason ?? '—')}</code></dd><dt>lock.stat</dt><dd><code>${esc(lock.stat ?? 'null')}</code></dd><dt>outcome</dt><dd data-testid="fault-outcome" class="${res.outcome === 'handled' ? '' : 'signal'}">${esc(res.outcome)}${res.si_code ? ` (${esc(res.si_code)})` : ''}</dd></dl>`);
  const steps = (lock.steps && lock.steps.length ? lock.steps : synthSteps(lock));
  const items = [];
  const handlerIn = steps.some((s) => s.fn === res.handler);
  let fellBack = false;
  for (const s of steps) {
    const bad = BAD.has(String(s.result).toLowerCase());
    const isMmap = /mmap|lock_mm_and_find_vma|find_vma/.test(s.fn);
    let cls = 'ok', label = '';
    if (s.fn === 'lock_vma_under_rcu') {
      cls = bad ? 'giveup' : 'vmalock';
      label = bad ? 'per-VMA lock not taken' : 'per-VMA read lock taken';
    } else if (bad) cls = 'giveup';
    else if (isMmap && lock.path === 'mmap_lock') { cls = 'legacy'; label = 'mmap_read_lock path'; }
    else if (isMmap && fellBack) { cls = 'fallback'; label = 'fell back to mmap_lock'; }
    else if (isMmap) label = 'opportunistic, the VMA lock is still held';
    if (bad) fellBack = true;
    const why = s.reason ? (bad ? `<span class="why">gave up: ${esc(s.reason)}</span>` : `<span class="note">for ${esc(s.reason)}</span>`) : '';
    const note = (label ? `<span class="note">${esc(label)}</span>` : '') + (s.note ? `<span class="note">${esc(s.note)}</span>` : '');
    items.push(box(cls, `<code>${esc(s.fn)}</code> → <b>${esc(s.result)}</b>`, why + note, 'fault-step'));
  }
  if (res.handler && !handlerIn) items.push(box('handler', `handler <code>${esc(res.handler)}</code>`, lock.path === 'vma_lock' ? 'under the per-VMA read lock' : 'under mmap_read_lock', 'fault-handler'));
  else if (res.handler) items.push(box('handler', `handler <code>${esc(res.handler)}</code>`, '', 'fault-handler'));
  const av = res.anon_vma;
  if (av) {
    let body = '';
    if (av.action === 'reused' && av.from) body += `reused from ${esc(av.from.side)} neighbour <span class="mono">${esc(av.from.vma)}</span><br>`;
    if (av.action === 'none') body += 'no anon_vma needed<br>';
    if (av.action === 'present') body += 'vma->anon_vma already set<br>';
    if (av.candidates && av.candidates.length) {
      body += '<ul class="cands">' + av.candidates.map((c) => `<li class="${c.compatible ? 'ok' : 'no'}" data-testid="anon-vma-candidate"><b>${esc(c.side)}</b> <span class="mono">${esc(c.vma)}</span>: ${c.compatible ? 'compatible' : 'not compatible'}${c.why ? ` — ${esc(c.why)}` : ''}</li>`).join('') + '</ul>';
    } else if (av.action === 'allocated') body += 'no neighbour considered compatible → new anon_vma';
    items.push(box(`anon av-${esc(av.action)}`, `anon_vma: <b data-testid="anon-vma-action">${esc(av.action)}</b> ${av.id ? avBadge(av.id) : ''}`, body, 'fault-anon-vma'));
  }
  const pte = res.pte || {};
  const folio = res.folio ? `<br>folio ${esc(res.folio.id)}${res.folio.anon ? ' anon' : ''}${res.folio.zero_page ? ' (zero page)' : ''}, mapcount ${esc(res.folio.mapcount)}${res.folio.copied_from ? `, copied from ${esc(res.folio.copied_from)}` : ''}` : '';
  items.push(box('pte', 'PTE', `<span class="pte-before">before: ${esc(pteText(pte.before))}</span><br><span class="pte-after">after: ${esc(pteText(pte.after))}</span>${folio}`, 'fault-pte'));
  parts.push(`<ol class="fault-path" data-testid="fault-path">${items.join('<li class="arrow" aria-hidden="true">↓</li>')}</ol>`);
  if (Array.isArray(res.trace) && res.trace.length) {
    parts.push(`<details class="trace" data-testid="fault-trace"><summary>trace (${res.trace.length} steps)</summary><ol>${res.trace.map((t) => `<li><code>${esc(t.fn)}</code> ${esc(t.note || '')}</li>`).join('')}</ol></details>`);
  }
  const second = res.second_fault || res.secondFault;
  if (second && (Array.isArray(second) ? second.length : true)) {
    for (const s2 of [].concat(second)) parts.push(`<h4>second fault</h4>${faultHtml(s2)}`);
  }
  return parts.join('');
}

// Whose result the panel shows: {pid, session, pids} at the time it was shown
// (pid null: a result from another session, e.g. a compare run).
let shown = null;
const pidsNow = () => (state.view?.processes || []).map((p) => p.pid).join(',');

/** Draws a fault result; `pid` is the process of the live session it belongs to. */
export function showFault(res, source, pid = null) {
  const out = $('#fault-result');
  shown = pid != null && state.view ? { pid, session: state.view.id, pids: pidsNow() } : null;
  out.innerHTML = `<p id="fault-stale" class="stale-note" data-testid="fault-stale" hidden></p>${faultHtml(res, source)}`;
  labelStale();
}

export function clearFault() {
  shown = null;
  $('#fault-result').innerHTML = '';
}

/** Marks the shown result when the selected process or the process set changed (fork, exit, new process). */
function labelStale() {
  const note = $('#fault-stale');
  if (!note) return;
  let why = '';
  if (shown && state.view && shown.session === state.view.id) {
    if (state.pid !== shown.pid) why = `This result is from pid ${shown.pid}; the selected process is pid ${state.pid ?? '–'}.`;
    else if (pidsNow() !== shown.pids) why = `Processes changed since this fault (now: pid ${pidsNow().replaceAll(',', ', ')}); it shows pid ${shown.pid} as it was then.`;
  }
  note.textContent = why;
  note.hidden = !why;
  $('#fault-result').classList.toggle('stale', !!why);
}

export function setFaultAddress(a) {
  $('#fault-address').value = typeof a === 'number' ? hex(a) : a;
  const details = $('#fault-panel');
  details.scrollIntoView({ block: 'nearest' });
  $('#fault-address').focus();
}

export function initFault() {
  $('#fault-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (state.snapshot) return;
    const s = state.live;
    if (!s) return;
    const pid = state.pid;
    const a = $('#fault-address').value.trim();
    const access = $('#fault-access').value;
    const inject = faultInjections();
    const body = { address: /^0x/i.test(a) ? a.toLowerCase() : (Number.isFinite(addr(a)) ? addr(a) : a), access, inject };
    const res = await guarded(`fault at ${a}`, () => api.fault(s.id, pid, body));
    if (res) {
      showFault(res, `pid ${pid}: ${access} fault at ${a}`, pid);
      emit('local-op');
      scheduleRefresh(0);
    }
  });
}

export function updateFaultForm() {
  const live = !state.snapshot && state.live && state.pid != null;
  $('#fault-submit').disabled = !live;
  $('#fault-pid').textContent = state.pid != null ? `pid ${state.pid}` : 'no process';
  labelStale();
  $('#fault-note').textContent = state.snapshot ? 'Showing an earlier state (read-only): go back to live to fault.' : (state.pid == null ? 'Create or select a process first.' : '');
}
