/// Size limits enforced while decoding requests.
public struct HTTPParserLimits: Hashable, Sendable {
    /// Maximum bytes of request line plus header fields (and, separately, of chunked
    /// trailers), terminators included. Exceeding it yields ``HTTPParserError/headersTooLarge`` (431),
    /// or ``HTTPParserError/uriTooLong`` (414) while still in the request line.
    public var maxHeaderBytes: Int
    /// Maximum decoded body bytes. Exceeding it yields ``HTTPParserError/bodyTooLarge`` (413).
    public var maxBodyBytes: Int

    /// Creates limits; the defaults are 16 KiB of head and 8 MiB of body.
    public init(maxHeaderBytes: Int = 16 * 1024, maxBodyBytes: Int = 8 * 1024 * 1024) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }
}

/// Why a request could not be decoded. Each case knows the status to answer with;
/// after any of them the connection must be closed.
public enum HTTPParserError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Malformed request line (method, target or version syntax). 400.
    case invalidRequestLine
    /// A well-formed version other than HTTP/1.0 or HTTP/1.1. 505.
    case unsupportedVersion
    /// Malformed header field line (bad name, control bytes, obsolete line folding). 400.
    case invalidHeader
    /// A `Content-Length` that is not a plain decimal number. 400.
    case invalidContentLength
    /// Several `Content-Length` values that disagree. 400.
    case conflictingContentLength
    /// Both `Transfer-Encoding` and `Content-Length` were sent. 400.
    case contentLengthWithTransferEncoding
    /// A transfer coding other than `chunked`. 501.
    case unsupportedTransferEncoding
    /// A `Transfer-Encoding` that cannot frame the body (empty, `chunked` twice, or on HTTP/1.0). 400.
    case invalidTransferEncoding
    /// Malformed chunked body framing. 400.
    case invalidChunkedEncoding
    /// Request line plus headers (or trailers) exceed ``HTTPParserLimits/maxHeaderBytes``. 431.
    case headersTooLarge
    /// The request line alone exceeds ``HTTPParserLimits/maxHeaderBytes``. 414.
    case uriTooLong
    /// The body exceeds ``HTTPParserLimits/maxBodyBytes``. 413.
    case bodyTooLarge
    /// The peer closed the connection in the middle of a request. 400.
    case unexpectedEOF

    /// The status to answer with.
    public var status: HTTPStatus { info.status }
    /// The machine-readable `error.code` for the JSON error body.
    public var code: String { info.code }
    /// A human-readable explanation for the JSON error body.
    public var message: String { info.message }

    private var info: (status: HTTPStatus, code: String, message: String) {
        switch self {
        case .invalidRequestLine: (.badRequest, "bad_request", "malformed request line")
        case .unsupportedVersion: (.httpVersionNotSupported, "version_not_supported", "only HTTP/1.0 and HTTP/1.1 are supported")
        case .invalidHeader: (.badRequest, "bad_request", "malformed header field")
        case .invalidContentLength: (.badRequest, "bad_request", "invalid Content-Length")
        case .conflictingContentLength: (.badRequest, "bad_request", "conflicting Content-Length values")
        case .contentLengthWithTransferEncoding: (.badRequest, "bad_request", "both Transfer-Encoding and Content-Length present")
        case .unsupportedTransferEncoding: (.notImplemented, "not_implemented", "only the chunked transfer coding is supported")
        case .invalidTransferEncoding: (.badRequest, "bad_request", "invalid Transfer-Encoding")
        case .invalidChunkedEncoding: (.badRequest, "bad_request", "malformed chunked body")
        case .headersTooLarge: (.requestHeaderFieldsTooLarge, "too_large", "request header fields too large")
        case .uriTooLong: (.uriTooLong, "too_large", "request line too long")
        case .bodyTooLarge: (.contentTooLarge, "too_large", "request body too large")
        case .unexpectedEOF: (.badRequest, "bad_request", "connection closed in the middle of a request")
        }
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}

