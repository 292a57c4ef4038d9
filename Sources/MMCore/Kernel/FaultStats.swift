/// Fault counters (api.md "Statistics"): the CONFIG_PER_VMA_LOCK_STATS classes
/// (vma_lock_success / abort / retry / miss), faults finished under mmap_lock,
/// and counts by §9.1 code, by handler and by signal.
extension Simulation {
    /// Counts one simulated hardware fault.
    ///
    /// `stat` follows the kernel's counters: a lookup failure is `abort`, a
    /// handler RETRY is `retry`, completion under the VMA lock (including an
    /// M3 access error) is `success`; a detached VMA met during the lookup is
    /// additionally counted as `miss`. M1/M2 access-error fallbacks, M0 and
    /// kernel-mode faults count no VMA-lock event.
    func recordFaultStats(_ d: LockDecision, handler: String?, outcome: FaultResult.Outcome, missed: Bool) {
        stats.faults.total += 1
        if missed { stats.faults.vmaLockMiss += 1 }
        switch d.stat {
        case .success?: stats.faults.vmaLockSuccess += 1
        case .abort?: stats.faults.vmaLockAbort += 1
        case .retry?: stats.faults.vmaLockRetry += 1
        case .miss?: stats.faults.vmaLockMiss += 1
        case nil: break
        }
        if d.path != .vmaLock { stats.faults.mmapLock += 1 }
        stats.faults.byReason[d.code.rawValue, default: 0] += 1
        if let handler { stats.faults.byHandler[handler, default: 0] += 1 }
        switch outcome {
        case .SIGSEGV: stats.faults.sigsegv += 1
        case .SIGBUS: stats.faults.sigbus += 1
        case .handled: break
        }
    }

    /// The VMA counters computed from live VMAs of running processes:
    /// never faulted, read-faulted only, live.
    func computeVMAStats(_ s: inout Stats) {
        var live = 0, never = 0, readOnly = 0
        for p in processes.values where p.state == .running {
            for v in p.mm.vmas {
                live += 1
                if !v.faultedRead && !v.faultedWrite { never += 1 } else if !v.faultedWrite { readOnly += 1 }
            }
        }
        s.vmas.live = live
        s.vmas.neverFaulted = never
        s.vmas.readFaultedOnly = readOnly
        s.anonVMA.live = anonVMAs.count
    }
}
