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
