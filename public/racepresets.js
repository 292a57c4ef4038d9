// Race presets: the acceptance scenarios of the concurrency model (S1–S11).
// Each is a setup — ordinary mmap and fault operations on one process, in an
// empty 1 MiB window at X — and one program per thread, run concurrently by
// POST …/explore. p = one page. The notes say which race of the per-VMA lock
// history each one shows (the fixing commits come back with the hazards).

const P = 4096;
const RW = 'PROT_READ|PROT_WRITE', R = 'PROT_READ', RWX = 'PROT_READ|PROT_WRITE|PROT_EXEC';
const ANON = 'MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS';
const h = (n) => '0x' + n.toString(16);

const mmap = (a, len, prot, extra = '') => ({ op: 'mmap', addr: h(a), length: len, prot, flags: ANON + extra, fd: -1, offset: 0 });
const write = (a) => ({ op: 'fault', address: h(a), access: 'write' });
const read = (a) => ({ op: 'fault', address: h(a), access: 'read' });
const munmap = (a, len) => ({ op: 'munmap', addr: h(a), length: len });
const mprotect = (a, len, prot) => ({ op: 'mprotect', addr: h(a), length: len, prot });

/** The window the presets need: 1 MiB, with 1 MiB free below it (stack_guard_gap is 256 pages). */
export const WINDOW = 0x100000;

