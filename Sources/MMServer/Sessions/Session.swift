import MMHTTP
import Foundation
import MMCore

/// One session: a Simulation plus its operation log. Operations of one
/// session are applied one at a time under `lock`, so its state is always
/// the deterministic result of its log.
public final class Session: @unchecked Sendable {
    public let id: String
    public let name: String?
    public let createdAt: String
    /// Replaced only when a streamed replay cut short is undone (`rebuildFromLog`).
    public internal(set) var sim: Simulation
    let limits: Limits
    let lock = SpinningLock()
    /// Guards the log and the result ring against SSE readers, and `subscribers`.
    let events = NSLock()
    /// Event streams waiting for the next operation (each woken once, then dropped).
    private var subscribers: [HTTPWaker] = []
    /// Every operation applied, as the JSON that would replay it.
    private(set) var log = OpLog()
    /// Results of the newest `eventHistory` operations, encoded for SSE only
    /// when a subscriber reads them: a ring where the result of operation `n`
    /// (0-based index in `log`) is at `n % eventHistory`, so each new result
    /// frees exactly one old one (no bulk trimming pauses).
    private var results: [OpResult] = []
    /// Operations recorded so far (= `log.count`).
    private var eventCount = 0
    /// How many results SSE can replay to a late subscriber.
    static let eventHistory = 10_000
    /// Index in `log` of the oldest result kept.
    private var resultsBase: Int { max(0, eventCount - Self.eventHistory) }
    /// Set when the session is deleted or expired: subscribers stop.
    private(set) var closed = false
    /// Monotonic seconds of the last request (idle expiry); guarded by the store's lock.
    var lastUsed: Double
    /// The client address that created it (`max_sessions_per_client`).
    let owner: String
    /// Its memory budget (changed under `lock`).
    var budget: SessionBudget
    /// Where its accepted operations are persisted (nil: not persisted).
    var journal: SessionJournal?
    /// Replays performed and not yet recorded, as they are to be logged (a
    /// stopped one with `max_events`), in order; ``record(ops:results:batch:)``
    /// logs these in place of the replay ops it is given. Under `lock`.
    var replayed: [Op] = []
    /// Set by `perform` when the replay it ran was stopped by a limit part-way.
    var lastReplayStop: (events: Int, line: Int, limit: String)?

    init(id: String, name: String?, model: KernelModel, options: ModelOptions, limits: Limits, now: Double,
         owner: String = "-", global: GlobalBudget = GlobalBudget(maxPages: 0), createdAt: String? = nil) {
        self.id = id
        self.owner = owner
        self.budget = SessionBudget(limits: limits, global: global)
        self.name = name
        self.limits = limits
        self.sim = Simulation(model: model, options: options)
        self.createdAt = createdAt ?? Self.utcTimestamp()
        self.lastUsed = now
    }

