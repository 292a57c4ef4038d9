/// fork(2): dup_mmap() and copy_page_range() (docs/KERNEL-MODEL.md §6).
extension Simulation {
    /// fork(): a child process (new pid, ppid = parent) sharing the parent's
    /// open file descriptions, with a copy of its address space; returns the
    /// child's pid.
    func sysFork(_ p: Process) -> SysReturn {
        let child = createProcess(comm: p.comm, ppid: p.pid)
        child.fds = p.fds   // the same struct file objects (dup_fd())
        tracer.step("copy_process", "child pid \(child.pid) (ppid \(p.pid)); file table copied, struct files shared")
        dupMmap(parent: p, child: child)
        return .value(UInt64(child.pid))
    }

    /// Models dup_mmap() (mm/mmap.c since 6.16, kernel/fork.c before): for each
    /// parent VMA in address order — write-lock it (6.5+), skip VM_DONTCOPY,
    /// vm_area_dup(), VM_WIPEONFORK → no anon_vma, else anon_vma_fork(); clear
    /// VM_LOCKED|VM_LOCKONFAULT; insert; copy_page_range() unless wiped and
    /// only where vma_needs_copy(). One `effects.fork` entry per parent VMA.
    func dupMmap(parent p: Process, child c: Process) {
        let pm = p.mm, cm = c.mm
        cm.mmapBase = pm.mmapBase
        cm.startBrk = pm.startBrk
        cm.brk = pm.brk
        cm.defFlags = pm.defFlags
        cm.committedPages = pm.committedPages
        let verbose = tracer.enabled
        var copies: [(parent: VMA, child: VMA, effect: Int)] = []
        var copyPages: UInt64 = 0
        var eff: [ForkVMAEffect] = []
        eff.reserveCapacity(pm.vmas.count)
        for pv in pm.vmas {
            if model.forkWriteLocksParentVMAs { vmaStartWrite(pm, pv) }
            if pv.flags.contains(.DONTCOPY) {
                eff.append(ForkVMAEffect(parent: VMASnapshot(pv), copied: false, anonVMA: .skipped,
                                                  childAnonVMA: nil, pageTablesCopied: false, pagesWriteProtected: 0,
                                                  why: "VM_DONTCOPY (MADV_DONTFORK): not copied to the child"))
                continue
            }
            let cv = makeVMA(start: pv.start, end: pv.end, pgoff: pv.pgoff,
                             flags: pv.flags.subtracting([.LOCKED, .LOCKONFAULT]),
                             kind: pv.kind, file: pv.file, name: pv.name)
            cv.anonVMA = pv.anonVMA   // vm_area_dup() copies the pointer
            var action: ForkVMAEffect.AnonVMAAction
            var why: String
            if pv.flags.contains(.WIPEONFORK) {
                cv.anonVMA = nil
                action = .wiped
                why = "VM_WIPEONFORK: child VMA without anon_vma or pages"
                if options.eagerAnonVMA {
                    // 4.14's MADV_WIPEONFORK prepared an anon_vma for the child VMA
                    // before it was linked (no neighbours yet): always a new root.
                    let av = anonVMAAlloc()
                    av.numChildren = 1
                    av.numActiveVMAs = 1
                    cv.anonVMA = av
                    anonVMAChainLink(cv, av, pid: c.pid)
                    why += "; eager_anon_vma: new root av\(av.id)"
                }
            } else {
                switch anonVMAFork(child: cv, parent: pv, childPid: c.pid) {
                case .none:
                    action = .none
                    why = vmaNeedsCopy(child: cv, parent: pv)
                        ? "no anon_vma in the parent: nothing to clone; page tables copied (vma_needs_copy)"
                        : "no anon_vma in the parent: nothing to clone; page tables not copied (vma_needs_copy: faulted on demand)"
                case let .reused(av):
                    action = .reused
                    why = verbose ? "anon_vma_fork: chain cloned, idle av\(av.id) reused" : "anon_vma_fork: chain cloned, idle anon_vma reused"
                case let .allocated(av):
                    action = .cloned
                    why = verbose ? "anon_vma_fork: chain cloned, new av\(av.id) (parent av\(av.parent.id))" : "anon_vma_fork: chain cloned, new child anon_vma"
                }
            }
            cm.vmas.insert(cv)
            let needsCopy = !pv.flags.contains(.WIPEONFORK) && vmaNeedsCopy(child: cv, parent: pv)
            if needsCopy {
                copies.append((pv, cv, eff.count))
                copyPages += pv.pages
            }
            eff.append(ForkVMAEffect(parent: VMASnapshot(pv), copied: true, anonVMA: action,
                                              childAnonVMA: cv.anonVMA?.id, pageTablesCopied: needsCopy,
                                              pagesWriteProtected: 0, why: why))
        }
        copyPageTables(pm, cm, copies, copyPages: copyPages, &eff)
        if effects.fork.isEmpty { effects.fork = eff } else { effects.fork.append(contentsOf: eff) }
        mmapWriteUnlock(cm)
        tracer.step("dup_mmap", "\(cm.vmas.count) of \(pm.vmas.count) VMAs copied; \(copies.count) with page tables")
    }

