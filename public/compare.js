// Compare: one scenario under several kernel models, per fault the lock path
// of each model side by side, and the counters. Tries POST /v1/compare; if
// that is unavailable or its answer has no per-fault results, runs one
// scratch session per model through /ops and deletes it afterwards.
import { api, ApiError } from './api.js';
import { state, guarded, setStatus } from './store.js';
import { SCENARIOS, scenarioById, runOps } from './scenarios.js';
import { showFault } from './fault.js';
import { esc, lockSummary, $, $$ } from './util.js';

let last = null;

function normalizeCompare(d, kernels, nFaults) {
  if (!d || typeof d !== 'object') return null;
  let runs = d.runs || d.results || (Array.isArray(d.kernels) ? d.kernels : null);
  if (!runs && d.by_kernel && typeof d.by_kernel === 'object') runs = Object.entries(d.by_kernel).map(([k, v]) => ({ kernel: k, ...v }));
  if (!Array.isArray(runs)) return null;
  const out = [];
  for (const r of runs) {
    if (!r || typeof r !== 'object') return null;
    const kernel = r.kernel || r.id || r.model;
    let faults = r.faults;
    if (!faults && Array.isArray(r.results)) faults = r.results.filter((x) => x && (x.fault !== undefined || x.lock));
    if (!kernel || !Array.isArray(faults) || faults.length !== nFaults) return null;
    out.push({ kernel, stats: r.stats || r.statistics || null, faults });
  }
  return out.length ? out : null;
}

async function perSession(ops, kernels, options) {
  const runs = [];
  for (const k of kernels) {
    setStatus(`compare: running under ${k}…`);
    const s = await api.createSession(k, options, `compare ${k}`);
    try {
      const { results } = await runOps(s.id, ops);
      const faults = results.filter((x) => x.op.op === 'fault').map((x) => x.result);
      const stats = await api.stats(s.id);
      runs.push({ kernel: k, stats, faults });
    } finally {
      try { await api.deleteSession(s.id); } catch { /* ignore */ }
    }
  }
  return runs;
}

export async function runCompare(scenarioId, kernels, options) {
  const scn = scenarioById(scenarioId);
  const ops = scn.build();
  const faultOps = ops.filter((o) => o.op === 'fault');
  let runs = null, via = 'POST /v1/compare';
  try {
    const body = { kernels, ops };
    const on = Object.keys(options).filter((k) => options[k]);
    if (on.length) body.options = on; // api.md: "options": [names of the options that are on]
    runs = normalizeCompare(await api.compare(body), kernels, faultOps.length);
    if (!runs) via = 'one session per model (POST /v1/compare gave no per-fault results)';
  } catch (e) {
    if (!(e instanceof ApiError) || e.status === 0) throw e;
    via = `one session per model (POST /v1/compare answered ${e.status})`;
  }
  if (!runs) runs = await perSession(ops, kernels, options);
  return { scn, faultOps, runs, via };
}

function get(o, path) {
  return path.split('.').reduce((x, k) => (x == null ? undefined : x[k]), o);
}

const COUNTERS = [
  'faults.total', 'faults.vma_lock.success', 'faults.vma_lock.abort', 'faults.vma_lock.retry', 'faults.vma_lock.miss',
  'faults.mmap_lock', 'faults.sigsegv', 'faults.sigbus', 'anon_vma.allocated', 'anon_vma.reused_prev', 'anon_vma.reused_next',
  'anon_vma.fork_cloned', 'anon_vma.fork_reused', 'anon_vma.live', 'vmas.live', 'vmas.merged', 'vmas.split',
];

export function renderCompare(root, res) {
  const { faultOps, runs, via, scn } = res;
  const head = runs.map((r) => `<th scope="col">${esc(r.kernel)}</th>`).join('');
  const rows = faultOps.map((op, i) => {
    const cells = runs.map((r, ri) => {
      const f = r.faults[i];
      const s = lockSummary(f);
      const extra = f && f.fault !== false ? `<small>${esc(f.lock?.code ?? '')}${f.handler ? ` · ${esc(f.handler)}` : ''}${f.anon_vma && f.anon_vma.action !== 'none' ? ` · anon_vma ${esc(f.anon_vma.action)}` : ''}${f.outcome && f.outcome !== 'handled' ? ` · ${esc(f.outcome)}` : ''}</small>` : '';
      return `<td><button type="button" class="cmp-cell ${s.cls}" data-testid="compare-cell" data-kernel="${esc(r.kernel)}" data-fault="${i}" data-run="${ri}"><span>${esc(s.text)}</span>${extra}</button></td>`;
    }).join('');
    return `<tr><th scope="row" class="mono">#${i + 1} ${esc(op.access)}<br>${esc(op.address)}${op.pid !== 1 ? ` (pid ${op.pid})` : ''}</th>${cells}</tr>`;
  }).join('');
  const by = new Set();
  for (const r of runs) for (const k of Object.keys(get(r.stats, 'faults.by_reason') || {})) by.add(k);
  const counterRows = [...COUNTERS, ...[...by].map((k) => `faults.by_reason.${k}`)].map((c) => {
    const vals = runs.map((r) => get(r.stats, c));
    if (vals.every((v) => v === undefined)) return '';
    const diff = new Set(vals.map(String)).size > 1 ? ' class="differs"' : '';
    return `<tr${diff}><th scope="row" class="mono">${esc(c)}</th>${vals.map((v) => `<td>${esc(v ?? '–')}</td>`).join('')}</tr>`;
  }).join('');
  root.innerHTML = `<p class="muted">${esc(scn.title)} — via ${esc(via)}.</p>
    <table class="cmp-table" data-testid="compare-table"><caption>Lock path per fault (click a cell for the full path)</caption><thead><tr><th scope="col">fault</th>${head}</tr></thead><tbody>${rows}</tbody></table>
    <table class="cmp-table" data-testid="compare-stats"><caption>Counters (GET …/stats)</caption><thead><tr><th scope="col">counter</th>${head}</tr></thead><tbody>${counterRows}</tbody></table>`;
}

export function initCompare() {
  $('#compare-scenario').innerHTML = SCENARIOS.map((s) => `<option value="${s.id}">${esc(s.title)}</option>`).join('');
  $('#compare-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const kernels = $$('#compare-kernels input:checked').map((i) => i.value);
    if (!kernels.length) { $('#compare-out').innerHTML = '<p class="empty">Pick at least one kernel model.</p>'; return; }
    const options = { eager_anon_vma: $('#opt-eager').checked, skip_mergeable_for_file: $('#opt-skip').checked };
    $('#compare-out').innerHTML = '<p class="muted">running…</p>';
    const res = await guarded('compare', () => runCompare($('#compare-scenario').value, kernels, options));
    if (res) { last = res; renderCompare($('#compare-out'), res); setStatus(`compare done (${kernels.join(', ')})`); }
    else $('#compare-out').innerHTML = '';
  });
  $('#compare-out').addEventListener('click', (ev) => {
    const b = ev.target.closest('[data-testid="compare-cell"]');
    if (!b || !last) return;
    const r = last.runs[Number(b.dataset.run)], i = Number(b.dataset.fault), op = last.faultOps[i];
    showFault(r.faults[i], `compare, ${r.kernel}: fault #${i + 1} (pid ${op.pid} ${op.access} ${op.address})`);
  });
}

export function renderCompareKernels() {
  $('#compare-kernels').innerHTML = state.kernels.map((k) => `<label title="${esc(k.summary || '')}"><input type="checkbox" value="${esc(k.id)}" checked> ${esc(k.id)}</label>`).join('');
}
