/// mprotect(2) as steps (docs/CONCURRENCY.md §2.7): do_mprotect_pkey() →
/// mprotect_fixup() (mm/mprotect.c) → vma_merge() of 6.4 / vma_modify_flags()
/// (mm/vma.c), dup_anon_vma(), vma_prepare(), __split_vma(), change_protection().
/// Where each model write-locks the VMAs: [v3] vma_merge() locks prev,
/// middle and next before deciding (16/35); [6.4–6.4.7] only vma_prepare()
/// locks, after dup_anon_vma() published the anon_vma (R-D1); [6.4.8]
/// dup_anon_vma() locks dst first (d8ab9f7b644a); [6.18] the middle VMA and
/// the neighbours it merges with are locked before dup_anon_vma().
extension Machine {
    enum MprotectPC {
        static let lock = 0, find = 1, fixup = 2, entryLocks = 3, decide = 4, dupLocks = 5, dup = 6, clone = 7
        static let prepareLocks = 8, commit = 9, splitLock = 10, split = 11, advance = 12
    }

    /// The merge mprotect_fixup() decided on.
    enum MergePlan {
        static let none = 0, prevAndNext = 1, prev = 2, next = 3
    }

    /// Write-locks the next VMA of `t.queue` not yet locked (one step).
    /// Returns false once the queue is empty (the caller goes on in this step).
    mutating func lockNext() -> Bool {
        while t.k < t.queue.count {
            let v = t.queue[t.k]
            t.k += 1
            guard model.perVMALock, !w.isWriteLocked(v) else { continue }
            step("vma_start_write", "V#\(w.vmas[v].id)")
            _ = vmaStartWrite(v)
            return true
        }
        t.queue = []
        t.k = 0
        return false
    }

    /// One step of mprotect(2): do_mprotect_pkey() → mprotect_fixup() (mm/mprotect.c).
    mutating func mprotectStep(_ addr: UInt64, _ length: UInt64, _ prot: UInt64) {
        // The range's end is kept in t.a1 once the range is checked.
        let end = t.pc <= MprotectPC.find ? addr &+ pageAlign(length) : t.a1
        switch t.pc {
        case MprotectPC.lock:
            writeLockStep("mprotect", next: MprotectPC.find)
        case MprotectPC.find:
            readTree(race: .dupAnonVMA)
            guard addr & 0xfff == 0, prot & ~(Linux.PROT_READ | Linux.PROT_WRITE | Linux.PROT_EXEC) == 0, end > addr,
                  let v = w.findVMA(addr), w.vmas[v].start <= addr else {
                step("do_mprotect_pkey", "invalid range or nothing mapped at \(hex(addr))")
                mmapUnlock()
                return finishOp()
            }
            t.v = v
            t.a0 = addr
            t.a1 = end
            t.pc = MprotectPC.fixup
            mprotectStep(addr, length, prot)
        case MprotectPC.fixup:
            mprotectFixupStart(end, prot)
        case MprotectPC.entryLocks, MprotectPC.dupLocks, MprotectPC.prepareLocks, MprotectPC.splitLock:
            if t.pc == MprotectPC.prepareLocks && t.queue.isEmpty { queueVMAPrepareLocks() }
            if lockNext() { return }
            t.pc += 1
            mprotectStep(addr, length, prot)
        case MprotectPC.decide:
            mprotectDecide(end)
        case MprotectPC.dup:
            dupAnonVMA()
        case MprotectPC.clone:
            anonVMACloneForMerge()
        case MprotectPC.commit:
            commitMerge(end)
        case MprotectPC.split:
            mprotectSplitAndSet(end)
        case MprotectPC.advance:
            let v = t.v!
            readTree(race: .dupAnonVMA)
            if w.vmas[v].end < end, let n = w.findVMA(w.vmas[v].end), w.vmas[n].start == w.vmas[v].end {
                t.v = n
                t.a0 = w.vmas[v].end
                t.pc = MprotectPC.fixup
                return mprotectStep(addr, length, prot)
            }
            step("mmap_write_unlock", w.vmas[v].end < end ? "hole in the range: ENOMEM" : "mprotect done")
            mmapUnlock()
            finishOp()
        default:
            preconditionFailure("mprotect pc \(t.pc)")
        }
    }

