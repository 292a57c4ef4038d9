import MMCore

/// The JSON of the concurrency engine's answers (docs/API.md "Threads and
/// interleavings"): MMCore's values, spelled once here.
enum ExploreJSON {
    static func names(_ list: [String]) -> JSONValue { .array(list.map { .string($0) }) }

    static func av(_ id: Int?) -> JSONValue { id.map { .string("av\($0)") } ?? .null }

    /// The answer of explore.
    static func explore(_ r: ExploreResult, kernel: KernelModel, mutant: Mutant?) -> JSONValue {
        .object([
            ("kernel", .string(kernel.id)), ("mutant", .str(mutant?.rawValue)),
            ("schedules_explored", .num(r.schedulesExplored)), ("states_pruned", .num(r.statesPruned)),
            ("steps_executed", .num(r.stepsExecuted)),
            ("bounded", .bool(r.bounded)), ("bounded_by", names(r.boundedBy.map(\.rawValue))),
            ("outcomes", .array(r.outcomes.map(outcome))),
            ("hazards", .array(r.hazards.map(hazard))),
            ("deadlocks", .array(r.deadlocks.map(deadlock))),
            ("lock_wait_graph", .array(r.lockWaitGraph.map { e in
                .object([("from", .string(e.from)), ("to", .string(e.to)), ("lock", .string(e.lock)), ("count", .num(e.count))])
            })),
            ("fault_paths", codes(r.faultPaths)),
        ])
    }

    /// The answer of interleave.
    static func interleave(_ r: InterleaveResult, kernel: KernelModel, committed: Bool) -> JSONValue {
        .object([
            ("kernel", .string(kernel.id)),
            ("steps", .array(r.steps.map(step))),
            ("finished", .bool(r.finished)), ("digest", .string(r.digest)),
            ("hazards", .array(r.hazards.map(hazard))),
            ("deadlock", r.deadlock.map(deadlock) ?? .null),
            ("fault_codes", codes(r.faultCodes)),
            ("blocked", .object(r.blocked.keys.sorted().map { ($0, .string(r.blocked[$0]!)) })),
            ("linearization", .array(r.linearization.map { .object([("thread", .string($0.thread)), ("op", .num($0.opIndex))]) })),
            ("committed", .bool(committed)),
        ])
    }

    static func codes(_ m: [String: [LockCode]]) -> JSONValue {
        .object(m.keys.sorted().map { ($0, names(m[$0]!.map(\.rawValue))) })
    }

    static func outcome(_ o: ExploreOutcome) -> JSONValue {
        .object([("digest", .string(o.digest)), ("count", .num(o.count)), ("first_schedule", names(o.firstSchedule)),
                 ("summary", .string(o.summary.joined(separator: "; "))),
                 ("vmas", .array(o.vmas.map(vma))), ("anon_vmas", .array(o.anonVMAs.map(anonVMA))),
                 ("fault_codes", codes(o.faultCodes))])
    }

    static func hazard(_ h: Hazard) -> JSONValue {
        .object([("detector", .string(h.detector.rawValue)), ("name", .string(h.name)),
                 ("first_schedule", names(h.firstSchedule)), ("step", .num(h.step)), ("thread", .string(h.thread)),
                 ("locations", names(h.locations)), ("locks_held", names(h.locksHeld)),
                 ("explanation", .string(h.explanation)), ("fixed_by", .str(h.fixedBy))])
    }

    static func deadlock(_ d: DeadlockReport) -> JSONValue {
        .object([("schedule", names(d.schedule)), ("cycle", names(d.cycle)), ("locks", names(d.locks))])
    }

    static func step(_ s: EngineStep) -> JSONValue {
        .object([("index", .num(s.index)), ("thread", .string(s.thread)), ("fn", .string(s.fn)), ("note", .string(s.note)),
                 ("reads", names(s.reads)), ("writes", names(s.writes)),
                 ("locks", .object(s.locksHeld.keys.sorted().map { ($0, names(s.locksHeld[$0]!)) })),
                 ("detectors", .array(s.detectors.map { d in .object([("detector", .string(d.rawValue)), ("name", .string(d.name))]) })),
                 ("vmas", .array(s.vmas.map(vma))), ("anon_vmas", .array(s.anonVMAs.map(anonVMA)))])
    }

    static func vma(_ v: EngineVMAView) -> JSONValue {
        .object([("id", .num(v.id)), ("mm", .num(v.mm)), ("start", .addr(v.start)), ("end", .addr(v.end)),
                 ("pgoff", .addr(v.pgoff)), ("perms", .string(DTO.perms(v.flags))), ("anon_vma", av(v.anonVMA)),
                 ("chain", .array(v.chain.map { av($0) })), ("detached", .bool(v.detached)), ("freed", .bool(v.freed)),
                 ("write_locked", .bool(v.writeLocked)), ("readers", names(v.readers))])
    }

    static func anonVMA(_ a: EngineAnonVMAView) -> JSONValue {
        .object([("id", av(a.id)), ("root", av(a.root)), ("refcount", .num(a.refcount)), ("freed", .bool(a.freed)),
                 ("locked_by", .str(a.lockedBy))])
    }
}
