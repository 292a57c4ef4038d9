/// What `explore` and `interleave` answer (docs/CONCURRENCY.md §5.4).

/// What cut an exploration short.
public enum ExploreBound: String, Sendable, CaseIterable {
    case preemptionBound = "preemption_bound"
    case maxSchedules = "max_schedules"
    case timeLimit = "time_limit"
    case maxSteps = "max_steps"
}

/// One distinct end state and how often it was reached.
public struct ExploreOutcome: Sendable, Equatable {
    /// Stable digest of the end state (VMAs, anon_vmas, PTEs).
    public var digest: String
    /// Complete schedules that ended here.
    public var count: Int
    /// The first schedule (in search order) that ended here.
    public var firstSchedule: [String]
    /// The end state's VMAs and anon_vmas.
    public var vmas: [EngineVMAView]
    public var anonVMAs: [EngineAnonVMAView]
    /// One line per VMA: "0x…-0x… rw-p av3".
    public var summary: [String]
    /// The lock code each fault ended with, per thread, in program order.
    public var faultCodes: [String: [LockCode]]
}

/// A detector that fired, with the first (shortest) schedule that fires it.
public struct Hazard: Sendable, Equatable {
    public var detector: Detector
    /// `detector.name`, e.g. "UNLOCKED_VMA_READ".
    public var name: String
    /// The schedule up to and including the firing step.
    public var firstSchedule: [String]
    /// Index of the firing step in `firstSchedule`.
    public var step: Int
    public var thread: String
    /// The locations involved ("V#3.anon_vma", "node#2", …).
    public var locations: [String]
    /// The locks `thread` held at that step.
    public var locksHeld: [String]
    /// What went wrong, in plain English.
    public var explanation: String
    /// The commit that removed the race, or nil (a mutant, or nothing to fix).
    public var fixedBy: String?
}

/// A deadlock: no thread can run, or a cycle in the wait-for graph.
public struct DeadlockReport: Sendable, Equatable {
    public var schedule: [String]
    /// Threads on the cycle, each waiting for the next (the last for the first);
    /// empty when the threads wait for nothing that another holds.
    public var cycle: [String]
    /// What each thread of the cycle waits for.
    public var locks: [String]
}

/// An edge of the wait-for graph seen during the search.
public struct LockWaitEdge: Sendable, Equatable, Hashable {
    /// The waiting thread.
    public var from: String
    /// The thread holding what `from` waits for.
    public var to: String
    /// "mmap_lock", "V#3 readers", "av2 root rwsem", "page_table_lock".
    public var lock: String
    /// Steps after which the edge existed (over every explored schedule).
    public var count: Int
}

/// The answer of `explore`.
public struct ExploreResult: Sendable, Equatable {
    public var schedulesExplored: Int
    /// Subtrees skipped because their state was explored already (state
    /// hashing) or every step was asleep (reduction).
    public var statesPruned: Int
    /// Steps executed in all.
    public var stepsExecuted: Int
    public var bounded: Bool
    public var boundedBy: [ExploreBound]
    public var outcomes: [ExploreOutcome]
    /// One per detector that fired, in `Detector` order.
    public var hazards: [Hazard]
    public var deadlocks: [DeadlockReport]
    public var lockWaitGraph: [LockWaitEdge]
    /// Per thread, every lock code its faults ended with across schedules (sorted).
    public var faultPaths: [String: [LockCode]]
}

/// A VMA as the engine sees it after a step.
public struct EngineVMAView: Sendable, Equatable {
    /// The Simulation's VMA id, or a new id for VMAs the threads created.
    public var id: Int
    /// 0: the explored process; 1…: children made by fork.
    public var mm: Int
    public var start: UInt64
    public var end: UInt64
    public var pgoff: UInt64
    public var flags: VMFlags
    public var anonVMA: Int?
    /// anon_vma ids on the chain, oldest link first.
    public var chain: [Int]
    /// Removed from the tree (vma->detached / vm_refcnt 0).
    public var detached: Bool
    /// Freed (after an RCU grace period).
    public var freed: Bool
    /// vm_lock_seq == mm_lock_seq.
    public var writeLocked: Bool
    /// Threads holding the VMA read lock.
    public var readers: [String]
}

/// An anon_vma as the engine sees it after a step.
public struct EngineAnonVMAView: Sendable, Equatable {
    public var id: Int
    public var root: Int
    public var refcount: Int
    public var freed: Bool
    /// The thread holding the root's rwsem for write.
    public var lockedBy: String?
}

/// One executed step of `interleave`.
public struct EngineStep: Sendable, Equatable {
    public var index: Int
    /// A thread name or "rcu".
    public var thread: String
    /// The kernel function the step models ("lock_vma_under_rcu", "rcu.gp", …).
    public var fn: String
    public var note: String
    public var reads: [String]
    public var writes: [String]
    /// Locks each thread holds after the step (threads holding none are left out).
    public var locksHeld: [String: [String]]
    public var detectors: [Detector]
    public var vmas: [EngineVMAView]
    public var anonVMAs: [EngineAnonVMAView]
}

/// An operation of a thread program: thread name and index in its program.
public struct OpRef: Sendable, Equatable, Hashable {
    public var thread: String
    public var opIndex: Int
    public init(thread: String, opIndex: Int) {
        self.thread = thread
        self.opIndex = opIndex
    }
}

/// The answer of `interleave`.
public struct InterleaveResult: Sendable, Equatable {
    public var steps: [EngineStep]
    /// Every thread ran its whole program.
    public var finished: Bool
    /// Digest of the state after the last step (the outcome digest when finished).
    public var digest: String
    /// The order in which whole operations took effect: applying them
    /// serially to the Simulation gives the end state unless a race corrupted it.
    public var linearization: [OpRef]
    /// The hazards the schedule fired (first firing per detector).
    public var hazards: [Hazard]
    public var deadlock: DeadlockReport?
    /// The lock code each finished fault ended with, per thread.
    public var faultCodes: [String: [LockCode]]
    /// Which threads are parked and on what, after the last step.
    public var blocked: [String: String]
}
