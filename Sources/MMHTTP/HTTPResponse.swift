import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An HTTP status code with its standard reason phrase.
public struct HTTPStatus: Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// The three-digit status code.
    public var code: Int

    /// Wraps a status code.
    public init(code: Int) { self.code = code }
    /// Wraps a status code given as a literal, e.g. `let s: HTTPStatus = 418`.
    public init(integerLiteral value: Int) { self.code = value }

    /// `code reason`, e.g. `404 Not Found`.
    public var description: String { "\(code) \(reasonPhrase)" }

    /// Whether responses with this status never carry a body (1xx, 204, 304).
    public var forbidsBody: Bool { (100..<200).contains(code) || code == 204 || code == 304 }

    /// The RFC 9110 reason phrase, or a class-generic one for unknown codes.
    public var reasonPhrase: String {
        switch code {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 418: "I'm a teapot"
        case 422: "Unprocessable Content"
        case 428: "Precondition Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        case 100..<200: "Informational"
        case 200..<300: "Success"
        case 300..<400: "Redirection"
        case 400..<500: "Client Error"
        default: "Server Error"
        }
    }

    /// 200
    public static let ok: HTTPStatus = 200
    /// 201
    public static let created: HTTPStatus = 201
    /// 202
    public static let accepted: HTTPStatus = 202
    /// 204
    public static let noContent: HTTPStatus = 204
    /// 304
    public static let notModified: HTTPStatus = 304
    /// 400
    public static let badRequest: HTTPStatus = 400
    /// 403
    public static let forbidden: HTTPStatus = 403
    /// 404
    public static let notFound: HTTPStatus = 404
    /// 405
    public static let methodNotAllowed: HTTPStatus = 405
    /// 408
    public static let requestTimeout: HTTPStatus = 408
    /// 409
    public static let conflict: HTTPStatus = 409
    /// 413
    public static let contentTooLarge: HTTPStatus = 413
    /// 414
    public static let uriTooLong: HTTPStatus = 414
    /// 415
    public static let unsupportedMediaType: HTTPStatus = 415
    /// 422
    public static let unprocessableContent: HTTPStatus = 422
    /// 429
    public static let tooManyRequests: HTTPStatus = 429
    /// 431
    public static let requestHeaderFieldsTooLarge: HTTPStatus = 431
    /// 500
    public static let internalServerError: HTTPStatus = 500
    /// 501
    public static let notImplemented: HTTPStatus = 501
    /// 503
    public static let serviceUnavailable: HTTPStatus = 503
    /// 505
    public static let httpVersionNotSupported: HTTPStatus = 505
}

/// A response produced by an ``HTTPHandler``.
///
/// The server adds `Content-Length` (or `Transfer-Encoding: chunked` for streams)
/// and `Connection` itself; such fields set by the handler are ignored, except
/// `Connection: close`, which makes the server close after this response, and a
/// handler-provided `Content-Length` on a response to `HEAD`.
public struct HTTPResponse: Sendable {
    /// How the body is produced.
    public enum Body: Sendable {
        /// A complete body, sent with `Content-Length` in the same write as the head.
        case bytes([UInt8])
        /// A body written incrementally (e.g. Server-Sent Events). The closure runs on the
        /// connection's thread after the head is sent; the connection is held until it
        /// returns. HTTP/1.1 clients get chunked encoding, HTTP/1.0 clients a close-delimited body.
        case stream(@Sendable (HTTPStreamWriter) -> Void)
        /// A body the connection's event loop pulls as the peer reads
        /// (``HTTPBodySource``): chunked for HTTP/1.1, close-delimited for 1.0.
        case pull(any HTTPBodySource)
    }

    /// The status line's code.
    public var status: HTTPStatus
    /// Header fields to send, in order.
    public var headers: HTTPHeaders
    /// The body.
    public var body: Body
    /// What answered, as the handler names it (e.g. a route pattern); the
    /// access log gets it.
    public var label: String?

    /// Creates a response.
    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders(), body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Creates a response with a byte body and the given `Content-Type`.
    public init(status: HTTPStatus, contentType: String, body: [UInt8]) {
        self.init(status: status, headers: HTTPHeaders([("Content-Type", contentType)]), body: .bytes(body))
    }

