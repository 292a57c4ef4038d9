extension Simulation {
    /// Process `pid` touches `address` (api.md "Faults"). TODO: stub.
    public func fault(pid: Int, address: UInt64, access: Access, mode: FaultMode = .user,
                      inject: FaultInjection = .none) throws(SimulationError) -> FaultResult {
        let p = try process(pid)
        _ = tracer.take()
        return handleFault(p, address: address, access: access, mode: mode, inject: inject, gup: false)
    }

    /// The fault pipeline (kernel-model.md §4). `gup`: a kernel-initiated
    /// fault (MAP_POPULATE, MADV_POPULATE_*, mlock) that always runs under
    /// mmap_lock without FAULT_FLAG_VMA_LOCK. TODO: stub.
    func handleFault(_ p: Process, address: UInt64, access: Access, mode: FaultMode,
                     inject: FaultInjection, gup: Bool) -> FaultResult {
        let pte = p.mm.pageTable[address >> Linux.PAGE_SHIFT]
        return FaultResult(fault: false, address: address, access: access, mode: mode, outcome: .handled,
                           siCode: nil, lock: nil, handler: nil, anonVMA: .none,
                           pteBefore: PTESnapshot(pte), pteAfter: PTESnapshot(pte), folio: nil,
                           vma: nil, trace: tracer.take())
    }

    /// eager_anon_vma option (kernel-model.md §8.4): prepare an anon_vma for a
    /// private writable VMA at creation time. TODO: stub.
    func eagerAnonVMAIfNeeded(_ p: Process, _ vma: VMA) {}
}
