import Foundation
import MMHTTP

/// GET …/events as a body the event loop pulls (no thread per subscriber):
/// the session's kept history from `Last-Event-ID`, then each new operation,
/// as `op` events; `: keep-alive` after 15 s without one. What waits to be
/// sent is at most one piece (the loop pulls only when the socket drained),
/// a subscriber that stops reading is dropped by the server's send timeout,
/// and the stream ends when the session is deleted or expires.
final class SessionEventSource: HTTPBodySource, @unchecked Sendable {
    // Touched only by the connection's loop (next/cancel are called one at a time there).
    private let session: Session
    private var nextIndex: Int
    private var lastWrite = SessionStore.now()
    private var armed: HTTPWaker?
    static let keepAliveSeconds = 15.0
    /// Events encoded per piece at most.
    static let eventsPerPiece = 256

    init(session: Session, after seq: Int) {
        self.session = session
        self.nextIndex = max(0, seq)
    }

    func next(budget: Int, waker: HTTPWaker) -> HTTPBodyPiece {
        guard let (after, payloads) = session.takeEvents(from: nextIndex, max: Self.eventsPerPiece, waker: waker) else {
            return .end  // the session was deleted
        }
        let now = SessionStore.now()
        if payloads.isEmpty {
            armed = waker
            if now - lastWrite >= Self.keepAliveSeconds {
                lastWrite = now
                return .data(Array(": keep-alive\n\n".utf8))
            }
            return .wait
        }
        var out: [UInt8] = []
        out.reserveCapacity(payloads.reduce(0) { $0 + $1.count + 40 })
        for (k, payload) in payloads.enumerated() {
            let seq = after - payloads.count + k + 1
            out.append(contentsOf: "event: op\nid: \(seq)\ndata: ".utf8)
            out.append(contentsOf: payload)
            out.append(contentsOf: [10, 10])
        }
        nextIndex = after
        lastWrite = now
        return .data(out)
    }

    func cancel() {
        if let armed { session.unsubscribe(armed) }
    }
}

/// GET …/log as a pulled body: `{"ops": [...]}` encoded a few thousand
/// operations at a time, each piece under the session lock, so a log of
/// millions of operations neither builds one huge answer nor holds the loop
/// or the session for long. The answer is the log as it was when the request
/// arrived (operations recorded meanwhile are not included); with `limit`,
/// one page from `cursor` and `"next_cursor"` (docs/API.md).
final class SessionLogSource: HTTPBodySource, @unchecked Sendable {
    private let session: Session
    private var index: Int
    private let first: Int
    private let end: Int
    /// The cursor of the next page when paging, else nil.
    private let nextCursor: Int??
    private var started = false

    static let opsPerPiece = 2048

    /// Streams ops [from, to) of the log; `paged` adds `next_cursor`.
    init(session: Session, from: Int, to: Int, paged: Bool, logCount: Int) {
        self.session = session
        self.index = from
        self.first = from
        self.end = to
        self.nextCursor = paged ? .some(to < logCount ? to : nil) : .none
    }

    func next(budget: Int, waker: HTTPWaker) -> HTTPBodyPiece {
        if index > end { return .end }
        var out = JSONBuffer(capacity: min(budget, 1 << 20))
        if !started {
            out.raw(#"{"ops":["#)
            started = true
        }
        let stop = min(end, index + Self.opsPerPiece)
        // The log only grows, under `events`: a short hold per piece.
        session.events.withLock {
            for n in index..<stop {
                if n != first { out.append(UInt8(ascii: ",")) }
                JSONWriter.write(Session.logEntry(seq: n + 1, session.log[n]), into: &out)
            }
        }
        index = stop
        if index == end {
            out.raw("]")
            if case let .some(cursor) = nextCursor {
                out.raw(#","next_cursor":"#)
                if let cursor { out.int(Int64(cursor)) } else { out.raw("null") }
            }
            out.raw("}\n")
            index = end + 1
        }
        return .data(out.bytes())
    }

    func cancel() {}
}
