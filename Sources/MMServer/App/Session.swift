import Foundation
import MMCore

/// One session: a Simulation plus its operation log. Operations of one
/// session are applied one at a time under `lock`, so its state is always
/// the deterministic result of its log.
public final class Session: @unchecked Sendable {
    public let id: String
    public let name: String?
    public let createdAt: String
    public let sim: Simulation
    let limits: Limits
    let lock = NSLock()
    /// Signalled whenever an event is appended (SSE subscribers wait on it).
    let events = NSCondition()
    /// Every operation applied, as the JSON that would replay it.
    private(set) var log: [JSONValue] = []
    /// Encoded SSE payloads (`{"seq", "op", "result"}`), parallel to `log`.
    private(set) var eventPayloads: [[UInt8]] = []
    /// Set when the session is deleted or expired: subscribers stop.
    private(set) var closed = false
    /// Monotonic seconds of the last request (idle expiry).
    var lastUsed: Double

    init(id: String, name: String?, model: KernelModel, options: ModelOptions, limits: Limits, now: Double) {
        self.id = id
        self.name = name
        self.limits = limits
        self.sim = Simulation(model: model, options: options)
        self.createdAt = ISO8601DateFormatter().string(from: Date())
        self.lastUsed = now
    }

    /// Runs `body` with the session locked.
    func locked<T>(_ body: () throws(APIError) -> T) throws(APIError) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Records an applied operation and wakes SSE subscribers.
    func record(op: JSONValue, result: JSONValue) {
        log.append(op)
        let payload = JSONWriter.encode(.object([("seq", .num(log.count)), ("op", op), ("result", result)]))
        events.lock()
        eventPayloads.append(payload)
        events.broadcast()
        events.unlock()
    }

    /// Event payloads from index `from`, waiting up to `timeout` seconds for one.
    /// Returns nil when the session is closed.
    func waitEvents(from: Int, timeout: Double) -> [[UInt8]]? {
        events.lock()
        defer { events.unlock() }
        if eventPayloads.count <= from && !closed {
            _ = events.wait(until: Date(timeIntervalSinceNow: timeout))
        }
        if closed { return nil }
        return from < eventPayloads.count ? Array(eventPayloads[from...]) : []
    }

    /// Stops SSE subscribers.
    func close() {
        events.lock()
        closed = true
        events.broadcast()
        events.unlock()
    }

    /// The session summary (api.md "Sessions").
    func summary(withProcesses: Bool) -> JSONValue {
        var m: [(String, JSONValue)] = [
            ("id", .string(id)), ("kernel", .string(sim.model.id)),
            ("options", Self.options(sim.options)), ("name", .str(name)), ("created_at", .string(createdAt)),
            ("operations", .num(log.count)),
        ]
        if withProcesses { m.append(("processes", .array(sim.processList.map(DTO.process)))) }
        return .object(m)
    }

    static func options(_ o: ModelOptions) -> JSONValue {
        .object([("eager_anon_vma", .bool(o.eagerAnonVMA)), ("skip_mergeable_for_file", .bool(o.skipMergeableForFile))])
    }
}
