/// fork() as steps (docs/CONCURRENCY.md §2.11): dup_mmap() (kernel/fork.c):
/// both mmap_locks for write; per parent VMA [6.4.3+] vma_start_write()
/// (fb49c455323f), vm_area_dup(), anon_vma_fork() (reads the parent's
/// anon_vma), copy_page_range() (reads it again, write-protects the parent's
/// anonymous PTEs); the parent's TLB is flushed only at the end.
extension Machine {
    enum ForkPC {
        static let lock = 0, start = 1, lockVMA = 2, dup = 3, copy = 4, flush = 5
    }

    /// One step of fork(): dup_mmap() (kernel/fork.c).
    mutating func forkStep() {
        switch t.pc {
        case ForkPC.lock:
            writeLockStep("dup_mmap(): the parent's, then the child's (uncontended)", next: ForkPC.start)
        case ForkPC.start:
            readTree(race: .forkVsFault)
            t.list = w.tree.vmas
            t.k = 0
            t.child = w.nextMM
            w.nextMM += 1
            step("dup_mmap", "\(t.list.count) VMA(s) to copy into mm\(t.child)")
            t.pc = t.list.isEmpty ? ForkPC.flush : ForkPC.lockVMA
            if !t.list.isEmpty { forkStep() }
        case ForkPC.lockVMA:
            let p = t.list[t.k]
            t.pc = ForkPC.dup
            if model.forkWriteLocksParentVMAs {
                step("vma_start_write", "fb49c455323f: the parent's V#\(w.vmas[p].id)")
                _ = vmaStartWrite(p)
            } else {
                forkStep()
            }
        case ForkPC.dup:
            let p = t.list[t.k]
            let e = w.vmas[p]
            if e.flags.contains(.DONTCOPY) {
                step("dup_mmap", "V#\(e.id) is VM_DONTCOPY")
                return nextParentVMA()
            }
            if e.anonVMA != nil && cfg.inject.anonVMACloneENOMEM {
                // anon_vma_fork() fails (injected ENOMEM): fail_nomem_anon_vma_fork.
                readVMA(p, .anonVMA, race: .forkVsFault)
                return forkFailed(e.id)
            }
            var proto = e
            proto.mm = t.child
            proto.anonVMA = nil
            proto.chain = []
            let c = w.newVMA(proto)
            copyPolicy(to: c)   // vma_dup_policy()
            t.n = c
            // anon_vma_fork(): nothing for a parent without anon_vma.
            readVMA(p, .anonVMA, race: .forkVsFault)
            if let pa = e.anonVMA {
                for a in e.chain {
                    w.vmas[c].chain.append(a)
                    w.avs[a].links += 1
                }
                let na = w.newAnonVMA()
                w.avs[na].root = w.avs[pa].root
                w.avs[na].parent = pa
                w.avs[pa].children += 1
                w.vmas[c].anonVMA = na
                w.vmas[c].chain.append(na)
                w.avs[na].links += 1
            }
            step("anon_vma_fork", "child V#\(w.vmas[c].id)\(w.vmas[c].anonVMA.map { " gets av\(w.avs[$0].id)" } ?? " without anon_vma")")
            t.pc = ForkPC.copy
        case ForkPC.copy:
            copyPageRange(t.list[t.k], t.n!)
            nextParentVMA()
        case ForkPC.flush:
            // mmap_write_unlock(child); flush_tlb_mm(parent); mmap_write_unlock(parent).
            for (vpn, k) in w.tlbPending where k == cur { w.tlbPending[vpn] = nil; rec.writes.append(.pte(0, vpn)) }
            step("flush_tlb_mm", "the parent's TLB flushed; mmap_write_unlock()")
            mmapUnlock()
            finishOp()
        default:
            preconditionFailure("fork pc \(t.pc)")
        }
    }

    /// dup_mmap()'s error path (anon_vma_fork() returned -ENOMEM): the child
    /// built so far is torn down (its PTEs zapped, its anon_vma chains
    /// unlinked, its VMAs freed: no other thread can reach them), the
    /// parent keeps its write-protected PTEs; then flush_tlb_mm(parent) and
    /// the unlocks as on success. fork() returns ENOMEM.
    private mutating func forkFailed(_ id: Int) {
        let child = t.child
        for v in w.vmas.indices where w.vmas[v].mm == child && !w.vmas[v].freed {
            let e = w.vmas[v]
            zap(child, e.start, e.end)
            unlinkAnonVMAs(v, race: .forkVsFault)
            if let p = e.policy { putPolicy(p) }
            w.vmas[v].freed = true
        }
        step("anon_vma_fork", "V#\(id): ENOMEM (injected): the child mm\(child) is torn down")
        t.pc = ForkPC.flush
    }

    private mutating func nextParentVMA() {
        t.k += 1
        t.pc = t.k < t.list.count ? ForkPC.lockVMA : ForkPC.flush
    }

    /// copy_page_range(): vma_needs_copy() re-reads the parent's anon_vma;
    /// each anonymous PTE is shared (mapcount + 1) and write-protected in
    /// both; the parent's stale writable translations live until the flush.
    private mutating func copyPageRange(_ p: Int, _ c: Int) {
        readVMA(p, .anonVMA, race: .forkVsFault)
        let e = w.vmas[p]
        guard e.anonVMA != nil else {
            step("copy_page_range", "V#\(e.id) has no anon_vma: nothing copied (the child faults)")
            return
        }
        var copied = 0
        for i in w.ptes.indices where w.ptes[i].mm == 0 && w.ptes[i].vpn >= e.start >> 12 && w.ptes[i].vpn < e.end >> 12 {
            let pte = w.ptes[i]
            if w.folios[pte.folio].anon { w.folios[pte.folio].mapcount += 1 }
            if pte.writable && e.flags.isCOWMapping {
                writePTE(0, pte.vpn)
                w.ptes[i].writable = false
                w.tlbPending[pte.vpn] = cur
            }
            rec.writes.append(.pte(t.child, pte.vpn))
            w.ptes.append(EPTE(mm: t.child, vpn: pte.vpn, folio: pte.folio, writable: false))
            copied += 1
        }
        step("copy_page_range", "V#\(e.id): \(copied) PTE(s) copied, the parent's write-protected")
    }
}
