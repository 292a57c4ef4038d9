import Foundation
import MMCore
import MMHTTP
import MMTrace

/// One operation of a session, decoded: what every endpoint, the `ops`
/// batch, compare and log replay apply (`Op.apply`, Sessions/OpApply.swift).
enum Op {
    case file(path: String, size: UInt64, mode: UInt32)
    case process(comm: String)
    /// A thread of process `pid` (clone(CLONE_VM|CLONE_THREAD)).
    case thread(pid: Int)
    /// A syscall by process `pid`, made by thread `tid` (nil: the leader).
    case syscall(pid: Int, tid: Int?, Syscall)
    /// A fault in process `pid` taken by thread `tid` (nil: the leader).
    case fault(pid: Int, tid: Int?, address: UInt64, access: Access, mode: FaultMode, inject: FaultInjection)
    /// Touch `pages` consecutive pages: one fault each (a scripting convenience).
    case touch(pid: Int, address: UInt64, pages: Int, access: Access)
    /// A trace replay (POST …/replay).
    case replay(ReplayRequest)
}

/// The body of POST …/replay, decoded.
struct ReplayRequest {
    enum Format: String { case strace, perf, maps }
    /// nil: recognised from the content (perf or strace).
    var format: Format?
    var text: String
    /// An existing process to replay into.
    var pid: Int?
    /// nil: `trace` for perf, `none` otherwise.
    var faults: ReplayFaults?
    var detail: TraceReplay.Detail = .summary
    /// A streamed replay (a text/plain body): the file its raw text was
    /// spooled to (`text` is then empty), replayed from there by a restart
    /// or a rebuild of the session, and its size in bytes.
    var spool: String?
    var spooledBytes = 0
    /// Apply at most this many trace events (how a replay stopped by a
    /// limit is logged, so the log replays to the same state).
    var maxEvents: Int?
}

extension Op {
    /// Decodes entry `index` of a batch (field names "ops[index].…" in errors).
    static func decode(_ value: JSONValue, opIndex index: Int) throws(APIError) -> Op {
        try decode(try Args(value, opIndex: index))
    }

    /// Decodes `{"op": name, "pid": …, …}` over a JSON tree, refusing keys
    /// the op does not take.
    static func decode(_ a: Args) throws(APIError) -> Op {
        let name = try opName(a)
        let a = try a.checked(against: Schemas.opSchema(name))
        return try decode(name, pid: name.takesPid ? try a.int("pid") : 0, a)
    }

    /// Decodes `{"op": name, …}` over the bytes (the batch fast path);
    /// declines a member it did not read.
    static func decode(_ a: RawFields) throws(APIError) -> Op {
        let name = try opName(a)
        let op = try decode(name, pid: name.takesPid ? try a.int("pid") : 0, a)
        try a.finish()
        return op
    }

    /// The `op` member.
    private static func opName<A: OpFields>(_ a: A) throws(APIError) -> OpName {
        guard let name = try a.keyword("op", default: nil, OpName.init) else {
            throw .badRequest("field '\(a.context)op': unknown operation '\(try a.string("op"))'")
        }
        return name
    }

