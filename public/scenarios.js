// Ready-made scenarios. Each is a flat list of /ops operations written for a
// fresh session: "pid" is the scenario's own numbering (1 = first process it
// creates, then in order of creation by "process" and "fork"). run() maps those
// to the real pids when the session already has processes.
import { api, ApiError } from './api.js';

const R = 'PROT_READ', RW = 'PROT_READ|PROT_WRITE', RX = 'PROT_READ|PROT_EXEC';
const ANON = 'MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS';
const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const P = 4096;

const mmap = (pid, address, length, prot, flags, fd = -1, offset = 0) => ({ op: 'mmap', pid, addr: address, length, prot, flags, fd, offset });
const fault = (pid, address, access) => ({ op: 'fault', pid, address, access });

function libc() {
  const F = 'MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE';
  return [
    { op: 'file', path: LIBC, size: 1970000 },
    { op: 'process', comm: 'cat' },
    { op: 'open', pid: 1, path: LIBC, flags: 'O_RDONLY|O_CLOEXEC' },
    // the seed's strace; the first mmap is NULL there and returned 0x7f0ce612e000:
    // it is given MAP_FIXED at that address so the later MAP_FIXED segments land as in the thread
    mmap(1, '0x7f0ce612e000', 1970000, R, F, 3, 0),
    mmap(1, '0x7f0ce6154000', 1396736, RX, F, 3, 0x26000),
    mmap(1, '0x7f0ce62a9000', 339968, R, F, 3, 0x17b000),
    mmap(1, '0x7f0ce62fc000', 24576, RW, F, 3, 0x1ce000),
    mmap(1, '0x7f0ce6302000', 53072, RW, ANON, -1, 0),
    fault(1, '0x7f0ce6154000', 'read'),   // text
    fault(1, '0x7f0ce62fc010', 'write'),  // .data: private file CoW (do_cow_fault)
    fault(1, '0x7f0ce6303010', 'write'),  // anonymous tail (.bss)
  ];
}

function fork() {
  const a = 0x7f0000100000;
  return [
    { op: 'process', comm: 'parent' },
    mmap(1, '0x' + a.toString(16), 4 * P, RW, ANON),
    fault(1, '0x' + a.toString(16), 'write'),
    { op: 'fork', pid: 1 },
    fault(1, '0x' + a.toString(16), 'write'),
    fault(2, '0x' + a.toString(16), 'write'),
    fault(2, '0x' + (a + 2 * P).toString(16), 'write'),
  ];
}

function adjacent() {
  return [
    { op: 'process', comm: 'adjacent' },
    mmap(1, '0x7f0000200000', 4 * P, RW, ANON),
    // rwx: not mergeable with the rw- VMA, but anon_vma-compatible (READ/WRITE/EXEC are ignored)
    mmap(1, '0x7f0000204000', 4 * P, 'PROT_READ|PROT_WRITE|PROT_EXEC', ANON),
    fault(1, '0x7f0000200000', 'write'),
    fault(1, '0x7f0000204000', 'write'),
  ];
}

function privateFile() {
  return [
    { op: 'file', path: '/srv/data.bin', size: 4 * P },
    { op: 'process', comm: 'cow' },
    { op: 'open', pid: 1, path: '/srv/data.bin', flags: 'O_RDONLY' },
    mmap(1, '0x7f0000300000', 4 * P, RW, 'MAP_PRIVATE|MAP_FIXED', 3, 0),
    fault(1, '0x7f0000301000', 'write'),  // no PTE yet: do_cow_fault, anon_vma needed
    fault(1, '0x7f0000300000', 'read'),   // page cache page mapped read-only (+ fault-around)
    fault(1, '0x7f0000300000', 'write'),  // write to the read-only file page: do_wp_page copy
  ];
}

function gapFill() {
  return [
    { op: 'process', comm: 'gap' },
    mmap(1, '0x7f0000400000', 2 * P, RW, ANON),
    mmap(1, '0x7f0000404000', 2 * P, RW, ANON),
    fault(1, '0x7f0000400000', 'write'),
    fault(1, '0x7f0000404000', 'write'),
    mmap(1, '0x7f0000402000', 2 * P, RW, ANON),
    fault(1, '0x7f0000402000', 'write'),
    fault(1, '0x7f0000403000', 'write'),
  ];
}

