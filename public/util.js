// Small shared helpers: addresses, sizes, colours, DOM.

export const PAGE = 4096;

/** Parses "0x7f…" or a number into a Number (addresses < 2^48 are exact). */
export function addr(v) {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return NaN;
  const s = v.trim().toLowerCase();
  return s.startsWith('0x') ? parseInt(s.slice(2), 16) : parseInt(s, 10);
}

export const hex = (n) => '0x' + Math.floor(n).toString(16);

export function size(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}

/** Compact size for narrow places: 4K, 152K, 1.3M, 2G. */
export function shortSize(bytes) {
  const u = ['B', 'K', 'M', 'G', 'T', 'P'];
  let v = bytes, i = 0;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return `${v >= 10 || Number.isInteger(v) ? Math.round(v) : v.toFixed(1)}${u[i]}`;
}

/** Stable colour for an anon_vma id, so equal ids look equal everywhere. */
export function avColor(id) {
  let h = 2166136261;
  for (const c of String(id)) { h ^= c.charCodeAt(0); h = Math.imul(h, 16777619); }
  const n = Number(String(id).replace(/\D/g, '')) || 0;
  const hue = Math.round(((n * 137.508) + ((h >>> 0) % 23)) % 360);
  return `hsl(${hue} 70% 42%)`;
}

export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/** The kind of a VMA, for its colour. */
export function vmaKind(v) {
  const flags = v.flags || [];
  if (v.name === '[heap]') return 'heap';
  if (v.name === '[stack]' || flags.includes('VM_GROWSDOWN')) return 'stack';
  if ((v.perms || '').endsWith('s') || flags.includes('VM_SHARED')) return 'shared';
  if (v.file) return 'file';
  return 'anon';
}

export const KIND_LABEL = { anon: 'anonymous', file: 'private file', shared: 'shared', heap: 'heap', stack: 'stack' };

export function vmaLabel(v) {
  if (v.name) return v.name;
  if (v.file && v.file.path) return v.file.path.split('/').pop();
  if ((v.perms || '').endsWith('s')) return '/dev/zero';
  return '';
}

export const vmaRange = (v) => `${v.start}-${v.end}`;

export function avBadge(id, extra = '') {
  if (!id) return `<span class="av-badge av-none" title="no anon_vma">–</span>`;
  return `<span class="av-badge" data-testid="anon-vma-badge" data-anon-vma="${esc(id)}" style="--av:${avColor(id)}" title="anon_vma ${esc(id)}${extra}">${esc(id)}</span>`;
}

/** Short human text for one lock decision (colour class + words). */
export function lockSummary(res) {
  if (!res || res.fault === false) return { cls: 'nofault', text: 'no fault (PTE already allows the access)', reason: '' };
  // a full result has lock{path, code, reason}; a summary one has path and code at the top
  const lock = res.lock || (res.path ? { path: res.path, code: res.code, reason: res.reason } : {});
  const reason = lock.reason || '';
  if (lock.path === 'vma_lock') {
    return { cls: 'vmalock', text: 'per-VMA lock', reason, code: lock.code };
  }
  if (lock.path === 'vma_lock_then_mmap_lock') {
    return { cls: 'fallback', text: `fell back to mmap_lock: ${reason || lock.code || '?'}`, reason, code: lock.code };
  }
  return { cls: 'legacy', text: 'mmap_lock only (no per-VMA lock)', reason, code: lock.code };
}
