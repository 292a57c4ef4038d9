import Foundation
import MMCore
import MMHTTP
import MMTrace
#if canImport(Glibc)
import Glibc
#endif

/// POST …/replay with the raw trace as the body (Content-Type text/plain or
/// application/octet-stream, options in the query), up to `max_replay_bytes`:
/// parsed and replayed into the session as it arrives, on the connection's
/// worker thread, and never held whole (docs/API.md "Replay").
///
/// Locking rule: the session lock is taken when the head arrives and held
/// until the body ends (its operations run one at a time, in log order; the
/// session's other requests wait), and is released on the same thread.
///
/// The log and journal record the replay by reference: the raw bytes are
/// spooled, as they arrive, to `<data_dir>/<sid>.replay-<seq>.trace` (a
/// temporary directory when `data_dir` is empty) and the op logged is
/// `{"op": "replay", "spool": NAME, "bytes": N, …}`, which a restart (or a
/// rebuild of the session) replays from that file. A body that does not end
/// well (not recognised, cut short, timed out) changes nothing: the session
/// is rebuilt from its log and the spool file removed.
final class ReplayUpload: HTTPBodySink {
    /// The route's declaration (RouteTable).
    static let route = Route.StreamedBody(limit: { $0.limits.maxReplayBytes }, open: { (app, r) throws(APIError) in
        try ReplayUpload(app, r)
    })

    private let app: MMSimApp
    private let session: Session
    private var request: ReplayRequest
    private let replay: TraceReplay
    private let spoolFD: Int32
    private let before: Metrics.FaultCounters
    private let started = SessionStore.now()
    private var bytes = 0
    /// The lock is held (until finish or cancel).
    private var holding = true

    private init(_ app: MMSimApp, _ r: RouteRequest) throws(APIError) {
        self.app = app
        let s = try app.store.get(r.sid)
        session = s
        request = try ReplayRequest.fromQuery(r.http)
        s.lock.lock()
        do throws(APIError) {
            try s.checkLogRoom(for: 1)
            if let pid = request.pid {
                do { _ = try s.sim.process(pid) } catch { throw Op.apiError(error) }
            }
            let dir = app.store.spoolDirectory
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let path = (dir as NSString).appendingPathComponent("\(s.id).replay-\(s.log.count + 1).trace")
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw APIError(.internalError, "cannot create the replay spool \(path): \(String(cString: strerror(errno)))")
            }
            spoolFD = fd
            request.spool = path
        } catch {
            s.lock.unlock()
            throw error
        }
        before = Metrics.FaultCounters(s.sim.stats.faults)
        s.sim.tracer.enabled = false
        replay = request.makeReplay(on: s.sim)
        // Bounded as it runs, like a JSON replay (Session.perform): each
        // trace event is admitted against the budgets before it is applied.
        let touch = request.faults == .touch
        replay.replayer.admit = { [s] event in s.budget.admit(event.worstCase(s.sim, touch: touch), s.sim).map { "\($0)" } }
    }

    deinit { if spoolFD >= 0 { close(spoolFD) } }

    func receive(_ chunk: UnsafeRawBufferPointer) -> HTTPResponse? {
        guard Self.writeAll(spoolFD, chunk) else {
            let message = "cannot write the replay spool: \(String(cString: strerror(errno)))"
            undo()
            return answer(APIError(.internalError, message))
        }
        bytes += chunk.count
        replay.feed(chunk)
        return nil
    }

    func finish() -> HTTPResponse {
        let report: ReplayReport
        do { report = try replay.finish() } catch {
            undo()
            return answer(.badRequest("field 'body': \(error.description); give ?format= to name it"))
        }
        if let stop = replay.replayer.stopped, replay.replayer.eventsApplied == 0 {
            undo()
            return answer(APIError(.limitExceeded, "the replay's first event (line \(stop.line)) could take the session past "
                                   + "\(stop.reason); nothing was changed"))
        }
        if app.store.limits.durability != .no { fdatasync(spoolFD) }  // the file before the record naming it
        request.spooledBytes = bytes
        let s = session
        let result = OpResult.replay(report)
        if let stop = replay.replayer.stopped {
            // Stopped part-way by a budget: the events before stay, logged with
            // max_events so the log replays to the same state (a syscall failing
            // half-way keeps what it did), and the answer is the 422.
            request.maxEvents = replay.replayer.eventsApplied
            s.record(op: .replay(request), result: result)
            s.budget.remeasure(s.sim)
            s.sim.tracer.enabled = true
            release()
            return answer(APIError(.limitExceeded, "the replay stopped at line \(stop.line): it would take the session past "
                                   + "\(stop.reason); the \(request.maxEvents ?? 0) events before it were applied"))
        }
        s.record(op: .replay(request), result: result)
        s.budget.remeasure(s.sim)
        s.sim.tracer.enabled = true
        let after = Metrics.FaultCounters(s.sim.stats.faults)
        release()
        app.metrics.countFaults(before: before, after: after)
        return answer(result)
    }

    func cancel() {
        undo()
        observe(status: 400)
    }

    /// Undoes a replay that did not end well: the session is its log's
    /// result again, the spool file goes. Releases the lock.
    private func undo() {
        guard holding else { return }
        if let spool = request.spool { unlink(spool) }
        session.rebuildFromLog()
        release()
    }

    private func release() {
        guard holding else { return }
        holding = false
        session.lock.unlock()
    }

    private func answer(_ result: OpResult) -> HTTPResponse {
        observe(status: 200)
        var response = app.json(result)
        response.label = RouteTable.session + "/replay"
        return response
    }

    private func answer(_ e: APIError) -> HTTPResponse {
        var response = app.error(e, String(app.requestCounter.increment(), radix: 16))
        observe(status: response.status.code)
        response.label = RouteTable.session + "/replay"
        return response
    }

    private func observe(status: Int) {
        app.metrics.observe(route: RouteTable.session + "/replay", status: status, seconds: SessionStore.now() - started)
    }

    /// write(2) until all of `bytes` is written.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return false }
        }
        return true
    }
}

