import Foundation

/// Answers requests. Called on an event-loop thread (or, for requests that
/// ``answersSlowly(_:)``, on a worker thread), possibly for many connections at
/// once, so implementations must be thread-safe.
public protocol HTTPHandler: Sendable {
    /// Produces the response for one request.
    func handle(_ request: HTTPRequest) -> HTTPResponse
    /// Whether answering `request` may take long (milliseconds or more). Such
    /// requests are answered on a worker thread so that the event loop keeps
    /// serving its other connections; the connection waits, so its pipelined
    /// requests are still answered in order. Default: bodies over 64 KiB.
    func answersSlowly(_ request: HTTPRequest) -> Bool
    /// Called on an event-loop thread once per round, before the answers
    /// produced since its last round are sent (a place to make durable what
    /// they acknowledge, once for all of them). Default: nothing.
    func willSendAnswers()
}

extension HTTPHandler {
    /// The default: requests with bodies over 64 KiB answer slowly.
    public func answersSlowly(_ request: HTTPRequest) -> Bool { request.body.count > 64 * 1024 }
    /// The default: nothing to do before answers are sent.
    public func willSendAnswers() {}
}

/// Adapts a closure to ``HTTPHandler``.
public struct HTTPClosureHandler: HTTPHandler {
    private let body: @Sendable (HTTPRequest) -> HTTPResponse

    /// Wraps `body`.
    public init(_ body: @escaping @Sendable (HTTPRequest) -> HTTPResponse) { self.body = body }

    /// Calls the closure.
    public func handle(_ request: HTTPRequest) -> HTTPResponse { body(request) }
}

/// Called once per answered request (including error responses, logged with method
/// and path `-`): method, path, status code, microseconds spent handling and serializing,
/// and the response's `label` (what answered, as the handler names it).
public typealias HTTPAccessLog = @Sendable (_ method: String, _ path: String, _ status: Int, _ microseconds: Int,
                                            _ label: String?) -> Void

/// Resource limits and timeouts of an ``HTTPServer``.
public struct HTTPServerLimits: Hashable, Sendable {
    /// Maximum request line + header bytes; over it the answer is 431 (414 for the request line).
    public var maxHeaderBytes: Int
    /// Maximum decoded body bytes; over it the answer is 413.
    public var maxBodyBytes: Int
    /// Seconds allowed to receive a request's head once its first byte (an
    /// empty line before the request line included) arrived; then 408 and close.
    public var readTimeout: Double
    /// Seconds allowed to receive a request's body once its head is complete; then 408 and close.
    public var bodyTimeout: Double
    /// Seconds a keep-alive connection may wait for its next request; then it is closed silently.
    public var idleTimeout: Double
    /// Seconds a response (or event stream) may wait for the peer to read
    /// anything; then the connection is closed.
    public var sendTimeout: Double
    /// Simultaneous connections. At the cap the oldest idle keep-alive
    /// connection is closed to make room; only if none is idle does a new
    /// connection get 503.
    public var maxConnections: Int
    /// Simultaneous connections from one client address (0: no limit); more get 429.
    public var maxConnectionsPerClient: Int
    /// Requests per second per client address, on average (0: no limit); over it 429 with `Retry-After`.
    public var requestsPerSecondPerClient: Double
    /// Requests one client address may send at once before ``requestsPerSecondPerClient`` applies.
    public var requestBurstPerClient: Int
    /// Seconds ``HTTPServer/shutdown(gracePeriod:)`` waits for in-flight requests by default.
    public var shutdownGracePeriod: Double

    /// Creates limits; every parameter has the documented default.
    public init(maxHeaderBytes: Int = 16 * 1024, maxBodyBytes: Int = 8 * 1024 * 1024,
                readTimeout: Double = 10, idleTimeout: Double = 30,
                maxConnections: Int = 512, shutdownGracePeriod: Double = 5,
                bodyTimeout: Double = 60, sendTimeout: Double = 30, maxConnectionsPerClient: Int = 256,
                requestsPerSecondPerClient: Double = 0, requestBurstPerClient: Int = 1000) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        self.readTimeout = readTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
        self.sendTimeout = sendTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerClient = maxConnectionsPerClient
        self.requestsPerSecondPerClient = requestsPerSecondPerClient
        self.requestBurstPerClient = requestBurstPerClient
        self.shutdownGracePeriod = shutdownGracePeriod
    }

    /// The decoder limits derived from these.
    public var parserLimits: HTTPParserLimits {
        HTTPParserLimits(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes)
    }
}

/// Where and how an ``HTTPServer`` listens.
public struct HTTPServerConfiguration: Hashable, Sendable {
    /// Address to bind: an IPv4/IPv6 literal or a resolvable name (`0.0.0.0`, `::`, `localhost`).
    public var host: String
    /// TCP port; 0 picks an ephemeral port, readable from ``HTTPServer/port`` after start.
    public var port: Int
    /// `listen(2)` backlog.
    public var backlog: Int32
    /// Limits and timeouts.
    public var limits: HTTPServerLimits
    /// Event-loop threads; connections are spread over them. 0 means one per active processor.
    public var eventLoops: Int

    /// Creates a configuration.
    public init(host: String = "127.0.0.1", port: Int = 8080, backlog: Int32 = 1024,
                limits: HTTPServerLimits = HTTPServerLimits(), eventLoops: Int = 0) {
        self.host = host
        self.port = port
        self.backlog = backlog
        self.limits = limits
        self.eventLoops = eventLoops
    }
}

/// Why the server could not start.
public enum HTTPServerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `start()` was called twice, or after shutdown.
    case alreadyStarted
    /// The host did not resolve.
    case cannotResolve(host: String, reason: String)
    /// `socket`, `bind` or `listen` failed with `errno`.
    case cannotListen(host: String, port: Int, errno: Int32)

    /// A readable explanation.
    public var description: String {
        switch self {
        case .alreadyStarted: "server already started"
        case .cannotResolve(let host, let reason): "cannot resolve \(host): \(reason)"
        case .cannotListen(let host, let port, let err): "cannot listen on \(host):\(port): \(String(cString: strerror(err)))"
        }
    }
}