/// A step of a streamed body (``HTTPParser/nextBodyBytes()``).
public enum HTTPBodyBytes: Sendable, Equatable {
    /// Decoded body bytes.
    case data([UInt8])
    /// Feed more input.
    case needMore
    /// The body is complete.
    case end
}

/// An incremental HTTP/1.1 request decoder.
///
/// Feed it bytes as they arrive (any split, even one byte at a time) with `feed(_:)`
/// and pull complete requests with ``nextRequest()`` until it returns `nil`. Several
/// pipelined requests in one chunk come out one per call, in order. Errors are sticky:
/// after one is thrown every later call throws it again.
public struct HTTPParser: Sendable {
    /// The limits this parser enforces.
    public let limits: HTTPParserLimits

    private enum State: Sendable {
        case requestLine
        case headerLines
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case failed(HTTPParserError)
    }

    private struct Head: Sendable {
        var method: HTTPMethod
        var path: String
        var query: String?
        var version: HTTPVersion
        var headers: HTTPHeaders
    }

    private var buffer: [UInt8] = []
    /// Index of the first unconsumed byte in `buffer`.
    private var start = 0
    /// Bytes after `start` already searched for a line feed.
    private var scanned = 0
    private var state: State = .requestLine
    private var pending: Head?
    private var body: [UInt8] = []
    /// Bytes of head (or trailer section) consumed so far for the current request.
    private var sectionBytes = 0
    /// The current request sent `Expect: 100-continue` and its body has not been read yet.
    private var continuePending = false
    /// Bytes of empty lines consumed before the request line being awaited.
    private var preludeBytes = 0
    /// The body limit of the current request (``HTTPParserLimits/maxBodyBytes``,
    /// or what ``streamedBodyLimit`` gave) and its decoded bytes so far.
    private var bodyLimit = 0
    private var bodyReceived = 0
    /// The current request's body is handed out by ``nextBodyBytes()``
    /// instead of being collected; `streamEnded`: all of it was decoded.
    private var streaming = false
    private var streamEnded = false

    /// Asked once a request's head is complete and its framing valid: a
    /// byte limit to take its body as it arrives (``nextRequest()`` then
    /// returns the head with ``HTTPRequest/bodyIsStreamed`` and the body
    /// comes from ``nextBodyBytes()``), or nil to collect it whole as usual.
    public var streamedBodyLimit: (@Sendable (HTTPRequest) -> Int?)?

    /// Creates a decoder enforcing `limits`.
    public init(limits: HTTPParserLimits = HTTPParserLimits()) {
        self.limits = limits
    }

    /// Whether bytes of an unfinished request are buffered (used to pick between
    /// the read timeout and the idle timeout, and to detect a truncated request at EOF).
    public var hasPartialRequest: Bool {
        if case .requestLine = state { return start < buffer.count }
        return true
    }

    /// Whether bytes of the next request have arrived, counting the empty
    /// lines allowed before its request line: the header timeout runs from
    /// the first of them, so blank lines sent one byte at a time cannot hold
    /// a connection (they do not count as the peer being merely idle).
    public var isReceivingRequest: Bool { preludeBytes > 0 || hasPartialRequest }

    /// Whether the head of the request being received is complete and its body is not.
    public var isReceivingBody: Bool {
        switch state {
        case .body, .chunkSize, .chunkData, .chunkDataEnd, .trailers: true
        default: false
        }
    }

    /// Returns `true` once when the request being received asked for `Expect: 100-continue`
    /// and its head passed validation but its body is still missing; the server then sends
    /// `100 Continue`. Returns `false` afterwards and for every other request.
    public mutating func takeContinueRequest() -> Bool {
        defer { continuePending = false }
        return continuePending
    }

    /// Appends received bytes.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Appends received bytes.
    public mutating func feed(_ bytes: [UInt8]) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Signals end of input: throws ``HTTPParserError/unexpectedEOF`` if a request was cut short.
    public mutating func finish() throws(HTTPParserError) {
        if case .failed(let error) = state { throw error }
        if hasPartialRequest {
            state = .failed(.unexpectedEOF)
            throw .unexpectedEOF
        }
    }

