// Address-space strip and VMA table of the selected process.
// Widths are log-scaled so a 4 KiB VMA stays visible next to a 1 GiB one;
// gaps are fixed-width breaks labelled with their size.
import { addr, hex, size, shortSize, esc, vmaKind, vmaLabel, avBadge, avColor, KIND_LABEL, PAGE } from './util.js';

const MIN_W = 30;
const GAP_W = 52;

export function vmaWidth(pages) {
  return Math.round(MIN_W + 14 * Math.log2(Math.max(1, pages)));
}

export function vmaTooltip(v) {
  const lines = [
    `${v.start}-${v.end}  ${v.perms}  (${size(addr(v.end) - addr(v.start))}, ${v.pages ?? '?'} pages)`,
    `kind: ${KIND_LABEL[vmaKind(v)]}`,
    `pgoff: ${pgoffText(v)} pages (/proc/PID/maps offset ${procOffset(v)})`,
    `file: ${v.file ? `${v.file.path} (${v.file.file_id})` : '—'}`,
    `name: ${v.name ?? '—'}`,
    `anon_vma: ${v.anon_vma ?? '—'}`,
    `anon_vma_chain: [${(v.anon_vma_chain || []).join(', ')}]`,
    `flags: ${(v.flags || []).join(' ')}`,
    `resident pages: ${v.resident_pages ?? '?'}`,
  ];
  if (v.lock) lines.push(`lock: write_locked=${v.lock.write_locked} vm_lock_seq=${v.lock.vm_lock_seq}`);
  lines.push('click: fault at this address');
  return lines.join('\n');
}

/** Groups resident pages by VMA index (pages and vmas both sorted by address). */
function pagesByVma(vmas, pages) {
  const out = vmas.map(() => []);
  let i = 0;
  for (const p of pages) {
    const a = addr(p.address);
    while (i < vmas.length && addr(vmas[i].end) <= a) i++;
    if (i >= vmas.length) break;
    if (a >= addr(vmas[i].start)) out[i].push(p);
  }
  return out;
}

function pageClass(p) {
  const f = p.folio || {};
  if (p.pte && p.pte.guard) return 'pg-guard';
  if (f.zero_page || f.kind === 'zero') return 'pg-zero';
  if (f.kind === 'anon' || f.anon) return 'pg-anon';
  if (f.kind === 'shmem') return 'pg-shmem';
  return 'pg-file';
}

function ticks(v, pages, width) {
  if (!pages.length) return '';
  const n = v.pages || Math.max(1, (addr(v.end) - addr(v.start)) / PAGE);
  const buckets = Math.max(1, Math.min(n, Math.floor(width / 2)));
  const seen = new Map();
  for (const p of pages) {
    const idx = Math.floor((addr(p.address) - addr(v.start)) / PAGE);
    const b = Math.floor(idx * buckets / n);
    const cls = pageClass(p);
    // anon wins over file, file over zero, when several pages share a bucket
    const prev = seen.get(b);
    if (!prev || cls === 'pg-anon' || (cls === 'pg-file' && prev === 'pg-zero')) seen.set(b, cls);
  }
  let html = '';
  for (const [b, cls] of seen) {
    html += `<i class="pg ${cls}" style="left:${(100 * b / buckets).toFixed(3)}%;width:${(100 / buckets).toFixed(3)}%"></i>`;
  }
  return `<span class="vma-pages" title="${pages.length} resident page(s)">${html}</span>`;
}

export function renderStrip(root, vmas, pages, pid) {
  if (!vmas.length) {
    root.innerHTML = `<p class="empty" data-testid="strip-empty">${pid == null ? 'No process selected.' : `Process ${pid} has no VMAs.`}</p>`;
    return;
  }
  const byVma = pagesByVma(vmas, pages);
  const parts = [];
  let prevEnd = null;
  vmas.forEach((v, i) => {
    const s = addr(v.start), e = addr(v.end);
    if (prevEnd != null && s > prevEnd) {
      const gap = s - prevEnd;
      parts.push(`<button type="button" class="gap" data-testid="gap" data-start="${hex(prevEnd)}" data-end="${hex(s)}" title="unmapped gap ${hex(prevEnd)}-${hex(s)} (${size(gap)})\nclick: fault just below the next VMA" style="width:${GAP_W}px"><span>gap</span><span>${shortSize(gap)}</span></button>`);
    }
    prevEnd = e;
    const kind = vmaKind(v);
    const w = vmaWidth(v.pages || (e - s) / PAGE);
    const label = vmaLabel(v);
    const badge = v.anon_vma
      ? `<span class="av-stripe" style="background:${avColor(v.anon_vma)}"></span>${avBadge(v.anon_vma)}`
      : '';
    parts.push(`<button type="button" class="vma kind-${kind}" data-testid="vma" data-index="${i}" data-start="${v.start}" data-end="${v.end}" data-perms="${esc(v.perms)}" data-anon-vma="${esc(v.anon_vma || '')}" style="width:${w}px" title="${esc(vmaTooltip(v))}">${badge}<span class="vma-perms">${esc(v.perms)}</span><span class="vma-name">${esc(label)}</span><span class="vma-size">${w < 60 ? shortSize(e - s) : size(e - s)}</span>${ticks(v, byVma[i], w)}</button>`);
  });
  root.innerHTML = `<div class="strip-row" data-testid="strip">${parts.join('')}</div>`;
}

