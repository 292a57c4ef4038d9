extension Simulation {
    /// Process `pid` touches `address` (docs/API.md "Faults").
    ///
    /// If the PTE already allows the access, no fault is taken (`fault: false`;
    /// the hardware sets the accessed/dirty bits). Otherwise the fault runs
    /// through the model's lock path (docs/KERNEL-MODEL.md §4, §9.3) and handler
    /// (§9.2). An instruction fetch from a mapped non-executable page takes a
    /// second, protection fault (`secondFault`, §4.5): the result's `outcome`
    /// and `siCode` then describe the final signal, the rest the first fault.
    public func fault(pid: Int, address: UInt64, access: Access, mode: FaultMode = .user,
                      inject: FaultInjection = .none) throws(SimulationError) -> FaultResult {
        let p = try process(pid)
        if tracer.enabled { _ = tracer.take() }
        return handleFault(p, address: address, access: access, mode: mode, inject: inject, gup: false)
    }

    /// The fault pipeline (docs/KERNEL-MODEL.md §4). `gup`: a kernel-initiated
    /// fault (MAP_POPULATE, MADV_POPULATE_*, mlock) that always runs under
    /// mmap_lock without FAULT_FLAG_VMA_LOCK. `spurious`: take the fault even
    /// though the PTE allows the access (a stale TLB entry; §9.2 rows 9–10).
    func handleFault(_ p: Process, address: UInt64, access: Access, mode: FaultMode,
                     inject: FaultInjection, gup: Bool, spurious: Bool = false) -> FaultResult {
        let vpn = address >> Linux.PAGE_SHIFT
        let before = p.mm.pageTable[vpn]
        let tracing = tracer.enabled
        // (A write to a read-only PTE faults whatever the VMA: no lookup.)
        if !spurious, let e = before, e.present, access != .write || e.writable {
            let vma = p.mm.vmas.find(containing: address)
            if pteAllows(e, vma, access) {
                // No fault: the MMU sets young (and dirty for a write).
                var n = e
                n.young = true
                if access == .write { n.dirty = true }
                p.mm.pageTable[vpn] = n
                return FaultResult(fault: false, address: address, access: access, mode: mode, outcome: .handled,
                                   siCode: nil, lock: nil, handler: nil, anonVMA: .none,
                                   pteBefore: PTESnapshot(before), pteAfter: PTESnapshot(n), folio: nil,
                                   vma: tracing ? vma.map(VMASnapshot.init) : nil, trace: tracing ? tracer.take() : [])
            }
        }
        let pteBefore = PTESnapshot(before)
        var ctx = FaultContext(p: p, address: address, access: access, mode: mode, inject: inject, gup: gup,
                               pte: consume before, tracing: tracing)
        let result = runFault(&ctx, before: pteBefore)
        // The CPU retries the access: an exec from a non-exec page now hits a
        // present PTE and takes a protection fault (§4.5, row 22).
        if result.outcome == .handled, !gup, !spurious, !pteAllows(ctx.pte, ctx.vma, access) {
            return secondFault(result, p, pte: ctx.pte, tracing: tracing)
        }
        return result
    }

    /// The protection fault the CPU takes when it retries the access after
    /// `first` (§4.5): `first` with the second fault's signal attached.
    @inline(never)
    private func secondFault(_ first: FaultResult, _ p: Process, pte: PTE?, tracing: Bool) -> FaultResult {
        var result = first
        var ctx2 = FaultContext(p: p, address: first.address, access: first.access, mode: first.mode, inject: .none,
                                gup: false, pte: pte, tracing: tracing)
        let second = runFault(&ctx2, before: PTESnapshot(pte))
        result.outcome = second.outcome
        result.siCode = second.siCode
        result.secondFault = [second]
        return result
    }

    /// One hardware fault: the lock decision, the handler, statistics and the
    /// result record.
    private func runFault(_ ctx: inout FaultContext, before: PTESnapshot) -> FaultResult {
        doUserAddrFault(&ctx)
        let path: LockPath
        if ctx.vmaAttempt {
            path = (ctx.stat == .success) ? .vmaLock : .vmaLockThenMmapLock
        } else {
            path = .mmapLock
        }
        if ctx.outcome == .handled {
            if ctx.access == .write { ctx.vma?.faultedWrite = true } else { ctx.vma?.faultedRead = true }
        }
        recordFaultStats(path: path, stat: ctx.stat, code: ctx.code, handler: ctx.handler, outcome: ctx.outcome,
                         missed: ctx.missed)
        let decision = LockDecision(path: path, stat: ctx.stat, code: ctx.code, steps: ctx.tracing ? ctx.steps : [])
        return FaultResult(fault: true, address: ctx.address, access: ctx.access, mode: ctx.mode, outcome: ctx.outcome,
                           siCode: ctx.siCode, lock: decision, handler: ctx.handler?.name, anonVMA: ctx.anon,
                           pteBefore: before, pteAfter: PTESnapshot(ctx.pte),
                           folio: ctx.tracing ? ctx.pte?.folio.map(FolioSnapshot.init) : nil,
                           vma: ctx.tracing ? ctx.vma.map(VMASnapshot.init) : nil,
                           trace: ctx.tracing ? tracer.take() : [])
    }
}
