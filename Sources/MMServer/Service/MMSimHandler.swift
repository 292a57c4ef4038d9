import MMHTTP
import Foundation
import MMCore

extension MMSimApp: HTTPHandler {
    /// HTTPHandler: writes the journal records of the answers about to be
    /// sent (group commit, JournalRound), before any of them leaves.
    public func willSendAnswers() { store.journalRound?.flush() }

    /// HTTPHandler: answers and records metrics for one request.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let t0 = SessionStore.now()
        var (response, route) = respond(request)
        metrics.observe(route: route, status: response.status.code, seconds: SessionStore.now() - t0)
        response.label = route
        return response
    }

    /// HTTPHandler: what its route says (`Route.slow`): reads and single
    /// faults are answered on the event loop, except the reads whose answer
    /// grows with the session (smaps, pages); every other POST (syscalls that
    /// may populate gigabytes, batches, replays, compares), DELETE, and any
    /// large body go to a worker thread. (The log and event streams are
    /// pulled by the loop in pieces.)
    /// The route is found from the path's last segment when that segment
    /// decides it (``SlowRoutes``), so the hot single-fault request is not
    /// routed twice (here and in `handle`); otherwise by the router.
    public func answersSlowly(_ request: HTTPRequest) -> Bool {
        if request.body.count > 64 * 1024 { return true }
        let isRead = request.method == .get || request.method == .head
        if let known = SlowRoutes.byLastSegment(request) { return known }
        let path = Self.hasPercent(request.path) ? (request.decodedPath ?? request.path) : request.path
        guard case let .route(route, _)? = try? router.match(request, path: path) else { return !isRead }
        return route.slow
    }
}

/// Whether a request goes to a worker, from its method and the last literal
/// segment of its path, for the segments every route of that method ending
/// in them agrees on (derived from RouteTable.all, so it cannot drift).
enum SlowRoutes {
    /// method → last segment's bytes → slow (only segments all such routes
    /// agree on), searched linearly: a handful of methods and segments,
    /// compared as bytes (hashing the Strings cost ~2,000 instructions a request).
    static let table: [(method: HTTPMethod, segments: [(bytes: [UInt8], slow: Bool)])] = {
        var seen: [HTTPMethod: [String: Set<Bool>]] = [:]
        for r in RouteTable.all {
            guard let last = r.pattern.split(separator: "/").last, !last.hasPrefix("{") else { continue }
            seen[r.method, default: [:]][String(last), default: []].insert(r.slow)
        }
        return seen.sorted { $0.key.rawValue < $1.key.rawValue }.map { method, segments in
            (method, segments.compactMapValues { $0.count == 1 ? $0.first : nil }
                .sorted { $0.key < $1.key }.map { (Array($0.key.utf8), $0.value) })
        }
    }()

    /// Nil when the last segment does not decide (a parameter, a percent
    /// escape, a segment routes disagree on or none has).
    static func byLastSegment(_ request: HTTPRequest) -> Bool? {
        var path = request.path
        return path.withUTF8 { u -> Bool? in
            guard let slash = u.lastIndex(of: UInt8(ascii: "/")), !u.contains(UInt8(ascii: "%")),
                  let entry = table.first(where: { $0.method == request.method }) else { return nil }
            let last = UnsafeBufferPointer(rebasing: u[(slash + 1)...])
            for (bytes, slow) in entry.segments where bytes.count == last.count && bytes.elementsEqual(last) { return slow }
            return nil
        }
    }
}

/// Starts the service: the HTTP server, the idle-session reaper and the
/// signal handlers. Returns the running server.
public enum MMSimService {
    public static func start(config: ServerConfig, log: @escaping @Sendable (String) -> Void) throws -> (HTTPServer, MMSimApp) {
        let app = MMSimApp(config: config)
        let limits = HTTPServerLimits(maxHeaderBytes: config.maxHeaderBytes, maxBodyBytes: config.maxBodyBytes,
                                      readTimeout: config.readTimeoutSeconds, idleTimeout: config.idleTimeoutSeconds,
                                      maxConnections: config.maxConnections, bodyTimeout: config.bodyTimeoutSeconds,
                                      sendTimeout: config.sendTimeoutSeconds,
                                      maxConnectionsPerClient: config.maxConnectionsPerClient,
                                      requestsPerSecondPerClient: config.requestsPerSecondPerClient,
                                      requestBurstPerClient: config.requestBurstPerClient)
        var accessLog: HTTPAccessLog?
        if config.accessLog {
            accessLog = { (method: String, path: String, status: Int, us: Int, route: String?) in
                log("\(method) \(path) \(status) \(us)us \(route ?? "-")")
            }
        }
        let server = HTTPServer(configuration: HTTPServerConfiguration(host: config.host, port: config.port, limits: limits,
                                                                            eventLoops: config.eventLoops),
                                handler: app, accessLog: accessLog)
        // Every journaled session keeps its journal open (one descriptor
        // each, beside the connections): the soft limit goes up to the hard one.
        if !config.limits.dataDir.isEmpty {
            raiseOpenFileLimit()
            app.store.journalRound = JournalRound()  // written by willSendAnswers, once per loop round
        }
        let restored = app.store.restore()
        if restored > 0 { app.store.report("restored \(restored) session(s) from \(config.limits.dataDir)") }
        try server.start()
        server.onShutdown { [app] in app.store.closeStreams() }   // SSE subscribers return at once
        if config.limits.durability == .everysec && !config.limits.dataDir.isEmpty {
            let syncer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "mmsim.journal-sync"))
            syncer.schedule(deadline: .now() + 1, repeating: 1)
            syncer.setEventHandler { [app] in app.store.syncJournals() }
            syncer.resume()
            app.retain(syncer)
        }
        let reaper = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "mmsim.reaper"))
        let every = max(1.0, min(60.0, config.limits.sessionIdleSeconds / 4))
        reaper.schedule(deadline: .now() + every, repeating: every)
        reaper.setEventHandler { [app] in
            let n = app.store.expireIdle()
            if n > 0 { log("expired \(n) idle session(s)") }
        }
        reaper.resume()
        app.retain(reaper)
        return (server, app)
    }
}

extension MMSimApp {
    /// Keeps a timer source alive for the app's lifetime.
    func retain(_ source: any DispatchSourceTimer) { timers.append(source) }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (setrlimit(2)); many
/// systems start processes at 1,024 descriptors.
func raiseOpenFileLimit() {
    var r = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) == 0, r.rlim_cur < r.rlim_max else { return }
    r.rlim_cur = r.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &r)
}
