/// madvise(2) (docs/KERNEL-MODEL.md §3.5): mm/madvise.c `do_madvise`,
/// `madvise_walk_vmas`, `madvise_vma_behavior`, `madvise_update_vma`,
/// `madvise_dontneed_free`, `madvise_populate`, `madvise_guard_install`,
/// `madvise_guard_remove`.
extension Simulation {
    /// madvise_behavior_valid() (mm/madvise.c) for x86-64 with CONFIG_KSM,
    /// CONFIG_TRANSPARENT_HUGEPAGE and CONFIG_MEMORY_FAILURE; the guard
    /// advices only where the model has guard regions (6.13+).
    func madviseBehaviorValid(_ advice: UInt64) -> Bool {
        switch advice {
        case Linux.MADV_NORMAL, Linux.MADV_RANDOM, Linux.MADV_SEQUENTIAL, Linux.MADV_WILLNEED,
             Linux.MADV_DONTNEED, Linux.MADV_DONTNEED_LOCKED, Linux.MADV_FREE, Linux.MADV_REMOVE,
             Linux.MADV_DONTFORK, Linux.MADV_DOFORK, Linux.MADV_DONTDUMP, Linux.MADV_DODUMP,
             Linux.MADV_WIPEONFORK, Linux.MADV_KEEPONFORK, Linux.MADV_COLD, Linux.MADV_PAGEOUT,
             Linux.MADV_POPULATE_READ, Linux.MADV_POPULATE_WRITE, Linux.MADV_MERGEABLE,
             Linux.MADV_UNMERGEABLE, Linux.MADV_HUGEPAGE, Linux.MADV_NOHUGEPAGE, Linux.MADV_COLLAPSE,
             Linux.MADV_HWPOISON, Linux.MADV_SOFT_OFFLINE:
            return true
        case Linux.MADV_GUARD_INSTALL, Linux.MADV_GUARD_REMOVE:
            return model.guardRegions
        default:
            return false
        }
    }

    /// madvise(2) → do_madvise(): is_valid_madvise() (unknown advice,
    /// unaligned start, a length that rounds to 0 from a huge value, a
    /// wrapping range → EINVAL), an empty range → 0, then the advice. Holes
    /// give ENOMEM after the mapped parts were processed [observed E-13c].
    func sysMadvise(_ p: Process, addr: UInt64, length: UInt64, advice: UInt64) -> SysReturn {
        let name = Linux.madvNames.format(advice)
        guard madviseBehaviorValid(advice) else {
            tracer.step("madvise_behavior_valid", "advice \(name) not accepted by this kernel: EINVAL")
            return .error(.EINVAL)
        }
        let len = pageAlign(length)
        if offsetInPage(addr) != 0 || (length != 0 && len == 0) || addr &+ len < addr {
            tracer.step("is_valid_madvise", "unaligned start or invalid length: EINVAL")
            return .error(.EINVAL)
        }
        let start = addr, end = addr + len
        if start == end { return .zero }
        let firstID = nextVMAId
        let r: Errno?
        switch advice {
        case Linux.MADV_POPULATE_READ, Linux.MADV_POPULATE_WRITE:
            r = madvisePopulate(p, start, end, write: advice == Linux.MADV_POPULATE_WRITE)
        case Linux.MADV_HWPOISON, Linux.MADV_SOFT_OFFLINE:
            tracer.step("madvise_inject_error", "\(name) accepted (root); memory-failure injection is not modelled")
            r = nil
        default:
            r = madviseWalkVMAs(p, start, end, advice: advice)
        }
        noteCreatedVMAs(p.mm, firstID: firstID, start, end)
        if let e = r { return .error(e) }
        return .zero
    }

    /// Models madvise_walk_vmas() (mm/madvise.c): every VMA piece of
    /// [start, end) in address order; the first error returned by a piece
    /// ends the walk, a hole only sets ENOMEM for the end.
    func madviseWalkVMAs(_ p: Process, _ start: UInt64, _ end: UInt64, advice: UInt64) -> Errno? {
        let mm = p.mm
        guard var vma = mm.vmas.findVMA(start) else { return .ENOMEM }
        var prev: VMA? = start > vma.start ? vma : mm.vmas.prev(of: vma)
        var cur = start
        var unmappedError: Errno?
        while true {
            if cur < vma.start {
                tracer.step("madvise_walk_vmas", "hole at [\(hex(cur))-\(hex(min(vma.start, end)))): ENOMEM at the end")
                unmappedError = .ENOMEM
                cur = vma.start
                if cur >= end { break }
            }
            let tmp = min(vma.end, end)
            if let e = madviseVMABehavior(p, vma, prev: &prev, start: cur, end: tmp, advice: advice) { return e }
            cur = tmp
            if let pv = prev, cur < pv.end { cur = pv.end }
            if cur >= end { break }
            guard let n = mm.vmas.findVMA(cur) else {
                tracer.step("madvise_walk_vmas", "nothing mapped from \(hex(cur)): ENOMEM")
                return .ENOMEM
            }
            vma = n
        }
        return unmappedError
    }

