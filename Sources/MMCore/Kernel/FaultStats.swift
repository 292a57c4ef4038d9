/// Fault counters (docs/API.md "Statistics"): the CONFIG_PER_VMA_LOCK_STATS classes
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
    func recordFaultStats(path: LockPath, stat: LockStat?, code: LockCode, handler: FaultHandler?,
                          outcome: FaultResult.Outcome, missed: Bool) {
        Self.count(&stats.faults, path, stat, code, handler, outcome, missed)   // one access to `stats`
    }

    private static func count(_ f: inout Stats.Faults, _ path: LockPath, _ stat: LockStat?, _ code: LockCode,
                              _ handler: FaultHandler?, _ outcome: FaultResult.Outcome, _ missed: Bool) {
        f.total += 1
        if missed { f.vmaLockMiss += 1 }
        switch stat {
        case .success?: f.vmaLockSuccess += 1
        case .abort?: f.vmaLockAbort += 1
        case .retry?: f.vmaLockRetry += 1
        case .miss?: f.vmaLockMiss += 1
        case nil: break
        }
        if path != .vmaLock { f.mmapLock += 1 }
        f.reasonCounts[code.ordinal] += 1
        if let handler { f.handlerCounts[handler.rawValue] += 1 }
        switch outcome {
        case .SIGSEGV: f.sigsegv += 1
        case .SIGBUS: f.sigbus += 1
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
