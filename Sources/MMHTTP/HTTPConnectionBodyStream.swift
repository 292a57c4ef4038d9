import CLinuxShims
#if canImport(Glibc)
import Glibc
#endif

/// Request bodies taken as they arrive (``HTTPStreamingHandler``): the
/// connection is busy (out of epoll) and a worker thread owns it, reads the
/// socket itself, decodes the body with the connection's parser and feeds
/// the route's sink piece by piece, so at most one read (64 KiB) of the body
/// is in memory at a time. Bytes after the body (a pipelined request) stay
/// in the parser for the loop.
extension HTTPConnection {
    /// The bytes read at a time.
    static let streamedReadSize = 64 * 1024

    /// Opens the sink, feeds it the body, and queues the answer; runs on a
    /// worker. Returns `true`: the connection goes back to its loop, which
    /// sends the answer (and closes if the body was not read whole).
    func receiveStreamedBody(_ request: HTTPRequest, _ handler: any HTTPStreamingHandler, started: UInt64) -> Bool {
        let server = loop.server
        var response: HTTPResponse
        var whole = false
        switch handler.openBodySink(request) {
        case .answer(let r):
            response = r
        case .sink(let sink):
            // 100 Continue only once a sink takes the body (RFC 9110 §10.1.1).
            if parser.takeContinueRequest() { _ = socketSendAll(fd, HTTPResponseEncoder.continueResponse) }
            (response, whole) = feedBody(to: sink, limits: server.configuration.limits)
        }
        if case .bytes = response.body {} else {
            response = .error(.internalServerError, code: "internal", message: "a streamed request's answer must be bytes")
        }
        guard case .bytes(let body) = response.body else { return true }
        let keepAlive = whole && HTTPResponseEncoder.keepsAlive(response, request, shuttingDown: server.isShuttingDown)
        if !HTTPResponseEncoder.appendBytesResponse(response, body: body, to: request, keepAlive: keepAlive, into: &out) || !whole {
            closeAfterFlush = true
        }
        server.accessLog?(request.method.rawValue, request.path, response.status.code,
                          Int(monotonicMicros() &- started), response.label)
        return true
    }

    /// Reads and decodes the body into `sink` until it ends; the answer and
    /// whether the body was read whole. The timeouts of a collected body
    /// apply to the time spent waiting for the peer (not to the sink's
    /// work): `read_timeout` of silence, `body_timeout` of waiting in all;
    /// then 408. The peer closing, bad framing or the limit end it with 400/413.
    private func feedBody(to sink: any HTTPBodySink, limits: HTTPServerLimits) -> (HTTPResponse, Bool) {
        var scratch = [UInt8](repeating: 0, count: Self.streamedReadSize)
        var waited = 0.0
        var silentSince = monotonicSeconds()
        func stop(_ response: HTTPResponse) -> (HTTPResponse, Bool) {
            sink.cancel()
            return (response, false)
        }
        while true {
            let piece: HTTPBodyBytes
            do { piece = try parser.nextBodyBytes() } catch {
                return stop(.error(error.status, code: error.code, message: error.message))
            }
            switch piece {
            case .data(let bytes):
                if let early = bytes.withUnsafeBytes({ sink.receive($0) }) { return (early, false) }
            case .end:
                return (sink.finish(), true)
            case .needMore:
                let now = monotonicSeconds()
                if now - silentSince >= limits.readTimeout || waited >= limits.bodyTimeout {
                    return stop(.error(.requestTimeout, code: "request_timeout", message: "request body not received in time"))
                }
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let wait = min(limits.readTimeout - (now - silentSince), limits.bodyTimeout - waited, 1)
                let r = poll(&pfd, 1, Int32(max(1, wait * 1000)))
                waited += monotonicSeconds() - now
                if r < 0 && errno != EINTR { return stop(.error(.badRequest, code: "bad_request", message: "connection failed")) }
                if r <= 0 { continue }
                let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if n > 0 {
                    silentSince = monotonicSeconds()
                    scratch.withUnsafeBytes { parser.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                } else if n == 0 {
                    return stop(.error(.badRequest, code: "bad_request", message: "connection closed in the middle of a request"))
                } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                    return stop(.error(.badRequest, code: "bad_request", message: "connection failed"))
                }
            }
        }
    }
}
