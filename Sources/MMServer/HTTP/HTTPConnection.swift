import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One accepted TCP connection, served by a dedicated thread with blocking I/O.
///
/// `@unchecked Sendable`: `fd` is immutable; `isIdle` and `isKilled` are only read or
/// written while holding the owning server's lock. Everything else lives on the
/// connection thread's stack inside ``run()``.
final class HTTPConnection: @unchecked Sendable {
    let fd: Int32
    private let server: HTTPServer
    /// Guarded by the server lock: waiting for a new request with nothing buffered.
    var isIdle = false
    /// Guarded by the server lock: the server shut the socket down; stop serving.
    var isKilled = false

    init(fd: Int32, server: HTTPServer) {
        self.fd = fd
        self.server = server
    }

    /// The serve loop: read, decode, answer in order, until close, error, timeout or shutdown.
    /// The server closes the descriptor after this returns.
    func run() {
        let limits = server.configuration.limits
        var parser = HTTPParser(limits: limits.parserLimits)
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        let capacity = 64 * 1024
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        var idle = false
        var requestDeadline: Double?
        var currentTimeout = -1.0

        while true {
            // Answer every complete request already buffered (pipelining), in order.
            while true {
                let request: HTTPRequest?
                do {
                    request = try parser.nextRequest()
                } catch {
                    _ = flush(&out)
                    sendError(error.status, code: error.code, message: error.message)
                    return
                }
                guard let request else { break }
                if !respond(to: request, out: &out) {
                    if flush(&out) { lingeringClose() }
                    return
                }
                if out.count >= 64 * 1024 && !flush(&out) { return }
            }
            if parser.takeContinueRequest() {
                out.append(contentsOf: Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            }
            if !out.isEmpty && !flush(&out) { return }

            // Wait for more bytes: read timeout mid-request, idle timeout between requests.
            let partial = parser.hasPartialRequest
            let timeout: Double
            if partial {
                let now = monotonicSeconds()
                let deadline = requestDeadline ?? (now + limits.readTimeout)
                requestDeadline = deadline
                if deadline - now <= 0 {
                    sendError(.requestTimeout, code: "request_timeout", message: "request not received in time")
                    return
                }
                timeout = deadline - now
            } else {
                requestDeadline = nil
                if !idle {
                    guard server.connectionBecameIdle(self) else { return }
                    idle = true
                }
                timeout = limits.idleTimeout
            }
            if timeout != currentTimeout {
                setReceiveTimeout(fd, timeout)
                currentTimeout = timeout
            }
            let n = recv(fd, buffer.baseAddress, capacity, 0)
            if n > 0 {
                if idle {
                    idle = false
                    guard server.connectionBecameActive(self) else { return }
                }
                parser.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                continue
            }
            if n == 0 {
                // Peer closed (or half-closed) its side.
                do { try parser.finish() } catch { sendError(error.status, code: error.code, message: error.message) }
                return
            }
            let err = errno
            if err == EINTR { continue }
            if (err == EAGAIN || err == EWOULDBLOCK) && partial {
                sendError(.requestTimeout, code: "request_timeout", message: "request not received in time")
            }
            return
        }
    }

    /// Calls the handler and serializes (or streams) its response. Returns whether to keep the connection.
    private func respond(to request: HTTPRequest, out: inout [UInt8]) -> Bool {
        let started = monotonicMicros()
        let response = server.handler.handle(request)
        let isHead = request.method == .head
        var keepAlive = request.keepAlive
            && !response.headers.containsToken("close", in: "Connection")
            && !server.isShuttingDown
        switch response.body {
        case .bytes(let body):
            var length = body.count
            if isHead, let declared = response.headers["Content-Length"], let value = Int(declared) { length = value }
            appendHead(response, version: request.version, keepAlive: keepAlive, framing: .length(length), to: &out)
            if !isHead && !response.status.forbidsBody {
                if body.count <= 16 * 1024 {
                    out.append(contentsOf: body)
                } else if !flush(&out) || !socketSendAll(fd, body) {
                    keepAlive = false
                }
            }
        case .stream(let produce):
            let chunked = request.version != .http1_0
            if !chunked { keepAlive = false }
            appendHead(response, version: request.version, keepAlive: keepAlive,
                       framing: chunked ? .chunked : .closeDelimited, to: &out)
            if !flush(&out) {
                keepAlive = false
            } else if !isHead {
                let writer = HTTPStreamWriter(fd: fd, chunked: chunked, isShuttingDown: { [server] in server.isShuttingDown })
                produce(writer)
                if writer.clientGone || (chunked && !socketSendAll(fd, Array("0\r\n\r\n".utf8))) { keepAlive = false }
                if server.isShuttingDown { keepAlive = false }
            }
        }
        let elapsed = Int(monotonicMicros() &- started)
        server.accessLog?(request.method.rawValue, request.path, response.status.code, elapsed)
        return keepAlive
    }

    private enum Framing {
        case length(Int)
        case chunked
        case closeDelimited
    }

    /// Status line and header block; framing and `Connection` fields are the server's.
    private func appendHead(_ response: HTTPResponse, version: HTTPVersion, keepAlive: Bool,
                            framing: Framing, to out: inout [UInt8]) {
        let code = response.status.code
        out.append(contentsOf: [72, 84, 84, 80, 47, 49, 46, 49, 32])  // "HTTP/1.1 "
        appendDecimal(code, to: &out)
        out.append(32)
        appendUTF8(response.status.reasonPhrase, to: &out)
        out.append(contentsOf: [13, 10])
        for field in response.headers.fields where !isServerOwned(field.name) {
            appendUTF8(field.name, to: &out)
            out.append(contentsOf: [58, 32])
            appendUTF8(field.value, to: &out)
            out.append(contentsOf: [13, 10])
        }
        switch framing {
        case .length(let length):
            if !response.status.forbidsBody {
                appendUTF8("Content-Length: ", to: &out)
                appendDecimal(length, to: &out)
                out.append(contentsOf: [13, 10])
            }
        case .chunked:
            appendUTF8("Transfer-Encoding: chunked\r\n", to: &out)
        case .closeDelimited:
            break
        }
        if !keepAlive {
            appendUTF8("Connection: close\r\n", to: &out)
        } else if version == .http1_0 {
            appendUTF8("Connection: keep-alive\r\n", to: &out)
        }
        out.append(contentsOf: [13, 10])
    }

    private func isServerOwned(_ name: String) -> Bool {
        let n = name.utf8.count
        guard n == 10 || n == 14 || n == 17 else { return false }
        return asciiCaseInsensitiveEquals(name, "connection") || asciiCaseInsensitiveEquals(name, "content-length")
            || asciiCaseInsensitiveEquals(name, "transfer-encoding")
    }

    /// Sends everything in `out` and empties it; `false` if the peer is gone.
    private func flush(_ out: inout [UInt8]) -> Bool {
        if out.isEmpty { return true }
        let ok = socketSendAll(fd, out)
        out.removeAll(keepingCapacity: true)
        return ok
    }

    /// Answers with the JSON error envelope and `Connection: close`, then closes gracefully.
    private func sendError(_ status: HTTPStatus, code: String, message: String) {
        var out: [UInt8] = []
        let response = HTTPResponse.error(status, code: code, message: message)
        guard case .bytes(let body) = response.body else { return }
        appendHead(response, version: .http1_1, keepAlive: false, framing: .length(body.count), to: &out)
        out.append(contentsOf: body)
        server.accessLog?("-", "-", status.code, 0)
        if socketSendAll(fd, out) { lingeringClose() }
    }

    /// Half-closes and drains briefly so the peer reads our last response instead of a reset.
    private func lingeringClose() {
        _ = shutdown(fd, Int32(SHUT_WR))
        setReceiveTimeout(fd, 0.5)
        var scratch = [UInt8](repeating: 0, count: 16 * 1024)
        var drained = 0
        let deadline = monotonicSeconds() + 2
        while drained < 1 << 20 && monotonicSeconds() < deadline {
            let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            drained += n
        }
    }
}

// MARK: - Byte and socket helpers

@inline(__always)
func appendUTF8(_ string: String, to out: inout [UInt8]) {
    var string = string
    string.withUTF8 { out.append(contentsOf: $0) }
}

func appendDecimal(_ value: Int, to out: inout [UInt8]) {
    if value < 10 {
        out.append(UInt8(48 + max(0, value)))
        return
    }
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var v = value
    var count = 0
    withUnsafeMutableBytes(of: &digits) { raw in
        while v > 0 {
            raw[count] = UInt8(48 + v % 10)
            v /= 10
            count += 1
        }
        for i in stride(from: count - 1, through: 0, by: -1) { out.append(raw[i]) }
    }
}

/// `shutdown(2)`, callable from types that have their own `shutdown` method.
@discardableResult
func sysShutdown(_ fd: Int32, _ how: Int32) -> Int32 { shutdown(fd, how) }

/// `listen(2)`, callable from types that have their own `listen` method.
func sysListen(_ fd: Int32, _ backlog: Int32) -> Int32 { listen(fd, backlog) }

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Microseconds on the monotonic clock.
func monotonicMicros() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000 &+ UInt64(ts.tv_nsec) / 1000
}

