// Fault timeline plot: every fault of the live session over the operation
// number (x) and its address (y, by rank of the distinct pages faulted, so
// far-apart mappings stay readable), coloured by the lock path taken. A
// replayed trace is one logged operation whose result lists its lines; its
// faults are spread over those lines (x counts each applied line). Hover a
// dot for the fault; click one to open its full path when the result has it.
import { state } from './store.js';
import { timelineEntries } from './timeline.js';
import { showFault } from './fault.js';
import { addr, hex, esc, lockSummary, $ } from './util.js';

const W = 640, H = 150, L = 96, R = 10, T = 8, B = 26;
const CLASSES = [['vmalock', 'per-VMA lock'], ['fallback', 'fell back to mmap_lock'], ['legacy', 'mmap_lock only'], ['nofault', 'no fault']];
const REPLAY_FAULT = /^fault (\w+) (0x[0-9a-f]+) → (.+)$/;

/** Lock-path class of a replayed line's code: the report gives the code only. */
function codeClass(code) {
  if (code === 'no fault') return 'nofault';
  if (code === 'LEGACY') return 'legacy';
  if (/^VMA_OK/.test(code) || code === 'ACCESS_ERROR_SEGV') return 'vmalock';
  return 'fallback';
}

/** [{x, address, cls, text, entry}] and the replay spans, from the timeline entries. */
export function faultPoints(entries) {
  const pts = [], spans = [];
  let x = 0;
  for (const e of entries) {
    const lines = e.op.op === 'replay' && e.result && Array.isArray(e.result.lines) ? e.result.lines.filter((l) => l.status === 'applied') : null;
    if (lines) {
      const x0 = x + 1;
      for (const l of lines) {
        x++;
        const m = REPLAY_FAULT.exec(l.what || '');
        if (m) pts.push({ x, address: m[2], cls: codeClass(m[3]), text: `#${e.seq} replay line ${l.line}: pid ${l.pid} ${m[1]} fault ${m[2]} → ${m[3]}` });
      }
      spans.push({ x0, x1: Math.max(x0, x), seq: e.seq });
      continue;
    }
    x++;
    if (e.op.op !== 'fault') continue;
    const r = e.result;
    const s = r ? lockSummary(r) : null;
    const code = r ? (r.lock?.code ?? r.code ?? '') : '';
    const cls = s ? s.cls : 'unknown';
    const label = s ? s.text : 'result not known';
    pts.push({ x, address: e.op.address, cls, entry: e,
      text: `#${e.seq} pid ${e.op.pid} ${e.op.access || 'read'} fault ${e.op.address} → ${label}${code ? ` (${code})` : ''}${r && r.outcome && r.outcome !== 'handled' ? ` ${r.outcome}` : ''}` });
  }
  return { pts, spans, ops: x };
}

let current = [];

