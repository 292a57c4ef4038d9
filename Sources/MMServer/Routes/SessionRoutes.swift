import MMHTTP
import Foundation
import MMCore

extension MMSimApp {
    /// Routes under /v1/sessions/{sid}.
    func sessionRoute(_ req: HTTPRequest, _ s: Session, _ seg: PathSegments) throws(APIError) -> (HTTPResponse, String) {
        let m = req.method
        let base = "/v1/sessions/{sid}"
        switch (m, seg.firstName, seg.count) {
        case (.get, nil, 0):
            return (json(s.lock.withLock { s.summary(withProcesses: true) }), base)
        case (.delete, nil, 0):
            try store.delete(s.id)
            return (HTTPResponse(status: .noContent), base)
        case (.get, "stats", 1):
            return (json(s.lock.withLock { DTO.stats(s.sim.statsSnapshot()) }), base + "/stats")
        case (.get, "anon_vmas", 1):
            return (json(s.lock.withLock { Inspection.forest(s.sim) }), base + "/anon_vmas")
        case (.get, "log", 1):
            return (json(s.lock.withLock {
                .object([("ops", .array(s.log.enumerated().map { Self.withMembers($1.json, [("seq", .num($0 + 1))]) }))])
            }), base + "/log")
        case (.get, "events", 1):
            return (events(req, s), base + "/events")
        case (.post, "files", 1):
            var op = try Args(try body(req)).value
            op = Self.withMembers(op, [("op", .string("file"))])
            return (json(try applyOne(s, op), status: .created), base + "/files")
        case (.get, "files", 1):
            return (json(s.lock.withLock { Inspection.files(s.sim) }), base + "/files")
        case (.post, "processes", 1):
            var op = try Args(try body(req)).value
            op = Self.withMembers(op, [("op", .string("process"))])
            return (json(try applyOne(s, op), status: .created), base + "/processes")
        case (.get, "processes", 1):
            return (json(s.lock.withLock { .object([("processes", .array(s.sim.processList.map(DTO.process)))]) }), base + "/processes")
        case (_, "processes", 2...):
            return try processRoute(req, s, try pid(seg[1]), seg.dropFirst(2))
        case (.post, "ops", 1):
            return (.json(.ok, try batch(s, req)), "/v1/sessions/{sid}/ops")
        case (.post, "replay", 1):
            let op = Self.withMembers(try Args(try body(req)).value, [("op", .string("replay"))])
            return (json(try applyOne(s, op)), base + "/replay")
        default:
            throw APIError.notFound("no route \(m) \(req.path)")
        }
    }

    /// Routes under /v1/sessions/{sid}/processes/{pid}.
    func processRoute(_ req: HTTPRequest, _ s: Session, _ pid: Int, _ seg: PathSegments) throws(APIError) -> (HTTPResponse, String) {
        let base = "/v1/sessions/{sid}/processes/{pid}"
        let m = req.method
        func proc() throws(APIError) -> MMCore.Process {
            guard let p = s.sim.processes[pid] else { throw .notFound("no process with pid \(pid) in this session") }
            return p
        }
        switch (m, seg.firstName, seg.count) {
        case (.get, nil, 0):
            return (json(try s.locked { () throws(APIError) in
                let p = try proc()
                guard case var .object(mem) = DTO.process(p) else { return .null }
                mem.append(("vmas", .array(p.mm.vmas.map { DTO.vma($0, mm: p.mm, sim: s.sim) })))
                return .object(mem)
            }), base)
        case (.get, "vmas", 1):
            return (json(try s.locked { () throws(APIError) in
                let p = try proc()
                return .object([("vmas", .array(p.mm.vmas.map { DTO.vma($0, mm: p.mm, sim: s.sim) }))])
            }), base + "/vmas")
        case (.get, "maps", 1):
            return (.text(.ok, try s.locked { () throws(APIError) in ProcMaps.maps(try proc()) }), base + "/maps")
        case (.get, "smaps", 1):
            return (.text(.ok, try s.locked { () throws(APIError) in ProcMaps.smaps(try proc()) }), base + "/smaps")
        case (.get, "pages", 1):
            let a = try Args(.object(req.queryItems.map { ($0.name, .string($0.value)) }))
            let start = try a.address("start", default: 0)
            let end = try a.address("end", default: UInt64.max)
            guard start <= end else { throw .badRequest("field 'start' must not be above 'end'") }
            return (json(try s.locked { () throws(APIError) in
                _ = try proc()
                return Inspection.pages(s.sim, pid: pid, start: start, end: end)
            }), base + "/pages")
        case (.post, "syscalls", 2):
            let name = seg.string(1)
            guard Requests.syscallNames.contains(name) else { throw .notFound("unknown syscall '\(name)'") }
            // As Op.decode of the body with "op" and "pid" set, without rebuilding it.
            let op = Op.syscall(pid: pid, try Requests.syscall(name, try Args(try body(req))))
            return (json(try applyOne(s, op)), base + "/syscalls/" + name)
        case (.post, "faults", 1):
            // As Op.decode of the body with "op" and "pid" set; straight from the bytes when it can.
            var fields = RawFields.decode(req.body, Requests.fault)
            if fields == nil { fields = try Requests.fault(try Args(try body(req))) }
            let (address, access, mode, inject) = fields.unsafelyUnwrapped
            let op = Op.fault(pid: pid, address: address, access: access, mode: mode, inject: inject)
            return (json(try applyOne(s, op)), "/v1/sessions/{sid}/processes/{pid}/faults")
        default:
            throw APIError.notFound("no route \(m) \(req.path)")
        }
    }