    /// mprotect_fixup() up to vma_merge(): the new flags (VM_ACCOUNT charged
    /// when a private mapping first becomes writable; 6.18 drops it from an
    /// unfaulted anonymous VMA made read-only), then [v3] the entry locks.
    private mutating func mprotectFixupStart(_ end: UInt64, _ prot: UInt64) {
        let v = t.v!
        let e = w.vmas[v]
        rec.reads.append(.vma(v, .flags))
        var nf = VMFlags(rawValue: prot & 7).union(e.flags.subtracting(.accessFlags))
        if nf.contains(.WRITE) {
            if e.flags.intersection([.ACCOUNT, .WRITE, .HUGETLB, .SHARED, .NORESERVE]).isEmpty { nf.insert(.ACCOUNT) }
        } else if model.mprotectUnaccountsUnfaulted && e.flags.contains(.ACCOUNT) && e.anonymous && e.anonVMA == nil {
            nf.remove(.ACCOUNT)
        }
        let missing = nf.rawValue & ~(nf.rawValue >> 4) & VMFlags.accessFlags.rawValue
        if missing != 0 {
            step("mprotect_fixup", "VM_MAY* missing: EACCES")
            mmapUnlock()
            return finishOp()
        }
        t.newFlags = nf.rawValue
        if nf == e.flags {
            step("mprotect_fixup", "V#\(e.id): flags unchanged")
            t.pc = MprotectPC.advance
            return
        }
        let (prev, next) = mergeNeighbours(v, t.a0, min(end, e.end))
        t.pc = MprotectPC.entryLocks
        if model.mergeLocksBeforeDecision {
            // v3 16/35: vma_merge() write-locks prev, middle and next at entry.
            t.queue = [prev, v, next].compactMap { $0 }
        }
        step("mprotect_fixup", "V#\(e.id) → \(nf.names.joined(separator: "|"))")
        if !lockNext() { t.pc = MprotectPC.decide }
    }

    /// The VMA before the range (when the range starts at v's start) and after it (when it ends at v's end).
    func mergeNeighbours(_ v: Int, _ rs: UInt64, _ re: UInt64) -> (Int?, Int?) {
        let e = w.vmas[v]
        let prev = rs == e.start ? w.prev(of: v).flatMap { w.vmas[$0].end == rs ? $0 : nil } : nil
        let next = re == e.end ? w.next(of: v).flatMap { w.vmas[$0].start == re ? $0 : nil } : nil
        return (prev, next)
    }

    /// is_mergeable_anon_vma() (mm/vma.c): before 6.16 either side NULL with
    /// the neighbour's chain singular, or equal; 6.16+ the donor must not be a fork child.
    func mergeableAnon(_ tgt: Int, src: Int?) -> Bool {
        let ta = w.vmas[tgt].anonVMA, sa = src.flatMap { w.vmas[$0].anonVMA }
        if model.mergeAnonVMA616 {
            if ta == nil, let s = src, sa != nil { return w.vmas[s].chain.count == 1 }
            if ta != nil, sa == nil { return w.vmas[tgt].chain.count == 1 }
            return ta == sa
        }
        if (ta == nil || sa == nil) && w.vmas[tgt].chain.count == 1 { return true }
        return ta == sa
    }

    /// is_mergeable_vma() + pgoff contiguity for [rs, re) of v with flags `nf` against `n`.
    func canMerge(_ v: Int, with n: Int, _ rs: UInt64, _ re: UInt64, _ nf: VMFlags, below: Bool) -> Bool {
        let e = w.vmas[v], o = w.vmas[n]
        guard o.flags.symmetricDifference(nf).subtracting(VMFlags.ignoredByMerge).isEmpty, o.file == e.file, samePolicy(o, e),
              nf.intersection(VMFlags.special).isEmpty, mergeableAnon(n, src: v) else { return false }
        let pg = e.pgoff + ((rs - e.start) >> 12)
        return below ? o.pgoff + ((o.end - o.start) >> 12) == pg : o.pgoff == pg + ((re - rs) >> 12)
    }

