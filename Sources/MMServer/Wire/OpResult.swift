import MMHTTP
import MMCore
import MMTrace

/// What an applied operation answered, kept compact: responses write it
/// straight to bytes, and the session's SSE history keeps it as is and
/// renders its JSON only when a subscriber reads it.
///
/// `json` is the reference shape (docs/API.md); `write(into:)` produces the same
/// bytes as `JSONWriter.encode(json)` without building the tree for the
/// hot cases (OpResultJSONTests checks that the two agree).
enum OpResult {
    /// A fault in summary mode (`detail: "summary"` batches).
    case faultSummary(FaultSummary)
    /// A syscall in summary mode.
    case syscallSummary(SyscallSummary)
    /// A fault in full.
    indirect case fault(FaultResult)
    /// A syscall in full.
    indirect case syscall(SyscallResult)
    /// Anything else (files, processes, touch, replay), already as JSON.
    case json(JSONValue)

    /// Faults of `touch`, in full or in summary.
    case touch([FaultResult], summary: Bool)

    /// A new file.
    static func file(_ inode: Inode) -> OpResult {
        .json(.object([("path", .string(inode.path)), ("size", .num(inode.size)),
                       ("mode", .string("0" + String(inode.mode, radix: 8))), ("ino", .num(inode.ino))]))
    }

    /// A new process.
    static func process(_ p: MMCore.Process) -> OpResult { .json(DTO.process(p)) }

    /// A maps import.
    static func replayMaps(pid: Int, steps: [ReplayStep]) -> OpResult {
        .json(.object([("pid", .num(pid)), ("lines", .array(steps.map(DTO.replayStep)))]))
    }

    /// A trace replay.
    static func replay(_ report: ReplayReport) -> OpResult { .json(DTO.replay(report)) }

    /// The faults simulated, for compare (none in summary mode).
    var faults: [FaultResult] {
        switch self {
        case let .fault(r): [r]
        case let .syscall(r): r.faults
        case let .touch(list, summary): summary ? [] : list
        default: []
        }
    }

    /// The result as a JSON tree.
    var json: JSONValue {
        switch self {
        case let .faultSummary(s): s.json
        case let .syscallSummary(s): s.json
        case let .fault(r): DTO.fault(r, summary: false)
        case let .syscall(r): DTO.syscall(r, summary: false)
        case let .touch(list, summary): .object([("faults", .array(list.map { DTO.fault($0, summary: summary) }))])
        case let .json(v): v
        }
    }

    /// Appends the compact JSON encoding of the result to `out`.
    func write(into out: inout JSONBuffer) {
        switch self {
        case let .faultSummary(s): s.write(into: &out)
        case let .syscallSummary(s): s.write(into: &out)
        case let .fault(r): FaultJSON.write(r, into: &out)
        case let .syscall(r): JSONWriter.write(DTO.syscall(r, summary: false), into: &out)
        case .touch: JSONWriter.write(json, into: &out)
        case let .json(v): JSONWriter.write(v, into: &out)
        }
    }

    /// The compact JSON encoding of the result, newline-terminated (an answer's body).
    var encoded: [UInt8] {
        // A full fault with its trace is about 1.1 KB: room for it up front
        // (no regrowth and copy half way through).
        var out: JSONBuffer
        if case .fault = self { out = JSONBuffer(capacity: 2048) } else { out = JSONBuffer(capacity: 1024) }
        write(into: &out)
        out.append(UInt8(ascii: "\n"))
        return out.bytes()
    }
}

/// A fault in summary mode: outcome and lock code (docs/API.md "Batches").
struct FaultSummary {
    var fault: Bool
    var outcome: FaultResult.Outcome
    var code: LockCode?
    var path: LockPath?

    init(fault: Bool, outcome: FaultResult.Outcome, code: LockCode?, path: LockPath?) {
        self.fault = fault
        self.outcome = outcome
        self.code = code
        self.path = path
    }

