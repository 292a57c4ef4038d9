import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Answers requests. Called synchronously on the connection's own thread, possibly
/// from many connections at once, so implementations must be thread-safe.
public protocol HTTPHandler: Sendable {
    /// Produces the response for one request.
    func handle(_ request: HTTPRequest) -> HTTPResponse
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
/// and path `-`): method, path, status code, and microseconds spent handling and serializing.
public typealias HTTPAccessLog = @Sendable (_ method: String, _ path: String, _ status: Int, _ microseconds: Int) -> Void

/// Resource limits and timeouts of an ``HTTPServer``.
public struct HTTPServerLimits: Hashable, Sendable {
    /// Maximum request line + header bytes; over it the answer is 431 (414 for the request line).
    public var maxHeaderBytes: Int
    /// Maximum decoded body bytes; over it the answer is 413.
    public var maxBodyBytes: Int
    /// Seconds allowed to receive a request once its first byte arrived; then 408 and close.
    public var readTimeout: Double
    /// Seconds a keep-alive connection may wait for its next request; then it is closed silently.
    public var idleTimeout: Double
    /// Simultaneous connections; connections beyond it get 503 and are closed.
    public var maxConnections: Int
    /// Seconds ``HTTPServer/shutdown(gracePeriod:)`` waits for in-flight requests by default.
    public var shutdownGracePeriod: Double

    /// Creates limits; every parameter has the documented default.
    public init(maxHeaderBytes: Int = 16 * 1024, maxBodyBytes: Int = 8 * 1024 * 1024,
                readTimeout: Double = 10, idleTimeout: Double = 30,
                maxConnections: Int = 512, shutdownGracePeriod: Double = 5) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        self.readTimeout = readTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
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

