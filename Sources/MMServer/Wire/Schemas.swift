import MMCore

/// Every request body of the API (docs/API.md), as data: the decoder
/// refuses keys not listed, and /openapi.json is rendered from these.
enum Schemas {
    static let kernelIDs = KernelModel.all.map(\.id)
    static let optionNames = ModelOptions.switches.map(\.name)
    static let injectionNames = FaultInjection.switches.map(\.name)

    static let options = Schema(
        name: "ModelOptions", description: "Options from the thread, combinable with any kernel model.",
        fields: ModelOptions.switches.map { Field($0.name, .boolean, $0.summary) })

    static let sessionCreate = Schema(name: "SessionCreate", description: "A new session.", fields: [
        Field("kernel", .oneOf(kernelIDs), "kernel model (default: the server's default_kernel)"),
        Field("options", .object(options), "model options; each defaults to false"),
        Field("name", .string, "a label shown in session lists"),
    ])

    static let file = Schema(name: "FileCreate", description: "A file (inode) in the session's file system.", fields: [
        Field("path", .string, required: true, "absolute path"),
        Field("size", .integer, required: true, "bytes, non-negative"),
        Field("mode", .string, "octal permission bits like \"0644\" (an integer is read as its octal digits)"),
    ])

    static let process = Schema(name: "ProcessCreate", description: "A process with an empty address space.", fields: [
        Field("comm", .string, "command name (default \"sim\")"),
    ])

    static let thread = Schema(name: "ThreadCreate", description: "A thread sharing the process's mm (clone(CLONE_VM|CLONE_THREAD)); no fields.",
                               fields: [])

    /// The thread making a fault or syscall.
    static let tid = Field("tid", .integer, "thread of the process that makes it (default: the leader, tid = pid)")

    static let inject = Schema(
        name: "FaultInjection", description: "Concurrent conditions injected into this fault; each defaults to false.",
        fields: FaultInjection.switches.map { Field($0.name, .boolean, $0.summary) })

    static let accessNames = ["read", "write", "exec"]
    static let faultModeNames = ["user", "kernel"]

    static let fault = Schema(name: "Fault", description: "A page fault at an address.", fields: [
        Field("address", .address, required: true, "faulting address"),
        Field("access", .oneOf(accessNames), "access type (default read)"),
        Field("mode", .oneOf(faultModeNames), "user or kernel mode (default user)"),
        Field("inject", .object(inject), "injected concurrent conditions"),
        tid,
    ])

    static let touch = Schema(name: "Touch", description: "One fault on each of `pages` consecutive pages.", fields: [
        Field("address", .address, required: true, "first page (rounded down)"),
        Field("pages", .integer, "pages to fault, 1…1048576 (default 1)"),
        Field("access", .oneOf(accessNames), "access type (default read)"),
    ])

    static let replayFormats = ["strace", "perf", "maps"]
    static let replayDetails = ["summary", "faults"]
    static let replayFaults = ["none", "touch", "trace"]

    /// POST …/replay with a raw trace as the body (text/plain): the options in the query.
    static let replayQuery = Schema(name: "ReplayQuery", description: "Options of a trace streamed as the raw body (Content-Type: text/plain).", fields: [
        Field("format", .oneOf(["strace", "perf"]), "what the body is (default: recognised from the content)"),
        Field("pid", .integer, "an existing process to replay into (default: new processes)"),
        Field("faults", .oneOf(replayFaults), "which faults to simulate (default: trace for perf, none otherwise)"),
        Field("detail", .oneOf(replayDetails), "faults: one record per real fault of the trace (default summary)"),
    ])
    static let replay = Schema(name: "Replay", description: "Trace text replayed into the session.", fields: [
        Field("format", .oneOf(replayFormats), "what `text` is (default: recognised from the content, perf or strace)"),
        Field("text", .string, required: true, "strace output, `perf script` output or /proc/PID/maps"),
        Field("pid", .integer, "an existing process to replay into (default: new processes)"),
        Field("faults", .oneOf(replayFaults), "which faults to simulate (default: trace for perf, none otherwise)"),
        Field("detail", .oneOf(replayDetails), "faults: one record per real fault of the trace, with what the simulation did (default summary)"),
        Field("max_events", .integer, "apply at most this many trace events (how the log keeps a replay stopped by a limit)"),
    ])

