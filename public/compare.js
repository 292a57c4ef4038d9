// Compare: one scenario under several kernel models. The per-fault lock paths
// come from one scratch session per model run through /ops (full fault
// results, so a cell opens the whole path; the sessions are deleted after);
// the counters come from POST /v1/compare ({columns, stats, table,
// differences}) when the server has it, else from each session's /stats.
import { api, ApiError } from './api.js';
import { state, guarded, setStatus } from './store.js';
import { SCENARIOS, scenarioById, runOps } from './scenarios.js';
import { showFault } from './fault.js';
import { model, sessionOptions } from './model.js';
import { esc, lockSummary, $, $$ } from './util.js';

let last = null;

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

async function serverCompare(ops, kernels, options) {
  const body = { kernels, ops };
  const on = Object.keys(options).filter((k) => options[k]);
  if (on.length) body.options = on; // docs/API.md: names of the options that are on
  try {
    const d = await api.compare(body);
    if (d && Array.isArray(d.columns) && d.stats) return { data: d, note: 'counters from POST /v1/compare' };
    return { data: null, note: 'POST /v1/compare answered an unknown shape; counters from each session' };
  } catch (e) {
    if (!(e instanceof ApiError) || e.status === 0) throw e;
    return { data: null, note: `POST /v1/compare answered ${e.describe()}; counters from each session` };
  }
}

export async function runCompare(scenarioId, kernels, options) {
  const scn = scenarioById(scenarioId);
  const ops = scn.build();
  const faultOps = ops.filter((o) => o.op === 'fault');
  const srv = await serverCompare(ops, kernels, options);
  const runs = await perSession(ops, kernels, options);
  return { scn, faultOps, runs, server: srv.data, note: srv.note };
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
  const { faultOps, runs, scn } = res;
  const head = runs.map((r) => `<th scope="col">${esc(r.kernel)}</th>`).join('');
  const rows = faultOps.map((op, i) => {
    const cells = runs.map((r, ri) => {
      const f = r.faults[i];
      const s = lockSummary(f);
      const extra = f && f.fault !== false ? `<small>${esc(f.lock?.code ?? '')}${f.handler ? ` · ${esc(f.handler)}` : ''}${f.anon_vma && f.anon_vma.action !== 'none' ? ` · anon_vma ${esc(f.anon_vma.action)}` : ''}${f.outcome && f.outcome !== 'handled' ? ` · ${esc(f.outcome)}` : ''}</small>` : '';
      return `<td><button type="button" class="cmp-cell ${s.cls}" data-testid="compare-cell" data-kernel="${esc(r.kernel)}" data-fault="${i}" data-run="${ri}"><span>${esc(s.text)}</span>${extra}</button></td>`;
    }).join('');
    const differs = new Set(runs.map((r) => r.faults[i]?.lock?.code ?? 'none')).size > 1;
    return `<tr${differs ? ' class="differs-row" title="the models differ on this fault"' : ''}><th scope="row" class="mono">${differs ? '≠ ' : ''}#${i + 1} ${esc(op.access)}<br>${esc(op.address)}${op.pid !== 1 ? ` (pid ${op.pid})` : ''}</th>${cells}</tr>`;
  }).join('');
  let counters;
  if (res.server && Array.isArray(res.server.table)) {
    const cols = res.server.columns.map((c) => `<th scope="col">${esc(c)}</th>`).join('');
    const body = res.server.table.map((r) => {
      const diff = new Set((r.values || []).map(String)).size > 1 ? ' class="differs"' : '';
      return `<tr${diff}><th scope="row">${esc(r.row)}</th>${(r.values || []).map((v) => `<td>${esc(v)}</td>`).join('')}</tr>`;
    }).join('');
    counters = `<table class="cmp-table" data-testid="compare-stats"><caption>Counters (POST /v1/compare)</caption><thead><tr><th scope="col">counter</th>${cols}</tr></thead><tbody>${body}</tbody></table>`;
  } else {
    const by = new Set();
    for (const r of runs) for (const k of Object.keys(get(r.stats, 'faults.by_reason') || {})) by.add(k);
    const counterRows = [...COUNTERS, ...[...by].map((k) => `faults.by_reason.${k}`)].map((c) => {
      const vals = runs.map((r) => get(r.stats, c));
      if (vals.every((v) => v === undefined)) return '';
      const diff = new Set(vals.map(String)).size > 1 ? ' class="differs"' : '';
      return `<tr${diff}><th scope="row" class="mono">${esc(c)}</th>${vals.map((v) => `<td>${esc(v ?? '–')}</td>`).join('')}</tr>`;
    }).join('');
    counters = `<table class="cmp-table" data-testid="compare-stats"><caption>Counters (GET …/stats of each session)</caption><thead><tr><th scope="col">counter</th>${head}</tr></thead><tbody>${counterRows}</tbody></table>`;
  }
  const srvDiff = res.server && Array.isArray(res.server.differences) ? res.server.differences.length : null;
  const localDiff = faultOps.filter((_, i) => new Set(runs.map((r) => r.faults[i]?.lock?.code ?? 'none')).size > 1).length;
  const diffNote = `${localDiff} of ${faultOps.length} faults differ between the models${srvDiff != null ? ` (POST /v1/compare: ${srvDiff})` : ''}.`;
  root.innerHTML = `<p class="muted small">${esc(scn.title)}: lock paths from one scratch session per model; ${esc(res.note)}. <span data-testid="compare-diff">${esc(diffNote)}</span></p>
    <div class="table-wrap"><table class="cmp-table" data-testid="compare-table" style="min-width:${118 + runs.length * 104}px"><caption>Lock path per fault (click a cell for the full path)</caption><thead><tr><th scope="col">fault</th>${head}</tr></thead><tbody>${rows}</tbody></table></div>
    <div class="table-wrap">${counters}</div>`;
}

export function initCompare() {
  $('#compare-scenario').innerHTML = SCENARIOS.map((s) => `<option value="${s.id}">${esc(s.title)}</option>`).join('');
  $('#compare-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const kernels = $$('#compare-kernels input:checked').map((i) => i.value);
    if (!kernels.length) { $('#compare-out').innerHTML = '<p class="empty">Pick at least one kernel model.</p>'; return; }
    const options = sessionOptions();
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

/** Every model is offered; the server's compare_default ones are ticked. */
export function renderCompareKernels() {
  const on = new Set(model.compareDefault);
  $('#compare-kernels').innerHTML = state.kernels.map((k) => `<label title="${esc(k.summary || '')}"><input type="checkbox" value="${esc(k.id)}"${on.has(k.id) ? ' checked' : ''}> ${esc(k.id)}</label>`).join('');
}
