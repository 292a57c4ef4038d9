import MMCore

/// The body of POST …/explore and …/interleave, decoded once: the threads'
/// programs, the search bounds (clamped to the server's limits) and, for
/// interleave, the schedule (docs/API.md "Threads and interleavings").
struct ExploreRequest {
    var pid: Int
    var programs: [ThreadProgram]
    var options: ExploreOptions
    /// interleave only: thread names and "rcu".
    var schedule: [String] = []
    /// interleave only: make the end state the session's.
    var commit = false

    /// The ops a thread program may hold (the engine refuses open/close/exit).
    static let threadOps: [OpName] = [.fault, .mmap, .munmap, .mprotect, .madvise, .mremap, .brk, .fork]

    /// Every op name a thread program may hold: the session ops above plus
    /// the engine-only `mbind`.
    static let threadOpNames: [String] = threadOps.map(\.canonical) + ["mbind"]

    /// Decodes and checks a body against the explore (or interleave) schema
    /// and the configured limits: 400 names the field, 422 the limit.
    static func decode(_ body: JSONValue, limits: Limits, interleave: Bool) throws(APIError) -> ExploreRequest {
        let a = try Args(body, schema: interleave ? Schemas.interleave : Schemas.explore)
        let pid = try a.int("pid")
        guard pid > 0 else { throw .badRequest("field 'pid' must be a positive process id") }
        guard case let .object(threads)? = a.value["threads"] else {
            throw .badRequest("field 'threads' must be an object of thread name → [op]")
        }
        if threads.isEmpty { throw .badRequest("field 'threads' names no thread: give at least one program") }
        guard threads.count <= limits.maxExploreThreads else {
            throw APIError(.limitExceeded, "field 'threads': \(threads.count) threads exceed max_explore_threads (\(limits.maxExploreThreads))")
        }
        var programs: [ThreadProgram] = []
        for (name, value) in threads {
            programs.append(try program(name, value, pid: pid, limits: limits))
        }
        var r = ExploreRequest(pid: pid, programs: programs, options: try options(a, limits: limits))
        if interleave {
            guard case let .array(items)? = a.value["schedule"] else { throw .badRequest("field 'schedule' must be an array of thread names") }
            let known = Set(programs.map(\.name) + ["rcu"])
            for (i, item) in items.enumerated() {
                guard case let .string(name) = item else { throw .badRequest("field 'schedule[\(i)]' must be a thread name") }
                guard known.contains(name) else {
                    throw .badRequest("field 'schedule[\(i)]': unknown thread '\(name)' (threads: \(programs.map(\.name).joined(separator: ", ")), rcu)")
                }
                r.schedule.append(name)
            }
            guard r.schedule.count <= limits.maxExploreThreads * limits.maxExploreOpsPerThread * 64 else {
                throw APIError(.limitExceeded, "field 'schedule': \(r.schedule.count) steps is more than the programs can take")
            }
            r.commit = try a.bool("commit", default: false)
        }
        return r
    }

    /// One thread's program: `[op]` entries as in POST …/ops without `pid`.
    private static func program(_ name: String, _ value: JSONValue, pid: Int, limits: Limits) throws(APIError) -> ThreadProgram {
        if name.isEmpty || name == "rcu" || name.utf8.count > 32 {
            throw .badRequest("field 'threads': '\(name)' is not a thread name (1–32 characters, not \"rcu\")")
        }
        guard case let .array(items) = value else { throw .badRequest("field 'threads.\(name)' must be an array of ops") }
        if items.isEmpty { throw .badRequest("field 'threads.\(name)' is an empty program: give it at least one op") }
        guard items.count <= limits.maxExploreOpsPerThread else {
            throw APIError(.limitExceeded, "field 'threads.\(name)': \(items.count) ops exceed max_explore_ops_per_thread (\(limits.maxExploreOpsPerThread))")
        }
        var ops: [ThreadOp] = []
        for (i, item) in items.enumerated() {
            let context = "threads.\(name)[\(i)]."
            let raw = try Args(item, context: context)
            let opName: String = try raw.string("op")
            if opName == "mbind" {
                ops.append(try mbind(item, context: context))
                continue
            }
            guard let op = OpName(opName), threadOps.contains(op) else {
                throw .badRequest("field '\(context)op': '\(opName)' is not an op a thread can run (\(threadOpNames.joined(separator: ", ")))")
            }
            let args = try Args(item, schema: Schemas.threadOp(op), context: context)
            switch try Op.decode(op, pid: pid, args) {
            case let .fault(_, _, address, access, _, _): ops.append(.fault(address: address, access: access))
            case let .syscall(_, _, call): ops.append(.syscall(call))
            default: throw APIError(.internalError, "\(opName) decoded to a non-thread op")
            }
        }
        return ThreadProgram(name: name, ops: ops)
    }

