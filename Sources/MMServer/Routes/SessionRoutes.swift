import Foundation
import MMCore
import MMHTTP

/// The handlers of the routes under /v1/sessions/{sid} (RouteTable).
extension MMSimApp {
    /// POST …/files, …/processes, …/processes/{pid}/threads, …/replay: the body is the op's arguments.
    func apply(_ r: RouteRequest, _ name: OpName, status: HTTPStatus) throws(APIError) -> HTTPResponse {
        let s = try store.get(r.sid)
        let op = try Op.decode(name, pid: name.takesPid ? r.pid : 0, try Args(try body(r.http), schema: Schemas.arguments(name)))
        return json(try applyOne(s, op), status: status)
    }

    /// POST …/processes/{pid}/syscalls/{name}.
    func syscall(_ r: RouteRequest) throws(APIError) -> HTTPResponse {
        guard let name = OpName(r.name), name.isSyscall, name.canonical == r.name else {
            throw .notFound("unknown syscall '\(r.name)'")
        }
        let s = try store.get(r.sid)
        let op = try Op.decode(name, pid: r.pid, try Args(try body(r.http), schema: Schemas.syscall(name)))
        return json(try applyOne(s, op))
    }

    /// POST …/processes/{pid}/faults: straight from the bytes when it can.
    func fault(_ r: RouteRequest) throws(APIError) -> HTTPResponse {
        let s = try store.get(r.sid)
        var op = RawFields.decode(r.http.body) { (f: RawFields) throws(APIError) in
            let op = try Op.decode(.fault, pid: r.pid, f)
            try f.finish()
            return op
        }
        if op == nil { op = try Op.decode(.fault, pid: r.pid, try Args(try body(r.http), schema: Schemas.fault)) }
        return json(try applyOne(s, op.unsafelyUnwrapped))
    }

    /// GET …/processes/{pid} (with the process's fields) and …/vmas.
    func processJSON(_ r: RouteRequest, withFields: Bool) throws(APIError) -> HTTPResponse {
        let s = try store.get(r.sid)
        return json(try s.locked { () throws(APIError) in
            let p = try s.process(r.pid)
            let vmas: JSONValue = .array(p.mm.vmas.map { DTO.vma($0, mm: p.mm, sim: s.sim) })
            guard withFields, case var .object(mem) = DTO.process(p) else { return .object([("vmas", vmas)]) }
            mem.append(("vmas", vmas))
            return .object(mem)
        })
    }

    /// GET …/maps and …/smaps.
    func procText(_ r: RouteRequest, _ render: (MMCore.Process) -> String) throws(APIError) -> String {
        let s = try store.get(r.sid)
        return try s.locked { () throws(APIError) in render(try s.process(r.pid)) }
    }

    /// GET …/pages?start=&end=.
    func pages(_ r: RouteRequest) throws(APIError) -> HTTPResponse {
        let s = try store.get(r.sid)
        let a = try Args(.object(r.http.queryItems.filter { $0.name != "pretty" }.map { ($0.name, .string($0.value)) }),
                         schema: Schemas.pagesQuery)
        let start = try a.address("start", default: 0)
        let end = try a.address("end", default: UInt64.max)
        guard start <= end else { throw .badRequest("field 'start' must not be above 'end'") }
        return json(try s.locked { () throws(APIError) in
            _ = try s.process(r.pid)
            return Inspection.pages(s.sim, pid: r.pid, start: start, end: end)
        })
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
    func batch(_ r: RouteRequest) throws(APIError) -> HTTPResponse {
        let s = try store.get(r.sid)
        if let (decoded, summary) = BatchBody.decode(r.http.body, maxOps: config.limits.maxBatchOps) {
            return .json(.ok, try run(s, decoded, summary: summary, raw: r.http.body))
        }
        let (decoded, summary) = try decodeBatch(try body(r.http))
        return .json(.ok, try run(s, decoded, summary: summary, raw: r.http.body))
    }

    /// Decodes a batch body the general way (every error names its field).
    func decodeBatch(_ body: JSONValue) throws(APIError) -> (ops: [Op], summary: Bool) {
        let a = try Args(body, schema: Schemas.batch)
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
    /// `raw`, the request body, is what the journal keeps of the batch.
    func run(_ s: Session, _ decoded: [Op], summary: Bool, raw: [UInt8]? = nil) throws(APIError) -> [UInt8] {
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
                s.record(ops: decoded, results: outcomes, batch: raw.map { SessionJournal.batchRecord($0, failed: []) })
            } else {
                // Failed ops change nothing and are not logged.
                var ops: [Op] = [], results: [OpResult] = []
                var next = 0
                for (n, op) in decoded.enumerated() {
                    if next < failed.count && failed[next] == n { next += 1; continue }
                    ops.append(op)
                    results.append(outcomes[n])
                }
                s.record(ops: ops, results: results, batch: raw.map { SessionJournal.batchRecord($0, failed: failed) })
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
        out.raw("]}\n")
        return out.bytes()
    }

    /// GET …/events: the log so far, then live operations, as SSE pulled by
    /// the event loop (SessionEventSource).
    func events(_ req: HTTPRequest, _ s: Session) -> HTTPResponse {
        let from = Int(req.headers["Last-Event-ID"] ?? "") ?? 0
        let headers = HTTPHeaders([("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
        return HTTPResponse(status: .ok, headers: headers, body: .pull(SessionEventSource(session: s, after: from)))
    }
}
