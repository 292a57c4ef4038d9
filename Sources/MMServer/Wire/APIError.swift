import MMHTTP
/// An HTTP-level error of the API (docs/API.md "Conventions"): the request could
/// not be understood or refers to nothing. Never used for a simulated
/// syscall that fails — that returns its errno with 200.
public struct APIError: Error, Equatable, Sendable {
    /// The error classes of docs/API.md and their HTTP status.
    public enum Code: String, Sendable, CaseIterable {
        case badRequest = "bad_request"
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
        case conflict
        case tooLarge = "too_large"
        case limitExceeded = "limit_exceeded"
        /// interleave: the schedule runs a thread that cannot run (blocked or finished).
        case scheduleRejected = "schedule_rejected"
        case tooManyRequests = "too_many_requests"
        case internalError = "internal"
        case unavailable

        public var status: Int {
            switch self {
            case .badRequest: 400
            case .notFound: 404
            case .methodNotAllowed: 405
            case .conflict: 409
            case .tooLarge: 413
            case .limitExceeded, .scheduleRejected: 422
            case .tooManyRequests: 429
            case .internalError: 500
            case .unavailable: 503
            }
        }
    }

    public let code: Code
    public let message: String
    /// Seconds to send as `Retry-After` (429 and 503 answers).
    public let retryAfter: Int?

    public init(_ code: Code, _ message: String, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public static func badRequest(_ m: String) -> APIError { APIError(.badRequest, m) }
    public static func notFound(_ m: String) -> APIError { APIError(.notFound, m) }

    /// The JSON body `{"error": {"code", "message", "request_id"}}`.
    public func body(requestID: String) -> JSONValue {
        .object([("error", .object([("code", .string(code.rawValue)), ("message", .string(message)),
                                     ("request_id", .string(requestID))]))])
    }
}
