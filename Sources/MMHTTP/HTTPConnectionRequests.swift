import CLinuxShims
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reading and answering requests: bytes from the socket into the parser,
/// complete requests answered in order (on the loop, on a worker, or handed
/// to a stream thread), refusals over the per-client rate and decode errors.
extension HTTPConnection {
    // MARK: - Events from the loop

    /// Handles readiness reported by epoll. `buffer` is the loop's scratch buffer.
    func handle(events: UInt32, buffer: UnsafeMutableRawBufferPointer, now: Double) {
        if lingerDeadline != nil {
            drainLinger()
            return
        }
        if source != nil && events & (EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
            loop.close(self)  // the subscriber went away
            return
        }
        if events & EPOLLOUT.rawValue != 0 {
            guard flush(now: now) else { return }
        }
        if events & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 && !peerClosed && !closeAfterFlush {
            for _ in 0..<4 {
                let n = recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
                if n > 0 {
                    lastActivity = now
                    parser.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                    if n < buffer.count { break }
                } else if n == 0 {
                    peerClosed = true
                    break
                } else {
                    let err = errno
                    if err == EINTR { continue }
                    if err == EAGAIN || err == EWOULDBLOCK { break }
                    loop.close(self)
                    return
                }
            }
        }
        serve(now: now)
    }

    /// Answers every complete buffered request that can be answered now, then sends.
    func serve(now: Double) {
        if isKilled {
            loop.close(self)
            return
        }
        // Answer what is buffered; a pulled body that ends lets the next requests through.
        repeat {
            guard answerBuffered() else { return }
        } while source != nil && !isBusy && pump(now: now)
        if !isBusy && !closeAfterFlush && source == nil {
            if parser.takeContinueRequest() { out.append(contentsOf: HTTPResponseEncoder.continueResponse) }
            if peerClosed {
                do { try parser.finish() } catch { fail(error.status, code: error.code, message: error.message) }
                closeAfterFlush = true
            } else if parser.isReceivingRequest {
                if requestStarted == nil { requestStarted = now }
                if parser.isReceivingBody && bodyStarted == nil { bodyStarted = now }
            } else {
                requestStarted = nil
                bodyStarted = nil
            }
        }
        loop.scheduleFlush(self)
    }

    /// Answers complete buffered requests in order until one goes to a
    /// worker, a pulled body begins, or much output waits. Returns `false` if
    /// the connection was handed to another thread.
    private func answerBuffered() -> Bool {
        let server = loop.server
        while !isBusy && source == nil && !closeAfterFlush && out.count - outOffset < Self.outputHighWater {
            let next: HTTPRequest?
            do {
                next = try parser.nextRequest()
            } catch {
                fail(error.status, code: error.code, message: error.message)
                break
            }
            guard var parsed = next else { break }
            requestStarted = nil
            bodyStarted = nil
            parsed.clientAddress = peer
            let request = parsed
            if let limiter = server.requestLimiter, let wait = limiter.take(peer) {
                refuse(request, retryAfter: wait)
                if request.bodyIsStreamed { closeAfterFlush = true }  // its body was not read
                continue
            }
            if request.bodyIsStreamed, let streaming = server.handler as? any HTTPStreamingHandler {
                // The body is read and fed to the route's sink on a worker (HTTPConnectionBodyStream.swift).
                handOff { [self] in receiveStreamedBody(request, streaming, started: monotonicMicros()) }
                return false
            }
            if server.handler.answersSlowly(request) {
                handOff { [self] in answer(request, started: monotonicMicros()) }
                return false
            }
            if !answer(request, started: monotonicMicros()) { return false }
        }
        return true
    }

    /// Calls the handler and appends its response. Runs on the loop, or on a worker
    /// while busy. Returns `false` if the connection was handed to a stream thread.
    @discardableResult
    private func answer(_ request: HTTPRequest, started: UInt64) -> Bool {
        let server = loop.server
        let response = server.handler.handle(request)
        let keepAlive = HTTPResponseEncoder.keepsAlive(response, request, shuttingDown: server.isShuttingDown)
        switch response.body {
        case .bytes(let body):
            let kept = HTTPResponseEncoder.appendBytesResponse(response, body: body, to: request,
                                                              keepAlive: keepAlive, into: &out)
            if !kept { closeAfterFlush = true }
            server.accessLog?(request.method.rawValue, request.path, response.status.code,
                              Int(monotonicMicros() &- started), response.label)
            return true
        case .pull(let body):
            let chunked = request.version != .http1_0
            let kept = keepAlive && chunked
            HTTPResponseEncoder.appendHead(response, version: request.version, keepAlive: kept,
                                           framing: chunked ? .chunked : .closeDelimited, to: &out)
            if request.method == .head || response.status.forbidsBody {
                body.cancel()
                if !kept { closeAfterFlush = true }
            } else {
                source = body
                sourceChunked = chunked
                sourceKeepAlive = kept
                sourceWaiting = false
            }
            server.accessLog?(request.method.rawValue, request.path, response.status.code,
                              Int(monotonicMicros() &- started), response.label)
            return true
        case .stream(let produce):
            if !isBusy { handOff(nil) }
            Thread.detachNewThread { [self] in
                stream(request, response, produce: produce, keepAlive: keepAlive, started: started)
            }
            return false
        }
    }

    /// Takes the connection off the loop (out of epoll) and, if `work` is given, runs it
    /// on a worker thread, then hands the connection back to the loop.
    private func handOff(_ work: (@Sendable () -> Bool)?) {
        isBusy = true
        loop.unregister(self)
        guard let work else { return }
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            if work() { loop.post(.resume(self)) }
        }
    }

    /// Back on the loop after a hand-off: re-register and continue with buffered requests.
    func resumed(now: Double) {
        isBusy = false
        lastActivity = now
        if isKilled {
            loop.close(self)
            return
        }
        loop.updateInterest(self)
        serve(now: now)
    }

    /// Answers 429 with `Retry-After` (whole seconds, at least 1) to a request
    /// over ``HTTPServerLimits/requestsPerSecondPerClient``; the connection stays open.
    private func refuse(_ request: HTTPRequest, retryAfter: Double) {
        var response = HTTPResponse.error(.tooManyRequests, code: "too_many_requests",
                                          message: "more than \(loop.server.configuration.limits.requestsPerSecondPerClient) "
                                            + "requests per second from \(peer) (requests_per_second_per_client)")
        response.headers.add(name: "Retry-After", value: String(max(1, Int(retryAfter.rounded(.up)))))
        guard case .bytes(let body) = response.body else { return }
        let keepAlive = HTTPResponseEncoder.keepsAlive(response, request, shuttingDown: loop.server.isShuttingDown)
        if !HTTPResponseEncoder.appendBytesResponse(response, body: body, to: request, keepAlive: keepAlive, into: &out) {
            closeAfterFlush = true
        }
        loop.server.accessLog?(request.method.rawValue, request.path, 429, 0, nil)
    }

    /// Queues the JSON error envelope for a request that cannot be decoded; then close.
    func fail(_ status: HTTPStatus, code: String, message: String) {
        out.append(contentsOf: HTTPResponseEncoder.errorResponse(status, code: code, message: message))
        closeAfterFlush = true
        loop.server.accessLog?("-", "-", status.code, 0, nil)
    }
}
