/// mmap(2) of private anonymous memory or of a file opened before
/// exploring (MAP_PRIVATE|MAP_FIXED), and brk(2), as steps
/// (docs/CONCURRENCY.md §2.4, §2.9): do_mmap() → mmap_region() /
/// __mmap_region() with vma_merge_new_range() (mm/vma.c), do_brk_flags().
/// [v3] prev and next are write-locked before the merge checks; [6.4] the
/// expanded VMA in vma_prepare(); a new VMA is write-locked before insertion
/// from 6.4.3 (33313a747e81), after it (vm_flags_set()) before.
extension Machine {
    enum MmapPC {
        static let lock = 0, place = 1, unmapLocks = 2, unmap = 3, entryLocks = 4, merge = 5, prepareLocks = 6
        static let insert = 7
    }

    /// One step of mmap(2): do_mmap() → mmap_region() (mm/mmap.c, mm/vma.c).
    mutating func mmapStep(_ addr: UInt64, _ length: UInt64, _ prot: UInt64, _ flags: UInt64) {
        let len = pageAlign(length)
        switch t.pc {
        case MmapPC.lock:
            writeLockStep("mmap", next: MmapPC.place)
        case MmapPC.place:
            readTree(race: .dupAnonVMA)
            let fixed = flags & Linux.MAP_FIXED != 0
            guard let a = fixed ? (addr & 0xfff == 0 ? addr : nil) : w.placeAnon(hint: addr, len) else {
                step("get_unmapped_area", "no room: ENOMEM")
                mmapUnlock()
                return finishOp()
            }
            t.a0 = a
            t.a1 = a + len
            t.newFlags = cfg.mmapFlags[cur][t.op]!.rawValue
            t.queue = w.overlapping(a, a + len)
            t.list = t.queue
            step("get_unmapped_area", "\(hex(a))\(t.list.isEmpty ? "" : ": MAP_FIXED replaces \(t.list.count) VMA(s)")")
            t.pc = MmapPC.unmapLocks
            if !lockNext() { t.pc = MmapPC.unmap; mmapStep(addr, length, prot, flags) }
        case MmapPC.unmapLocks, MmapPC.entryLocks, MmapPC.prepareLocks:
            if lockNext() { return }
            t.pc += 1
            mmapStep(addr, length, prot, flags)
        case MmapPC.unmap:
            if !t.list.isEmpty { unmapForFixed(t.a0, t.a1) }
            let (prev, next) = newRangeNeighbours(t.a0, t.a1)
            if model.mergeLocksBeforeDecision { t.queue = [prev, next].compactMap { $0 } }
            t.pc = MmapPC.entryLocks
            if !lockNext() { t.pc = MmapPC.merge; mmapStep(addr, length, prot, flags) }
        case MmapPC.merge:
            let (prev, next) = newRangeNeighbours(t.a0, t.a1)
            let nf = VMFlags(rawValue: t.newFlags)
            let pg = newRangePgoff()
            for n in [prev, next].compactMap({ $0 }) { for f in [Field.flags, .anonVMA, .chain] { readVMA(n, f, race: .dupAnonVMA) } }
            let mp = prev.map { newRangeCanMerge($0, nf, pg, below: true) } ?? false
            var mn = next.map { newRangeCanMerge($0, nf, pg, below: false) } ?? false
            if mp && mn, let pa = w.vmas[prev!].anonVMA, let na = w.vmas[next!].anonVMA, pa != na { mn = false }
            t.v = mp ? prev : (mn ? next : nil)
            t.n = mp && mn ? next : nil
            step("vma_merge_new_range", t.v.map { "expand V#\(w.vmas[$0].id)" } ?? "no merge: a new VMA")
            t.queue = [t.v, t.n].compactMap { $0 }
            t.pc = MmapPC.prepareLocks
            if !lockNext() { t.pc = MmapPC.insert; mmapStep(addr, length, prot, flags) }
        case MmapPC.insert:
            insertOrExpand(VMFlags(rawValue: t.newFlags), name: "mmap")
            step("mmap_region", "[\(hex(t.a0)), \(hex(t.a1))) mapped")
            mmapUnlock()
            finishOp()
        default:
            preconditionFailure("mmap pc \(t.pc)")
        }
    }

    /// The VMAs ending at `start` and starting at `end`.
    func newRangeNeighbours(_ start: UInt64, _ end: UInt64) -> (Int?, Int?) {
        (w.tree.vmas.first { w.vmas[$0].end == start }, w.tree.vmas.first { w.vmas[$0].start == end })
    }

    /// The file the running mmap op maps (nil: anonymous, and for brk).
    var newRangeFile: EngineFileMapping? {
        if case .syscall(.mmap) = cfg.programs[cur][t.op] { return cfg.mmapFiles[cur][t.op] }
        return nil
    }

    /// The new range's pgoff: the file offset, or the address for anonymous memory.
    func newRangePgoff() -> UInt64 { newRangeFile?.pgoff ?? t.a0 >> 12 }