export function renderPlot() {
  const root = $('#fault-plot');
  if (!root) return;
  const { pts, spans, ops } = faultPoints(state.live ? timelineEntries() : []);
  current = pts;
  if (!pts.length) {
    const counted = state.live ? state.stats?.faults?.total ?? 0 : 0;
    root.innerHTML = `<figcaption class="muted small">Fault timeline: ${!state.live ? 'no fault yet (no session)'
      : counted ? `the ${counted} fault${counted === 1 ? '' : 's'} counted above came from inside other operations (e.g. populating a mapping), not from fault operations`
        : 'no fault yet'}.</figcaption>`;
    return;
  }
  const pages = [...new Set(pts.map((p) => Math.floor(addr(p.address) / 4096)))].sort((a, b) => a - b);
  const rank = new Map(pages.map((p, i) => [p, i]));
  const xs = (x) => L + (ops <= 1 ? (W - L - R) / 2 : ((x - 1) / (ops - 1)) * (W - L - R));
  const ys = (a) => {
    const r = rank.get(Math.floor(addr(a) / 4096));
    return pages.length <= 1 ? T + (H - T - B) / 2 : H - B - (r / (pages.length - 1)) * (H - T - B);
  };
  const parts = [];
  for (const s of spans) parts.push(`<rect class="plot-span" x="${xs(s.x0) - 2}" y="${T}" width="${Math.max(4, xs(s.x1) - xs(s.x0) + 4)}" height="${H - T - B}"><title>replay (log #${s.seq})</title></rect>`);
  if (state.snapshot) {
    const hit = pts.find((p) => p.entry && p.entry.seq === state.snapshot.seq);
    if (hit) parts.push(`<line class="plot-now" x1="${xs(hit.x)}" x2="${xs(hit.x)}" y1="${T}" y2="${H - B}"/>`);
  }
  parts.push(`<line class="plot-axis" x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}"/><line class="plot-axis" x1="${L}" x2="${L}" y1="${T}" y2="${H - B}"/>`);
  const yt = pages.length === 1 ? [0] : [0, Math.floor((pages.length - 1) / 2), pages.length - 1];
  for (const i of new Set(yt)) {
    const y = pages.length <= 1 ? T + (H - T - B) / 2 : H - B - (i / (pages.length - 1)) * (H - T - B);
    parts.push(`<text class="plot-tick" x="${L - 4}" y="${y + 3}" text-anchor="end">${hex(pages[i] * 4096)}</text>`);
  }
  for (const x of new Set([1, Math.max(1, Math.round(ops / 2)), ops])) parts.push(`<text class="plot-tick" x="${xs(x)}" y="${H - B + 12}" text-anchor="middle">${x}</text>`);
  parts.push(`<text class="plot-label" x="${(L + W - R) / 2}" y="${H - 2}" text-anchor="middle">operation</text>`);
  pts.forEach((p, i) => parts.push(`<circle class="plot-dot ${p.cls}" data-testid="plot-fault" data-i="${i}" data-path="${p.cls}" cx="${xs(p.x).toFixed(1)}" cy="${ys(p.address).toFixed(1)}" r="4"><title>${esc(p.text)}</title></circle>`));
  const counts = CLASSES.map(([c, name]) => [c, name, pts.filter((p) => p.cls === c).length]).filter((c) => c[2]);
  const legend = counts.map(([c, name, n]) => `<span class="plot-key ${c}"><i></i>${esc(name)} <b data-testid="plot-count-${c}">${n}</b></span>`).join('');
  root.innerHTML = `<figcaption class="small"><b>Fault timeline</b> <span class="muted">${pts.length} fault${pts.length === 1 ? '' : 's'} over ${ops} operation${ops === 1 ? '' : 's'}; y = faulted page, by address rank</span> ${legend}</figcaption>
    <svg class="plot-svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="faults over operation number">${parts.join('')}</svg>
    <div class="plot-tip" data-testid="plot-tip" hidden></div>`;
}

export function initPlot() {
  const root = $('#fault-plot');
  root.addEventListener('mouseover', (ev) => {
    const dot = ev.target.closest('[data-testid="plot-fault"]');
    const tip = root.querySelector('.plot-tip');
    if (!tip) return;
    if (!dot) { tip.hidden = true; return; }
    const p = current[Number(dot.dataset.i)];
    if (!p) return;
    tip.textContent = p.text + (p.entry && p.entry.result && p.entry.result.lock ? ' — click for the full path' : '');
    const box = root.getBoundingClientRect(), d = dot.getBoundingClientRect();
    tip.style.left = `${Math.min(box.width - 260, Math.max(0, d.left - box.left - 40))}px`;
    tip.style.top = `${d.top - box.top + 12}px`;
    tip.hidden = false;
  });
  root.addEventListener('mouseleave', () => { const tip = root.querySelector('.plot-tip'); if (tip) tip.hidden = true; });
  root.addEventListener('click', (ev) => {
    const dot = ev.target.closest('[data-testid="plot-fault"]');
    const p = dot && current[Number(dot.dataset.i)];
    if (p && p.entry && p.entry.result && p.entry.result.lock) showFault(p.entry.result, `timeline #${p.entry.seq}: pid ${p.entry.op.pid} ${p.entry.op.access} fault at ${p.entry.op.address}`, p.entry.op.pid);
  });
}
