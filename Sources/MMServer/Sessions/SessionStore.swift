import MMHTTP
import Foundation
import MMCore

/// All live sessions. Lookups take a short global lock; work on a session
/// takes only that session's lock, so sessions run in parallel.
public final class SessionStore: @unchecked Sendable {
    private let lock = SpinningLock()
    private var sessions: [String: Session] = [:]
    /// Live sessions by the client address that created them (`max_sessions_per_client`).
    private var perClient: [String: Int] = [:]
    /// Session creations per client address (`session_creates_per_minute_per_client`).
    private let creations: HTTPRateLimiter?
    let limits: Limits
    let defaultKernel: KernelModel
    let ids: SessionIDs
    /// Pages of every session together (`max_total_pages`).
    let global: GlobalBudget

    /// Where journal problems are reported (the server's log).
    let report: @Sendable (String) -> Void
    /// Set (before ``restore()``) when an HTTP server writes the journals
    /// once per event-loop round (MMSimApp.willSendAnswers); nil: each
    /// request writes its own after releasing the session lock.
    var journalRound: JournalRound?

    /// `random` is where session ids come from (the kernel's getrandom(2)
    /// unless a test injects another); `nodeID` prefixes them.
    public init(limits: Limits, defaultKernel: KernelModel, random: any RandomSource = KernelRandom(), nodeID: String = "",
                report: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) {
        self.report = report
        self.limits = limits
        self.defaultKernel = defaultKernel
        self.ids = SessionIDs(random: random, nodeID: nodeID)
        self.global = GlobalBudget(maxPages: limits.maxTotalPages)
        let perMinute = limits.sessionCreatesPerMinutePerClient
        creations = perMinute > 0 ? HTTPRateLimiter(perSecond: Double(perMinute) / 60, burst: perMinute) : nil
    }

    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Creates a session for `client` (its address): 429 past the
    /// per-client limits, 422 past `max_sessions`, 503 when no random id can
    /// be had (nothing is created in any of these cases).
    func create(kernel: KernelModel?, options: ModelOptions, name: String?, client: String = "-") throws(APIError) -> Session {
        if let creations, let wait = creations.take(client) {
            throw APIError(.tooManyRequests, "more than \(limits.sessionCreatesPerMinutePerClient) sessions created per minute "
                           + "from \(client) (session_creates_per_minute_per_client)", retryAfter: max(1, Int(wait.rounded(.up))))
        }
        let s = Session(id: try ids.next(), name: name, model: kernel ?? defaultKernel, options: options,
                        limits: limits, now: Self.now(), owner: client, global: global)
        lock.lock()
        defer { lock.unlock() }
        guard sessions.count < limits.maxSessions else {
            creations?.refund(client)
            throw APIError(.limitExceeded, "\(limits.maxSessions) sessions exist (the configured limit)")
        }
        let owned = perClient[client, default: 0]
        guard limits.maxSessionsPerClient == 0 || owned < limits.maxSessionsPerClient else {
            creations?.refund(client)
            throw APIError(.tooManyRequests, "\(owned) live sessions were created from \(client) (max_sessions_per_client); "
                           + "delete some or wait for them to expire", retryAfter: 60)
        }
        // 122 random bits never collide in practice; if they did, the old
        // session must not be replaced (its holder's capability stays its own).
        guard sessions[s.id] == nil else { throw APIError(.unavailable, "session id collision; try again") }
        sessions[s.id] = s
        perClient[client] = owned + 1
        lock.unlock()
        persist(s)
        lock.lock()
        return s
    }

    /// Adds a restored session.
    func adopt(_ s: Session) {
        lock.withLock {
            sessions[s.id] = s
            perClient[s.owner, default: 0] += 1
        }
    }

    /// fdatasync(2)s the journals written since the last call (durability `everysec`).
    public func syncJournals() {
        journalRound?.flush()
        let all = lock.withLock { Array(sessions.values) }
        for s in all { s.lock.withLock { s.journal }?.syncIfDirty() }
    }

    /// The session with this id, or 404.
    func get(_ id: String) throws(APIError) -> Session {
        let now = Self.now()
        lock.lock()
        let s = sessions[id]
        s?.lastUsed = now
        lock.unlock()
        guard let s else { throw .notFound("no session '\(id)'") }
        return s
    }

    /// Deletes a session; 404 if unknown.
    func delete(_ id: String) throws(APIError) {
        lock.lock()
        let s = sessions.removeValue(forKey: id)
        if let s { disown(s) }
        lock.unlock()
        guard let s else { throw .notFound("no session '\(id)'") }
        s.close()
        s.forget()
    }

    /// The sessions of `ids` that exist, oldest first (the listing of a
    /// caller without the admin token: the ids are the capability).
    func presented(_ ids: [String]) -> [Session] {
        lock.lock()
        let found = Set(ids).compactMap { sessions[$0] }
        lock.unlock()
        return found.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    /// Ends every session's event streams (at server shutdown); the sessions stay.
    public func closeStreams() {
        for s in all() { s.close() }
    }

    /// All sessions, oldest first by creation time then id.
    func all() -> [Session] {
        lock.lock()
        defer { lock.unlock() }
        return sessions.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    /// Uncounts a removed session from its creator (store lock held).
    private func disown(_ s: Session) {
        let n = perClient[s.owner, default: 1] - 1
        perClient[s.owner] = n > 0 ? n : nil
    }

    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return sessions.count
    }

    /// Deletes sessions idle longer than the configured time; returns how many.
    @discardableResult
    public func expireIdle(now: Double = SessionStore.now()) -> Int {
        lock.lock()
        let stale = sessions.values.filter { now - $0.lastUsed > limits.sessionIdleSeconds }
        for s in stale {
            sessions.removeValue(forKey: s.id)
            disown(s)
        }
        lock.unlock()
        for s in stale {
            s.close()
            s.forget()
        }
        return stale.count
    }
}
