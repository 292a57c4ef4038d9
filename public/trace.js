// Upload trace: an strace, perf script or /proc/PID/maps file is posted to
// POST …/replay ({format, text}) and the replay's report is shown: lines
// applied and skipped, the pid mapping, agreement with the real kernel, the
// disagreements and every skipped line (the warnings).
import { api } from './api.js';
import { state, guarded, refresh, setStatus } from './store.js';
import { reloadLog } from './timeline.js';
import { esc, $ } from './util.js';

/** Guesses the format from the first meaningful lines. */
export function detectFormat(text) {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).slice(0, 40);
  const maps = /^[0-9a-f]+-[0-9a-f]+\s+[r-][w-][x-][ps]\s+[0-9a-f]+\s+[0-9a-f]+:[0-9a-f]+\s+\d+/i;
  if (lines.length && lines.filter((l) => maps.test(l)).length >= Math.ceil(lines.length * 0.8)) return 'maps';
  if (lines.some((l) => /\s\d+(\/\d+)?\s+\[\d+\]\s+\d+\.\d+:\s+\S+:\S+/.test(l) || /\b(syscalls|exceptions|mmap_lock):\w+/.test(l))) return 'perf';
  return 'strace';
}

const LIST_MAX = 200;

function list(title, items, testid, cls) {
  if (!items.length) return '';
  const more = items.length > LIST_MAX ? `<li class="muted">… ${items.length - LIST_MAX} more</li>` : '';
  return `<details class="replay-list ${cls}" data-testid="${testid}"${items.length <= 12 ? ' open' : ''}><summary>${esc(title)} (${items.length})</summary><ol>${items.slice(0, LIST_MAX).join('')}${more}</ol></details>`;
}

const ratio = (x) => (typeof x === 'number' ? x.toFixed(3) : '–');
/** "n / of = ratio", or what an empty denominator means (nothing to agree with is not agreement). */
const agreement = (n, of, r, none) => (of === 0 ? `<span class="muted">${esc(none)}</span>` : `${esc(n)} / ${esc(of)} = ${ratio(r)}`);

/** The report of one replay (maps imports answer {pid, lines}). */
export function reportHtml(name, format, r) {
  const lines = Array.isArray(r.lines) ? r.lines : [];
  const skipped = lines.filter((l) => l.status !== 'applied');
  const applied = r.applied ?? lines.length - skipped.length;
  const head = [`<b>${esc(name)}</b> (${esc(format)})`, `${applied} line${applied === 1 ? '' : 's'} applied`, `${r.skipped ?? skipped.length} skipped`];
  const procs = r.processes ? Object.entries(r.processes).map(([real, sim]) => `${esc(real)} → pid ${esc(sim)}`).join(', ') : (r.pid != null ? `into pid ${esc(r.pid)}` : '');
  const ag = r.agreement;
  const agree = ag ? `<dl class="replay-facts"><dt>faults reproduced</dt><dd data-testid="trace-fault-agreement">${agreement(ag.faults_reproduced, ag.real_faults, ag.fault_ratio, 'no fault in the trace')}</dd><dt>mmap_lock use matching</dt><dd data-testid="trace-lock-agreement">${agreement(ag.lock_agreeing, ag.lock_observed, ag.lock_ratio, 'no mmap_lock event in the trace')}</dd></dl>` : '';
  const warnings = [
    ...(Array.isArray(r.warnings) ? r.warnings.map((w) => `<li>${esc(typeof w === 'string' ? w : (w.line != null ? `line ${w.line}: ` : '') + (w.what ?? w.message ?? JSON.stringify(w)))}</li>`) : []),
    ...skipped.map((l) => `<li><span class="seq">line ${esc(l.line)}</span> ${l.pid != null ? `pid ${esc(l.pid)}: ` : ''}${esc(l.what)}</li>`),
    // Lines the importer could not read: one entry per kind, with its first example.
    ...((r.line_counts && r.line_counts.not_understood) || []).map((n) => `<li><span class="seq">line ${esc(n.first_line)}</span> not understood (${esc(n.kind)}${n.count > 1 ? `, ${esc(n.count)} lines` : ''}): <span class="mono">${esc(n.text)}</span></li>`),
  ];
  const dis = (r.disagreements || []).map((d) => `<li><span class="seq">line ${esc(d.line)}</span> <span class="mono">${esc(d.address)}</span> ${esc(d.what)}</li>`);
  return `<p class="replay-head" data-testid="trace-summary">${head.join(' · ')}${procs ? `<br><span class="muted small">${procs}</span>` : ''}</p>${agree}
    ${list('warnings: lines not applied', warnings, 'trace-warnings', 'warn')}
    ${list('disagreements with the real kernel', dis, 'trace-disagreements', 'warn')}
    ${list('lines applied', lines.filter((l) => l.status === 'applied').map((l) => `<li><span class="seq">line ${esc(l.line)}</span> ${l.pid != null ? `pid ${esc(l.pid)}: ` : ''}${esc(l.what)}</li>`), 'trace-applied', '')}`;
}

async function upload(file) {
  if (!state.live) throw new Error('open or create a session first');
  const text = await file.text();
  const chosen = $('#trace-format').value;
  const format = chosen === 'auto' ? detectFormat(text) : chosen;
  setStatus(`replaying ${file.name} (${format}, ${text.length} bytes)…`);
  const out = $('#trace-report');
  out.innerHTML = '<p class="muted">replaying…</p>';
  const r = await api.replay(state.live.id, { format, text });
  out.innerHTML = reportHtml(file.name, format, r);
  const first = r.pid ?? Object.values(r.processes || {})[0];
  if (first != null) state.pid = first; // show the replayed program
  out.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  await guarded('reloading the log', reloadLog);
  await refresh();
  setStatus(`replayed ${file.name} (${format})`);
}

export function initTrace() {
  $('#trace-file').addEventListener('change', async (ev) => {
    const input = ev.target;
    const file = input.files && input.files[0];
    if (!file) return;
    const ok = await guarded(`replaying ${file.name}`, () => upload(file).then(() => true));
    if (!ok) $('#trace-report').innerHTML = '';
    input.value = ''; // the same file can be picked again
  });
}