    /// vma_merge()'s decision for [t.a0, end) of t.v.
    private mutating func mprotectDecide(_ end: UInt64) {
        let v = t.v!
        let e = w.vmas[v]
        let rs = t.a0, re = min(end, e.end)
        let nf = VMFlags(rawValue: t.newFlags)
        let (prev, next) = mergeNeighbours(v, rs, re)
        for n in [prev, next].compactMap({ $0 }) {
            for f in [Field.flags, .file, .pgoff, .anonVMA, .chain] { readVMA(n, f, race: .dupAnonVMA) }
        }
        let mp = prev.map { canMerge(v, with: $0, rs, re, nf, below: true) } ?? false
        var mn = next.map { canMerge(v, with: $0, rs, re, nf, below: false) } ?? false
        if mp && mn, let p = prev, let n = next, let pa = w.vmas[p].anonVMA, let na = w.vmas[n].anonVMA, pa != na { mn = false }
        if mp && mn && rs == e.start && re == e.end {
            t.plan = MergePlan.prevAndNext
            t.n = prev
            t.source = w.vmas[next!].anonVMA != nil ? next : v
        } else if mp {
            t.plan = MergePlan.prev
            t.n = prev
            t.source = v
        } else if mn {
            t.plan = MergePlan.next
            t.n = next
            t.source = v
        } else {
            t.plan = MergePlan.none
            step("vma_merge", "no merge: split if needed and set the flags")
            t.queue = [v]
            t.pc = MprotectPC.splitLock
            if !lockNext() { t.pc = MprotectPC.split; mprotectSplitAndSet(end) }
            return
        }
        let tgt = t.n!
        step("vma_merge", "merge into V#\(w.vmas[tgt].id) (\(["", "prev and next", "prev", "next"][t.plan]))")
        if model.everyNewVMALockedBeforeInsert {
            // vma_merge_existing_range() (mm/vma.c): middle always, then next
            // only when merging right and prev only when merging left.
            let right = t.plan == MergePlan.prevAndNext || t.plan == MergePlan.next
            let left = t.plan == MergePlan.prevAndNext || t.plan == MergePlan.prev
            t.queue = [v, right ? next : nil, left ? prev : nil].compactMap { $0 }
        } else if model.dupAnonVMAWriteLocks && w.vmas[tgt].anonVMA == nil
                    && t.source.flatMap({ w.vmas[$0].anonVMA }) != nil {
            // d8ab9f7b644a: dup_anon_vma() write-locks dst only when it copies.
            t.queue = [tgt]
        }
        t.pc = MprotectPC.dupLocks
        if !lockNext() { t.pc = MprotectPC.dup; dupAnonVMA() }
    }

    /// dup_anon_vma(dst, src): dst->anon_vma = src->anon_vma, then anon_vma_clone().
    private mutating func dupAnonVMA() {
        let dst = t.n!
        guard w.vmas[dst].anonVMA == nil, let s = t.source, let a = w.vmas[s].anonVMA else {
            t.pc = MprotectPC.prepareLocks
            return mprotectStep(0, 0, 0)
        }
        useAV(a, race: .dupAnonVMA)
        writeVMA(dst, .anonVMA, race: .dupAnonVMA)
        w.vmas[dst].anonVMA = a
        step("dup_anon_vma", "V#\(w.vmas[dst].id)->anon_vma = av\(w.avs[a].id)\(w.isWriteLocked(dst) ? "" : " (V not write-locked)")")
        t.pc = MprotectPC.clone
    }

    /// anon_vma_clone(dst, src); with the injected ENOMEM dst->anon_vma is
    /// reset to NULL and the merge fails (mprotect goes on without it).
    private mutating func anonVMACloneForMerge() {
        let dst = t.n!
        let s = t.source!
        if cfg.inject.anonVMACloneENOMEM {
            writeVMA(dst, .anonVMA, race: .dupAnonVMA)
            w.vmas[dst].anonVMA = nil
            step("anon_vma_clone", "ENOMEM (injected): V#\(w.vmas[dst].id)->anon_vma = NULL, no merge")
            t.plan = MergePlan.none
            t.queue = [t.v!]
            t.pc = MprotectPC.splitLock
            return
        }
        writeVMA(dst, .chain, race: .dupAnonVMA)
        for a in w.vmas[s].chain where !w.vmas[dst].chain.contains(a) {
            w.vmas[dst].chain.append(a)
            w.avs[a].links += 1
        }
        step("anon_vma_clone", "V#\(w.vmas[dst].id) linked to the chain of V#\(w.vmas[s].id)")
        t.pc = MprotectPC.prepareLocks
    }