    /// `op` with `members` set first (replacing any same-named ones).
    static func withMembers(_ op: JSONValue, _ members: [(String, JSONValue)]) -> JSONValue {
        guard case let .object(existing) = op else { return op }
        let names = Set(members.map(\.0))
        return .object(members + existing.filter { !names.contains($0.0) })
    }

    /// Decodes then applies one operation under the session lock.
    func applyOne(_ s: Session, _ op: JSONValue) throws(APIError) -> OpResult {
        try applyOne(s, try Op.decode(op))
    }

    /// Applies one operation under the session lock.
    func applyOne(_ s: Session, _ decoded: Op) throws(APIError) -> OpResult {
        // Counters are read before and after under the same lock hold, so a
        // concurrent request on this session is never counted twice.
        let (result, before, after) = try s.locked { () throws(APIError) in
            let before = Metrics.FaultCounters(s.sim.stats.faults)
            let result = try s.apply(decoded, summary: false)
            return (result, before, Metrics.FaultCounters(s.sim.stats.faults))
        }
        metrics.countFaults(before: before, after: after)
        return result
    }

    /// POST …/ops: decode every op first (a malformed batch changes nothing),
    /// then apply them in order; an op that refers to nothing reports its
    /// error in place and the rest still run, as if each were sent alone.
    /// Returns the encoded `{"results": […]}`; the applied ops are recorded
    /// together at the end.
    func batch(_ s: Session, _ req: HTTPRequest) throws(APIError) -> [UInt8] {
        if let (decoded, summary) = BatchBody.decode(req.body, maxOps: config.limits.maxBatchOps) {
            return try run(s, decoded, summary: summary)
        }
        let (decoded, summary) = try decodeBatch(try body(req))
        return try run(s, decoded, summary: summary)
    }

    /// Decodes a batch body the general way (every error names its field).
    func decodeBatch(_ body: JSONValue) throws(APIError) -> (ops: [Op], summary: Bool) {
        let a = try Args(body)
        guard case let .array(items)? = a.value["ops"] else { throw .badRequest("field 'ops' must be an array") }
        guard items.count <= config.limits.maxBatchOps else {
            throw APIError(.limitExceeded, "batch of \(items.count) ops exceeds the configured limit of \(config.limits.maxBatchOps)")
        }
        let detail = try a.string("detail", default: "full")
        guard detail == "full" || detail == "summary" else { throw .badRequest("field 'detail' must be \"full\" or \"summary\"") }
        var decoded: [Op] = []
        decoded.reserveCapacity(items.count)
        for (n, item) in items.enumerated() { decoded.append(try Op.decode(item, opIndex: n)) }
        return (decoded, detail == "summary")
    }

    /// Applies decoded batch ops in order and returns `{"results": […]}`.
    /// Only applying and recording hold the session lock; the response is
    /// written after. A batch that would pass `max_session_ops` is refused
    /// whole (422), before any of it runs.
    func run(_ s: Session, _ decoded: [Op], summary: Bool) throws(APIError) -> [UInt8] {
        // One result per op; a failed op's is its error body.
        var outcomes: [OpResult] = []
        outcomes.reserveCapacity(decoded.count)
        try s.locked { () throws(APIError) in
            try s.checkLogRoom(for: decoded.count)
            let before = Metrics.FaultCounters(s.sim.stats.faults)
            var failed: [Int] = []
            for (n, op) in decoded.enumerated() {
                do throws(APIError) {
                    outcomes.append(try s.perform(op, summary: summary))
                } catch {
                    outcomes.append(.json(error.body(requestID: "ops[\(n)]")))
                    failed.append(n)
                }
            }
            if failed.isEmpty {
                s.record(ops: decoded, results: outcomes)
            } else {
                // Failed ops change nothing and are not logged.
                var ops: [Op] = [], results: [OpResult] = []
                var next = 0
                for (n, op) in decoded.enumerated() {
                    if next < failed.count && failed[next] == n { next += 1; continue }
                    ops.append(op)
                    results.append(outcomes[n])
                }
                s.record(ops: ops, results: results)
            }
            s.sim.tracer.enabled = true
            metrics.countFaults(before: before, after: Metrics.FaultCounters(s.sim.stats.faults))
        }
        var out = JSONBuffer(capacity: 16 + decoded.count * (summary ? 72 : 256))
        out.raw(#"{"results":["#)
        for (n, r) in outcomes.enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            r.write(into: &out)
        }
        out.raw("]}")
        return out.bytes()
    }

    /// GET …/events: the log so far, then live operations, as SSE.
    func events(_ req: HTTPRequest, _ s: Session) -> HTTPResponse {
        let from = Int(req.headers["Last-Event-ID"] ?? "") ?? 0
        return .eventStream { writer in
            var next = from
            while true {
                guard let (after, batch) = s.waitEvents(from: next, timeout: 15) else { return }
                if batch.isEmpty {
                    if !writer.writeComment("keep-alive") { return }
                    continue
                }
                for (k, payload) in batch.enumerated() {
                    let seq = after - batch.count + k + 1
                    if !writer.writeEvent(String(decoding: payload, as: UTF8.self), event: "op", id: String(seq)) { return }
                }
                next = after
            }
        }
    }
}