    /// Models madvise_vma_behavior() (mm/madvise.c) for [start, end) inside
    /// `vma`: the page-level advices act here; the flag advices compute the
    /// new vm_flags and go through madvise_update_vma() (split/merge like
    /// mprotect; ENOMEM there is reported as EAGAIN).
    func madviseVMABehavior(_ p: Process, _ vma: VMA, prev: inout VMA?, start: UInt64, end: UInt64,
                            advice: UInt64) -> Errno? {
        let mm = p.mm
        let name = Linux.madvNames.format(advice)
        var newFlags = vma.flags
        switch advice {
        case Linux.MADV_DONTNEED, Linux.MADV_DONTNEED_LOCKED, Linux.MADV_FREE:
            prev = vma
            var forbidden: VMFlags = [.PFNMAP]
            if advice != Linux.MADV_DONTNEED_LOCKED { forbidden.insert(.LOCKED) }
            if !vma.flags.intersection(forbidden).isEmpty {
                tracer.step("madvise_dontneed_free", "\(vma.rangeDescription) is VM_LOCKED/VM_PFNMAP: EINVAL")
                return .EINVAL
            }
            if advice == Linux.MADV_FREE { return madviseFreeSingleVMA(p, vma, start, end) }
            let zapped = zapRange(mm, start, end, dropGuards: false)
            tracer.step("madvise_dontneed_single_vma", "[\(hex(start))-\(hex(end))): \(zapped) PTE(s) zapped; guard markers, flags and anon_vma kept")
            return nil
        case Linux.MADV_WILLNEED:
            prev = vma
            tracer.step("madvise_willneed", "readahead/swap-in hint accepted; not modelled (page cache is always up to date)")
            return nil
        case Linux.MADV_COLD, Linux.MADV_PAGEOUT:
            prev = vma
            if !vma.flags.intersection([.LOCKED, .PFNMAP, .HUGETLB]).isEmpty {
                tracer.step("can_madv_lru_vma", "\(vma.rangeDescription) is VM_LOCKED/VM_PFNMAP: EINVAL")
                return .EINVAL
            }
            if advice == Linux.MADV_COLD {
                tracer.step("madvise_cold_or_pageout", "MADV_COLD: pages deactivated; LRU aging not modelled")
                return nil
            }
            madvisePageout(p, vma, start, end)
            return nil
        case Linux.MADV_REMOVE:
            prev = nil
            return madviseRemove(p, vma, start, end)
        case Linux.MADV_COLLAPSE:
            prev = vma
            tracer.step("madvise_collapse", "no PMD-sized folio can be built (order-0 model; nothing collapsible): EINVAL")
            return .EINVAL
        case Linux.MADV_GUARD_INSTALL:
            prev = vma
            return madviseGuardInstall(p, vma, start, end)
        case Linux.MADV_GUARD_REMOVE:
            prev = vma
            return madviseGuardRemove(p, vma, start, end)
        case Linux.MADV_NORMAL:
            newFlags.subtract([.RAND_READ, .SEQ_READ])
        case Linux.MADV_SEQUENTIAL:
            newFlags.remove(.RAND_READ)
            newFlags.insert(.SEQ_READ)
        case Linux.MADV_RANDOM:
            newFlags.remove(.SEQ_READ)
            newFlags.insert(.RAND_READ)
        case Linux.MADV_DONTFORK:
            newFlags.insert(.DONTCOPY)
        case Linux.MADV_DOFORK:
            if newFlags.contains(.IO) {
                tracer.step("madvise_vma_behavior", "MADV_DOFORK on VM_IO: EINVAL")
                return .EINVAL
            }
            newFlags.remove(.DONTCOPY)
        case Linux.MADV_WIPEONFORK:
            if vma.file != nil || newFlags.contains(.SHARED) {
                tracer.step("madvise_vma_behavior", "MADV_WIPEONFORK only for private anonymous memory: EINVAL")
                return .EINVAL
            }
            newFlags.insert(.WIPEONFORK)
        case Linux.MADV_KEEPONFORK:
            if newFlags.contains(.DROPPABLE) {
                tracer.step("madvise_vma_behavior", "MADV_KEEPONFORK on VM_DROPPABLE: EINVAL")
                return .EINVAL
            }
            newFlags.remove(.WIPEONFORK)
        case Linux.MADV_DONTDUMP:
            newFlags.insert(.DONTDUMP)
        case Linux.MADV_DODUMP:
            if !newFlags.intersection(VMFlags.special.union(.DROPPABLE)).isEmpty {
                tracer.step("madvise_vma_behavior", "MADV_DODUMP on a special or droppable VMA: EINVAL")
                return .EINVAL
            }
            newFlags.remove(.DONTDUMP)
        case Linux.MADV_MERGEABLE:
            // ksm_madvise(): incompatible VMAs silently ignore the advice.
            let incompatible: VMFlags = [.MERGEABLE, .SHARED, .MAYSHARE, .PFNMAP, .IO, .DONTEXPAND, .HUGETLB,
                                         .MIXEDMAP, .DROPPABLE]
            if vma.flags.intersection(incompatible).isEmpty { newFlags.insert(.MERGEABLE) }
            tracer.step("ksm_madvise", "VM_MERGEABLE \(newFlags.contains(.MERGEABLE) ? "set" : "not applicable"); KSM merging itself is not modelled")
        case Linux.MADV_UNMERGEABLE:
            newFlags.remove(.MERGEABLE)
        case Linux.MADV_HUGEPAGE:
            newFlags.remove(.NOHUGEPAGE)
            newFlags.insert(.HUGEPAGE)
        case Linux.MADV_NOHUGEPAGE:
            newFlags.remove(.HUGEPAGE)
            newFlags.insert(.NOHUGEPAGE)
        default:
            tracer.step("madvise_vma_behavior", "\(name) accepted; not modelled")
            prev = vma
            return nil
        }
        return madviseUpdateVMA(p, vma, prev: &prev, start: start, end: end, newFlags: newFlags, advice: name)
    }

