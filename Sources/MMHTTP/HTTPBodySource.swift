import Synchronization

/// One step of a pulled body (``HTTPBodySource/next(budget:waker:)``).
public enum HTTPBodyPiece: Sendable {
    /// The next bytes of the body (sent as one chunk).
    case data([UInt8])
    /// Nothing to send now: the source calls the waker's ``HTTPWaker/wake()``
    /// when it has more. The loop also asks again about once a second, so a
    /// source can send keep-alives.
    case wait
    /// The body is complete.
    case end
}

/// A response body that the connection's event loop pulls piece by piece as
/// the peer reads: no thread per response, at most about one piece buffered
/// beyond the socket's own buffer (so a peer that stops reading costs a
/// bounded amount of memory and is dropped after the send timeout), and no
/// long stall of the loop's other connections as long as each piece is cheap
/// to make. Used for Server-Sent Events and large answers.
///
/// The loop calls ``next(budget:waker:)`` and ``cancel()`` on its own thread,
/// one at a time; ``HTTPWaker/wake()`` may be called from any thread.
public protocol HTTPBodySource: AnyObject, Sendable {
    /// The next piece, of about `budget` bytes at most.
    func next(budget: Int, waker: HTTPWaker) -> HTTPBodyPiece
    /// The connection is closing before ``HTTPBodyPiece/end`` (the peer went
    /// away, the send timeout passed, the server is stopping): release what
    /// the source holds (subscriptions). Not called after `.end`.
    func cancel()
}

/// Wakes a connection whose ``HTTPBodySource`` answered ``HTTPBodyPiece/wait``.
/// Any number of wakes before the loop runs count as one.
public final class HTTPWaker: Sendable {
    private let pending = Atomic<Bool>(false)
    private let post: @Sendable () -> Void

    /// A waker that runs `post` on the first ``wake()`` after each pull.
    public init(_ post: @escaping @Sendable () -> Void) { self.post = post }

    /// Asks the loop to pull the source again. Cheap; callable from any thread.
    public func wake() {
        if !pending.exchange(true, ordering: .acquiringAndReleasing) { post() }
    }

    /// The loop is about to pull: later wakes post again.
    func consumed() { pending.store(false, ordering: .releasing) }
}
