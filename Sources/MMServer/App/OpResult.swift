import MMCore

/// What an applied operation answered, kept compact: responses write it
/// straight to bytes, and the session's SSE history keeps it as is and
/// renders its JSON only when a subscriber reads it.
///
/// `json` is the reference shape (api.md); `write(into:)` produces the same
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

    /// The result as a JSON tree.
    var json: JSONValue {
        switch self {
        case let .faultSummary(s): s.json
        case let .syscallSummary(s): s.json
        case let .fault(r): DTO.fault(r, summary: false)
        case let .syscall(r): DTO.syscall(r, summary: false)
        case let .json(v): v
        }
    }

    /// Appends the compact JSON encoding of the result to `out`.
    func write(into out: inout [UInt8]) {
        switch self {
        case let .faultSummary(s): s.write(into: &out)
        case let .syscallSummary(s): s.write(into: &out)
        case let .fault(r): FaultJSON.write(r, into: &out)
        case let .syscall(r): JSONWriter.write(DTO.syscall(r, summary: false), into: &out)
        case let .json(v): JSONWriter.write(v, into: &out)
        }
    }

    /// The compact JSON encoding of the result.
    var encoded: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        write(into: &out)
        return out
    }
}

/// A fault in summary mode: outcome and lock code (api.md "Batches").
struct FaultSummary {
    var fault: Bool
    var outcome: FaultResult.Outcome
    var code: LockCode?
    var path: LockPath?

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

    func write(into out: inout [UInt8]) {
        JSONWriter.writeRaw(fault ? #"{"fault":true,"outcome":"# : #"{"fault":false,"outcome":"#, into: &out)
        JSONWriter.writeString(outcome.rawValue, into: &out)
        JSONWriter.writeRaw(#","code":"#, into: &out)
        if let code { JSONWriter.writeString(code.rawValue, into: &out) } else { JSONWriter.writeRaw("null", into: &out) }
        JSONWriter.writeRaw(#","path":"#, into: &out)
        if let path { JSONWriter.writeString(path.rawValue, into: &out) } else { JSONWriter.writeRaw("null", into: &out) }
        out.append(UInt8(ascii: "}"))
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

    func write(into out: inout [UInt8]) {
        JSONWriter.writeRaw(#"{"syscall":"#, into: &out)
        JSONWriter.writeString(syscall, into: &out)
        JSONWriter.writeRaw(#","return":"#, into: &out)
        if returnIsAddress {
            JSONWriter.writeAddress(UInt64(bitPattern: ret), into: &out)
        } else {
            JSONWriter.writeInt(ret, into: &out)
        }
        JSONWriter.writeRaw(#","errno":"#, into: &out)
        if let errno { JSONWriter.writeString(errno.name, into: &out) } else { JSONWriter.writeRaw("null", into: &out) }
        out.append(UInt8(ascii: "}"))
    }
}
