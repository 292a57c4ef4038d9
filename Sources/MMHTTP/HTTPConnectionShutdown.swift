import CLinuxShims
#if canImport(Glibc)
import Glibc
#endif

/// Shutdown and lingering close: draining what the peer still sends after
/// our last answer, closing or answering 503 when the server shuts down, and
/// the forced close at the end of the grace period.
extension HTTPConnection {
    /// Reads and discards what the peer still sends after our last
    /// response (an oversized body, say), so it reads that response instead
    /// of a reset. Ends when the peer closes, after 64 MiB, or at the
    /// deadline (`checkTimeouts`); at most 1 MiB per wake-up, so one
    /// draining peer cannot hold up the loop's other connections.
    func drainLinger() {
        let done: Bool = withUnsafeTemporaryAllocation(byteCount: 16 * 1024, alignment: 8) { scratch in
            var thisWake = 0
            while thisWake < 1 << 20 {
                let n = recv(fd, scratch.baseAddress, scratch.count, Int32(MSG_DONTWAIT))
                if n > 0 {
                    thisWake += n
                    continue
                }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
                return true   // the peer closed, or an error
            }
            lingerDrained += thisWake
            return lingerDrained > 64 << 20
        }
        if done { loop.close(self) }
    }

    // MARK: - Shutdown

    /// How long a connection lingers after its last response once shutdown has
    /// begun (instead of 2 s): long enough for a peer that has read the answer to
    /// close first, short enough for the process to exit within 200 ms.
    static let shutdownLinger = 0.05

    /// Shutdown began (the loop's `.drain`): an idle connection closes now; one
    /// lingering after its last response lingers briefly; one with a request half
    /// received is answered 503 and closed. A busy one (worker or stream thread)
    /// is left to finish: its response carries `Connection: close`.
    func beginShutdown(now: Double) {
        guard !isBusy else { return }
        if isIdle {
            loop.close(self)
        } else if let deadline = lingerDeadline {
            lingerDeadline = min(deadline, now + Self.shutdownLinger)
        } else if parser.hasPartialRequest && outOffset == out.count && !closeAfterFlush {
            out.append(contentsOf: HTTPResponseEncoder.errorResponse(.serviceUnavailable, code: "unavailable",
                                                                     message: "the server is shutting down"))
            closeAfterFlush = true
            loop.server.accessLog?("-", "-", HTTPStatus.serviceUnavailable.code, 0, "-")
            if flush(now: now) { loop.updateInterest(self) }
        }
    }

    /// Forced close at the end of a shutdown grace period. A busy connection's socket is
    /// shut down so its worker or stream thread fails fast; the loop closes it on return.
    func kill() {
        isKilled = true
        if isBusy {
            _ = sysShutdown(fd, Int32(SHUT_RDWR))
        } else {
            loop.close(self)
        }
    }
}
