/// brk(2) (docs/KERNEL-MODEL.md §3.7): mm/mmap.c `SYSCALL_DEFINE1(brk)`,
/// `check_brk_limits`, mm/vma.c `do_brk_flags`.
extension Simulation {
    /// brk(2): below start_brk (brk(0) included) → the current brk; equal
    /// pages → only mm->brk moves; shrink → unmap [new, old); grow → the
    /// range must be a valid fixed mapping clear of the next VMA (and its
    /// stack guard gap), then do_brk_flags(). Returns the new brk on
    /// success, the old one on failure — never an errno.
    func sysBrk(_ p: Process, addr brk: UInt64) -> SysReturn {
        let mm = p.mm
        let firstID = nextVMAId
        let origbrk = mm.brk
        if brk < mm.startBrk {
            tracer.step("brk", "\(hex(brk)) below start_brk \(hex(mm.startBrk)): returns the current brk")
            return .value(origbrk)
        }
        if brk > mm.taskSize - Linux.PAGE_SIZE {
            // check_brk_limits(): get_unmapped_area() refuses a range past TASK_SIZE.
            tracer.step("check_brk_limits", "\(hex(brk)) beyond TASK_SIZE: brk unchanged")
            return .value(origbrk)
        }
        let newbrk = pageAlign(brk)
        let oldbrk = pageAlign(mm.brk)
        if oldbrk == newbrk {
            mm.brk = brk
            tracer.step("brk", "same page boundary \(hex(newbrk)): only mm->brk updated")
            return .value(brk)
        }
        if brk <= mm.brk {
            // Always allow shrinking brk.
            guard mm.vmas.intersects(newbrk, oldbrk) else {
                tracer.step("brk", "nothing mapped in [\(hex(newbrk))-\(hex(oldbrk))): shrink refused")
                return .value(origbrk)
            }
            mm.brk = brk
            tracer.step("brk", "shrink: unmap [\(hex(newbrk))-\(hex(oldbrk)))")
            if doVmiMunmap(p, newbrk, oldbrk) != nil {
                mm.brk = origbrk
                return .value(origbrk)
            }
            noteCreatedVMAs(mm, firstID: firstID, newbrk, oldbrk)
            return .value(brk)
        }
        // check_brk_limits(): a fixed-placement check of the new range.
        if case let .failed(e) = getUnmappedArea(mm, file: nil, addr: oldbrk, len: newbrk - oldbrk, pgoff: 0,
                                                 flags: Linux.MAP_FIXED) {
            tracer.step("check_brk_limits", "[\(hex(oldbrk))-\(hex(newbrk))) not mappable (\(e.name)): brk unchanged")
            return .value(origbrk)
        }
        // The next VMA (with its stack guard gap) must stay clear of newbrk + one page.
        if let next = mm.vmas.findVMA(oldbrk), next.start < newbrk + Linux.PAGE_SIZE + layout.stackGuardGap,
           newbrk + Linux.PAGE_SIZE > next.startGap(layout.stackGuardGap) {
            tracer.step("brk", "\(next.rangeDescription) is too close above \(hex(newbrk)): brk unchanged")
            return .value(origbrk)
        }
        let prev = mm.vmas.vmaEnding(atOrBefore: oldbrk)
        let brkvma = (prev.map { $0.end > mm.startBrk } ?? false) ? prev : nil
        if let e = doBrkFlags(p, brkvma, addr: oldbrk, len: newbrk - oldbrk, flags: []) {
            tracer.step("do_brk_flags", "failed (\(e.name)): brk unchanged")
            return .value(origbrk)
        }
        mm.brk = brk
        noteCreatedVMAs(mm, firstID: firstID, oldbrk, newbrk)
        if mm.defFlags.contains(.LOCKED) {
            mmapWriteUnlock(mm)
            mmPopulate(p, oldbrk, newbrk - oldbrk)
        }
        return .value(brk)
    }

    /// Models do_brk_flags() (mm/vma.c): flags VM_READ|VM_WRITE|VM_MAY*
    /// (VM_DATA_DEFAULT_FLAGS) | VM_ACCOUNT | def_flags; map_count above
    /// max_map_count → ENOMEM. If the heap VMA ends exactly at `addr`, an
    /// expand-only merge with it as `prev` (R1–R3; R2 refuses a fork-child
    /// heap) grows it; otherwise a new anonymous `[heap]` VMA [addr, addr+len)
    /// with pgoff addr >> 12.
    func doBrkFlags(_ p: Process, _ vma: VMA?, addr: UInt64, len: UInt64, flags: VMFlags) -> Errno? {
        let mm = p.mm
        let vmFlags = flags.union([.READ, .WRITE, .MAYREAD, .MAYWRITE, .MAYEXEC, .ACCOUNT]).union(mm.defFlags)
        if mm.mapCount > layout.maxMapCount { return .ENOMEM }
        var result: VMA?
        if let v = vma, v.end == addr {
            var vmg = VMAMergeProposal(mm: mm, pid: p.pid, prev: v, middle: nil, next: nil, start: addr,
                                       end: addr + len, pgoff: addr >> Linux.PAGE_SHIFT, flags: vmFlags,
                                       file: nil, anonVMA: nil)
            vmg.justExpand = true
            result = vmaMergeNewRange(&vmg)
        }
        if result == nil {
            let v = insertNewVMA(mm, start: addr, end: addr + len, pgoff: addr >> Linux.PAGE_SHIFT, flags: vmFlags,
                                 kind: .anonymous, file: nil, name: "[heap]")
            tracer.step("do_brk_flags", "new [heap] VMA \(v.rangeDescription)")
            result = v
        }
        mm.committedPages += len >> Linux.PAGE_SHIFT
        eagerAnonVMAIfNeeded(p, result!)
        return nil
    }
}