    /// Decodes op `name` of process `pid` from its arguments (an endpoint's
    /// body, or an `ops` entry): every type and range check of an op is here.
    /// Over `RawFields` the caller then calls `finish()`: a member not read
    /// declines (the general path, which checked the keys, then names it).
    static func decode<A: OpFields>(_ name: OpName, pid: Int, _ a: A) throws(APIError) -> Op {
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
        case .thread:
            return .thread(pid: pid)
        case .fault:
            let (addr, access, mode, inject) = try Requests.fault(a)
            return .fault(pid: pid, tid: try tid(a), address: addr, access: access, mode: mode, inject: inject)
        case .replay:
            return .replay(try replay(a.tree()))
        case .touch:
            let addr = try a.address("address")
            let access = try Requests.access(a)
            let pages = try a.int("pages", default: 1)
            guard pages >= 1 && pages <= 1 << 20 else { throw .badRequest("field '\(a.context)pages' must be 1…1048576") }
            // The last page must not wrap past 2^64 (it would trap in the page loop).
            guard !(addr & ~(Linux.PAGE_SIZE - 1)).addingReportingOverflow(UInt64(pages - 1) * Linux.PAGE_SIZE).overflow else {
                throw .badRequest("field '\(a.context)pages': \(pages) pages from field '\(a.context)address' run past the end of the address space")
            }
            return .touch(pid: pid, address: addr, pages: pages, access: access)
        default:
            return .syscall(pid: pid, tid: try tid(a), try Requests.syscall(name, a))
        }
    }

    /// The optional `tid` of a fault or syscall: a positive integer.
    private static func tid<A: OpFields>(_ a: A) throws(APIError) -> Int? {
        guard a.has("tid") else { return nil }
        let tid = try a.int("tid")
        guard tid > 0 else { throw .badRequest("field '\(a.context)tid' must be a positive thread id") }
        return tid
    }

    private static func modeString(_ a: Args) throws(APIError) -> String {
        if case let .int(i)? = a.value["mode"] { return String(i, radix: 8) }
        return try a.string("mode")
    }

    /// The replay body's fields (`text` from the body, or empty for a
    /// streamed replay whose text comes as the raw body).
    private static func replay(_ a: Args, streamed: Bool = false) throws(APIError) -> ReplayRequest {
        let text = streamed ? "" : try a.string("text")
        var format: ReplayRequest.Format?
        if a.has("format") {
            guard let f = ReplayRequest.Format(rawValue: try a.string("format")) else {
                throw .badRequest("field '\(a.context)format' must be \"strace\", \"perf\" or \"maps\"")
            }
            format = f
        }
        var faults: ReplayFaults?
        if a.has("faults") {
            guard let f = ReplayFaults(rawValue: try a.string("faults")) else {
                throw .badRequest("field '\(a.context)faults' must be \"none\", \"touch\" or \"trace\"")
            }
            faults = f
        }
        guard let detail = TraceReplay.Detail(rawValue: try a.string("detail", default: "summary")) else {
            throw .badRequest("field '\(a.context)detail' must be \"summary\" or \"faults\"")
        }
        var maxEvents: Int?
        if a.has("max_events") {
            let n = try a.int("max_events")
            guard n >= 0 else { throw .badRequest("field '\(a.context)max_events' must be non-negative") }
            maxEvents = n
        }
        return ReplayRequest(format: format, text: text, pid: a.has("pid") ? try a.int("pid") : nil, faults: faults,
                             detail: detail, maxEvents: maxEvents)
    }
}

extension ReplayRequest {
    /// The options of a streamed replay, from the query (`?format=perf&faults=trace&detail=faults&pid=1`):
    /// the same fields and checks as the JSON body, `text` aside.
    static func fromQuery(_ http: HTTPRequest) throws(APIError) -> ReplayRequest {
        let a = try Args(.object(http.queryItems.filter { $0.name != "pretty" }.map { item in
            (item.name, Int(item.value).map { .int(Int64($0)) } ?? .string(item.value))
        }), schema: Schemas.replayQuery)
        let r = try Op.replayFields(a)
        if r.format == .maps { throw .badRequest("field 'format': maps text is sent as JSON (\"text\"), not streamed") }
        return r
    }

    /// The replay of a journal record written for a streamed replay
    /// (`"spool"`: a file name in `directory`), or nil. Only the journal
    /// names spool files: a request's `spool` is refused by its schema.
    static func spooled(_ record: JSONValue, directory: String) -> Op? {
        guard case let .string(name)? = record["spool"], !name.contains("/"), !name.hasPrefix("."),
              let a = try? Args(record, opIndex: 0), var r = try? Op.replayFields(a) else { return nil }
        r.spool = (directory as NSString).appendingPathComponent(name)
        if case let .int(n)? = record["bytes"] { r.spooledBytes = Int(n) }
        return .replay(r)
    }
}

extension Op {
    /// The replay options without `text` (a streamed replay's query, a spooled journal record).
    static func replayFields(_ a: Args) throws(APIError) -> ReplayRequest { try replay(a, streamed: true) }
}