    /// Creates a configuration.
    public init(host: String = "127.0.0.1", port: Int = 8080, backlog: Int32 = 1024,
                limits: HTTPServerLimits = HTTPServerLimits()) {
        self.host = host
        self.port = port
        self.backlog = backlog
        self.limits = limits
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

/// A blocking-I/O HTTP/1.1 server: an accept thread plus one thread per connection.
///
/// `@unchecked Sendable`: all mutable state (`state`, `listenFD`, `connections`,
/// `acceptRunning`, `signalSources`, connection idle flags) is guarded by `lock`,
/// an `NSCondition` also used to wait for shutdown progress.
public final class HTTPServer: @unchecked Sendable {
    private enum State { case initial, running, shuttingDown, stopped }

    /// The configuration given at creation.
    public let configuration: HTTPServerConfiguration
    let handler: any HTTPHandler
    let accessLog: HTTPAccessLog?

    private let lock = NSCondition()
    private var state = State.initial
    private var listenFD: Int32 = -1
    private var boundPort = 0
    private var acceptRunning = false
    private var connections: [Int32: HTTPConnection] = [:]
    private var signalSources: [any DispatchSourceSignal] = []
    private let rejectQueue = DispatchQueue(label: "mmsim.http.reject")

    /// Creates a server; nothing is bound until ``start()``.
    public init(configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
                handler: any HTTPHandler, accessLog: HTTPAccessLog? = nil) {
        self.configuration = configuration
        self.handler = handler
        self.accessLog = accessLog
    }

    /// Creates a server answering with a closure.
    public convenience init(configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
                            accessLog: HTTPAccessLog? = nil,
                            handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        self.init(configuration: configuration, handler: HTTPClosureHandler(handler), accessLog: accessLog)
    }

    /// The bound TCP port (the ephemeral one when configured with port 0); 0 before ``start()``.
    public var port: Int { lock.withLock { boundPort } }

    /// Number of currently open connections.
    public var connectionCount: Int { lock.withLock { connections.count } }

    /// Whether ``shutdown(gracePeriod:)`` has begun.
    public var isShuttingDown: Bool {
        lock.lock(); defer { lock.unlock() }
        return state == .shuttingDown || state == .stopped
    }

    /// Binds, listens and starts accepting on a background thread. Ignores `SIGPIPE`.
    public func start() throws(HTTPServerError) {
        lock.lock()
        defer { lock.unlock() }
        guard state == .initial else { throw .alreadyStarted }
        signal(SIGPIPE, SIG_IGN)
        let (fd, port) = try Self.listen(configuration)
        listenFD = fd
        boundPort = port
        state = .running
        acceptRunning = true
        let thread = Thread { [self] in acceptLoop(fd) }
        thread.name = "http-accept"
        thread.start()
    }

    /// Starts, then blocks the calling thread until the server has shut down.
    public func run() throws(HTTPServerError) {
        try start()
        waitUntilStopped()
    }

    /// Blocks until a shutdown has completed.
    public func waitUntilStopped() {
        lock.lock()
        while state != .stopped { lock.wait() }
        lock.unlock()
    }

    /// Graceful shutdown: stop accepting, close idle keep-alive connections at once, let
    /// in-flight requests finish (their responses carry `Connection: close`) for up to
    /// `gracePeriod` seconds (default ``HTTPServerLimits/shutdownGracePeriod``), then force-close
    /// what is left. Blocks until done; safe to call more than once and from any thread.
    public func shutdown(gracePeriod: Double? = nil) {
        lock.lock()
        defer { lock.unlock() }
        switch state {
        case .initial:
            state = .stopped
            lock.broadcast()
            return
        case .shuttingDown:
            while state != .stopped { lock.wait() }
            return
        case .stopped:
            return
        case .running:
            state = .shuttingDown
        }
        for connection in connections.values where connection.isIdle { kill(connection) }
        _ = sysShutdown(listenFD, Int32(SHUT_RDWR))  // wakes accept(2)
        while acceptRunning { lock.wait() }
        close(listenFD)
        listenFD = -1

        let grace = max(0, gracePeriod ?? configuration.limits.shutdownGracePeriod)
        let deadline = Date(timeIntervalSinceNow: grace)
        while !connections.isEmpty && lock.wait(until: deadline) {}
        if !connections.isEmpty {
            for connection in connections.values { kill(connection) }
            let hardDeadline = Date(timeIntervalSinceNow: 1)
            while !connections.isEmpty && lock.wait(until: hardDeadline) {}
        }
        state = .stopped
        lock.broadcast()
    }

    /// Installs `SIGINT`/`SIGTERM` handlers (Dispatch signal sources) that run
    /// ``shutdown(gracePeriod:)`` and then, if `exitProcess`, call `exit(0)`.
    public func installSignalHandlers(signals: [Int32] = [SIGINT, SIGTERM], exitProcess: Bool = true) {
        let queue = DispatchQueue(label: "mmsim.http.signals")
        var sources: [any DispatchSourceSignal] = []
        for sig in signals {
            signal(sig, SIG_IGN)  // let the dispatch source see it instead of the default action
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { [self] in
                shutdown()
                if exitProcess { exit(0) }
            }
            source.resume()
            sources.append(source)
        }
        lock.withLock { signalSources.append(contentsOf: sources) }
    }

    // MARK: - Connection bookkeeping (called by HTTPConnection)

    /// The connection waits for a new request; `false` means close it now.
    func connectionBecameIdle(_ connection: HTTPConnection) -> Bool {
        lock.lock(); defer { lock.unlock() }
        if connection.isKilled || state != .running { return false }
        connection.isIdle = true
        return true
    }

    /// The connection received bytes of a new request; `false` means close it now.
    func connectionBecameActive(_ connection: HTTPConnection) -> Bool {
        lock.lock(); defer { lock.unlock() }
        connection.isIdle = false
        return !connection.isKilled
    }

    /// Must be called with `lock` held. The descriptor stays open until the thread unregisters it,
    /// so it can never be reused under our feet.
    private func kill(_ connection: HTTPConnection) {
        guard !connection.isKilled else { return }
        connection.isKilled = true
        _ = sysShutdown(connection.fd, Int32(SHUT_RDWR))
    }

    // MARK: - Accepting

    private func acceptLoop(_ listenFD: Int32) {
        defer {
            lock.withLock {
                acceptRunning = false
                lock.broadcast()
            }
        }
        let nodelay: Int32 = 1
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                let err = errno
                if err == EINTR || err == ECONNABORTED { continue }
                if isShuttingDown { return }
                if err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM {
                    usleep(10_000)
                    continue
                }
                return
            }
            var one = nodelay
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            lock.lock()
            if state != .running {
                lock.unlock()
                close(fd)
                continue
            }
            if connections.count >= configuration.limits.maxConnections {
                lock.unlock()
                rejectQueue.async { [self] in rejectOverCapacity(fd) }
                continue
            }
            let connection = HTTPConnection(fd: fd, server: self)
            connections[fd] = connection
            lock.unlock()
            let thread = Thread { [self] in
                connection.run()
                lock.withLock {
                    connections[connection.fd] = nil
                    close(connection.fd)
                    lock.broadcast()
                }
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
    }

    /// Answers 503 without reading the request, then closes without provoking a reset.
    private func rejectOverCapacity(_ fd: Int32) {
        let response = HTTPResponse.error(.serviceUnavailable, code: "unavailable", message: "too many connections")
        guard case .bytes(let body) = response.body else { return }
        var out = Array("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n".utf8)
        appendUTF8("Content-Length: \(body.count)\r\nConnection: close\r\n\r\n", to: &out)
        out.append(contentsOf: body)
        if socketSendAll(fd, out) {
            _ = sysShutdown(fd, Int32(SHUT_WR))
            setReceiveTimeout(fd, 0.1)
            var scratch = [UInt8](repeating: 0, count: 4096)
            for _ in 0..<16 where scratch.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) > 0 {}
        }
        close(fd)
        accessLog?("-", "-", 503, 0)
    }

    private static func listen(_ config: HTTPServerConfiguration) throws(HTTPServerError) -> (Int32, Int) {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var info: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(config.host, String(config.port), &hints, &info)
        guard rc == 0, let first = info else {
            throw .cannotResolve(host: config.host, reason: String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(first) }
        var lastErrno: Int32 = EADDRNOTAVAIL
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            cursor = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if fd < 0 { lastErrno = errno; continue }
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if bind(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) != 0 || sysListen(fd, config.backlog) != 0 {
                lastErrno = errno
                close(fd)
                continue
            }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let port = withUnsafeMutablePointer(to: &storage) { ptr -> Int in
                ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
                if Int32(ptr.pointee.ss_family) == AF_INET6 {
                    return ptr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
                }
                return ptr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
            return (fd, port)
        }
        throw .cannotListen(host: config.host, port: config.port, errno: lastErrno)
    }
}
