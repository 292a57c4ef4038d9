import CLinuxShims
#if canImport(Glibc)
import Glibc
#endif

/// The periodic timeout check: read and body timeouts (408), idle keep-alive,
/// the lingering deadline, a stalled peer (send timeout) and the once-a-second
/// poll of a waiting pulled body.
extension HTTPConnection {
    /// Periodic check: read timeout (408), idle keep-alive timeout, lingering deadline,
    /// and idle connections at shutdown.
    func checkTimeouts(now: Double) {
        guard !isBusy else { return }
        let limits = loop.server.configuration.limits
        if let deadline = lingerDeadline {
            if now >= deadline { loop.close(self) }
            return
        }
        let headTimedOut = bodyStarted == nil && requestStarted.map { now - $0 >= limits.readTimeout } == true
        let bodyTimedOut = bodyStarted.map { now - $0 >= limits.bodyTimeout } == true
        if headTimedOut || bodyTimedOut {
            requestStarted = nil
            bodyStarted = nil
            fail(.requestTimeout, code: "request_timeout", message: "request not received in time")
            if flush(now: now) { loop.updateInterest(self) }
            return
        }
        if source != nil && sourceWaiting && now - sourcePolled >= 1 {
            sourceWoken(now: now)  // lets the source send a keep-alive or notice its end
        }
        if isIdle && (now - lastActivity >= limits.idleTimeout || loop.server.isShuttingDown) {
            loop.close(self)
        } else if (outOffset < out.count || (source != nil && !sourceWaiting)) && now - lastSend >= limits.sendTimeout {
            loop.close(self)  // the peer stopped reading (answer bytes, or a body with more to give, wait)
        }
    }
}
