/// The public entry points of the concurrency engine (docs/CONCURRENCY.md §5):
/// threads that share one process's mm run programs of page faults and
/// syscalls, each compiled per kernel model into atomic steps; `explore`
/// runs every interleaving within bounds, `interleave` runs one.

/// One operation of a thread's program.
public enum ThreadOp: Sendable, Equatable {
    /// A user page fault: the access the thread makes at `address`.
    case fault(address: UInt64, access: Access)
    /// A system call on the thread's mm (mmap, munmap, mprotect, madvise,
    /// mremap, brk, fork; open/close/exit are refused by `explore`).
    case syscall(Syscall)
    /// mbind(addr, length, mode, no node mask, flags 0): replaces the
    /// mempolicy of the VMAs in the range (engine-only: the Simulation has
    /// no mempolicies, so a program with mbind cannot be committed).
    case mbind(addr: UInt64, length: UInt64, mode: MempolicyMode)
}

/// One thread (`clone(CLONE_VM|CLONE_THREAD)`) of the explored process and
/// the operations it performs, in order.
public struct ThreadProgram: Sendable, Equatable {
    /// The name schedules use ("T1", "K", …); never "rcu".
    public var name: String
    public var ops: [ThreadOp]

    public init(name: String, ops: [ThreadOp]) {
        self.name = name
        self.ops = ops
    }
}

/// Test-only variants of `6.18` that remove one safety rule
/// (docs/CONCURRENCY.md §6, races R-H and R-I).
public enum Mutant: String, CaseIterable, Sendable {
    /// lock_vma_under_rcu() does not test the detached state after locking:
    /// a fault can run on a VMA munmap already removed (fires D10).
    case noDetachCheck = "no-detach-check"
    /// vmf_anon_prepare() takes mmap_read_lock() (blocking) instead of
    /// mmap_read_trylock() while holding the VMA read lock (fires D12).
    case blockingPrepare = "6.18-blocking-prepare"
}

/// Conditions injected into the explored operations (docs/CONCURRENCY.md §5.1).
public struct ExploreInjection: Sendable, Equatable, Hashable {
    /// anon_vma_clone() fails with ENOMEM (in dup_anon_vma(), copy_vma()
    /// and anon_vma_fork()): the destination's anon_vma is reset to NULL.
    public var anonVMACloneENOMEM: Bool

    public init(anonVMACloneENOMEM: Bool = false) {
        self.anonVMACloneENOMEM = anonVMACloneENOMEM
    }
}

/// Bounds and switches of an exploration.
public struct ExploreOptions: Sendable, Equatable {
    /// Context switches away from a thread that could still run (switching
    /// to or from the `rcu` pseudo-thread is free).
    public var preemptionBound: Int
    /// Complete schedules after which the search stops.
    public var maxSchedules: Int
    /// Steps one thread may take before its program is cut.
    public var maxStepsPerThread: Int
    /// Wall-time budget of one `explore` (nil: none).
    public var timeLimit: Duration?
    /// Sleep-set partial-order reduction over the recorded accesses.
    public var reduction: Bool
    /// Prune states already explored with at least the same budget.
    public var stateHashing: Bool
    public var inject: ExploreInjection
    public var mutant: Mutant?

    public init(preemptionBound: Int = 3, maxSchedules: Int = 100_000, maxStepsPerThread: Int = 400,
                timeLimit: Duration? = nil, reduction: Bool = true, stateHashing: Bool = true,
                inject: ExploreInjection = ExploreInjection(), mutant: Mutant? = nil) {
        self.preemptionBound = preemptionBound
        self.maxSchedules = maxSchedules
        self.maxStepsPerThread = maxStepsPerThread
        self.timeLimit = timeLimit
        self.reduction = reduction
        self.stateHashing = stateHashing
        self.inject = inject
        self.mutant = mutant
    }
}

/// Why a request to the engine cannot run (the service maps these to 4xx;
/// nothing about the Simulation changes).
public enum ExploreError: Error, Equatable, Sendable {
    /// The process does not exist or has exited.
    case noSuchProcess(Int)
    /// No threads were given.
    case noThreads
    /// A thread has no operations.
    case emptyProgram(thread: String)
    /// A thread name is empty, repeated, or the reserved "rcu".
    case invalidThreadName(String)
    /// An operation the engine cannot run (`index` in the thread's program).
    case invalidOp(thread: String, index: Int, reason: String)
    /// The schedule names a thread that does not exist (`step` = position in the schedule).
    case unknownThread(step: Int, name: String)
    /// The schedule runs a thread that is parked on `lock` (or "rcu" when no
    /// grace period can complete).
    case threadBlocked(step: Int, thread: String, lock: String)
    /// The schedule runs a thread whose program has finished.
    case threadFinished(step: Int, thread: String)
}

extension Simulation {
    /// Explores the interleavings of `programs` (threads sharing process
    /// `pid`'s mm) under this session's kernel model, starting from the
    /// process's current state. Never changes the Simulation.
    public func explore(pid: Int, programs: [ThreadProgram],
                        options: ExploreOptions = ExploreOptions()) throws(ExploreError) -> ExploreResult {
        let start = try engineStart(pid: pid, programs: programs, options: options)
        var explorer = Explorer(start: start, options: options)
        return explorer.run()
    }

    /// Runs one schedule (thread names plus "rcu") step by step. The
    /// schedule may stop before the threads finish. Never changes the
    /// Simulation: commit by replaying `linearization` serially.
    public func interleave(pid: Int, programs: [ThreadProgram], schedule: [String],
                           options: ExploreOptions = ExploreOptions()) throws(ExploreError) -> InterleaveResult {
        let start = try engineStart(pid: pid, programs: programs, options: options)
        return try Interleaver.run(start, schedule: schedule)
    }
}
