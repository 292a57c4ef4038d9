/// Takes a request body as it arrives (``HTTPStreamingHandler``): the
/// connection's worker thread calls ``receive(_:)`` with each decoded piece,
/// in order, then ``finish()`` once the body is complete, or ``cancel()`` if
/// it never completes. One thread at a time; the sink may block (it runs on
/// the worker, not on an event loop), and while it works no more of the body
/// is read, so a slow sink slows the sender down instead of buffering.
public protocol HTTPBodySink: AnyObject {
    /// The next decoded bytes of the body. A non-nil answer stops the body
    /// here: it is sent and the connection closed (the rest is not read).
    func receive(_ bytes: UnsafeRawBufferPointer) -> HTTPResponse?
    /// The body is complete: the answer.
    func finish() -> HTTPResponse
    /// The body did not arrive whole (timeout, the peer went away, bad
    /// framing, over the limit, shutdown): undo or release what it holds.
    func cancel()
}

/// What a route that takes its body as it arrives gives for a request.
public enum HTTPBodyIntake {
    /// Take the body with this sink.
    case sink(any HTTPBodySink)
    /// Answer this at once without reading the body (the connection closes).
    case answer(HTTPResponse)
}

/// A handler some of whose routes take their body as it arrives, parsed by
/// a sink instead of collected whole: the connection asks
/// ``streamedBodyLimit(_:)`` on its event loop once a request's head is in
/// (cheap, from the head alone), and for a limit hands the connection to a
/// worker thread that calls ``openBodySink(_:)`` and feeds the sink while
/// it reads. The body never sits whole in memory; the server's header, body
/// and send timeouts still apply (docs/API.md "Limits").
public protocol HTTPStreamingHandler: HTTPHandler {
    /// The byte limit for streaming this request's body, or nil to collect it
    /// whole under ``HTTPServerLimits/maxBodyBytes`` as usual. `head` has no body.
    func streamedBodyLimit(_ head: HTTPRequest) -> Int?
    /// The sink for a request whose body streams, or an answer at once (a
    /// missing session, a bad query). Called on a worker thread.
    func openBodySink(_ head: HTTPRequest) -> HTTPBodyIntake
}