    /// can_vma_merge_after()/before() for a new range [a0, a1) with pgoff `pg`
    /// (same file or both anonymous, the default policy, pgoff contiguous).
    func newRangeCanMerge(_ n: Int, _ nf: VMFlags, _ pg: UInt64, below: Bool) -> Bool {
        let o = w.vmas[n]
        let file = newRangeFile?.file
        guard o.anonymous == (file == nil), o.file == file, o.policy == nil, o.flags.symmetricDifference(nf).subtracting(VMFlags.ignoredByMerge).isEmpty,
              nf.intersection(VMFlags.special).isEmpty, mergeableAnon(n, src: nil) else { return false }
        return below ? o.pgoff + ((o.end - o.start) >> 12) == pg : o.pgoff == pg + ((t.a1 - t.a0) >> 12)
    }

    /// vma_expand() of t.v over [a0, a1) (absorbing t.n), or a new VMA.
    mutating func insertOrExpand(_ nf: VMFlags, name: String) {
        let start = t.a0, end = t.a1
        writeTree(race: .dupAnonVMA)
        if let tgt = t.v {
            expandOver(tgt, start, end, pgoff: newRangePgoff(), absorbing: t.n)
            return
        }
        let file = newRangeFile
        let proto = EVMA(id: 0, mm: 0, start: start, end: end, pgoff: newRangePgoff(), flags: nf, anonymous: file == nil,
                         file: file?.file)
        let v = w.newVMA(proto)
        // 33313a747e81 (6.4.3+): locked before it becomes visible; before that
        // vm_flags_set(VM_SOFTDIRTY) locks it right after insertion.
        if model.newVMALockedBeforeInsert || model.perVMALock { w.vmas[v].lockSeq = w.mmLockSeq }
        w.storeTree { $0.append(v) }
    }

    /// MAP_FIXED over existing VMAs: split at the range's ends, detach, zap,
    /// unlink and free them (no downgrade).
    mutating func unmapForFixed(_ start: UInt64, _ end: UInt64) {
        let list = w.overlapping(start, end)
        if let f = list.first, w.vmas[f].start < start {
            _ = splitVMA(f, at: start, newBelow: model.munmapSplitsNewBelow, race: .dupAnonVMA)
        }
        if let l = w.overlapping(start, end).last, w.vmas[l].end > end { _ = splitVMA(l, at: end, newBelow: false, race: .dupAnonVMA) }
        let victims = w.overlapping(start, end)
        detach(victims, race: .dupAnonVMA)
        zap(0, start, end)
        for v in victims {
            unlinkAnonVMAs(v, race: .dupAnonVMA)
            removeVMA(v)
        }
    }

    /// brk(2): shrink through munmap's steps (with the downgrade), grow by
    /// expanding the heap VMA or inserting a new one.
    mutating func brkStep(_ addr: UInt64) {
        if t.plan == 1 {
            // Shrinking: munmap's steps on [new, old).
            return munmapStep(t.a0, t.a1 - t.a0)
        }
        switch t.pc {
        case 0:
            step("mmap_write_lock", "brk")
            t.pc = 1
            _ = mmapLock(write: true)
        case 1:
            readTree(race: .dupAnonVMA)
            let newbrk = pageAlign(addr), oldbrk = pageAlign(w.brk)
            if addr < w.startBrk || newbrk == oldbrk {
                if addr >= w.startBrk { w.brk = addr }
                step("brk", "no change of the heap's pages")
                mmapUnlock()
                return finishOp()
            }
            if newbrk < oldbrk {
                w.brk = addr
                step("brk", "shrink: unmap [\(hex(newbrk)), \(hex(oldbrk)))")
                t.a0 = newbrk
                t.a1 = oldbrk
                t.plan = 1
                t.pc = MunmapPC.gather
                return
            }
            guard w.rangeFree(oldbrk, newbrk - oldbrk) else {
                step("brk", "the range is not free: brk unchanged")
                mmapUnlock()
                return finishOp()
            }
            w.brk = addr
            t.a0 = oldbrk
            t.a1 = newbrk
            let heap = w.tree.vmas.first { w.vmas[$0].end == oldbrk && w.vmas[$0].end > w.startBrk }
            let nf: VMFlags = [.READ, .WRITE, .MAYREAD, .MAYWRITE, .MAYEXEC, .ACCOUNT]
            t.newFlags = nf.rawValue
            t.v = heap.flatMap { newRangeCanMerge($0, nf, oldbrk >> 12, below: true) ? $0 : nil }
            t.queue = [t.v].compactMap { $0 }
            step("do_brk_flags", t.v.map { "expand V#\(w.vmas[$0].id)" } ?? "new [heap] VMA")
            t.pc = 2
            if !lockNext() { t.pc = 3; brkStep(addr) }
        case 2:
            if lockNext() { return }
            t.pc = 3
            brkStep(addr)
        case 3:
            insertOrExpand(VMFlags(rawValue: t.newFlags), name: "[heap]")
            step("do_brk_flags", "heap now ends at \(hex(t.a1))")
            mmapUnlock()
            finishOp()
        default:
            preconditionFailure("brk pc \(t.pc)")
        }
    }
}
