/// Running steps (docs/CONCURRENCY.md §5.2): a thread's next step, the
/// `rcu` pseudo-thread's grace period, blocking and deadlock.
extension Machine {
    /// Index of the `rcu` pseudo-thread in schedules.
    static let rcuThread = -1

    func runnable(_ i: Int) -> Bool { !th[i].done && th[i].blocked == nil }

    /// Threads that can take a step now (not counting `rcu`).
    var runnableThreads: [Int] { th.indices.filter(runnable) }

    var allDone: Bool { th.allSatisfy(\.done) }

    /// No thread can run while some have not finished.
    var stuck: Bool { !allDone && runnableThreads.isEmpty }

    /// Runs one step of thread `i` (or a grace period for `rcuThread`).
    mutating func runStep(_ i: Int) {
        rec = StepRecord()
        label.fn = ""
        label.note = ""
        if i == Self.rcuThread {
            step("rcu.gp", "grace period: queued frees complete")
            gracePeriod()
            checkState()
            return
        }
        cur = i
        th[i].steps += 1
        let op = cfg.programs[i][th[i].op]
        switch op {
        case let .fault(address, access):
            faultStep(address, access)
        case let .syscall(call):
            syscallStep(call)
        case let .mbind(addr, length, mode):
            mbindStep(addr, length, mode)
        }
        checkState()
    }

    /// Dispatches a syscall op to its step machine.
    mutating func syscallStep(_ call: Syscall) {
        switch call {
        case let .munmap(addr, length):
            munmapStep(addr, length)
        case let .mprotect(addr, length, prot):
            mprotectStep(addr, length, prot)
        case let .mmap(addr, length, prot, flags, _, _):
            mmapStep(addr, length, prot, flags)
        case let .mremap(old, oldSize, _, flags, newAddr):
            mremapStep(old, oldSize, flags, newAddr)
        case let .madvise(addr, length, _):
            madviseStep(addr, length)
        case let .brk(addr):
            brkStep(addr)
        case .fork:
            forkStep()
        case .open, .close, .exit:
            finishOp()
        }
    }

    /// The running thread's operation is complete: on to the next.
    mutating func finishOp() {
        rec.finished = OpRef(thread: cfg.names[cur], opIndex: t.op)
        if t.readLocked != nil || t.rcuSince != nil { assertionFailure("op ended holding a lock") }
        t.op += 1
        t.startOp()
        if t.op >= cfg.programs[cur].count { t.done = true }
    }
}
