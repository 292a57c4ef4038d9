import CLinuxShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writing answers: the non-blocking flush of queued bytes (which starts the
/// lingering close once the last answer is out) and streamed responses
/// written with blocking I/O on a thread of their own.
extension HTTPConnection {
    /// Sends what the last ``serve(now:)`` queued; called by the loop once it has
    /// answered every ready connection, so that one round's responses go out together
    /// instead of each send waking the clients while other requests wait.
    func flushQueued(now: Double) {
        guard flush(now: now) else { return }
        loop.updateInterest(self)
    }

    // MARK: - Output and closing

    /// Sends what it can of `out` without blocking. Returns `false` if the connection was closed.
    func flush(now: Double) -> Bool {
        while outOffset < out.count {
            let n = out.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + outOffset, raw.count - outOffset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if n > 0 {
                outOffset += n
                lastActivity = now
                lastSend = now
                continue
            }
            let err = errno
            if n < 0 && err == EINTR { continue }
            if n < 0 && (err == EAGAIN || err == EWOULDBLOCK) { return true }
            loop.close(self)
            return false
        }
        if out.capacity > 4 * Self.outputHighWater { out = [] } else { out.removeAll(keepingCapacity: true) }
        outOffset = 0
        lastSend = now  // the send timeout counts from here when output is next pending
        if closeAfterFlush {
            if peerClosed {
                loop.close(self)
                return false
            }
            // Half-close and drain briefly so the peer reads our last response instead of a reset.
            _ = sysShutdown(fd, Int32(SHUT_WR))
            lingerDeadline = now + (loop.server.isShuttingDown ? Self.shutdownLinger : 2)
            loop.updateInterest(self)
            return false
        }
        return true
    }

    // MARK: - Streaming (a thread of its own, blocking I/O)

    /// Sends the queued bytes, the head and the streamed body with blocking writes, on
    /// a thread of its own; then hands the connection back to the loop.
    func stream(_ request: HTTPRequest, _ response: HTTPResponse,
                        produce: @Sendable (HTTPStreamWriter) -> Void, keepAlive: Bool, started: UInt64) {
        let server = loop.server
        setBlocking(fd, true)
        let chunked = request.version != .http1_0
        var keepAlive = keepAlive && chunked
        HTTPResponseEncoder.appendHead(response, version: request.version, keepAlive: keepAlive,
                                       framing: chunked ? .chunked : .closeDelimited, to: &out)
        if !socketSendAll(fd, Array(out[outOffset...])) {
            keepAlive = false
        } else if request.method != .head {
            let writer = HTTPStreamWriter(fd: fd, chunked: chunked, isShuttingDown: { [server] in server.isShuttingDown })
            produce(writer)
            if writer.clientGone || (chunked && !socketSendAll(fd, Array("0\r\n\r\n".utf8))) { keepAlive = false }
            if server.isShuttingDown { keepAlive = false }
        }
        out.removeAll(keepingCapacity: true)
        outOffset = 0
        if !keepAlive { closeAfterFlush = true }
        setBlocking(fd, false)
        server.accessLog?(request.method.rawValue, request.path, response.status.code, Int(monotonicMicros() &- started),
                          response.label)
        loop.post(.resume(self))
    }
}
