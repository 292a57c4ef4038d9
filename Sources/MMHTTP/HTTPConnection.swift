import CLinuxShims
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One accepted TCP connection with a non-blocking socket, driven by its
/// ``HTTPEventLoop``: bytes in, requests decoded, answered in order, bytes out.
///
/// `@unchecked Sendable`: the connection is owned by its loop's thread, except
/// while ``isBusy``: then it is out of the loop's epoll set and exactly one
/// other thread (a worker answering a slow request, or a stream thread) owns
/// it until it hands it back with ``HTTPEventLoop/resume(_:with:keepAlive:)``.
final class HTTPConnection: @unchecked Sendable {
    let fd: Int32
    /// The client's address (numeric), for per-client limits and `HTTPRequest.clientAddress`.
    let peer: String
    unowned(unsafe) let loop: HTTPEventLoop
    var parser: HTTPParser
    /// Bytes to send, from `outOffset` on.
    var out: [UInt8] = []
    private var outOffset = 0
    /// Monotonic seconds of the last byte read or written.
    private(set) var lastActivity: Double
    /// When the first byte of the request still being received arrived
    /// (an empty line before its request line included).
    private var requestStarted: Double?
    /// When the head of the request still being received was complete (its body is being read).
    private var bodyStarted: Double?
    /// Monotonic seconds of the last byte sent (or when output became pending).
    private var lastSend: Double
    /// A request is being answered off the loop; the connection is not in epoll.
    private(set) var isBusy = false
    /// Close once `out` is sent (no more requests are read).
    var closeAfterFlush = false
    /// The peer closed its sending side.
    private var peerClosed = false
    /// Lingering close: our side is shut down, reading until the peer closes or this deadline.
    private(set) var lingerDeadline: Double?
    private var lingerDrained = 0
    /// The epoll events currently registered (nil: not registered).
    var interest: UInt32?
    /// Set by ``kill()``: close as soon as the loop owns the connection again.
    private(set) var isKilled = false
    /// The pulled body being sent (``HTTPResponse/Body/pull(_:)``); no further
    /// request is read until it ends.
    private var source: (any HTTPBodySource)?
    /// The source answered `.wait` and has not been woken since.
    private var sourceWaiting = false
    /// When the source was last asked (it is asked again about once a second).
    private var sourcePolled = 0.0
    private var sourceChunked = true
    private var sourceKeepAlive = true
    private var waker: HTTPWaker?

    /// Pull the source while fewer than this many bytes wait to be sent.
    static let pullLowWater = 64 * 1024
    /// The size of piece asked of a source.
    static let pullPiece = 64 * 1024

    /// Stop reading requests while this many response bytes wait to be sent.
    private static let outputHighWater = 1 << 20

    init(fd: Int32, peer: String, loop: HTTPEventLoop, now: Double) {
        self.fd = fd
        self.peer = peer
        self.loop = loop
        self.parser = HTTPParser(limits: loop.server.configuration.limits.parserLimits)
        if let streaming = loop.server.handler as? any HTTPStreamingHandler {
            parser.streamedBodyLimit = { streaming.streamedBodyLimit($0) }
        }
        self.lastActivity = now
        self.lastSend = now
    }

    /// Nothing received, nothing being answered, nothing to send: closable at
    /// shutdown and when the server needs room.
    var isIdle: Bool {
        !isBusy && source == nil && !parser.isReceivingRequest && outOffset == out.count && lingerDeadline == nil
    }

    /// Sending a pulled body (an event stream, say).
    var isPulling: Bool { source != nil }

