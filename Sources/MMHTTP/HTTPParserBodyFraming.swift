/// Body framing once the head is complete (RFC 9112 §6.3): Content-Length
/// or chunked, the body limit, collecting the body, and completing the request.
extension HTTPParser {
    /// Moves up to `remaining` buffered bytes into `body`; returns how many.
    mutating func consumeBody(upTo remaining: Int) -> Int {
        let take = min(remaining, buffer.count - start)
        body.append(contentsOf: buffer[start..<(start + take)])
        start += take
        bodyReceived += take
        return take
    }

    /// Decides the body framing once the head is complete (RFC 9112 §6.3).
    mutating func beginBody() throws(HTTPParserError) -> HTTPRequest? {
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
           let limit = decide(head.request()) {
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
        var request = head.request()
        request.bodyIsStreamed = true
        return request
    }

    /// The request is complete (nil for a streamed body: its end is
    /// reported by ``nextBodyBytes()``, and `step` stops here).
    mutating func complete() -> HTTPRequest? {
        let head = pending!
        pending = nil
        state = .requestLine
        sectionBytes = 0
        continuePending = false
        if streaming {
            streamEnded = true
            return nil
        }
        let request = head.request(body: body)
        body = []
        return request
    }
}
