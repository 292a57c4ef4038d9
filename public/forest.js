// anon_vma forest: anon_vmas as nodes with parent→child edges, and every
// process's VMAs linked to the anon_vmas of their chains (solid: the VMA's
// own vma->anon_vma, dashed: other AVCs of its chain).
import { avColor, esc, size, addr } from './util.js';

const NODE_W = 140, NODE_H = 46, COL = 160, ROW = 58, VMA_W = 250;

function orderForest(avs) {
  const byId = new Map(avs.map((a) => [a.id, a]));
  const kids = new Map();
  const num = (id) => Number(String(id).replace(/\D/g, '')) || 0;
  const roots = [];
  for (const a of avs) {
    if (a.parent && byId.has(a.parent) && a.parent !== a.id) {
      if (!kids.has(a.parent)) kids.set(a.parent, []);
      kids.get(a.parent).push(a);
    } else roots.push(a);
  }
  const sorted = (l) => l.sort((x, y) => num(x.id) - num(y.id));
  const out = [];
  const seen = new Set();
  const walk = (a, depth) => {
    if (seen.has(a.id)) return;
    seen.add(a.id);
    out.push({ av: a, depth });
    for (const k of sorted(kids.get(a.id) || [])) walk(k, depth + 1);
  };
  for (const r of sorted(roots)) walk(r, 0);
  for (const a of avs) if (!seen.has(a.id)) walk(a, 0); // cycles, defensively
  return out;
}

export function renderForest(root, avs, allVmas) {
  if (!avs.length) {
    root.innerHTML = '<p class="empty" data-testid="forest-empty">No anon_vma yet: they are allocated lazily by the first fault that installs an anonymous page (or inherited at fork).</p>';
    return;
  }
  const ordered = orderForest(avs);
  const maxDepth = Math.max(...ordered.map((o) => o.depth));
  const pos = new Map();
  ordered.forEach((o, row) => pos.set(o.av.id, { x: 16 + o.depth * COL, y: 16 + row * ROW, depth: o.depth }));

  // VMAs named in chains, grouped by process then address
  const vmaKeys = new Map();
  for (const a of avs) {
    for (const c of a.chains || []) {
      const key = `${c.pid}:${c.vma}`;
      if (!vmaKeys.has(key)) vmaKeys.set(key, { pid: c.pid, range: c.vma, avs: [] });
      vmaKeys.get(key).avs.push(a.id);
    }
  }
  const vmaList = [...vmaKeys.values()].sort((x, y) => x.pid - y.pid || addr(x.range.split('-')[0]) - addr(y.range.split('-')[0]));
  const vx = 16 + (maxDepth + 1) * COL + 40;
  vmaList.forEach((v, i) => {
    v.y = 16 + i * (ROW - 16);
    const own = (allVmas[v.pid] || []).find((m) => `${m.start}-${m.end}` === v.range);
    v.vma = own || null;
  });

  const width = vx + VMA_W + 20;
  const height = Math.max(ordered.length * ROW, vmaList.length * (ROW - 16)) + 24;
  const parts = [];
  parts.push('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>');
  // chain links (behind the nodes)
  for (const v of vmaList) {
    for (const id of v.avs) {
      const p = pos.get(id);
      if (!p) continue;
      const own = v.vma && v.vma.anon_vma === id;
      const x1 = p.x + NODE_W, y1 = p.y + NODE_H / 2, x2 = vx, y2 = v.y + 14;
      parts.push(`<path class="chain-edge${own ? ' own' : ''}" data-testid="forest-chain" d="M${x1},${y1} C${x1 + 40},${y1} ${x2 - 40},${y2} ${x2},${y2}" stroke="${avColor(id)}"><title>${esc(`pid ${v.pid} ${v.range} ${own ? 'has vma->anon_vma = ' : 'links (AVC) to '}${id}`)}</title></path>`);
    }
  }
  // parent → child edges
  for (const { av } of ordered) {
    if (!av.parent || !pos.has(av.parent) || av.parent === av.id) continue;
    const a = pos.get(av.parent), b = pos.get(av.id);
    parts.push(`<path class="tree-edge" data-testid="forest-edge" data-parent="${esc(av.parent)}" data-child="${esc(av.id)}" d="M${a.x + 24},${a.y + NODE_H} L${a.x + 24},${b.y + NODE_H / 2} L${b.x},${b.y + NODE_H / 2}" marker-end="url(#arrow)"><title>${esc(`${av.parent} is the parent of ${av.id}`)}</title></path>`);
  }
  for (const { av } of ordered) {
    const p = pos.get(av.id);
    const c = avColor(av.id);
    const rootTxt = av.root && av.root !== av.id ? ` · root ${av.root}` : ' · root';
    const tip = `anon_vma ${av.id}\nroot: ${av.root}\nparent: ${av.parent ?? '—'}\nrefcount: ${av.refcount}\nnum_children: ${av.num_children}\nnum_active_vmas: ${av.num_active_vmas}\nchains: ${(av.chains || []).map((x) => `pid ${x.pid} ${x.vma}`).join(', ') || '—'}${av.folios != null ? `\nfolios: ${Array.isArray(av.folios) ? av.folios.length : av.folios}` : ''}`;
    parts.push(`<g class="forest-node" data-testid="forest-node" data-id="${esc(av.id)}" transform="translate(${p.x},${p.y})"><title>${esc(tip)}</title><rect width="${NODE_W}" height="${NODE_H}" rx="6" style="stroke:${c}"/><rect width="8" height="${NODE_H}" rx="3" style="fill:${c};stroke:none"/><text x="16" y="18" class="av-id" style="fill:${c}">${esc(av.id)}<tspan class="muted">${esc(rootTxt)}</tspan></text><text x="16" y="36" class="av-meta">ref ${esc(av.refcount)} · kids ${esc(av.num_children)} · vmas ${esc(av.num_active_vmas)}</text></g>`);
  }
  for (const v of vmaList) {
    const m = v.vma;
    const [s, e] = v.range.split('-');
    const label = `pid ${v.pid} ${v.range}`;
    const sub = m ? `${m.perms} ${size(addr(e) - addr(s))}${m.file ? ' ' + m.file.path.split('/').pop() : ''}  own: ${m.anon_vma || '—'}` : '';
    parts.push(`<g class="forest-vma" data-testid="forest-vma" data-pid="${v.pid}" data-range="${esc(v.range)}" transform="translate(${vx},${v.y})"><title>${esc(`${label}\nchain: ${v.avs.join(', ')}`)}</title><rect width="${VMA_W}" height="30" rx="4"/><text x="8" y="12" class="vma-l1">${esc(label)}</text><text x="8" y="25" class="vma-l2">${esc(sub)}</text></g>`);
  }
  root.innerHTML = `<svg class="forest-svg" data-testid="forest-svg" role="img" aria-label="anon_vma forest: ${avs.length} anon_vmas, ${vmaList.length} VMAs" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}
