/// An incremental HTTP/1.1 request decoder.
///
/// Feed it bytes as they arrive (any split, even one byte at a time) with `feed(_:)`
/// and pull complete requests with ``nextRequest()`` until it returns `nil`. Several
/// pipelined requests in one chunk come out one per call, in order. Errors are sticky:
/// after one is thrown every later call throws it again.
public struct HTTPParser: Sendable {
    /// The limits this parser enforces.
    public let limits: HTTPParserLimits

    enum State: Sendable {
        case requestLine
        case headerLines
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case failed(HTTPParserError)
    }

    struct Head: Sendable {
        var method: HTTPMethod
        var path: String
        var query: String?
        var version: HTTPVersion
        var headers: HTTPHeaders

        /// The request this head starts, with `body`.
        func request(body: [UInt8] = []) -> HTTPRequest {
            HTTPRequest(method: method, path: path, query: query, version: version, headers: headers, body: body)
        }
    }

    var buffer: [UInt8] = []
    /// Index of the first unconsumed byte in `buffer`.
    var start = 0
    /// Bytes after `start` already searched for a line feed.
    var scanned = 0
    var state: State = .requestLine
    var pending: Head?
    var body: [UInt8] = []
    /// Bytes of head (or trailer section) consumed so far for the current request.
    var sectionBytes = 0
    /// The current request sent `Expect: 100-continue` and its body has not been read yet.
    var continuePending = false
    /// Bytes of empty lines consumed before the request line being awaited.
    private var preludeBytes = 0
    /// The body limit of the current request (``HTTPParserLimits/maxBodyBytes``,
    /// or what ``streamedBodyLimit`` gave) and its decoded bytes so far.
    var bodyLimit = 0
    var bodyReceived = 0
    /// The current request's body is handed out by ``nextBodyBytes()``
    /// instead of being collected; `streamEnded`: all of it was decoded.
    var streaming = false
    var streamEnded = false

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

    private mutating func compact() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start >= 4096 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
    }

    mutating func step() throws(HTTPParserError) -> HTTPRequest? {
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
}