    init(_ r: FaultResult) {
        fault = r.fault
        outcome = r.outcome
        code = r.lock?.code
        path = r.lock?.path
    }

    var json: JSONValue {
        .object([("fault", .bool(fault)), ("outcome", .string(outcome.rawValue)),
                 ("code", .str(code?.rawValue)), ("path", .str(path?.rawValue))])
    }

    /// Three literal appends (OpResultJSONTests checks every combination against `json`).
    func write(into out: inout JSONBuffer) {
        let head: StaticString = switch (fault, outcome) {
        case (true, .handled): #"{"fault":true,"outcome":"handled","code":"#
        case (true, .SIGSEGV): #"{"fault":true,"outcome":"SIGSEGV","code":"#
        case (true, .SIGBUS): #"{"fault":true,"outcome":"SIGBUS","code":"#
        case (false, .handled): #"{"fault":false,"outcome":"handled","code":"#
        case (false, .SIGSEGV): #"{"fault":false,"outcome":"SIGSEGV","code":"#
        case (false, .SIGBUS): #"{"fault":false,"outcome":"SIGBUS","code":"#
        }
        out.raw(head)
        let codeText: StaticString = switch code {
        case nil: "null"
        case .LEGACY?: #""LEGACY""#
        case .VMA_OK?: #""VMA_OK""#
        case .VMA_OK_TRYLOCK?: #""VMA_OK_TRYLOCK""#
        case .KERNEL_MODE?: #""KERNEL_MODE""#
        case .NO_VMA?: #""NO_VMA""#
        case .VMA_WRITE_LOCKED?: #""VMA_WRITE_LOCKED""#
        case .VMA_RECYCLED?: #""VMA_RECYCLED""#
        case .RANGE_CHANGED?: #""RANGE_CHANGED""#
        case .NOT_ANON?: #""NOT_ANON""#
        case .NO_ANON_VMA?: #""NO_ANON_VMA""#
        case .UFFD_ARMED?: #""UFFD_ARMED""#
        case .ACCESS_ERROR?: #""ACCESS_ERROR""#
        case .ACCESS_ERROR_SEGV?: #""ACCESS_ERROR_SEGV""#
        case .SWAP_RETRY?: #""SWAP_RETRY""#
        case .ANON_VMA_TRYLOCK_FAILED?: #""ANON_VMA_TRYLOCK_FAILED""#
        case .NO_MAP_PAGES?: #""NO_MAP_PAGES""#
        case .IO_RETRY?: #""IO_RETRY""#
        }
        out.raw(codeText)
        let tail: StaticString = switch path {
        case nil: #","path":null}"#
        case .vmaLock?: #","path":"vma_lock"}"#
        case .mmapLock?: #","path":"mmap_lock"}"#
        case .vmaLockThenMmapLock?: #","path":"vma_lock_then_mmap_lock"}"#
        }
        out.raw(tail)
    }
}

/// A syscall in summary mode: name, return value, errno.
struct SyscallSummary {
    var syscall: String
    var ret: Int64
    var returnsAddress: Bool
    var errno: Errno?

    init(_ r: SyscallResult) {
        syscall = r.syscall
        ret = r.ret
        returnsAddress = r.returnsAddress
        errno = r.errno
    }

    /// Addresses print as hex strings, everything else as integers.
    private var returnIsAddress: Bool { errno == nil && returnsAddress }

    var json: JSONValue {
        .object([("syscall", .string(syscall)),
                 ("return", returnIsAddress ? .addr(UInt64(bitPattern: ret)) : .int(ret)),
                 ("errno", .str(errno?.name))])
    }

    func write(into out: inout JSONBuffer) {
        out.raw(#"{"syscall":"#)
        out.string(syscall)
        out.raw(#","return":"#)
        if returnIsAddress { out.address(UInt64(bitPattern: ret)) } else { out.int(ret) }
        out.raw(#","errno":"#)
        out.string(errno?.name)
        out.append(UInt8(ascii: "}"))
    }
}
