// Lane view of one schedule (POST …/interleave): a lane per thread and one
// for RCU, a box per step named by the kernel function it runs, under each
// lane the locks that thread holds after every step (mmap_lock read/write,
// VMA read/write, RCU section), arrows from a waiting thread to the holder,
// and the steps where a detector fired outlined in red once reached. Beside
// it, the VMAs and anon_vmas as they are after the current step.
import { esc, avBadge } from './util.js';

const CW = 96, LH = 50, LABEL = 44, TOP = 18;

/** Lock kind for shading: mmap read/write, VMA read/write, rcu. */
export function lockKind(l) {
  const s = String(l);
  if (s === 'rcu' || s.startsWith('rcu')) return 'rcu';
  const w = /:(write|w)$/.test(s) ? 'write' : 'read';
  if (s.startsWith('mmap_lock')) return `mmap-${w}`;
  if (s.startsWith('vma')) return `vma-${w}`;
  return 'other';
}
const KIND_ORDER = ['mmap-write', 'mmap-read', 'vma-write', 'vma-read', 'rcu', 'other'];
export const LOCK_LEGEND = [['mmap-read', 'mmap_lock read'], ['mmap-write', 'mmap_lock write'], ['vma-read', 'VMA read lock'], ['vma-write', 'VMA write lock'], ['rcu', 'RCU section']];

/** Lanes: the program's threads, then any other thread seen, then rcu. */
export function laneNames(threads, steps) {
  const out = [...threads];
  for (const s of steps) {
    for (const t of [s.thread, ...Object.keys(s.locks || {}), ...Object.keys(s.waiting || {})]) if (t && !out.includes(t) && t !== 'rcu') out.push(t);
  }
  out.push('rcu');
  return out;
}

/** The x of a step's column centre, for scrolling it into view. */
export const laneX = (i) => LABEL + i * CW + CW / 2;

const detectorsOf = (s) => (s.detectors || []).map((d) => d.detector || d.id || String(d));