    /// The epoll events this connection wants now.
    var wantedEvents: UInt32 {
        let pending = outOffset < out.count
        if lingerDeadline != nil { return EPOLLIN.rawValue }
        var events: UInt32 = pending ? EPOLLOUT.rawValue : 0
        // While a body is pulled, requests are not read (answers go in
        // order), but the peer closing is watched for; a source with more to
        // give asks for EPOLLOUT, so it is pulled again next round (one
        // piece per round: a fast reader of a long body does not starve the
        // loop's other connections).
        if source != nil {
            if !sourceWaiting { events |= EPOLLOUT.rawValue }
            return events | EPOLLRDHUP.rawValue
        }
        if !closeAfterFlush && !peerClosed && out.count - outOffset < Self.outputHighWater { events |= EPOLLIN.rawValue }
        return events
    }

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

    /// Set while the connection is in its loop's flush queue.
    var flushScheduled = false

    /// Sends what the last ``serve(now:)`` queued; called by the loop once it has
    /// answered every ready connection, so that one round's responses go out together
    /// instead of each send waking the clients while other requests wait.
    func flushQueued(now: Double) {
        guard flush(now: now) else { return }
        loop.updateInterest(self)
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

    // MARK: - Pulled bodies (on the loop)

    /// Asks the source for pieces while little is waiting to be sent. Returns
    /// `true` when the body ended (buffered requests may be served next).
    private func pump(now: Double) -> Bool {
        guard let source, !sourceWaiting else { return false }
        let waker = self.waker ?? HTTPWaker { [self, loop] in loop.post(.wake(self)) }
        self.waker = waker
        while out.count - outOffset < Self.pullLowWater {
            waker.consumed()
            switch source.next(budget: Self.pullPiece, waker: waker) {
            case .data(let bytes):
                guard !bytes.isEmpty else { continue }
                if sourceChunked {
                    appendUTF8(String(bytes.count, radix: 16), to: &out)
                    out.append(contentsOf: [13, 10])
                    out.append(contentsOf: bytes)
                    out.append(contentsOf: [13, 10])
                } else {
                    out.append(contentsOf: bytes)
                }
            case .wait:
                sourceWaiting = true
                sourcePolled = now
                return false
            case .end:
                if sourceChunked { out.append(contentsOf: [48, 13, 10, 13, 10]) }  // "0\r\n\r\n"
                self.source = nil
                self.waker = nil
                if !sourceKeepAlive { closeAfterFlush = true }
                loop.updateInterest(self)
                return true
            }
        }
        return false
    }

    /// The source has more (``HTTPWaker/wake()``), or it is time to ask again.
    func sourceWoken(now: Double) {
        guard source != nil, !isBusy else { return }
        sourceWaiting = false
        serve(now: now)
    }

    /// The connection is closing: the source lets go of what it holds.
    func cancelSource() {
        guard let source else { return }
        self.source = nil
        waker = nil
        source.cancel()
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
    private func fail(_ status: HTTPStatus, code: String, message: String) {
        out.append(contentsOf: HTTPResponseEncoder.errorResponse(status, code: code, message: message))
        closeAfterFlush = true
        loop.server.accessLog?("-", "-", status.code, 0, nil)
    }

    // MARK: - Streaming (a thread of its own, blocking I/O)

    /// Sends the queued bytes, the head and the streamed body with blocking writes, on
    /// a thread of its own; then hands the connection back to the loop.
    private func stream(_ request: HTTPRequest, _ response: HTTPResponse,
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

    // MARK: - Output and closing

    /// Sends what it can of `out` without blocking. Returns `false` if the connection was closed.
    private func flush(now: Double) -> Bool {
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

    /// Reads and discards what the peer still sends after our last
    /// response (an oversized body, say), so it reads that response instead
    /// of a reset. Ends when the peer closes, after 64 MiB, or at the
    /// deadline (`checkTimeouts`); at most 1 MiB per wake-up, so one
    /// draining peer cannot hold up the loop's other connections.
    private func drainLinger() {
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
            out.append(contentsOf: HTTPResponseEncoder.errorResponse(.requestTimeout, code: "request_timeout",
                                                                     message: "request not received in time"))
            closeAfterFlush = true
            loop.server.accessLog?("-", "-", HTTPStatus.requestTimeout.code, 0, nil)
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