    /// Returns the next complete request, or `nil` if more bytes are needed
    /// (always `nil` while a streamed body is being read).
    public mutating func nextRequest() throws(HTTPParserError) -> HTTPRequest? {
        if case .failed(let error) = state { throw error }
        if streaming { return nil }
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    /// The next decoded bytes of a streamed body (``streamedBodyLimit``):
    /// `.data` as they are decoded (at most what was fed), `.needMore` when
    /// more must be fed, `.end` once the body (and its trailers) is complete;
    /// after `.end` the parser reads the next request. Errors are sticky, as
    /// for ``nextRequest()``; over the limit it throws ``HTTPParserError/bodyTooLarge``.
    public mutating func nextBodyBytes() throws(HTTPParserError) -> HTTPBodyBytes {
        if case .failed(let error) = state { throw error }
        guard streaming else { return .end }
        if !streamEnded {
            do {
                _ = try step()
            } catch {
                state = .failed(error)
                throw error
            }
        }
        if !body.isEmpty {
            defer { body.removeAll(keepingCapacity: true) }
            return .data(body)
        }
        if streamEnded {
            streaming = false
            streamEnded = false
            return .end
        }
        return .needMore
    }

    private mutating func compact() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start >= 4096 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
    }

    /// Consumes one line; returns its content range (terminator excluded) and whether it ended in CRLF.
    private mutating func readLine() -> (lo: Int, hi: Int, crlf: Bool)? {
        let n = buffer.count
        let from = start + scanned
        let lf: Int? = buffer.withUnsafeBufferPointer { p in
            var i = from
            while i < n {
                if p[i] == 10 { return i }
                i += 1
            }
            return nil
        }
        guard let lf else {
            scanned = n - start
            return nil
        }
        let lo = start
        var hi = lf
        var crlf = false
        if hi > lo && buffer[hi - 1] == 13 {
            hi -= 1
            crlf = true
        }
        start = lf + 1
        scanned = 0
        return (lo, hi, crlf)
    }

    /// Reads one header or trailer line, charging it to the section's byte budget.
    private mutating func sectionLine() throws(HTTPParserError) -> (lo: Int, hi: Int, crlf: Bool)? {
        let lineStart = start
        guard let line = readLine() else {
            if sectionBytes + buffer.count - start > limits.maxHeaderBytes { throw .headersTooLarge }
            return nil
        }
        sectionBytes += start - lineStart
        if sectionBytes > limits.maxHeaderBytes { throw .headersTooLarge }
        return line
    }

    /// Moves up to `remaining` buffered bytes into `body`; returns how many.
    private mutating func consumeBody(upTo remaining: Int) -> Int {
        let take = min(remaining, buffer.count - start)
        body.append(contentsOf: buffer[start..<(start + take)])
        start += take
        bodyReceived += take
        return take
    }