/** The SVG of the lanes; steps after `cur` are faded, fired steps outlined only once reached. */
export function lanesSvg(run, cur, firedAt) {
  const steps = run.steps || [];
  const lanes = laneNames(run.threads || [], steps);
  const y = new Map(lanes.map((t, i) => [t, TOP + i * LH]));
  const W = LABEL + Math.max(1, steps.length) * CW + 8, H = TOP + lanes.length * LH + 4;
  const parts = ['<defs><marker id="wait-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#b3261e"/></marker></defs>'];
  lanes.forEach((t) => parts.push(`<g class="lane" data-testid="race-lane" data-thread="${esc(t)}"><line class="lane-line" x1="${LABEL}" x2="${W}" y1="${y.get(t) + LH - 2}" y2="${y.get(t) + LH - 2}"/><text class="lane-name" x="4" y="${y.get(t) + 22}">${esc(t)}</text></g>`));
  if (cur >= 0 && cur < steps.length) parts.push(`<rect class="lane-cur" x="${LABEL + cur * CW}" y="2" width="${CW}" height="${H - 4}"/>`);
  steps.forEach((s, i) => {
    const x = LABEL + i * CW;
    parts.push(`<text class="lane-idx" x="${x + CW / 2}" y="12" text-anchor="middle">${i + 1}</text>`);
    // locks each thread holds after this step
    for (const t of lanes) {
      const held = (s.locks && s.locks[t]) || [];
      const kinds = [...new Set(held.map(lockKind))].sort((a, b) => KIND_ORDER.indexOf(a) - KIND_ORDER.indexOf(b));
      kinds.forEach((k, j) => parts.push(`<rect class="lock-band lk-${k}${i > cur ? ' later' : ''}" data-testid="race-lock" x="${x + 1}" y="${y.get(t) + LH - 7 - j * 5}" width="${CW - 2}" height="4"><title>${esc(`${t} after step ${i + 1}: ${held.join(', ')}`)}</title></rect>`));
    }
    const ds = detectorsOf(s);
    const fired = i <= cur && (ds.length || firedAt.has(i));
    const lane = y.get(s.thread) ?? y.get('rcu');
    const fn = String(s.fn || '?');
    const label = fn.length > 14 ? fn.slice(0, 13) + '…' : fn;
    const tip = [`step ${i + 1}: ${s.thread} ${fn}`, s.note, s.reads?.length ? `reads: ${s.reads.join(', ')}` : '', s.writes?.length ? `writes: ${s.writes.join(', ')}` : '',
      ds.length ? `fired: ${(s.detectors || []).map((d) => `${d.detector ?? d} ${d.name ?? ''}`).join(', ')}` : ''].filter(Boolean).join('\n');
    parts.push(`<g class="lane-step${i > cur ? ' later' : ''}${i === cur ? ' current' : ''}${fired ? ' fired' : ''}" data-testid="race-box" data-index="${i}" data-thread="${esc(s.thread)}" data-fn="${esc(fn)}" data-detectors="${esc(ds.join(' '))}" transform="translate(${x + 3},${lane + 4})"><title>${esc(tip)}</title><rect width="${CW - 6}" height="${LH - 16}" rx="4"/><text x="5" y="14">${esc(label)}</text>${s.note ? `<text class="step-note" x="5" y="27">${esc(String(s.note).slice(0, 15))}</text>` : ''}</g>`);
    // who waits for whom
    for (const [t, lock] of Object.entries(s.waiting || {})) {
      const holder = lanes.find((u) => u !== t && ((s.locks && s.locks[u]) || []).some((l) => String(l).startsWith(String(lock).split(':')[0])));
      if (!holder || !y.has(t)) continue;
      const y1 = y.get(t) + LH / 2 - 6, y2 = y.get(holder) + LH / 2 - 6;
      parts.push(`<path class="wait-arrow${i > cur ? ' later' : ''}" data-testid="race-wait" d="M${x + CW - 10},${y1} C${x + CW + 8},${y1} ${x + CW + 8},${y2} ${x + CW - 10},${y2 + (y2 > y1 ? -4 : 4)}" marker-end="url(#wait-arrow)"><title>${esc(`${t} waits for ${lock} held by ${holder}`)}</title></path>`);
    }
  });
  return `<svg class="lanes-svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(`${steps.length} steps on ${lanes.length} lanes`)}">${parts.join('')}</svg>`;
}

/** The VMAs after a step: a row of boxes (detached and freed ones marked). */
export function stepVmasHtml(step) {
  const vmas = (step && step.vmas) || [];
  if (!vmas.length) return '<p class="empty small">no VMA in the window</p>';
  return `<div class="race-vmas">${vmas.map((v) => `<div class="race-vma${v.detached ? ' detached' : ''}${v.freed ? ' freed' : ''}" data-testid="race-vma" data-id="${esc(v.id)}" title="${esc(`vma#${v.id} ${v.start}-${v.end} ${v.flags ?? ''}${v.detached ? ' (detached)' : ''}${v.freed ? ' (freed)' : ''}`)}"><b>vma#${esc(v.id)}</b> <span class="mono">${esc(v.flags ?? '')}</span><br><span class="mono small">${esc(v.start)}–${esc(v.end)}</span><br>${avBadge(v.anon_vma)}${v.freed ? ' <span class="tag bad">freed</span>' : v.detached ? ' <span class="tag">detached</span>' : ''}</div>`).join('')}</div>`;
}

/** The anon_vmas after a step: each with its root; freed ones struck through. */
export function stepForestHtml(step) {
  const avs = (step && step.anon_vmas) || [];
  if (!avs.length) return '<p class="empty small">no anon_vma</p>';
  return `<ul class="race-avs">${avs.map((a) => `<li class="${a.freed ? 'freed' : ''}" data-testid="race-anon-vma" data-id="${esc(a.id)}">${avBadge(a.id)}${a.root && a.root !== a.id ? ` → root ${avBadge(a.root)}` : ' (root)'}${a.freed ? ' <span class="tag bad">freed</span>' : ''}</li>`).join('')}</ul>`;
}