export const RACE_PRESETS = [
  { id: 'S1', title: 'S1 — fault vs munmap of the neighbour whose anon_vma it borrows',
    text: 'V (rwx, no anon_vma) next to N (rw, anon_vma A). T1 write-faults V while T2 unmaps N: without the anon_vma check at lookup, T1 walks to N and reads N.anon_vma with no lock on N.',
    setup: (X) => [mmap(X + P, P, RW), write(X + P), mmap(X, P, RWX)],
    threads: (X) => ({ T1: [write(X)], T2: [munmap(X + P, P)] }) },
  { id: 'S2', title: 'S2 — fork vs a parent thread writing a page fork is copying',
    text: 'P has an anon_vma and a written page. K forks while T2 writes the page: without write-locking the parent VMAs, T2 changes the PTE between the copy and the TLB flush.',
    setup: (X) => [mmap(X, P, RW), write(X)],
    threads: (X) => ({ K: [{ op: 'fork' }], T2: [write(X)] }) },
  { id: 'S3', title: 'S3 — fork vs the first write of a VMA with no anon_vma',
    text: 'P has no anon_vma. K forks while T2 writes: if T2 may prepare the anon_vma under the VMA lock, the child can end with an anonymous page and no anon_vma.',
    setup: (X) => [mmap(X, P, RW)],
    threads: (X) => ({ K: [{ op: 'fork' }], T2: [write(X)] }) },
  { id: 'S4', title: 'S4 — stack growth vs madvise walking the tree (StackRot)',
    text: 'T1 faults in the gap above a growsdown G: S grows down, a tree node is replaced and freed after RCU. T2 madvise(DONTNEED) walks the tree under mmap_lock read, outside RCU.',
    setup: (X) => [mmap(X, 4 * P, RW, '|MAP_GROWSDOWN'), mmap(X + 8 * P, 8 * P, RW, '|MAP_GROWSDOWN'), write(X + 15 * P), mmap(X + 32 * P, P, RW)],
    threads: (X) => ({ T1: [write(X + 4 * P)], T2: [{ op: 'madvise', addr: h(X + 32 * P), length: P, advice: 'MADV_DONTNEED' }] }) },
  { id: 'S5', title: 'S5 — stack growth vs a per-VMA fault in the same stack',
    text: 'T1 faults below S (the stack grows); T2 faults inside S under its VMA lock: growing without write-locking S changes it under T2.',
    setup: (X) => [mmap(X + 8 * P, 8 * P, RW, '|MAP_GROWSDOWN'), write(X + 15 * P)],
    threads: (X) => ({ T1: [write(X + 7 * P)], T2: [write(X + 14 * P)] }) },
  { id: 'S6', title: 'S6 — anon_vma tested before the VMA lock (mremap DONTUNMAP, munmap)',
    text: 'V and N share anon_vma B. T1 faults V; T2 moves V\'s pages away (MREMAP_DONTUNMAP leaves V empty); T3 unmaps N: the lookup\'s anon_vma test was made before V was locked.',
    setup: (X) => [mmap(X, 2 * P, RWX), write(X), mmap(X + 2 * P, P, RW), write(X + 2 * P)],
    threads: (X) => ({ T1: [write(X + P)], T2: [{ op: 'mremap', old_address: h(X), old_size: 2 * P, new_size: 2 * P, flags: 'MREMAP_MAYMOVE|MREMAP_DONTUNMAP' }], T3: [munmap(X + 2 * P, P)] }) },
  { id: 'S7', title: 'S7 — mprotect merge publishes an anon_vma before write-locking',
    text: 'mprotect makes M match V and N; V absorbs both and dup_anon_vma sets V.anon_vma before vma_prepare write-locks V, while T2 faults V (anon_vma_clone fails: ENOMEM injected).',
    setup: (X) => [mmap(X + 2 * P, P, RW), write(X + 2 * P), mmap(X + P, P, R), mmap(X, P, RW)],
    threads: (X) => ({ T1: [mprotect(X + P, P, RW)], T2: [write(X)] }),
    inject: ['anon_vma_clone_enomem'] },
  { id: 'S8', title: 'S8 — read fault vs munmap of the whole VMA (detached VMA)',
    text: 'T1 read-faults V while T2 unmaps it: the fault must notice the VMA was detached and retry (mutant no-detach-check skips that test).',
    setup: (X) => [mmap(X, 2 * P, RW), write(X + P)],
    threads: (X) => ({ T1: [read(X)], T2: [munmap(X, 2 * P)] }) },
  { id: 'S9', title: 'S9 — contention: two faults and an mprotect splitting the VMA',
    text: 'T2 splits V with mprotect (write-locks V, waits for its readers) while T1 and T3 fault it: waits, VMA_WRITE_LOCKED fallbacks, no hazard and no deadlock.',
    setup: (X) => [mmap(X, 4 * P, RW), write(X + 3 * P)],
    threads: (X) => ({ T1: [write(X)], T2: [mprotect(X + 2 * P, 2 * P, R)], T3: [write(X + P)] }) },
  { id: 'S10', title: 'S10 — first write vs mprotect: trylock, not a deadlock',
    text: 'T1 holds V\'s read lock and needs mmap_lock to prepare the anon_vma; T2 holds mmap_lock for write and waits for V\'s readers. The trylock avoids the cycle (a blocking-prepare mutant deadlocks).',
    setup: (X) => [mmap(X, P, RW)],
    threads: (X) => ({ T1: [write(X)], T2: [mprotect(X, P, R)] }) },
  { id: 'S11', title: 'S11 — two first writes race to prepare one anon_vma',
    text: 'Two threads write-fault different pages of V (no anon_vma): exactly one anon_vma is attached at the end.',
    setup: (X) => [mmap(X, 2 * P, RW)],
    threads: (X) => ({ T1: [write(X)], T2: [write(X + P)] }) },
];

export const racePreset = (id) => RACE_PRESETS.find((s) => s.id === id);

/** The lowest window at or above `base` with its 1 MiB and the 1 MiB below it free of the given VMAs. */
export function freeWindow(vmas, base) {
  const num = (v) => (typeof v === 'number' ? v : parseInt(String(v).replace(/^0x/i, ''), 16));
  let x = base;
  for (let tries = 0; tries < 4096; tries++, x += 16 * WINDOW) {
    const lo = x - WINDOW, hi = x + WINDOW;
    if (!vmas.some((v) => num(v.start) < hi && num(v.end) > lo)) return x;
  }
  return x;
}

/** A program as text: one JSON op per line. */
export const programText = (ops) => ops.map((o) => JSON.stringify(o)).join('\n');

/** Parses one JSON op per line; throws naming the thread and line. */
export function parseProgram(name, text) {
  const ops = [];
  text.split('\n').forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith('#') || t.startsWith('//')) return;
    let o;
    try { o = JSON.parse(t); } catch (e) { throw new Error(`thread ${name}, line ${i + 1}: not JSON (${e.message})`); }
    if (!o || typeof o !== 'object' || typeof o.op !== 'string') throw new Error(`thread ${name}, line ${i + 1}: an object with "op" is needed`);
    ops.push(o);
  });
  return ops;
}