    /// `{"op": "mbind", "addr", "length", "mode"}`: an engine-only op (the
    /// session has no mempolicies), so it is decoded here, not by Op.decode.
    private static func mbind(_ item: JSONValue, context: String) throws(APIError) -> ThreadOp {
        let a = try Args(item, schema: Schemas.mbindThreadOp, context: context)
        let name = try a.string("mode")
        guard let mode = MempolicyMode(name: name) else {
            throw .badRequest("field '\(context)mode': '\(name)' is not a mempolicy mode (\(Schemas.mempolicyModeNames.joined(separator: ", ")))")
        }
        return .mbind(addr: try a.address("addr"), length: try a.u64("length"), mode: mode)
    }

    /// Bounds and switches; the request may ask for less than the server's limits, never more.
    private static func options(_ a: Args, limits: Limits) throws(APIError) -> ExploreOptions {
        var o = ExploreOptions()
        let bound = try a.int("preemption_bound", default: 3)
        guard bound <= limits.maxExplorePreemptionBound else {
            throw APIError(.limitExceeded, "field 'preemption_bound': \(bound) exceeds max_explore_preemption_bound (\(limits.maxExplorePreemptionBound))")
        }
        o.preemptionBound = bound
        let cap = limits.maxExploreSchedules
        o.maxSchedules = min(try a.int("max_schedules", default: min(100_000, cap)), cap)
        guard o.maxSchedules >= 1 else { throw .badRequest("field 'max_schedules' must be at least 1") }
        o.reduction = try a.bool("reduction", default: true)
        o.stateHashing = o.reduction
        o.timeLimit = .milliseconds(Int(limits.exploreTimeLimitSeconds * 1000))
        if let i = try a.object("inject") {
            o.inject.anonVMACloneENOMEM = try i.bool("anon_vma_clone_enomem", default: false)
        }
        if a.has("mutant") {
            let name = try a.string("mutant")
            guard let m = Mutant(rawValue: name) else {
                throw .badRequest("field 'mutant': unknown mutant '\(name)' (\(Mutant.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            o.mutant = m
        }
        return o
    }
}

extension Schemas {
    static let mutantNames = Mutant.allCases.map(\.rawValue)

    static let exploreInject = Schema(name: "ExploreInjection", description: "Conditions injected into the explored operations.", fields: [
        Field("anon_vma_clone_enomem", .boolean, "anon_vma_clone() fails with ENOMEM (dup_anon_vma(), copy_vma(), anon_vma_fork()): the destination's anon_vma is reset to NULL"),
    ])

    /// An op of a thread program: an `ops` entry without `pid` (the request's `pid` is the process).
    static func threadOp(_ name: OpName) -> Schema {
        let fields = arguments(name).fields.filter { $0.name != "tid" && $0.name != "inject" && $0.name != "mode" }
        return Schema(name: "ThreadOp_\(name.canonical)", description: "Thread op `\(name.canonical)`: " + arguments(name).description,
                      fields: [Field("op", .oneOf([name.canonical] + name.aliases), required: true, "the operation")] + fields)
    }

    static let mempolicyModeNames = MempolicyMode.allCases.map(\.name)

    /// The engine-only thread op mbind(2) (no node mask, flags 0).
    static let mbindThreadOp = Schema(name: "ThreadOp_mbind", description: "Thread op `mbind`: mbind(2) of a range with a policy mode (no node mask, flags 0); only the step engine models mempolicies, so an interleave with it cannot be committed.", fields: [
        Field("op", .oneOf(["mbind"]), required: true, "the operation"),
        Field("addr", .address, required: true, "start (page-aligned)"),
        Field("length", .size, required: true, "bytes"),
        Field("mode", .oneOf(mempolicyModeNames), required: true, "the policy mode (MPOL_DEFAULT restores the default policy)"),
    ])

    private static let exploreFields: [Field] = [
        Field("pid", .integer, required: true, "the process whose mm the threads share; its current state is the start"),
        Field("threads", .map(.array(.ref("ThreadOp"))), required: true, "thread name → program (ops run in order)"),
        Field("preemption_bound", .integer, "context switches away from a runnable thread per schedule (default 3; at most max_explore_preemption_bound)"),
        Field("max_schedules", .integer, "stop after this many complete schedules (default 100000; at most max_explore_schedules)"),
        Field("reduction", .boolean, "partial-order reduction and state hashing (default true)"),
        Field("inject", .object(exploreInject), "injected conditions"),
        Field("mutant", .oneOf(mutantNames), "a test-only variant of the model that removes one safety rule"),
    ]

    static let explore = Schema(name: "Explore", description: "Threads sharing a process's mm, explored over every interleaving within bounds.",
                                fields: exploreFields)

    static let interleave = Schema(name: "Interleave", description: "Threads sharing a process's mm, run along one schedule.",
                                   fields: exploreFields + [
        Field("schedule", .array(.string), required: true, "thread names (and \"rcu\" for a grace period), one step each"),
        Field("commit", .boolean, "make the end state the session's, applying the ops serially in the order they took effect (default false)"),
    ])
}
