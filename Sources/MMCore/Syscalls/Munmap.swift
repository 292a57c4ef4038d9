/// munmap(2) and the unmap core every syscall of the family uses
/// (docs/KERNEL-MODEL.md §3.3): mm/vma.c `do_vmi_munmap`, `do_vmi_align_munmap`,
/// `vms_gather_munmap_vmas`, `vms_complete_munmap_vmas`.
extension Simulation {
    /// munmap(2) (`__vm_munmap()` → do_vmi_munmap()): unaligned start, start
    /// beyond TASK_SIZE or a length reaching past it → EINVAL; a rounded
    /// length of 0 → EINVAL; nothing mapped → 0. Neighbours are never merged.
    func sysMunmap(_ p: Process, addr: UInt64, length: UInt64) -> SysReturn {
        let mm = p.mm
        let firstID = nextVMAId
        if offsetInPage(addr) != 0 || addr > mm.taskSize || length > mm.taskSize - addr {
            tracer.step("do_vmi_munmap", "start unaligned or range beyond TASK_SIZE: EINVAL")
            return .error(.EINVAL)
        }
        let end = addr &+ pageAlign(length)
        if end == addr {
            tracer.step("do_vmi_munmap", "length rounds to 0: EINVAL")
            return .error(.EINVAL)
        }
        if let e = doVmiMunmap(p, addr, end) { return .error(e) }
        noteCreatedVMAs(mm, firstID: firstID, addr, end)
        return .zero
    }

    /// Models do_vmi_munmap() / do_vmi_align_munmap() (mm/vma.c) for a page
    /// aligned [start, end): split the first VMA at `start` (refused with
    /// ENOMEM when that split would leave map_count above max_map_count) and
    /// the last at `end`, write-lock and detach every VMA in range, zap their
    /// PTEs (guard markers included), unlink their anon_vma chains, uncharge
    /// VM_ACCOUNT pages. Returns nil on success (also when nothing is mapped).
    @discardableResult
    func doVmiMunmap(_ p: Process, _ start: UInt64, _ end: UInt64) -> Errno? {
        let mm = p.mm
        guard let first = mm.vmas.findVMA(start), first.start < end else {
            tracer.step("do_vmi_munmap", "nothing mapped in [\(hex(start))-\(hex(end))): nothing to do")
            return nil
        }
        guard let detached = vmsGatherMunmapVMAs(p, first, start, end) else { return .ENOMEM }
        vmsCompleteMunmapVMAs(p, detached, start, end)
        return nil
    }

    /// Models vms_gather_munmap_vmas() (mm/vma.c): the splits at the range
    /// boundaries and the list of VMAs to detach (removed from the tree).
    /// nil: the map-count limit refused the first split (nothing changed).
    func vmsGatherMunmapVMAs(_ p: Process, _ first: VMA, _ start: UInt64, _ end: UInt64) -> DetachedVMAs? {
        let mm = p.mm
        if start > first.start {
            // Make sure map_count will not exceed its limit on return.
            if end < first.end && mm.mapCount >= layout.maxMapCount {
                tracer.step("vms_gather_munmap_vmas", "splitting \(first.rangeDescription) twice would exceed max_map_count \(layout.maxMapCount): ENOMEM")
                return nil
            }
            splitVMANoLimit(p, first, at: start, newBelow: true)
        }
        var detached = DetachedVMAs()
        var cur: VMA? = first
        while let v = cur, v.start < end {
            if v.end > end { splitVMANoLimit(p, v, at: end, newBelow: false) }
            vmaStartWrite(mm, v)
            detached.append(v)
            cur = mm.vmas.next(of: v)
        }
        for v in detached {
            effects.vmasRemoved.append(VMASnapshot(v))
            mm.vmas.remove(v)
        }
        tracer.step("vms_gather_munmap_vmas", "detached \(detached.count) VMA(s) in [\(hex(start))-\(hex(end)))")
        return detached
    }

    /// Models vms_complete_munmap_vmas() (mm/vma.c): zap the PTEs of the
    /// detached VMAs (markers too), free page tables — which unlinks each
    /// VMA's anon_vma chain (free_pgtables() → unlink_anon_vmas()) — and
    /// uncharge their VM_ACCOUNT pages.
    func vmsCompleteMunmapVMAs(_ p: Process, _ detached: DetachedVMAs, _ start: UInt64, _ end: UInt64) {
        let mm = p.mm
        let zapped = zapRange(mm, start, end, dropGuards: true)
        tracer.step("unmap_vmas", "\(zapped) present PTE(s) zapped in [\(hex(start))-\(hex(end)))")
        var accounted: UInt64 = 0
        for v in detached {
            if v.flags.contains(.ACCOUNT) { accounted += v.pages }
            if v.anonVMA != nil || !v.chain.isEmpty {
                let ids = tracer.enabled ? v.chain.map { "av\($0.anonVMA.id)" }.joined(separator: ",") : ""
                unlinkAnonVMAs(v)
                tracer.step("unlink_anon_vmas", "\(v.rangeDescription): chain [\(ids)] unlinked")
            }
        }
        mm.committedPages = mm.committedPages >= accounted ? mm.committedPages - accounted : 0
    }
}

/// The VMAs vms_gather_munmap_vmas() detached (the kernel's `mas_detach`
/// tree), in address order: the first (usually the only one) held inline,
/// any others in an array, so that the usual munmap allocates no list.
struct DetachedVMAs: Sequence {
    private var first: VMA?
    private var rest: [VMA] = []

    var isEmpty: Bool { first == nil }
    var count: Int { first == nil ? 0 : 1 + rest.count }

    mutating func append(_ v: VMA) {
        if first == nil { first = v } else { rest.append(v) }
    }

    struct Iterator: IteratorProtocol {
        var first: VMA?
        var rest: IndexingIterator<[VMA]>
        mutating func next() -> VMA? {
            if let v = first {
                first = nil
                return v
            }
            return rest.next()
        }
    }

    func makeIterator() -> Iterator { Iterator(first: first, rest: rest.makeIterator()) }
    var underestimatedCount: Int { count }
}
