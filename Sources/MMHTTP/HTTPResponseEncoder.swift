/// How a response body is delimited on the wire.
enum HTTPFraming {
    /// `Content-Length: n`.
    case length(Int)
    /// `Transfer-Encoding: chunked` (HTTP/1.1 streams).
    case chunked
    /// The body ends when the server closes the connection (HTTP/1.0 streams).
    case closeDelimited
}

/// Serializes responses: the status line and header block, whose framing and
/// `Connection` fields belong to the server, and the body.
enum HTTPResponseEncoder {
    /// Appends `response` (a `.bytes` body) answering `request`. `keepAlive` is what the
    /// connection intends; the result is what it may do (a handler's `Connection: close` wins).
    static func appendBytesResponse(_ response: HTTPResponse, body: [UInt8], to request: HTTPRequest,
                                    keepAlive: Bool, into out: inout [UInt8]) -> Bool {
        let isHead = request.method == .head
        var length = body.count
        if isHead, let declared = response.headers["Content-Length"], let value = Int(declared) { length = value }
        appendHead(response, version: request.version, keepAlive: keepAlive, framing: .length(length), to: &out)
        if !isHead && !response.status.forbidsBody { out.append(contentsOf: body) }
        return keepAlive
    }

    /// Whether the connection may stay open after `response` to `request`.
    static func keepsAlive(_ response: HTTPResponse, _ request: HTTPRequest, shuttingDown: Bool) -> Bool {
        request.keepAlive && !shuttingDown && !response.headers.containsToken("close", in: "Connection")
    }

    /// Status line and header block; framing and `Connection` fields are the server's.
    static func appendHead(_ response: HTTPResponse, version: HTTPVersion, keepAlive: Bool,
                           framing: HTTPFraming, to out: inout [UInt8]) {
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

    /// The JSON error envelope with `Connection: close`, as bytes.
    static func errorResponse(_ status: HTTPStatus, code: String, message: String) -> [UInt8] {
        var out: [UInt8] = []
        let response = HTTPResponse.error(status, code: code, message: message)
        guard case .bytes(let body) = response.body else { return out }
        appendHead(response, version: .http1_1, keepAlive: false, framing: .length(body.count), to: &out)
        out.append(contentsOf: body)
        return out
    }

    /// `100 Continue`, sent when a client waits for it before sending its body.
    static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private static func isServerOwned(_ name: String) -> Bool {
        let n = name.utf8.count
        guard n == 10 || n == 14 || n == 17 else { return false }
        return asciiCaseInsensitiveEquals(name, "connection") || asciiCaseInsensitiveEquals(name, "content-length")
            || asciiCaseInsensitiveEquals(name, "transfer-encoding")
    }
}