    /// Models vma_needs_copy() (mm/memory.c, 6.18): copy page tables only for
    /// uffd-wp, VM_PFNMAP/VM_MIXEDMAP, or a parent VMA with an anon_vma (guard
    /// markers live in such VMAs too: VM_MAYBE_GUARD is honoured).
    func vmaNeedsCopy(child: VMA, parent: VMA) -> Bool {
        if child.flags.contains(.UFFD_WP) { return true }
        if !parent.flags.intersection([.PFNMAP, .MIXEDMAP, .MAYBE_GUARD]).isEmpty { return true }
        return parent.anonVMA != nil
    }

    /// Models copy_page_range() (mm/memory.c) for every VMA that needs it,
    /// walking whichever is smaller: the copied ranges or the parent's page table.
    private func copyPageTables(_ pm: MM, _ cm: MM, _ copies: [(parent: VMA, child: VMA, effect: Int)], copyPages: UInt64,
                                _ eff: inout [ForkVMAEffect]) {
        guard !copies.isEmpty else { return }
        if copyPages <= UInt64(pm.pageTable.count) {
            for (pv, _, e) in copies {
                var wp = 0
                var vpn = pv.start >> Linux.PAGE_SHIFT
                let end = pv.end >> Linux.PAGE_SHIFT
                while vpn < end {
                    if let pte = pm.pageTable[vpn], copyPTE(cm, pv, vpn, pte) {
                        pm.pageTable[vpn]?.writable = false      // ptep_set_wrprotect() in the parent
                        wp += 1
                    }
                    vpn += 1
                }
                eff[e].pagesWriteProtected = wp
            }
            return
        }
        var byStart: [UInt64: Int] = [:]
        byStart.reserveCapacity(copies.count)
        for (i, c) in copies.enumerated() { byStart[c.parent.start] = i }
        var wp = [Int](repeating: 0, count: copies.count)
        var protect: [UInt64] = []
        pm.pageTable.forEach(in: 0, UInt64.max) { vpn, pte in
            guard let pv = pm.vmas.find(containing: vpn << Linux.PAGE_SHIFT), let i = byStart[pv.start],
                  copies[i].parent === pv else { return }
            if copyPTE(cm, pv, vpn, pte) {
                protect.append(vpn)
                wp[i] += 1
            }
        }
        for vpn in protect { pm.pageTable[vpn]?.writable = false }   // ptep_set_wrprotect()
        for (i, c) in copies.enumerated() { eff[c.effect].pagesWriteProtected = wp[i] }
    }

    /// Models copy_present_pte() / copy_nonpresent_pte() (mm/memory.c) for one
    /// PTE: guard markers and zero-page PTEs are copied as they are; an
    /// anonymous page is shared (mapcount +1, PageAnonExclusive cleared) and, in
    /// a COW mapping, a writable PTE is write-protected in parent and child; a
    /// page-cache page gains a mapping. The child PTE is old (and clean in a
    /// shared mapping). Returns true if the parent PTE must be write-protected.
    private func copyPTE(_ cm: MM, _ pv: VMA, _ vpn: UInt64, _ parentPTE: PTE) -> Bool {
        var pte = parentPTE
        if !pte.present {
            cm.pageTable[vpn] = pte   // PTE markers (guard regions)
            return false
        }
        var wp = false
        if let f = pte.folio, !f.isZero {
            f.mapcount += 1
            if f.isAnon { f.anonExclusive = false }
        }
        if pv.flags.isCOWMapping && pte.writable {
            pte.writable = false
            wp = true
        }
        if pv.flags.contains(.SHARED) { pte.dirty = false }
        pte.young = false
        cm.pageTable[vpn] = pte
        return wp
    }
}
