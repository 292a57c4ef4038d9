// Lane view of one schedule (POST …/interleave): a lane per thread and one
// for RCU, a box per step named by the kernel function it runs, under each
// lane the locks that thread holds after every step (mmap_lock read/write,
// VMA read/write, RCU section, anon_vma rwsem, page_table_lock), a hatched
// band and an arrow from a parked thread to the holder of the lock it waits
// for, and the steps where a detector fired outlined in red once reached.
// Beside it, the VMAs and anon_vmas as they are after the current step, with
// what the step changed marked and what it freed shown as gone.
import { esc, avBadge } from './util.js';

const CW = 118, LH = 52, LABEL = 46, TOP = 18, BOX_H = LH - 16, LINE = 17;

/**
 * Lock kind for shading, from the names the step engine gives held locks:
 * "mmap_lock(read)", "mmap_lock(write)", "V#2 read", "V#2 write",
 * "rcu_read_lock", "av1 rwsem", "page_table_lock".
 */
export function lockKind(l) {
  const s = String(l);
  if (s.startsWith('rcu')) return 'rcu';
  const w = /(\(write\)|[ :]write)$/.test(s) ? 'write' : 'read';
  if (s.startsWith('mmap_lock')) return `mmap-${w}`;
  if (/^(V#|vma)/.test(s)) return `vma-${w}`;
  if (/^av\S* (root )?rwsem$/.test(s)) return 'av';
  return 'other';
}
const KIND_ORDER = ['mmap-write', 'mmap-read', 'vma-write', 'vma-read', 'av', 'rcu', 'other'];
export const LOCK_LEGEND = [['mmap-read', 'mmap_lock read'], ['mmap-write', 'mmap_lock write'], ['vma-read', 'VMA read lock'], ['vma-write', 'VMA write lock'],
  ['rcu', 'RCU read section'], ['av', 'anon_vma rwsem'], ['other', 'page_table_lock']];

/**
 * The threads holding the lock a parked thread waits for. Waits are named
 * "mmap_lock (read)", "V#2 readers" (vma_start_write() waiting for the
 * VMA's readers), "av1 root rwsem" or "page_table_lock".
 */
export function holdersOf(waiter, wait, locks) {
  const w = String(wait);
  const held = w.startsWith('mmap_lock') ? (l) => l.startsWith('mmap_lock')
    : / readers$/.test(w) ? (l) => l === w.replace(/ readers$/, ' read')
      : / root rwsem$/.test(w) ? (l) => l === w.replace(/ root rwsem$/, ' rwsem')
        : (l) => l === w;
  return Object.entries(locks || {}).filter(([t, ls]) => t !== waiter && ls.some((l) => held(String(l)))).map(([t]) => t);
}

/** Lanes: the program's threads, then any other thread seen, then rcu. */
export function laneNames(threads, steps, waits = []) {
  const out = [...threads];
  const seen = (t) => { if (t && !out.includes(t) && t !== 'rcu') out.push(t); };
  for (const s of steps) for (const t of [s.thread, ...Object.keys(s.locks || {})]) seen(t);
  for (const w of waits) for (const t of Object.keys(w || {})) seen(t);
  out.push('rcu');
  return out;
}

/** The x of a step's column centre, for scrolling it into view. */
export const laneX = (i) => i * CW + CW / 2;

const detectorsOf = (s) => (s.detectors || []).map((d) => d.detector || d.id || String(d));

/** A kernel function name in at most two lines of a box, split after an underscore. */
function fnLines(fn) {
  const max = 15;
  if (fn.length <= max) return [fn];
  let cut = fn.lastIndexOf('_', max);
  if (cut < 4) cut = max - 1;
  const rest = fn.slice(cut + 1);
  return [fn.slice(0, cut + 1), rest.length > max ? rest.slice(0, max - 1) + '…' : rest];
}

/** The lane names, in a column that stays put while the steps scroll. */
function labelsSvg(lanes, y, H) {
  const rows = lanes.map((t) => `<text class="lane-name" x="6" y="${y.get(t) + 24}">${esc(t)}</text>`).join('');
  return `<svg class="lanes-labels" width="${LABEL}" height="${H}" viewBox="0 0 ${LABEL} ${H}" aria-hidden="true">${rows}</svg>`;
}

/**
 * The lanes of a run ({steps, threads, waits}) with step `cur` current:
 * later steps are faded and fired steps outlined only once reached.
 * `waits[i]` is {thread: lock} for the threads parked after step i.
 */
export function lanesHtml(run, cur, firedAt) {
  const steps = run.steps || [];
  const waits = run.waits || [];
  const lanes = laneNames(run.threads || [], steps, waits);
  const y = new Map(lanes.map((t, i) => [t, TOP + i * LH]));
  const W = Math.max(1, steps.length) * CW + 8, H = TOP + lanes.length * LH + 4;
  const parts = ['<defs><marker id="wait-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#b3261e"/></marker>'
    + '<pattern id="wait-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" fill="#f2b8b5"/></pattern></defs>'];
  lanes.forEach((t) => parts.push(`<g class="lane" data-testid="race-lane" data-thread="${esc(t)}"><line class="lane-line" x1="0" x2="${W}" y1="${y.get(t) + LH - 2}" y2="${y.get(t) + LH - 2}"/></g>`));
  if (cur >= 0 && cur < steps.length) parts.push(`<rect class="lane-cur" x="${cur * CW}" y="2" width="${CW}" height="${H - 4}"/>`);
  steps.forEach((s, i) => {
    const x = i * CW, later = i > cur ? ' later' : '';
    parts.push(`<text class="lane-idx${i === cur ? ' cur' : ''}" x="${x + CW / 2}" y="12" text-anchor="middle">${i + 1}</text>`);
    // locks each thread holds after this step
    for (const t of lanes) {
      const held = (s.locks && s.locks[t]) || [];
      const kinds = [...new Set(held.map(lockKind))].sort((a, b) => KIND_ORDER.indexOf(a) - KIND_ORDER.indexOf(b));
      kinds.forEach((k, j) => parts.push(`<rect class="lock-band lk-${k}${later}" data-testid="race-lock" data-step="${i}" data-thread="${esc(t)}" data-kind="${k}" x="${x + 1}" y="${y.get(t) + LH - 7 - j * 5}" width="${CW - 2}" height="4"><title>${esc(`${t} after step ${i + 1}: ${held.join(', ')}`)}</title></rect>`));
    }
    // parked threads: a hatched band on their lane and an arrow to each holder
    for (const [t, lock] of Object.entries(waits[i] || {})) {
      if (!y.has(t)) continue;
      const holders = holdersOf(t, lock, s.locks);
      parts.push(`<rect class="wait-band${later}" data-testid="race-waiting" data-step="${i}" data-thread="${esc(t)}" x="${x + 1}" y="${y.get(t) + 6}" width="${CW - 2}" height="${BOX_H - 4}" fill="url(#wait-hatch)"><title>${esc(`${t} parked after step ${i + 1}: waits for ${lock}${holders.length ? ` held by ${holders.join(', ')}` : ''}`)}</title></rect>`);
      for (const holder of holders) {
        const y1 = y.get(t) + LH / 2 - 4, y2 = y.get(holder) + LH / 2 - 4, bend = x + CW / 2 + 18;
        parts.push(`<path class="wait-arrow${later}" data-testid="race-wait" data-step="${i}" data-from="${esc(t)}" data-to="${esc(holder)}" d="M${x + CW / 2},${y1} C${bend},${y1} ${bend},${y2} ${x + CW / 2 + 4},${y2 + (y2 > y1 ? -8 : 8)}" marker-end="url(#wait-arrow)"><title>${esc(`${t} waits for ${lock} held by ${holder}`)}</title></path>`);
      }
    }
    const ds = detectorsOf(s);
    const fired = i <= cur && (ds.length || firedAt.has(i));
    const lane = y.get(s.thread) ?? y.get('rcu');
    const fn = String(s.fn || '?');
    const tip = [`step ${i + 1}: ${s.thread} ${fn}`, s.note, s.reads?.length ? `reads: ${s.reads.join(', ')}` : '', s.writes?.length ? `writes: ${s.writes.join(', ')}` : '',
      ds.length ? `fired: ${(s.detectors || []).map((d) => `${d.detector ?? d} ${d.name ?? ''}`).join(', ')}` : ''].filter(Boolean).join('\n');
    const lines = fnLines(fn).map((l, k) => `<text x="5" y="${14 + k * 12}">${esc(l)}</text>`).join('');
    parts.push(`<g class="lane-step${later}${i === cur ? ' current' : ''}${fired ? ' fired' : ''}" data-testid="race-box" data-index="${i}" data-thread="${esc(s.thread)}" data-fn="${esc(fn)}" data-detectors="${esc(ds.join(' '))}" transform="translate(${x + 3},${lane + 4})"><title>${esc(tip)}</title><rect width="${CW - 6}" height="${BOX_H}" rx="4"/>${lines}${ds.length && fired ? `<text class="step-det" x="${CW - 10}" y="${BOX_H - 4}" text-anchor="end">${esc(ds.join(' '))}</text>` : ''}</g>`);
  });
  const svg = `<svg class="lanes-svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(`${steps.length} steps on ${lanes.length} lanes`)}">${parts.join('')}</svg>`;
  return `<div class="lanes-wrap">${labelsSvg(lanes, y, H)}<div class="lanes-scroll">${svg}</div></div>`;
}

const byId = (list) => new Map((list || []).map((x) => [String(x.id), x]));
const changed = (a, b) => !b || JSON.stringify(a) !== JSON.stringify(b);

/** What earlier steps showed under `key` and this one no longer does (freed), as last seen. */
function goneSince(earlier, step, key) {
  const now = byId(step?.[key]);
  const last = new Map();
  for (const s of earlier || []) for (const x of s[key] || []) last.set(String(x.id), x);
  return [...last.values()].filter((x) => !now.has(String(x.id)));
}

/**
 * The VMAs after a step (`earlier`: the steps before it); the ones it
 * changed marked, the ones freed so far shown as gone.
 */
export function stepVmasHtml(step, earlier = []) {
  const vmas = (step && step.vmas) || [];
  const prev = earlier[earlier.length - 1];
  const before = byId(prev?.vmas);
  const gone = goneSince(earlier, step, 'vmas');
  if (!vmas.length && !gone.length) return '<p class="empty small">no VMA in the window</p>';
  const box = (v, isGone) => {
    const perms = v.perms ?? v.flags ?? '';
    const readers = (v.readers || []).length ? `read-locked by ${v.readers.join(', ')}` : '';
    const state = isGone ? 'freed' : v.freed ? 'freed' : v.detached ? 'detached' : '';
    const cls = ['race-vma', state, isGone ? 'gone' : '', !isGone && prev && changed(v, before.get(String(v.id))) ? 'changed' : ''].filter(Boolean).join(' ');
    const tip = `V#${v.id}${v.mm ? ` (child mm ${v.mm})` : ''} ${v.start}-${v.end} ${perms}${v.pgoff ? ` pgoff ${v.pgoff}` : ''}${(v.chain || []).length ? ` chain [${v.chain.join(', ')}]` : ''}${state ? ` (${state})` : ''}${v.write_locked ? ' write-locked' : ''}${readers ? ` ${readers}` : ''}`;
    return `<div class="${cls}" data-testid="race-vma" data-id="${esc(v.id)}" data-state="${isGone ? 'gone' : state || 'live'}" title="${esc(tip)}"><b>V#${esc(v.id)}</b>${v.mm ? ` <span class="tag">mm ${esc(v.mm)}</span>` : ''} <span class="mono">${esc(perms)}</span><br><span class="mono small">${esc(v.start)}–${esc(v.end)}</span><br>${avBadge(v.anon_vma)}${state ? ` <span class="tag${state === 'freed' ? ' bad' : ''}">${isGone ? 'freed (gone)' : state}</span>` : ''}${v.write_locked ? ' <span class="tag lk">write-locked</span>' : ''}${readers ? ` <span class="tag lk">${esc(readers)}</span>` : ''}</div>`;
  };
  return `<div class="race-vmas">${vmas.map((v) => box(v, false)).join('')}${gone.map((v) => box(v, true)).join('')}</div>`;
}

/** The anon_vmas after a step: root, refcount and lock holder; changed ones marked, freed ones shown as gone. */
export function stepForestHtml(step, earlier = []) {
  const avs = (step && step.anon_vmas) || [];
  const prev = earlier[earlier.length - 1];
  const before = byId(prev?.anon_vmas);
  const gone = goneSince(earlier, step, 'anon_vmas');
  if (!avs.length && !gone.length) return '<p class="empty small">no anon_vma</p>';
  const item = (a, isGone) => {
    const cls = [a.freed || isGone ? 'freed' : '', isGone ? 'gone' : '', !isGone && prev && changed(a, before.get(String(a.id))) ? 'changed' : ''].filter(Boolean).join(' ');
    const ref = a.refcount != null && !isGone ? ` <span class="muted small">refcount ${esc(a.refcount)}</span>` : '';
    const lock = a.locked_by && !isGone ? ` <span class="tag lk">locked by ${esc(a.locked_by)}</span>` : '';
    return `<li class="${cls}" data-testid="race-anon-vma" data-id="${esc(a.id)}" data-state="${isGone ? 'gone' : a.freed ? 'freed' : 'live'}">${avBadge(a.id)}${a.root && a.root !== a.id ? ` → root ${avBadge(a.root)}` : ' (root)'}${ref}${lock}${a.freed || isGone ? ` <span class="tag bad">${isGone ? 'freed (gone)' : 'freed'}</span>` : ''}</li>`;
  };
  return `<ul class="race-avs">${avs.map((a) => item(a, false)).join('')}${gone.map((a) => item(a, true)).join('')}</ul>`;
}