/// Sets `SO_RCVTIMEO`; never zero, which would mean "no timeout".
func setReceiveTimeout(_ fd: Int32, _ seconds: Double) {
    let clamped = max(seconds, 0.001)
    var tv = timeval()
    tv.tv_sec = Int(clamped)
    tv.tv_usec = .init((clamped - Double(Int(clamped))) * 1_000_000)
    _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
}

/// Writes all of `bytes`, retrying on partial writes and `EINTR`; `false` on any other error.
func socketSendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            #if os(Linux)
            let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            #else
            let n = send(fd, raw.baseAddress! + offset, raw.count - offset, 0)
            #endif
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }
}

/// Waits up to `timeoutMs` for the peer to close or reset the connection; `true` if it did.
/// Data the peer sends in the meantime is left unread and does not count as closing.
func socketPeerClosed(_ fd: Int32, timeoutMs: Int32) -> Bool {
    #if os(Linux)
    let rdhup: Int16 = 0x2000  // POLLRDHUP
    var pfd = pollfd(fd: fd, events: rdhup, revents: 0)
    let r = poll(&pfd, 1, timeoutMs)
    if r < 0 { return errno != EINTR }
    return r > 0 && (pfd.revents & (rdhup | Int16(POLLHUP) | Int16(POLLERR) | Int16(POLLNVAL))) != 0
    #else
    var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    let r = poll(&pfd, 1, timeoutMs)
    if r < 0 { return errno != EINTR }
    if r == 0 { return false }
    if (pfd.revents & (Int16(POLLHUP) | Int16(POLLERR) | Int16(POLLNVAL))) != 0 { return true }
    var byte: UInt8 = 0
    let n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT)
    if n == 0 { return true }
    if n > 0, timeoutMs > 0 { usleep(useconds_t(timeoutMs) * 1000) }
    return false
    #endif
}
