import MMHTTP

/// One endpoint of the API, declared once in `RouteTable`: the router, the
/// 404/405 answers (with `Allow`), the metric label, the access log's
/// label and /openapi.json all read it. A class: a match hands out one
/// reference, not a copy of every field.
final class Route: Sendable {
    /// What answers a matched request. Throws APIError for a 4xx/5xx.
    typealias Handler = @Sendable (MMSimApp, RouteRequest) throws(APIError) -> HTTPResponse

    let method: HTTPMethod
    /// The path with `{sid}`, `{pid}`, `{name}` parameters, e.g. `/v1/sessions/{sid}/ops`;
    /// also the metric and access-log label.
    let pattern: String
    /// One line: what the endpoint does.
    let summary: String
    /// The JSON body it reads (nil: none).
    let request: Schema?
    /// Several bodies, one per value of a path parameter (`{name}`): the
    /// body is one of these.
    let alternatives: [Schema]
    /// Query parameters it reads (nil: none).
    let query: Schema?
    /// The success status.
    let status: HTTPStatus
    /// The success content type.
    let contentType: String
    /// The shape of a successful answer, in words (docs/API.md has the detail).
    let answer: String
    /// Whether the request is answered on a worker thread (it may take long);
    /// reads and single faults are answered on the event loop.
    let slow: Bool
    let handle: Handler
    /// A route that also takes a raw body as it arrives (Content-Type
    /// text/plain or application/octet-stream; ReplayUpload.swift): its byte
    /// limit and the sink that parses it. Other bodies go to `handle`.
    let streamedBody: StreamedBody?

    /// How a route takes a streamed body.
    struct StreamedBody: Sendable {
        let limit: @Sendable (ServerConfig) -> Int
        let open: @Sendable (MMSimApp, RouteRequest) throws(APIError) -> any HTTPBodySink
    }

    init(_ method: HTTPMethod, _ pattern: String, _ summary: String, request: Schema? = nil,
         alternatives: [Schema] = [], query: Schema? = nil,
         status: HTTPStatus = .ok, contentType: String = "application/json", answer: String, slow: Bool? = nil,
         streamedBody: StreamedBody? = nil, _ handle: @escaping Handler) {
        self.streamedBody = streamedBody
        self.method = method
        self.pattern = pattern
        self.summary = summary
        self.request = request
        self.alternatives = alternatives
        self.query = query
        self.status = status
        self.contentType = contentType
        self.answer = answer
        self.slow = slow ?? (method != .get && method != .head)
        self.handle = handle
    }

    /// The pattern's path parameters, in order.
    var parameters: [String] {
        pattern.split(separator: "/").compactMap { s in s.first == "{" ? String(s.dropFirst().dropLast()) : nil }
    }
}

/// A request matched to a route, with its path parameters. A class: the
/// handler gets one reference, not a copy of the request's fields.
final class RouteRequest {
    let http: HTTPRequest
    /// `{sid}`, if the pattern has it.
    let sid: String
    /// `{pid}`, if the pattern has it (checked: a positive integer).
    let pid: Int
    /// `{name}`, if the pattern has it.
    let name: String

    init(http: HTTPRequest, sid: String, pid: Int, name: String) {
        self.http = http
        self.sid = sid
        self.pid = pid
        self.name = name
    }
}