    /// The current time as ISO 8601 UTC ("2026-11-26T15:36:08Z"), via gmtime_r.
    static func utcTimestamp() -> String {
        var t = time(nil)
        var tm = tm()
        gmtime_r(&t, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday))T\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec))Z"
    }

    /// Runs `body` with the session locked; then, with the lock released
    /// and before the caller answers, writes the journal records `body`
    /// queued (SessionJournal.flush: the next operation of the session need
    /// not wait for this one's write), unless the event loop writes them
    /// once per round (JournalRound).
    func locked<T>(_ body: () throws(APIError) -> T) throws(APIError) -> T {
        lock.lock()
        let outcome = Result<T, APIError> { () throws(APIError) in try body() }
        let j = journal
        lock.unlock()
        if let j, j.round == nil, j.hasPending { j.flush() }
        return try outcome.get()
    }

    /// Refuses `count` more operations when the log would pass the
    /// configured `max_session_ops` (422 `limit_exceeded`, nothing applied).
    /// Called with the session lock held.
    func checkLogRoom(for count: Int) throws(APIError) {
        let limit = limits.maxSessionOps
        guard limit == 0 || log.count + count <= limit else {
            throw APIError(.limitExceeded, "session log holds \(log.count) of \(limit) operations (max_session_ops); "
                           + "\(count) more would pass it: start a new session")
        }
    }

    /// Records an applied operation and wakes SSE subscribers.
    /// Called with the session lock held; `log` and `results` change under
    /// `events` too, so SSE subscribers (which hold only `events`) never race.
    func record(op: Op, result: OpResult) {
        var op = op
        if case .replay = op, !replayed.isEmpty { op = replayed.removeFirst() }
        journal?.enqueue(.ops([op]))
        events.lock()
        log.append(op)
        keep(result)
        if !subscribers.isEmpty { wakeSubscribers() }
        events.unlock()
    }

    /// Records applied operations in order (`results` parallel to `ops`),
    /// taking `events` once for all of them; the same log and history as
    /// recording them one by one.
    /// `batch` is the journal record of the request they came from (its body
    /// as sent, SessionJournal.batchRecord), cheaper than each op's JSON.
    /// Journal records are queued here and written by ``locked(_:)``.
    func record(ops: [Op], results newResults: [OpResult], batch: SessionJournal.Record? = nil) {
        precondition(ops.count == newResults.count, "one result per operation")
        if ops.isEmpty { return }
        var ops = ops, batch = batch
        if !replayed.isEmpty {
            var stoppedOne = false
            for k in ops.indices {
                guard case .replay = ops[k], !replayed.isEmpty else { continue }
                let logged = replayed.removeFirst()
                if case let .replay(r) = logged, r.maxEvents != nil { stoppedOne = true }
                ops[k] = logged
            }
            if stoppedOne { batch = nil }  // the body as sent would replay the whole trace
        }
        replayed.removeAll()
        journal?.enqueue(batch ?? .ops(ops))
        events.lock()
        log.append(contentsOf: ops)
        for result in newResults { keep(result) }
        if !subscribers.isEmpty { wakeSubscribers() }
        events.unlock()
    }

    /// Stores the result of operation `eventCount` in its ring slot.
    private func keep(_ result: OpResult) {
        if results.count < Self.eventHistory {
            results.append(result)
        } else {
            results[eventCount % Self.eventHistory] = result
        }
        eventCount += 1
    }

    /// Encoded events (`{"seq", "op", "result"}`) from index `from` (older
    /// ones than the kept history are skipped), at most `max` of them, without
    /// waiting: when there are none, `waker` is armed and woken by the next
    /// recorded operation or by ``close()``. Nil when the session is closed.
    func takeEvents(from: Int, max: Int, waker: HTTPWaker) -> (next: Int, payloads: [[UInt8]])? {
        events.lock()
        if closed { events.unlock(); return nil }
        let start = Swift.max(from, resultsBase)
        let end = eventCount - start <= max ? eventCount : start + max
        let picked = start < end ? (start..<end).map { ($0, log[$0], results[$0 % Self.eventHistory]) } : []
        if picked.isEmpty { subscribers.append(waker) }
        events.unlock()
        let payloads = picked.map { (n, op, result) in
            var out = JSONBuffer(capacity: 256)
            out.raw(#"{"seq":"#)
            out.int(Int64(n + 1))
            out.raw(#","op":"#)
            JSONWriter.write(op.json, into: &out)
            out.raw(#","result":"#)
            result.write(into: &out)
            out.append(UInt8(ascii: "}"))
            return out.bytes()
        }
        return (start + picked.count, payloads)
    }

    /// Disarms `waker` (its stream ended).
    func unsubscribe(_ waker: HTTPWaker) {
        events.withLock { subscribers.removeAll { $0 === waker } }
    }

    /// Wakes every armed subscriber (with `events` held).
    private func wakeSubscribers() {
        for waker in subscribers { waker.wake() }
        subscribers.removeAll(keepingCapacity: true)
    }

    /// Deletes its journal (the session was deleted or expired).
    func forget() {
        let j = lock.withLock { () -> SessionJournal? in
            defer { journal = nil }
            return journal
        }
        j?.remove()
        removeSpools()
    }

    /// Ends the event streams: subscribers wake and find the session closed;
    /// its pages leave the server's total.
    func close() {
        lock.withLock { budget.release() }
        events.lock()
        closed = true
        wakeSubscribers()
        events.unlock()
    }

    /// The session summary (docs/API.md "Sessions").
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