    /// An `application/json` response from already-encoded JSON.
    public static func json(_ status: HTTPStatus, _ data: Data) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: [UInt8](data))
    }

    /// An `application/json` response from already-encoded JSON bytes.
    public static func json(_ status: HTTPStatus, _ bytes: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: bytes)
    }

    /// An `application/json` response from a JSON document held in a string.
    public static func json(_ status: HTTPStatus, _ json: String) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: Array(json.utf8))
    }

    /// A `text/plain; charset=utf-8` response.
    public static func text(_ status: HTTPStatus, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
    }

    /// The project's JSON error envelope: `{"error":{"code":"…","message":"…"}}`.
    public static func error(_ status: HTTPStatus, code: String, message: String) -> HTTPResponse {
        var json = #"{"error":{"code":"#
        json += jsonQuoted(code)
        json += #","message":"#
        json += jsonQuoted(message)
        json += "}}\n"
        return .json(status, json)
    }

    /// A `text/event-stream` response (no caching) whose events are written by `body`.
    public static func eventStream(headers: HTTPHeaders = HTTPHeaders(),
                                   _ body: @escaping @Sendable (HTTPStreamWriter) -> Void) -> HTTPResponse {
        var all = HTTPHeaders([("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
        for field in headers { all.replaceOrAdd(name: field.name, value: field.value) }
        return HTTPResponse(status: .ok, headers: all, body: .stream(body))
    }
}

/// Quotes `s` as a JSON string literal (with the surrounding quotes).
func jsonQuoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// Writes the body of a streaming response and reports whether the client is still there.
///
/// `@unchecked Sendable`: the mutable state (`failed`) is guarded by `lock`, and
/// socket writes are serialized by the same lock, so a closure may hand the writer
/// to another thread as long as it does not return before that thread is done.
public final class HTTPStreamWriter: @unchecked Sendable {
    private let fd: Int32
    private let chunked: Bool
    private let isShuttingDown: @Sendable () -> Bool
    private let lock = NSLock()
    private var failed = false

    init(fd: Int32, chunked: Bool, isShuttingDown: @escaping @Sendable () -> Bool) {
        self.fd = fd
        self.chunked = chunked
        self.isShuttingDown = isShuttingDown
    }

    /// Whether a write failed or the peer closed its side, i.e. the client is gone.
    var clientGone: Bool { lock.withLock { failed } }

    /// Sends `bytes` as one piece of the body. Returns `false` once the client is gone
    /// or the server is shutting down; the closure should then return.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        lock.lock(); defer { lock.unlock() }
        if failed || isShuttingDown() { return false }
        if bytes.isEmpty { return true }
        var frame: [UInt8] = []
        if chunked {
            frame.reserveCapacity(bytes.count + 12)
            frame.append(contentsOf: String(bytes.count, radix: 16).utf8)
            frame.append(contentsOf: [13, 10])
            frame.append(contentsOf: bytes)
            frame.append(contentsOf: [13, 10])
        } else {
            frame = bytes
        }
        if !socketSendAll(fd, frame) { failed = true }
        return !failed
    }

    /// Sends the UTF-8 bytes of `string` as one piece of the body; same result as the byte variant.
    @discardableResult
    public func write(_ string: String) -> Bool { write(Array(string.utf8)) }

    /// Sends one Server-Sent Event; multi-line `data` becomes several `data:` lines.
    @discardableResult
    public func writeEvent(_ data: String, event: String? = nil, id: String? = nil) -> Bool {
        var text = ""
        if let event { text += "event: \(event)\n" }
        if let id { text += "id: \(id)\n" }
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) { text += "data: \(line)\n" }
        return write(text + "\n")
    }

    /// Sends an SSE comment line (`: text`), typically as a keep-alive ping.
    @discardableResult
    public func writeComment(_ text: String) -> Bool { write(": \(text)\n\n") }

    /// Whether the client has gone away (or the server is shutting down). Cheap: one `poll(2)`.
    public var isClosed: Bool {
        if isShuttingDown() { return true }
        lock.lock(); defer { lock.unlock() }
        if failed { return true }
        if socketPeerClosed(fd, timeoutMs: 0) { failed = true }
        return failed
    }

    /// Sleeps up to `timeout` seconds, returning early with `true` as soon as the client
    /// disconnects or the server starts shutting down; `false` if the time simply passed.
    @discardableResult
    public func waitForClose(timeout: Double) -> Bool {
        let deadline = monotonicSeconds() + max(0, timeout)
        while true {
            if isClosed { return true }
            let left = deadline - monotonicSeconds()
            if left <= 0 { return false }
            // Short slices so a server shutdown is noticed promptly.
            if socketPeerClosed(fd, timeoutMs: Int32(min(left, 0.1) * 1000) + 1) {
                lock.withLock { failed = true }
                return true
            }
        }
    }
}