extension MMSimApp: HTTPStreamingHandler {
    /// HTTPStreamingHandler: a text/plain (or octet-stream) body sent to a
    /// route that declares `streamedBody` streams, up to its limit; every
    /// other body is collected whole as usual.
    /// Asked for every request with a body, so it first looks at what is
    /// cheapest: a path that cannot name a streamed route (its last segment
    /// is none of theirs, and it has no `%` escape) answers at once, before
    /// any header lookup or routing.
    public func streamedBodyLimit(_ head: HTTPRequest) -> Int? {
        let percent = Self.hasPercent(head.path)
        if !percent && !Self.endsInStreamedSegment(head.path) { return nil }
        guard let type = head.headers["Content-Type"], Self.isStreamableType(type) else { return nil }
        let path = percent ? (head.decodedPath ?? head.path) : head.path
        guard case let .route(route, _)? = try? router.match(head, path: path), let streamed = route.streamedBody else { return nil }
        return streamed.limit(config)
    }

    /// The last path segments ("/replay") of the routes that take streamed
    /// bodies, from the route table, as bytes.
    static let streamedSegments: [[UInt8]] = RouteTable.all.compactMap { r in
        r.streamedBody == nil ? nil : Array(("/" + (r.pattern.split(separator: "/").last.map(String.init) ?? "")).utf8)
    }

    /// Whether `path` ends in one of `streamedSegments` (compared as bytes).
    static func endsInStreamedSegment(_ path: String) -> Bool {
        var path = path
        return path.withUTF8 { u in
            streamedSegments.contains { seg in seg.count <= u.count && u.suffix(seg.count).elementsEqual(seg) }
        }
    }

    /// Whether a Content-Type value's media type (before any `;`, spaces
    /// trimmed, case ignored) is text/plain or application/octet-stream.
    /// Asked for every request with a body, so an ASCII value is compared on
    /// its bytes (Foundation's trimming and lowercasing cost ~20,000
    /// instructions a request); any other value the Foundation way.
    static func isStreamableType(_ value: String) -> Bool {
        var value = value
        let ascii: Bool? = value.withUTF8 { u -> Bool? in
            if u.contains(where: { $0 >= 0x80 }) { return nil }
            // split(separator: ";") omits empty pieces: the first piece
            // starts after any leading ';'.
            var start = 0
            while start < u.count && u[start] == UInt8(ascii: ";") { start += 1 }
            var end = start
            while end < u.count && u[end] != UInt8(ascii: ";") { end += 1 }
            func space(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }  // CharacterSet.whitespaces in ASCII
            while start < end && space(u[start]) { start += 1 }
            while end > start && space(u[end - 1]) { end -= 1 }
            func equals(_ s: StaticString) -> Bool {
                guard end - start == s.utf8CodeUnitCount else { return false }
                let p = s.utf8Start
                for k in 0..<(end - start) {
                    let c = u[start + k]
                    if (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c) != p[k] { return false }
                }
                return true
            }
            return equals("text/plain") || equals("application/octet-stream")
        }
        if let ascii { return ascii }
        let type = value.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        return type == "text/plain" || type == "application/octet-stream"
    }

    /// HTTPStreamingHandler: the route's sink, or its error answer (unknown
    /// session, bad query) without reading the body.
    public func openBodySink(_ head: HTTPRequest) -> HTTPBodyIntake {
        let path = Self.hasPercent(head.path) ? (head.decodedPath ?? head.path) : head.path
        let rid = { String(self.requestCounter.increment(), radix: 16) }
        do throws(APIError) {
            guard case let .route(route, r) = try router.match(head, path: path), let streamed = route.streamedBody else {
                return .answer(error(APIError.notFound("no route \(head.method) \(path) takes a streamed body"), rid()))
            }
            return .sink(try streamed.open(self, r))
        } catch {
            var response = self.error(error, rid())
            response.label = "error"
            metrics.observe(route: "error", status: response.status.code, seconds: 0)
            return .answer(response)
        }
    }
}

extension SessionStore {
    /// Where streamed replays are spooled: the data directory, or (sessions
    /// not persisted) a directory of this process under the temporary one.
    var spoolDirectory: String {
        limits.dataDir.isEmpty ? (NSTemporaryDirectory() as NSString).appendingPathComponent("mmsim-spool-\(getpid())")
                               : limits.dataDir
    }
}

extension Session {
    /// Removes the spool files of its streamed replays (the session was deleted or expired).
    func removeSpools() {
        let spools = lock.withLock {
            log.compactMap { op -> String? in if case let .replay(r) = op { return r.spool } else { return nil } }
        }
        for path in spools { unlink(path) }
    }
}