    /// Models madvise_update_vma() (mm/madvise.c): no change → nothing;
    /// else vma_modify_flags() and store the flags. ENOMEM → EAGAIN.
    func madviseUpdateVMA(_ p: Process, _ vma: VMA, prev: inout VMA?, start: UInt64, end: UInt64,
                          newFlags: VMFlags, advice: String) -> Errno? {
        if newFlags == vma.flags {
            prev = vma
            tracer.step("madvise_update_vma", "\(vma.rangeDescription): \(advice) changes nothing")
            return nil
        }
        switch vmaModifyFlags(p, prev: prev, vma, start: start, end: end, flags: newFlags) {
        case let .failed(e):
            let reported: Errno = e == .ENOMEM ? .EAGAIN : e
            tracer.step("madvise_update_vma", "vma_modify_flags failed (\(e.name)): \(reported.name)")
            return reported
        case let .ok(v):
            prev = v
            vmaStartWrite(p.mm, v)
            v.flags = newFlags.union(v.flags.intersection(.sticky))
            tracer.step("madvise_update_vma", "\(advice): \(v.rangeDescription) flags now \(v.flags.smapsCodes.joined(separator: " "))")
            return nil
        }
    }

    /// Models madvise_remove() (mm/madvise.c): VM_LOCKED → EINVAL; no file
    /// (private anonymous memory) → EINVAL; not vma_is_shared_maywrite() (a
    /// private file mapping, or a shared one of a file opened read-only) →
    /// EACCES; else vfs_fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
    /// on the file range the VMA maps there (punchHole()): every process
    /// loses those pages.
    func madviseRemove(_ p: Process, _ vma: VMA, _ start: UInt64, _ end: UInt64) -> Errno? {
        if vma.flags.contains(.LOCKED) {
            tracer.step("madvise_remove", "VM_LOCKED: EINVAL")
            return .EINVAL
        }
        guard let f = vma.file else {
            tracer.step("madvise_remove", "\(vma.rangeDescription) has no file: EINVAL")
            return .EINVAL
        }
        if !vma.flags.isSuperset(of: [.SHARED, .MAYWRITE]) {
            tracer.step("madvise_remove", "\(vma.rangeDescription) is not a shared writable mapping: EACCES")
            return .EACCES
        }
        let first = vma.linearPageIndex(start), count = (end - start) >> Linux.PAGE_SHIFT
        let r = punchHole(f.inode, first: first, count: count)
        tracer.step("madvise_remove", "vfs_fallocate(PUNCH_HOLE) on \(f.inode.isShmem ? "shmem object" : f.inode.path) pages \(first)…\(first + count - 1): \(r.unmapped) PTE(s) unmapped in every process, \(r.freed) page(s) freed")
        return nil
    }

    /// is_valid_guard_vma() (mm/madvise.c): not VM_SPECIAL/VM_HUGETLB, and
    /// not VM_LOCKED unless `allowLocked`.
    func isValidGuardVMA(_ vma: VMA, allowLocked: Bool) -> Bool {
        var disallowed = VMFlags.special.union(.HUGETLB)
        if !allowLocked { disallowed.insert(.LOCKED) }
        if case .special = vma.kind { return false }
        return vma.flags.intersection(disallowed).isEmpty
    }

