/// Stack growth on a fault below a VM_GROWSDOWN VMA (docs/KERNEL-MODEL.md §4.4,
/// §9.2 row 23).
extension Simulation {
    /// RLIMIT_STACK of the test machine (`ulimit -s` 8192 KiB).
    static let rlimitStack: UInt64 = 8 << 20

    /// Models expand_downwards() (mm/vma.c; mm/mmap.c before 6.12) with
    /// acct_stack_growth(): page-align the address, refuse below mmap_min_addr
    /// (EPERM) or within stack_guard_gap of an accessible non-growsdown prev
    /// (ENOMEM), **anon_vma_prepare()** the stack, write-lock it (when the model
    /// expands under the mmap write lock), check RLIMIT_STACK, then move
    /// vm_start down and vm_pgoff with it.
    func expandDownwards(_ ctx: inout FaultContext, _ vma: VMA, _ address: UInt64) -> Bool {
        let newStart = address & ~(Linux.PAGE_SIZE - 1)
        if newStart < layout.mmapMinAddr {
            trace(ctx.tracing, "expand_downwards", "\(hex(newStart)) below mmap_min_addr \(hex(layout.mmapMinAddr)): EPERM")
            return false
        }
        if let prev = ctx.mm.vmas.prev(of: vma), !prev.flags.contains(.GROWSDOWN), prev.flags.isAccessible,
           newStart - prev.end < layout.stackGuardGap {
            trace(ctx.tracing, "expand_downwards", "prev \(prev.rangeDescription) within stack_guard_gap (\(layout.stackGuardGap >> 12) pages) of \(hex(newStart)): ENOMEM")
            return false
        }
        if vma.anonVMA == nil {
            let out = anonVMAPrepare(ctx.p, vma)
            if ctx.anon.action == .none { ctx.anon = out }
        }
        // c137381f71ae (6.4.3+): vma_start_write() after anon_vma_prepare().
        if model.stackExpandWriteLocksVMA { vmaStartWrite(ctx.mm, vma) }
        let grow = (vma.start - newStart) >> Linux.PAGE_SHIFT
        let size = vma.end - newStart
        guard grow <= vma.pgoff, size <= Self.rlimitStack else {
            trace(ctx.tracing, "acct_stack_growth", "\(size >> 10) KiB exceeds RLIMIT_STACK (\(Self.rlimitStack >> 10) KiB) or pgoff underflow: ENOMEM")
            return false
        }
        let old = vma.rangeDescription
        vma.start = newStart
        vma.pgoff -= grow
        trace(ctx.tracing, "expand_downwards", "\(old) grown by \(grow) page(s) to \(vma.rangeDescription) (\(model.stackExpandUnderWriteLock ? "under mmap_write_lock" : "under mmap_read_lock"))")
        return true
    }
}