    private mutating func step() throws(HTTPParserError) -> HTTPRequest? {
        while true {
            switch state {
            case .failed(let error):
                throw error
            case .requestLine:
                guard let line = readLine() else {
                    if buffer.count - start > limits.maxHeaderBytes { throw .uriTooLong }
                    return nil
                }
                if line.lo == line.hi {
                    // RFC 9112 §2.2: ignore empty lines before a request, but
                    // charge them to the request line's budget.
                    preludeBytes += start - line.lo
                    if preludeBytes > limits.maxHeaderBytes { throw .invalidRequestLine }
                    continue
                }
                preludeBytes = 0
                sectionBytes = start - line.lo
                if sectionBytes > limits.maxHeaderBytes { throw .uriTooLong }
                let result = buffer.withUnsafeBufferPointer { Self.parseRequestLine($0, line.lo, line.hi) }
                pending = try result.get()
                state = .headerLines
            case .headerLines:
                guard let line = try sectionLine() else { return nil }
                if line.lo == line.hi {
                    if let request = try beginBody() { return request }
                    continue
                }
                let field = buffer.withUnsafeBufferPointer { HTTPSyntax.parseHeaderLine($0, line.lo, line.hi) }
                guard let field else { throw .invalidHeader }
                pending?.headers.add(name: field.name, value: field.value)
            case .body(let remaining):
                let take = consumeBody(upTo: remaining)
                if take == 0 { return nil }
                if take == remaining { return complete() }
                state = .body(remaining: remaining - take)
            case .chunkSize:
                guard let line = readLine() else {
                    if buffer.count - start > 4096 { throw .invalidChunkedEncoding }
                    return nil
                }
                guard line.crlf else { throw .invalidChunkedEncoding }
                let size = try buffer.withUnsafeBufferPointer { HTTPSyntax.parseChunkSize($0, line.lo, line.hi) }.get()
                if size == 0 {
                    sectionBytes = 0
                    state = .trailers
                } else {
                    if size > bodyLimit - bodyReceived { throw .bodyTooLarge }
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let take = consumeBody(upTo: remaining)
                if take == 0 { return nil }
                state = take == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - take)
            case .chunkDataEnd:
                let available = buffer.count - start
                if available >= 1 && buffer[start] != 13 { throw .invalidChunkedEncoding }
                if available < 2 { return nil }
                if buffer[start + 1] != 10 { throw .invalidChunkedEncoding }
                start += 2
                state = .chunkSize
            case .trailers:
                guard let line = try sectionLine() else { return nil }
                if line.lo == line.hi { return complete() }
                // Trailer fields are validated but not merged into the request's headers.
                let valid = buffer.withUnsafeBufferPointer { HTTPSyntax.parseHeaderLine($0, line.lo, line.hi) } != nil
                if !valid { throw .invalidHeader }
            }
        }
    }

    /// Decides the body framing once the head is complete (RFC 9112 §6.3).
    private mutating func beginBody() throws(HTTPParserError) -> HTTPRequest? {
        guard let head = pending else { throw .invalidRequestLine }
        var contentLength: Int?
        var sawTransferEncoding = false
        var chunkedCount = 0
        var unknownCoding = false
        for field in head.headers.fields {
            if asciiCaseInsensitiveEquals(field.name, "content-length") {
                for element in field.value.split(separator: ",", omittingEmptySubsequences: false) {
                    let value = try HTTPSyntax.parseContentLength(trimOWS(element))
                    if let existing = contentLength, existing != value { throw .conflictingContentLength }
                    contentLength = value
                }
            } else if asciiCaseInsensitiveEquals(field.name, "transfer-encoding") {
                sawTransferEncoding = true
                for element in field.value.split(separator: ",") {
                    let coding = trimOWS(element)
                    if coding.isEmpty { continue }
                    if asciiCaseInsensitiveEquals(coding, "chunked") { chunkedCount += 1 } else { unknownCoding = true }
                }
            }
        }
        if sawTransferEncoding {
            if contentLength != nil { throw .contentLengthWithTransferEncoding }
            if head.version == .http1_0 { throw .invalidTransferEncoding }
            if unknownCoding { throw .unsupportedTransferEncoding }
            if chunkedCount != 1 { throw .invalidTransferEncoding }
        }
        let length = contentLength ?? 0
        bodyReceived = 0
        bodyLimit = limits.maxBodyBytes
        // A route that takes its body as it arrives decides from the head
        // (only for a body that is there: an empty one is collected as usual).
        if sawTransferEncoding || length > 0, let decide = streamedBodyLimit,
           let limit = decide(HTTPRequest(method: head.method, path: head.path, query: head.query,
                                          version: head.version, headers: head.headers)) {
            bodyLimit = limit
            streaming = true
            streamEnded = false
        }
        if sawTransferEncoding {
            state = .chunkSize
        } else {
            if length > bodyLimit { streaming = false; throw .bodyTooLarge }
            if length == 0 { return complete() }
            if !streaming { body.reserveCapacity(min(length, 1 << 20)) }
            state = .body(remaining: length)
        }
        continuePending = head.version != .http1_0 && head.headers.containsToken("100-continue", in: "Expect")
        guard streaming else { return nil }
        // The head goes out now; the body follows through nextBodyBytes().
        var request = HTTPRequest(method: head.method, path: head.path, query: head.query,
                                  version: head.version, headers: head.headers)
        request.bodyIsStreamed = true
        return request
    }

