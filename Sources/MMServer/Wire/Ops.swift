import MMHTTP
import MMCore

/// One operation of a session, decoded: what every endpoint, the `ops`
/// batch and log replay apply.
enum Op {
    case file(path: String, size: UInt64, mode: UInt32)
    case process(comm: String)
    case syscall(pid: Int, Syscall)
    case fault(pid: Int, address: UInt64, access: Access, mode: FaultMode, inject: FaultInjection)
    /// Touch `pages` consecutive pages: one fault each (a scripting convenience).
    case touch(pid: Int, address: UInt64, pages: Int, access: Access)
    /// A trace replay (POST …/replay); its body is decoded when applied.
    case replay(JSONValue)

    /// Decodes `{"op": name, …}` (api.md "Batches").
    static func decode(_ value: JSONValue, context: String = "") throws(APIError) -> Op {
        try decode(try Args(value, context: context))
    }

    /// Decodes entry `index` of a batch (field names "ops[index].…" in errors).
    static func decode(_ value: JSONValue, opIndex index: Int) throws(APIError) -> Op {
        try decode(try Args(value, opIndex: index))
    }

    /// Decodes the fields of `{"op": name, …}`.
    static func decode<A: OpFields>(_ a: A) throws(APIError) -> Op {
        guard let name = try a.keyword("op", default: nil, OpName.init) else {
            throw .badRequest("field '\(a.context)op': unknown operation '\(try a.string("op"))'")
        }
        switch name {
        case .file:
            let a = try a.tree()
            let modeText = try a.has("mode") ? modeString(a) : "0644"
            guard let mode = UInt32(modeText, radix: 8) else { throw .badRequest("field '\(a.context)mode' must be octal like \"0644\"") }
            guard case let .int(size)? = a.value["size"], size >= 0 else {
                throw .badRequest("field '\(a.context)size' must be a non-negative integer (bytes)")
            }
            return .file(path: try a.string("path"), size: UInt64(size), mode: mode)
        case .process:
            return .process(comm: try a.string("comm", default: "sim"))
        case .fault:
            let (addr, access, mode, inject) = try Requests.fault(a)
            return .fault(pid: try a.int("pid"), address: addr, access: access, mode: mode, inject: inject)
        case .replay:
            _ = try a.string("format")
            _ = try a.string("text")
            return .replay(try a.tree().value)
        case .touch:
            let (addr, access, _, _) = try Requests.fault(a)
            let pages = try a.int("pages", default: 1)
            guard pages >= 1 && pages <= 1 << 20 else { throw .badRequest("field '\(a.context)pages' must be 1…1048576") }
            // The last page must not wrap past 2^64 (it would trap in the page loop).
            guard !(addr & ~(Linux.PAGE_SIZE - 1)).addingReportingOverflow(UInt64(pages - 1) * Linux.PAGE_SIZE).overflow else {
                throw .badRequest("field '\(a.context)pages': \(pages) pages from field '\(a.context)address' run past the end of the address space")
            }
            return .touch(pid: try a.int("pid"), address: addr, pages: pages, access: access)
        default:
            return .syscall(pid: try a.int("pid"), try Requests.syscall(name, a))
        }
    }

    private static func modeString(_ a: Args) throws(APIError) -> String {
        if case let .int(i)? = a.value["mode"] { return String(i, radix: 8) }
        return try a.string("mode")
    }
}

extension Session {
    /// Applies one decoded operation (caller holds the lock), records it in
    /// the log and returns its result. Errors change nothing.
    func apply(_ op: Op, summary: Bool) throws(APIError) -> OpResult {
        try checkLogRoom(for: 1)
        let result = try perform(op, summary: summary)
        record(op: op, result: result)
        return result
    }

    /// Applies one decoded operation (caller holds the lock) without
    /// recording it: the caller records it (`record`) if this returns.
    /// Errors change nothing.
    func perform(_ op: Op, summary: Bool) throws(APIError) -> OpResult {
        sim.tracer.enabled = !summary
        do {
            switch op {
            case let .file(path, size, mode):
                let inode = try sim.createFile(path: path, size: size, mode: mode)
                return .json(.object([("path", .string(inode.path)), ("size", .num(inode.size)),
                                      ("mode", .string("0" + String(inode.mode, radix: 8))), ("ino", .num(inode.ino))]))
            case let .process(comm):
                guard sim.processes.count < limits.maxProcessesPerSession else {
                    throw APIError(.limitExceeded, "session has \(limits.maxProcessesPerSession) processes (the configured limit)")
                }
                return .json(DTO.process(sim.createProcess(comm: comm)))
            case let .syscall(pid, call):
                if case .fork = call, sim.processes.count >= limits.maxProcessesPerSession {
                    throw APIError(.limitExceeded, "session has \(limits.maxProcessesPerSession) processes (the configured limit)")
                }
                let r = try sim.syscall(pid: pid, call)
                return summary ? .syscallSummary(SyscallSummary(r)) : .syscall(r)
            case let .fault(pid, address, access, mode, inject):
                let r = try sim.fault(pid: pid, address: address, access: access, mode: mode, inject: inject)
                return summary ? .faultSummary(FaultSummary(r)) : .fault(r)
            case let .touch(pid, address, pages, access):
                _ = try sim.process(pid)
                var out: [JSONValue] = []
                let base = address & ~(Linux.PAGE_SIZE - 1)
                for k in 0..<pages {
                    let r = try sim.fault(pid: pid, address: base + UInt64(k) * Linux.PAGE_SIZE, access: access)
                    out.append(DTO.fault(r, summary: summary))
                }
                return .json(.object([("faults", .array(out))]))
            case let .replay(body):
                return .json(try ReplayEndpoint.replay(body, into: self))
            }
        } catch let e as SimulationError {
            throw Self.apiError(e)
        } catch let e as APIError {
            throw e
        } catch {
            throw APIError(.internalError, "\(error)")
        }
    }

    static func apiError(_ e: SimulationError) -> APIError {
        switch e {
        case let .noSuchProcess(pid): APIError(.notFound, "no process with pid \(pid) in this session")
        case let .processExited(pid): APIError(.conflict, "process \(pid) has exited")
        case let .noSuchThread(pid, tid): APIError(.notFound, "no thread \(tid) in process \(pid)")
        case let .fileExists(path): APIError(.conflict, "file '\(path)' already exists in this session")
        case let .limitExceeded(m): APIError(.limitExceeded, m)
        }
    }
}