    /// A syscall's arguments (POST …/syscalls/{name}), named as in its man page.
    static func syscall(_ name: OpName) -> Schema {
        let f: [Field]
        switch name {
        case .open: f = [Field("path", .string, required: true, "file path"),
                         Field("flags", .flags(Linux.openNames), "open flags (default O_RDONLY)")]
        case .close: f = [Field("fd", .integer, required: true, "file descriptor")]
        case .mmap: f = [Field("addr", .address, "hint or MAP_FIXED address (default 0)"),
                         Field("length", .size, required: true, "bytes"),
                         Field("prot", .flags(Linux.protNames), required: true, "protection"),
                         Field("flags", .flags(Linux.mapNames), required: true, "mapping type and flags"),
                         Field("fd", .integer, "file descriptor (default -1)"),
                         Field("offset", .size, "file offset (default 0)")]
        case .munmap: f = [Field("addr", .address, required: true, "start"),
                           Field("length", .size, required: true, "bytes")]
        case .mprotect: f = [Field("addr", .address, required: true, "start"),
                             Field("length", .size, required: true, "bytes"),
                             Field("prot", .flags(Linux.protNames), required: true, "new protection")]
        case .madvise: f = [Field("addr", .address, required: true, "start"),
                            Field("length", .size, required: true, "bytes"),
                            Field("advice", .flags(Linux.madvNames), required: true, "advice")]
        case .mremap: f = [Field("old_address", .address, required: true, "start of the mapping"),
                           Field("old_size", .size, required: true, "bytes"),
                           Field("new_size", .size, required: true, "bytes"),
                           Field("flags", .flags(Linux.mremapNames), "MREMAP_* flags (default 0)"),
                           Field("new_address", .address, "with MREMAP_FIXED (default 0)")]
        case .brk: f = [Field("brk", .address, "new program break (0 or absent: query)")]
        case .fork: f = []
        case .exit: f = [Field("status", .integer, "exit status (default 0)")]
        case .file, .process, .thread, .fault, .replay, .touch: f = []
        }
        return Schema(name: "Syscall_\(name.canonical)", description: "Arguments of \(name.canonical)(2).", fields: f + [tid])
    }

    /// The arguments of an op, without `op` and `pid` (an endpoint's body).
    static func arguments(_ name: OpName) -> Schema {
        switch name {
        case .file: file
        case .process: process
        case .thread: thread
        case .fault: fault
        case .touch: touch
        case .replay: replay
        default: syscall(name)
        }
    }

    /// An `ops` entry: `op`, `pid` when the op runs in a process, `seq` (ignored,
    /// so `GET …/log` replays as is) and the op's arguments.
    static func op(_ name: OpName) -> Schema {
        var head = [Field("op", .oneOf([name.canonical] + name.aliases), required: true, "the operation")]
        if name.takesPid { head.append(Field("pid", .integer, required: true, "the process")) }
        head.append(Field("seq", .integer, "ignored (present in GET …/log entries)"))
        return arguments(name).with(head, name: "Op_\(name.canonical)",
                                    description: "Operation `\(name.canonical)`: " + arguments(name).description)
    }

    /// `op(name)` for every op, built once (the general decoder checks entries against it).
    private static let opSchemas: [String: Schema] = Dictionary(uniqueKeysWithValues: allOps.map { ($0.canonical, op($0)) })

    /// The schema of an `ops` entry of `name`.
    static func opSchema(_ name: OpName) -> Schema { opSchemas[name.canonical]! }

    /// The batch body of POST …/ops.
    static let batch = Schema(name: "Ops", description: "Operations applied in order.", fields: [
        Field("ops", .array(.ref("Op")), required: true, "the operations (at most max_batch_ops)"),
        Field("detail", .oneOf(["full", "summary"]), "summary: faults answer outcome/code/path only (default full)"),
    ])

    static let compare = Schema(name: "Compare", description: "One workload under several kernel models; one of ops, strace or perf.", fields: [
        Field("kernels", .array(.oneOf(kernelIDs)), "models to compare (default all)"),
        Field("options", .array(.oneOf(optionNames)), "options, each compared as an extra column"),
        Field("ops", .array(.ref("Op")), "operations"),
        Field("strace", .string, "strace text"),
        Field("perf", .string, "perf script text"),
        Field("maps", .string, "/proc/PID/maps text of the starting layout"),
        Field("faults", .oneOf(replayFaults), "which faults to simulate for a trace (default touch for strace, trace for perf)"),
    ])

    /// Query parameters of GET …/pages.
    static let pagesQuery = Schema(name: "PagesQuery", description: "The range of pages.", fields: [
        Field("start", .address, "first address (default 0)"),
        Field("end", .address, "end address, exclusive (default the top of the address space)"),
    ])

    /// Every op name, canonical spelling first.
    static let allOps: [OpName] = [.file, .process, .thread, .fault, .touch, .replay,
                                   .open, .close, .mmap, .munmap, .mprotect, .madvise, .mremap, .brk, .fork, .exit]

    /// Every schema the OpenAPI document lists under components.
    static var all: [Schema] {
        [sessionCreate, options, file, process, thread, fault, inject, touch, replay, batch, compare]
            + OpName.syscalls.map(syscall) + allOps.map(op)
            + [explore, interleave, exploreInject] + ExploreRequest.threadOps.map(threadOp) + [mbindThreadOp]
    }
}