    /// vma_prepare(): write-locks the expanded VMA and the ones removed or adjusted.
    private mutating func queueVMAPrepareLocks() {
        let tgt = t.n!, v = t.v!
        var q = [tgt, v]
        if t.plan == MergePlan.prevAndNext, let n = w.next(of: v) { q.append(n) }
        t.queue = q
    }

    /// vma_complete(): the new ranges, the removed VMAs detached and freed,
    /// then vm_flags_reset() and change_protection() on the result.
    private mutating func commitMerge(_ end: UInt64) {
        let tgt = t.n!, v = t.v!
        let e = w.vmas[v]
        let rs = t.a0, re = min(end, e.end)
        var removed: [Int] = []
        writeVMA(tgt, .layout, race: .dupAnonVMA)
        switch t.plan {
        case MergePlan.prevAndNext:
            let n = w.next(of: v)!
            removed = [v, n]
            let newEnd = w.vmas[n].end
            w.storeTree({ $0.removeAll { removed.contains($0) } }, layout: { $0.vmas[tgt].end = newEnd })
        case MergePlan.prev:
            if re == e.end {
                removed = [v]
                w.storeTree({ $0.removeAll { $0 == v } }, layout: { $0.vmas[tgt].end = re })
            } else {
                writeVMA(v, .layout, race: .dupAnonVMA)
                w.storeTree({ _ in }, layout: { w in
                    w.vmas[tgt].end = re
                    w.vmas[v].pgoff += (re - w.vmas[v].start) >> 12
                    w.vmas[v].start = re
                })
            }
        default:
            if rs == e.start {
                removed = [v]
                let pg = e.pgoff
                w.storeTree({ $0.removeAll { $0 == v } }, layout: { $0.vmas[tgt].start = rs; $0.vmas[tgt].pgoff = pg })
            } else {
                writeVMA(v, .layout, race: .dupAnonVMA)
                let pg = e.pgoff + ((rs - e.start) >> 12)
                w.storeTree({ _ in }, layout: { w in
                    w.vmas[v].end = rs
                    w.vmas[tgt].start = rs
                    w.vmas[tgt].pgoff = pg
                })
            }
        }
        writeTree(race: .dupAnonVMA)
        for r in removed {
            rec.writes.append(.vma(r, .detached))
            w.vmas[r].detached = true
            // anon_vma_merge() → unlink_anon_vmas(): the target keeps the same anon_vma linked.
            unlinkAnonVMAs(r, race: .dupAnonVMA)
            removeVMA(r)
        }
        step("vma_complete", "V#\(w.vmas[tgt].id) is now \(hexRange(w.vmas[tgt].start, w.vmas[tgt].end))")
        t.v = tgt
        setFlags(tgt, rs, re)
        t.pc = MprotectPC.advance
    }

    /// No merge: __split_vma() at the range's ends (v is write-locked), then the flags.
    private mutating func mprotectSplitAndSet(_ end: UInt64) {
        let v = t.v!
        let rs = t.a0, re = min(end, w.vmas[v].end)
        if rs > w.vmas[v].start { _ = splitVMA(v, at: rs, newBelow: true, race: .dupAnonVMA) }
        if re < w.vmas[v].end { _ = splitVMA(v, at: re, newBelow: false, race: .dupAnonVMA) }
        step("mprotect_fixup", "V#\(w.vmas[v].id) \(hexRange(w.vmas[v].start, w.vmas[v].end)): vm_flags_reset()")
        setFlags(v, rs, re)
        t.pc = MprotectPC.advance
    }

    /// vm_flags_reset() (vma_start_write() implied) and change_protection().
    private mutating func setFlags(_ v: Int, _ rs: UInt64, _ re: UInt64) {
        let old = w.vmas[v].flags
        let nf = VMFlags(rawValue: t.newFlags).union(old.intersection(.sticky))
        writeVMA(v, .flags, race: .dupAnonVMA)
        w.vmas[v].flags = nf
        if !nf.contains(.WRITE) {
            for i in w.ptes.indices where w.ptes[i].mm == 0 && w.ptes[i].vpn >= rs >> 12 && w.ptes[i].vpn < re >> 12
                && w.ptes[i].writable {
                writePTE(0, w.ptes[i].vpn)
                w.ptes[i].writable = false
            }
        }
    }
}