/** Address for a click inside a VMA or gap element. */
export function addressAt(el, ev) {
  const s = addr(el.dataset.start), e = addr(el.dataset.end);
  if (el.classList.contains('gap')) return e - PAGE;
  if (!ev || ev.detail === 0) return s;
  const r = el.getBoundingClientRect();
  const frac = Math.min(0.9999, Math.max(0, (ev.clientX - r.left) / r.width));
  const n = Math.max(1, (e - s) / PAGE);
  return s + Math.floor(frac * n) * PAGE;
}

const COLS = ['range', 'size', 'perms', 'pgoff', 'file / name', 'anon_vma', 'chain', 'RSS', 'flags'];

/** vm_pgoff in hex pages (an anonymous VMA's is its start address >> PAGE_SHIFT). */
export function pgoffText(v) {
  const n = typeof v.pgoff === 'number' ? v.pgoff : addr(v.pgoff);
  return Number.isFinite(n) ? hex(n) : String(v.pgoff ?? '');
}

/** The offset column of /proc/PID/maps: bytes, %08lx, 0 for anonymous VMAs (show_map_vma(), fs/proc/task_mmu.c). */
export function procOffset(v) {
  const n = typeof v.pgoff === 'number' ? v.pgoff : addr(v.pgoff);
  return (v.file && Number.isFinite(n) ? n * PAGE : 0).toString(16).padStart(8, '0');
}

const MONO_PX = 7.6; // one character of the 12.5px monospace font

/** Column widths sized to the longest address and pgoff, so neither is cut. */
function columns(vmas) {
  let r = 0, g = 0;
  for (const v of vmas) {
    r = Math.max(r, String(v.start).length + 1, String(v.end).length);
    g = Math.max(g, pgoffText(v).length);
  }
  const px = (n) => `${Math.ceil(n * MONO_PX) + 6}px`;
  return `${px(r)} 52px 34px ${px(Math.max(5, g))} 64px 60px 58px 44px minmax(48px, 1fr)`;
}

/** The maps view. Rows are grid rows with content-visibility:auto, so 1000 VMAs lay out fast. */
export function renderTable(root, vmas) {
  if (!vmas.length) { root.innerHTML = ''; return; }
  const rows = vmas.map((v, i) => {
    const s = addr(v.start), e = addr(v.end);
    const chain = (v.anon_vma_chain || []).map((id) => avBadge(id, ' (chain)')).join(' ');
    const file = v.file ? v.file.path : (v.name || '');
    const short = v.file ? v.file.path.split('/').pop() : (v.name || '');
    return `<div role="row" class="vrow kind-${vmaKind(v)}" data-testid="vma-row" data-index="${i}"><span role="cell" class="mono"><button type="button" class="linkish" data-start="${v.start}" data-end="${v.end}" title="fault at ${v.start}">${v.start}-<br>${v.end}</button></span><span role="cell">${size(e - s)}</span><span role="cell" class="mono">${esc(v.perms)}</span><span role="cell" class="mono" title="vm_pgoff ${esc(String(v.pgoff))} (decimal); /proc/PID/maps offset ${procOffset(v)}">${esc(pgoffText(v))}</span><span role="cell" class="file" title="${esc(file)}">${esc(short)}</span><span role="cell">${avBadge(v.anon_vma)}</span><span role="cell" class="chain">${chain || '–'}</span><span role="cell" title="resident pages / pages">${v.resident_pages ?? ''}/${v.pages ?? ''}</span><span role="cell" class="flags">${esc((v.flags || []).map((f) => f.replace(/^VM_/, '')).join(' '))}</span></div>`;
  });
  root.innerHTML = `<div role="table" class="vma-table" data-testid="vma-table" aria-label="VMAs" aria-rowcount="${vmas.length + 1}" style="--vcols:${columns(vmas)}"><div class="vcaption">VMAs (${vmas.length}) — /proc/PID/maps view with anon_vma, chain and flags</div><div role="row" class="vrow vhead">${COLS.map((c) => `<span role="columnheader">${c}</span>`).join('')}</div>${rows.join('')}</div>`;
}
