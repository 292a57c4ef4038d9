import MMCore
/// What a replay did with one trace event.
public struct ReplayStep: Sendable, Equatable {
    public enum Status: String, Sendable { case applied, skipped }
    public var line: Int
    public var pid: Int?
    public var status: Status
    /// What was applied (strace spelling) or why the line was skipped.
    public var what: String
}

/// A disagreement between the real kernel (the trace) and the simulation.
public struct ReplayDisagreement: Sendable, Equatable {
    public var line: Int
    public var address: UInt64
    public var what: String
}

/// The outcome of replaying a trace into a simulation.
public struct ReplayReport: Sendable {
    public var steps: [ReplayStep] = []
    public var applied = 0
    public var skipped = 0
    /// Faults the trace shows the real kernel taking.
    public var realFaults = 0
    /// …of which the simulation also took (no PTE or one that forbids the
    /// access) and handled without a signal.
    public var faultsAgreeing = 0
    /// Faults whose real mmap_lock use is known from mmap_lock tracepoints.
    public var lockObserved = 0
    /// …of which the simulation took mmap_lock exactly when the real one did.
    public var lockAgreeing = 0
    public var disagreements: [ReplayDisagreement] = []
    /// Trace pid → simulated pid.
    public var processes: [Int: Int] = [:]
    /// A census of the VMAs processes had when they exited (the thread's
    /// "how often is a region mapped and never faulted?").
    public var census = VMACensus()
    /// The simulated /proc/PID/maps of each trace process just before it exited.
    public var exitMaps: [Int: [MapsEntry]] = [:]

    /// Every input line by what happened to it (filled by `TraceReplay`,
    /// which sees the lines; a bare `Replayer` counts events in `applied`
    /// and `skipped` only).
    public var lines = LineCounts()
    /// Things the user should know about the input or the replay (a format
    /// without lock events, faults outside any known mapping, …), each once.
    public var warnings: [String] = []
    /// The input's format ("perf", "strace") once recognised; nil if not.
    public var format: String?
    /// One record per real fault when asked for (`TraceReplay.Detail.faults`).
    public var faultRecords: [FaultRecord] = []

    /// Fraction of real faults the simulation reproduced (1 when none).
    public var faultAgreement: Double { realFaults == 0 ? 1 : Double(faultsAgreeing) / Double(realFaults) }
    /// Fraction of observed faults whose mmap_lock use matched (1 when none).
    public var lockAgreement: Double { lockObserved == 0 ? 1 : Double(lockAgreeing) / Double(lockObserved) }
}

/// VMAs counted at process exit, by kind and by what faulted them.
public struct VMACensus: Sendable, Equatable {
    public var vmas = 0
    public var neverFaulted = 0
    public var readFaultedOnly = 0
    public var written = 0
    /// Private writable anonymous VMAs (the ones eager_anon_vma would prepare).
    public var anonWritable = 0
    public var anonWritableNeverFaulted = 0
    /// Private file VMAs that got an anon_vma (a CoW write happened).
    public var filePrivateWithAnonVMA = 0
    public var filePrivate = 0
    /// VMAs with an anon_vma.
    public var withAnonVMA = 0

    public init() {}

    mutating func add(_ p: Process) {
        for v in p.mm.vmas {
            vmas += 1
            if !v.faultedRead && !v.faultedWrite { neverFaulted += 1 } else if !v.faultedWrite { readFaultedOnly += 1 } else { written += 1 }
            if v.anonVMA != nil { withAnonVMA += 1 }
            let priv = !v.flags.contains(.MAYSHARE)
            if v.isAnonymous && priv && v.flags.contains(.WRITE) {
                anonWritable += 1
                if !v.faultedRead && !v.faultedWrite { anonWritableNeverFaulted += 1 }
            }
            if v.file != nil && priv && v.kind == .file {
                filePrivate += 1
                if v.anonVMA != nil { filePrivateWithAnonVMA += 1 }
            }
        }
    }
}


/// Input lines by what the replay did with them.
public struct LineCounts: Sendable, Equatable {
    /// Lines whose content changed the simulation or was compared with it
    /// (a syscall, fault, mapping, task event, an mmap_lock event inside a
    /// fault).
    public var applied = 0
    /// Lines understood but not replayed, by reason.
    public var skipped: [String: Int] = [:]
    /// Lines the importer could not make sense of, by kind, with the first example.
    public var notUnderstood: [String: Example] = [:]

    /// A kind of line not understood: how many, and the first one.
    public struct Example: Sendable, Equatable {
        public var count: Int
        public var firstLine: Int
        public var text: String
    }

    public init() {}

    /// Lines counted in all.
    public var total: Int { applied + skipped.values.reduce(0, +) + notUnderstood.values.reduce(0) { $0 + $1.count } }
    /// Lines skipped in all.
    public var skippedTotal: Int { skipped.values.reduce(0, +) }
    /// Lines not understood in all.
    public var notUnderstoodTotal: Int { notUnderstood.values.reduce(0) { $0 + $1.count } }

    mutating func count(_ o: LineOutcome, line: Int) {
        switch o {
        case .applied: applied += 1
        case .skipped(let why): skipped[why, default: 0] += 1
        case let .notUnderstood(why, text):
            if notUnderstood[why] == nil {
                notUnderstood[why] = Example(count: 1, firstLine: line, text: String(text.prefix(400)))
            } else {
                notUnderstood[why]!.count += 1
            }
        }
    }
}

/// What happened to one line (or event).
enum LineOutcome: Equatable {
    case applied
    case skipped(String)
    case notUnderstood(String, String)

    /// The stronger of two outcomes of one line: applied, then not
    /// understood, then skipped.
    func merged(_ o: LineOutcome) -> LineOutcome {
        switch (self, o) {
        case (.applied, _), (_, .applied): .applied
        case (.notUnderstood, _): self
        case (_, .notUnderstood): o
        default: self
        }
    }
}

/// One real fault of the trace and what the simulation did with it; the
/// summary agreement can be recomputed from these alone: a fault agrees when
/// `sim.fault && sim.outcome == "handled"`; its lock use is compared when
/// both `realTookMmapLock` and `sim.tookMmapLock` are non-nil.
public struct FaultRecord: Sendable, Equatable {
    /// Input line of the `page_fault_user`/`page_fault_kernel` event.
    public var line: Int
    /// The task that faulted (the trace's tid).
    public var tid: Int?
    public var address: UInt64
    public var access: Access
    public var mode: FaultMode
    /// Whether the real fault took mmap_lock (an mmap_lock acquire between
    /// the fault and the task's next event); nil for kernel-mode faults
    /// and when the trace has no mmap_lock events.
    public var realTookMmapLock: Bool?
    /// What the simulation did.
    public var sim: Sim

    /// The simulation's side of a fault record.
    public struct Sim: Sendable, Equatable {
        /// Whether the simulation took a fault (false: its PTE already allowed the access).
        public var fault: Bool
        /// "handled", "sigsegv", "sigbus", … (FaultOutcome).
        public var outcome: String
        /// The lock path (LockPath raw value), nil without a fault.
        public var path: String?
        /// The §9.1 lock code, nil without a fault.
        public var code: String?
        /// Whether the simulated fault took mmap_lock (fallback or the
        /// anon_vma trylock); nil when it is not compared (no fault, kernel mode).
        public var tookMmapLock: Bool?
    }
}