    /// The request is complete (nil for a streamed body: its end is
    /// reported by ``nextBodyBytes()``, and `step` stops here).
    private mutating func complete() -> HTTPRequest? {
        let head = pending!
        pending = nil
        if streaming {
            streamEnded = true
            state = .requestLine
            sectionBytes = 0
            continuePending = false
            return nil
        }
        let request = HTTPRequest(method: head.method, path: head.path, query: head.query,
                                  version: head.version, headers: head.headers, body: body)
        body = []
        state = .requestLine
        sectionBytes = 0
        continuePending = false
        return request
    }

    // MARK: - Syntax

    /// `method SP request-target SP HTTP/x.y`, single spaces only.
    private static func parseRequestLine(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int) -> Result<Head, HTTPParserError> {
        var i = lo
        while i < hi && HTTPSyntax.isTokenChar(p[i]) { i += 1 }
        guard i > lo, i < hi, p[i] == UInt8(ascii: " ") else { return .failure(.invalidRequestLine) }
        let methodEnd = i
        i += 1
        let targetStart = i
        var queryMark: Int?
        while i < hi && p[i] > 0x20 && p[i] < 0x7F && p[i] != UInt8(ascii: "#") {
            if queryMark == nil && p[i] == UInt8(ascii: "?") { queryMark = i }
            i += 1
        }
        guard i > targetStart, i < hi, p[i] == UInt8(ascii: " ") else { return .failure(.invalidRequestLine) }
        let targetEnd = i
        i += 1
        // HTTP-version = "HTTP/" DIGIT "." DIGIT
        guard hi - i == 8, p[i] == 72, p[i + 1] == 84, p[i + 2] == 84, p[i + 3] == 80, p[i + 4] == 47,
              p[i + 6] == 46, let major = HTTPSyntax.digit(p[i + 5]), let minor = HTTPSyntax.digit(p[i + 7]) else {
            return .failure(.invalidRequestLine)
        }
        guard major == 1, minor <= 1 else { return .failure(.unsupportedVersion) }

        let method = HTTPMethod(rawValue: HTTPSyntax.string(p, lo, methodEnd))
        let pathEnd = queryMark ?? targetEnd
        let path: String
        if p[targetStart] == UInt8(ascii: "/") {
            path = HTTPSyntax.string(p, targetStart, pathEnd)
        } else if targetEnd - targetStart == 1 && p[targetStart] == UInt8(ascii: "*") {
            guard method == .options else { return .failure(.invalidRequestLine) }
            path = "*"
        } else {
            // absolute-form: ("http" / "https") "://" authority [path-abempty]
            var k = targetStart
            while k < pathEnd && p[k] != UInt8(ascii: ":") { k += 1 }
            let scheme = HTTPSyntax.string(p, targetStart, k).lowercased()
            guard scheme == "http" || scheme == "https", k + 3 <= pathEnd,
                  p[k + 1] == UInt8(ascii: "/"), p[k + 2] == UInt8(ascii: "/") else {
                return .failure(.invalidRequestLine)
            }
            k += 3
            while k < pathEnd && p[k] != UInt8(ascii: "/") { k += 1 }
            path = k < pathEnd ? HTTPSyntax.string(p, k, pathEnd) : "/"
        }
        let query = queryMark.map { HTTPSyntax.string(p, $0 + 1, targetEnd) }
        var headers = HTTPHeaders()
        headers.reserveCapacity(8)
        return .success(Head(method: method, path: path, query: query,
                             version: HTTPVersion(major: major, minor: minor), headers: headers))
    }
}
