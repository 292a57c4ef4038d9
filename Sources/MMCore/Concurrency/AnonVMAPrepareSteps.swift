/// vmf_anon_prepare() and __anon_vma_prepare() (mm/memory.c, mm/rmap.c) as
/// steps (docs/CONCURRENCY.md §2.3), with find_mergeable_anon_vma()
/// (mm/vma.c): one maple state walks to the VMA after `v`, then twice back.
extension Machine {
    enum PreparePC {
        static let first = 50
        static let walk = 50, readNext = 51, walkPrev = 52, readPrev = 53
        static let lockAV = 54, lockPTL = 55, link = 56, unlock = 57
        static let last = 57
    }

    /// vmf_anon_prepare(): under the VMA lock, [M3] mmap_read_trylock()
    /// (failure: vma_end_read(), ANON_VMA_TRYLOCK_FAILED, retry under
    /// mmap_lock), [mutant 6.18-blocking-prepare] a blocking mmap_read_lock(),
    /// [M1, M2, hypothetical no-26] nothing: __anon_vma_prepare() holds only
    /// the VMA lock. Under mmap_lock: __anon_vma_prepare() directly.
    mutating func vmfAnonPrepare() {
        t.ret = FaultPC.allocFolio
        if t.pc == FaultPC.prepareLocked {
            // The blocking mutant got mmap_read_lock: continue.
            t.pc = PreparePC.walk
            return anonVMAPrepareStep()
        }
        guard t.underVMALock else {
            t.pc = PreparePC.walk
            return anonVMAPrepareStep()
        }
        if model.anonPrepareTrylock {
            if cfg.mutant == .blockingPrepare {
                step("vmf_anon_prepare", "mutant: mmap_read_lock() while holding the VMA read lock")
                t.trylocked = true
                t.prepareHoldsMmap = true
                t.pc = FaultPC.prepareLocked
                _ = mmapLock(write: false)
                return
            }
            guard mmapReadTrylock() else {
                step("vmf_anon_prepare", "mmap_read_trylock() failed: vma_end_read(), VM_FAULT_RETRY")
                vmaEndRead(t.v!)
                return fallback(.ANON_VMA_TRYLOCK_FAILED)
            }
            t.trylocked = true
            t.prepareHoldsMmap = true
        }
        t.pc = PreparePC.walk
        anonVMAPrepareStep()
    }

    /// One step of __anon_vma_prepare(t.v), returning to `t.ret`.
    mutating func anonVMAPrepareStep() {
        let v = t.v!
        let race = cfg.prepareRace
        switch t.pc {
        case PreparePC.walk:
            // find_mergeable_anon_vma(): mas_walk() at vm_end.
            loadNode(race: race)
            let end = w.vmas[v].end
            t.n = t.mas.first { $0.start == end && $0.vma != nil }?.vma
            t.candidate = nil
            step("find_mergeable_anon_vma", t.n.map { "mas_walk: next V#\(w.vmas[$0].id)" } ?? "mas_walk: no VMA at vm_end")
            t.pc = t.n == nil ? PreparePC.walkPrev : PreparePC.readNext
        case PreparePC.readNext:
            let n = t.n!
            t.candidate = reusableAnonVMA(old: n, a: v, b: n, race: race)
            step("reusable_anon_vma", "next V#\(w.vmas[n].id): \(t.candidate.map { "reuse av\(w.avs[$0].id)" } ?? "not reusable")")
            t.pc = t.candidate == nil ? PreparePC.walkPrev : PreparePC.lockAV
        case PreparePC.walkPrev:
            // mas_prev() twice on the same maple state: back to v, then to prev.
            readLoadedNode(race: race)
            let slot = t.mas.firstIndex { $0.vma == v }
            t.n = slot.flatMap { s in t.mas[..<s].last { $0.vma != nil }?.vma }
            step("find_mergeable_anon_vma", t.n.map { "mas_prev: prev V#\(w.vmas[$0].id)" } ?? "mas_prev: no VMA before")
            t.pc = t.n == nil ? PreparePC.lockAV : PreparePC.readPrev
        case PreparePC.readPrev:
            let p = t.n!
            t.candidate = reusableAnonVMA(old: p, a: p, b: v, race: race)
            step("reusable_anon_vma", "prev V#\(w.vmas[p].id): \(t.candidate.map { "reuse av\(w.avs[$0].id)" } ?? "not reusable")")
            t.pc = PreparePC.lockAV
        case PreparePC.lockAV:
            if t.candidate == nil { t.allocated = w.newAnonVMA() }
            let a = t.candidate ?? t.allocated!
            step("anon_vma_lock_write", t.candidate == nil ? "anon_vma_alloc() av\(w.avs[a].id), lock it" : "lock av\(w.avs[a].id)'s root")
            t.pc = PreparePC.lockPTL
            _ = avLock(a, race: race)
        case PreparePC.lockPTL:
            step("spin_lock", "mm->page_table_lock")
            t.pc = PreparePC.link
            _ = ptlLock()
        case PreparePC.link:
            // The one NULL → non-NULL store allowed concurrently: under page_table_lock.
            readVMA(v, .anonVMA, race: race)
            let a = t.candidate ?? t.allocated!
            if w.vmas[v].anonVMA == nil {
                useAV(a, race: race)
                writeVMA(v, .anonVMA, race: race, ptlSection: true)
                writeVMA(v, .chain, race: race, ptlSection: true)
                w.vmas[v].anonVMA = a
                w.vmas[v].chain.append(a)
                w.avs[a].links += 1
                if a == t.allocated { t.allocated = nil }
                step("__anon_vma_prepare", "V#\(w.vmas[v].id)->anon_vma = av\(w.avs[a].id), chain linked")
            } else {
                step("__anon_vma_prepare", "another thread set V#\(w.vmas[v].id)->anon_vma first: discard")
            }
            ptlUnlock()
            t.pc = PreparePC.unlock
        case PreparePC.unlock:
            step("anon_vma_unlock_write", t.allocated == nil ? "" : "the unused allocation is freed")
            avUnlock()
            if let x = t.allocated { w.avs[x].freed = true }
            t.allocated = nil
            t.candidate = nil
            if t.prepareHoldsMmap {
                mmapUnlock()
                t.prepareHoldsMmap = false
            }
            t.pc = t.ret
        default:
            preconditionFailure("prepare pc \(t.pc)")
        }
    }

    /// reusable_anon_vma() (mm/vma.c): `old.anon_vma` (one READ_ONCE) when
    /// `a` directly below `b` are anon_vma_compatible() and old's chain is singular.
    private mutating func reusableAnonVMA(old: Int, a: Int, b: Int, race: Race) -> Int? {
        for f in [Field.layout, .flags, .file, .pgoff, .policy] { readVMA(old, f, race: race) }
        guard anonVMACompatible(w.vmas[a], w.vmas[b]) else { return nil }
        readVMA(old, .anonVMA, race: race)
        guard let av = w.vmas[old].anonVMA else { return nil }
        readVMA(old, .chain, race: race)
        return w.vmas[old].chain.count == 1 ? av : nil
    }

    /// anon_vma_compatible() (mm/vma.c): adjacent, same file, flags equal but
    /// for the access bits and VM_SOFTDIRTY, contiguous pgoff.
    func anonVMACompatible(_ a: EVMA, _ b: EVMA) -> Bool {
        a.end == b.start && a.file == b.file && samePolicy(a, b)
            && a.flags.symmetricDifference(b.flags).subtracting([.READ, .WRITE, .EXEC, .SOFTDIRTY]).isEmpty
            && b.pgoff == a.pgoff &+ ((b.start - a.start) >> 12)
    }
}