    /// Models madvise_guard_install() (mm/madvise.c) as the test machine's
    /// 6.18 backport behaves [observed E-29]: the VMA gets the sticky
    /// VM_MAYBE_GUARD (`gu`) without being split, an anonymous VMA gets an
    /// anon_vma prepared (so fork copies its page tables), whatever is
    /// mapped in range is zapped, and every page gets a guard marker.
    func madviseGuardInstall(_ p: Process, _ vma: VMA, _ start: UInt64, _ end: UInt64) -> Errno? {
        guard isValidGuardVMA(vma, allowLocked: false) else {
            tracer.step("madvise_guard_install", "\(vma.rangeDescription) is special, hugetlb or VM_LOCKED: EINVAL")
            return .EINVAL
        }
        if vma.isAnonymous { anonVMAPrepareForGuard(p, vma) }
        vma.flags.insert(.MAYBE_GUARD)
        let mm = p.mm
        let zapped = zapRange(mm, start, end, dropGuards: false)
        var vpn = start >> Linux.PAGE_SHIFT
        let last = end >> Linux.PAGE_SHIFT
        while vpn < last {
            mm.pageTable[vpn] = .guardPTE
            vpn += 1
        }
        tracer.step("madvise_guard_install", "\(last - (start >> Linux.PAGE_SHIFT)) guard marker(s) in [\(hex(start))-\(hex(end))) (\(zapped) PTE(s) zapped first); \(vma.rangeDescription) gets VM_MAYBE_GUARD, not split")
        return nil
    }

    /// Models madvise_guard_remove() (mm/madvise.c): clears the guard markers
    /// of the range (VM_LOCKED allowed); VM_MAYBE_GUARD stays [observed E-29].
    func madviseGuardRemove(_ p: Process, _ vma: VMA, _ start: UInt64, _ end: UInt64) -> Errno? {
        guard isValidGuardVMA(vma, allowLocked: true) else {
            tracer.step("madvise_guard_remove", "\(vma.rangeDescription) is special or hugetlb: EINVAL")
            return .EINVAL
        }
        let mm = p.mm
        var removed = 0
        for vpn in mm.pageTable.vpns(in: start, end) where mm.pageTable[vpn]?.guardMarker == true {
            mm.pageTable.remove(vpn)
            removed += 1
        }
        tracer.step("madvise_guard_remove", "\(removed) guard marker(s) removed in [\(hex(start))-\(hex(end))); VM_MAYBE_GUARD stays")
        return nil
    }

    /// Models madvise_populate() → faultin_page_range() (mm/madvise.c,
    /// mm/gup.c): fault [start, end) in through GUP without FOLL_FORCE. A
    /// hole → ENOMEM, a VMA without the needed VM_READ/VM_WRITE (or VM_IO /
    /// VM_PFNMAP) → EINVAL, a fault that fails (SIGSEGV/SIGBUS) → EFAULT;
    /// pages before the failure stay populated [observed E-28].
    func madvisePopulate(_ p: Process, _ start: UInt64, _ end: UInt64, write: Bool) -> Errno? {
        let mm = p.mm
        var cur = start
        var populated = 0
        defer {
            effects.pagesPopulated += populated
            tracer.step("madvise_populate", "\(populated) page(s) faulted in (\(write ? "write" : "read"))")
        }
        while cur < end {
            guard let vma = mm.vmas.find(containing: cur) else {
                tracer.step("faultin_page_range", "no VMA at \(hex(cur)): ENOMEM")
                return .ENOMEM
            }
            let needed: VMFlags = write ? .WRITE : .READ
            if !vma.flags.intersection([.IO, .PFNMAP]).isEmpty || !vma.flags.contains(needed) {
                tracer.step("check_vma_flags", "\(vma.rangeDescription) does not allow \(write ? "writing" : "reading") without FOLL_FORCE: EINVAL")
                return .EINVAL
            }
            let vEnd = min(end, vma.end)
            while cur < vEnd {
                let r = gupFault(p, cur, write: write)
                if r.outcome != .handled {
                    tracer.step("faultin_page_range", "fault at \(hex(cur)) raised \(r.outcome.rawValue): EFAULT")
                    return .EFAULT
                }
                if r.fault { populated += 1 }
                cur += Linux.PAGE_SIZE
            }
        }
        return nil
    }

    /// Prepares an anon_vma for an anonymous VMA that gets guard markers, so
    /// that fork copies its page tables (the machine's backport behaves as if
    /// anon_vma_prepare() ran, docs/KERNEL-MODEL.md §3.5): __anon_vma_prepare()
    /// reuses a neighbour's anon_vma or allocates one.
    func anonVMAPrepareForGuard(_ p: Process, _ vma: VMA) {
        _ = anonVMAPrepare(p, vma)
    }
}
