import MMHTTP
import Foundation
import MMCore

/// All live sessions. Lookups take a short global lock; work on a session
/// takes only that session's lock, so sessions run in parallel.
public final class SessionStore: @unchecked Sendable {
    private let lock = SpinningLock()
    private var sessions: [String: Session] = [:]
    let limits: Limits
    let defaultKernel: KernelModel

    public init(limits: Limits, defaultKernel: KernelModel) {
        self.limits = limits
        self.defaultKernel = defaultKernel
    }

    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// A new session id with 122 random bits (a version-4 UUID).
    static func newID() -> String { UUID().uuidString.lowercased() }

    /// Creates a session, or 422 past the configured limit.
    func create(kernel: KernelModel?, options: ModelOptions, name: String?) throws(APIError) -> Session {
        let s = Session(id: Self.newID(), name: name, model: kernel ?? defaultKernel, options: options,
                        limits: limits, now: Self.now())
        lock.lock()
        defer { lock.unlock() }
        guard sessions.count < limits.maxSessions else {
            throw APIError(.limitExceeded, "\(limits.maxSessions) sessions exist (the configured limit)")
        }
        sessions[s.id] = s
        return s
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
        lock.unlock()
        guard let s else { throw .notFound("no session '\(id)'") }
        s.close()
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
        for s in stale { sessions.removeValue(forKey: s.id) }
        lock.unlock()
        for s in stale { s.close() }
        return stale.count
    }
}