function stack() {
  return [
    { op: 'process', comm: 'stack' },
    mmap(1, '0x7ffffffde000', 0x21000, RW, 'MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS|MAP_GROWSDOWN'),
    fault(1, '0x7fffffffe000', 'write'),
    fault(1, '0x7ffffffdd000', 'write'),
    fault(1, '0x7ffffffd0000', 'write'),
  ];
}

function thousand() {
  const ops = [{ op: 'process', comm: 'many' }];
  const base = 0x7e0000000000;
  for (let i = 0; i < 1000; i++) ops.push(mmap(1, '0x' + (base + i * P).toString(16), P, i % 2 ? RW : R, ANON));
  for (let i = 1; i < 40; i += 4) ops.push(fault(1, '0x' + (base + i * P).toString(16), 'write'));
  return ops;
}

export const SCENARIOS = [
  { id: 'libc', title: 'libc loading (the thread\'s strace)', build: libc,
    text: 'ld.so maps libc.so.6 as in the seed mail: one PROT_READ reservation, then text, rodata, data (MAP_FIXED over it) and the anonymous .bss tail; then a read fault in the text, a write fault in .data (0x7f0ce62fc010, do_cow_fault) and one in the anonymous tail.' },
  { id: 'fork', title: 'fork, then write in parent and child', build: fork,
    text: 'The parent writes a page (anon_vma allocated), forks (anon_vma_fork: child anon_vma, page shared read-only), then parent and child write it again (CoW) and the child writes a fresh page.' },
  { id: 'adjacent', title: 'two adjacent anonymous regions (anon_vma reuse)', build: adjacent,
    text: 'rw- and rwx anonymous VMAs side by side (not mergeable, but anon_vma-compatible): the second write fault reuses the first one\'s anon_vma.' },
  { id: 'cow', title: 'private file mapping written (do_cow_fault)', build: privateFile,
    text: 'MAP_PRIVATE file mapping: a write fault on a page never touched (do_cow_fault: the anon_vma is needed), a read fault (page cache page, read-only), then a write to that read-mapped page (do_wp_page copy).' },
  { id: 'gap', title: 'gap filled between two faulted regions', build: gapFill,
    text: 'Two faulted anonymous regions with different anon_vmas and a gap between; the gap is then mapped (merge decision) and faulted.' },
  { id: 'stack', title: 'stack growth (MAP_GROWSDOWN)', build: stack,
    text: 'A MAP_GROWSDOWN region; faults below its start expand it (NO_VMA → mmap_lock, expand_downwards).' },
  { id: 'thousand', title: '1,000 VMAs (performance)', build: thousand,
    text: '1000 one-page anonymous mmaps with alternating prot (so they do not merge), then 10 write faults.' },
];

export const scenarioById = (id) => SCENARIOS.find((s) => s.id === id);

const CHUNK = 250;

/**
 * Runs ops in the session, mapping scenario pids to real ones.
 * Returns [{op, result}] in order; a "file" op that already exists (409) is noted and skipped.
 */
export async function runOps(sid, ops, onProgress) {
  const pidMap = new Map();
  let nextLocal = 1;
  const out = [];
  let i = 0;
  while (i < ops.length) {
    // a segment ends after an op that creates a pid, and file ops run alone
    const seg = [];
    while (i < ops.length && seg.length < CHUNK) {
      const op = { ...ops[i] };
      if (op.pid != null && pidMap.has(op.pid)) op.pid = pidMap.get(op.pid);
      if (op.op === 'file' && seg.length) break;
      seg.push(op);
      i++;
      if (op.op === 'process' || op.op === 'fork' || op.op === 'file') break;
    }
    let results;
    try {
      results = (await api.ops(sid, seg, seg.length > 50 ? 'summary' : 'full')).results || [];
    } catch (e) {
      if (seg.length === 1 && seg[0].op === 'file' && e instanceof ApiError && e.status === 409) {
        results = [{ note: `file ${seg[0].path} already exists: ${e.message}` }];
      } else throw e;
    }
    seg.forEach((op, k) => {
      const r = results[k];
      out.push({ op, result: r });
      if (op.op === 'process' && r) pidMap.set(nextLocal++, r.pid);
      if (op.op === 'fork' && r && typeof r.return === 'number' && r.return > 0) pidMap.set(nextLocal++, r.return);
    });
    if (onProgress) onProgress(out.length, ops.length);
  }
  return { results: out, pidMap };
}
