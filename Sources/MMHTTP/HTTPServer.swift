// MMHTTP: HTTP/1.1 over POSIX sockets, with no knowledge of what it serves.
// An accept thread hands connections to epoll event loops (HTTPEventLoop),
// which parse requests (HTTPParser: Content-Length and chunked bodies,
// pipelining, limits), call an `HTTPHandler` and write its `HTTPResponse`
// (HTTPResponseEncoder); slow requests run on worker threads and
// Server-Sent Event streams on a thread of their own. StaticFiles serves a
// folder without ever leaving it. The epoll(7)/eventfd(2) headers come from
// CLinuxShims. The service (MMServer) is one HTTPHandler.

import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An HTTP/1.1 server: an accept thread hands connections to a few epoll event
/// loops (``HTTPEventLoop``, one per processor by default), which decode and answer
/// requests without a thread per connection. Slow requests
/// (``HTTPHandler/answersSlowly(_:)``) run on worker threads and streamed responses
/// on a thread of their own, so a loop never waits on them.
///
/// `@unchecked Sendable`: all mutable state (`state`, `listenFD`, `connectionTotal`,
/// `acceptRunning`, `signalSources`) is guarded by `lock`, an `NSCondition` also used
/// to wait for shutdown progress; `shuttingDown` is atomic.
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
    private var connectionTotal = 0
    private var loops: [HTTPEventLoop] = []
    private let shuttingDown = Atomic<Bool>(false)
    private var signalSources: [any DispatchSourceSignal] = []
    private var shutdownHooks: [@Sendable () -> Void] = []
    private let rejectQueue = DispatchQueue(label: "http.server.reject")
    /// Open connections per client address (``HTTPServerLimits/maxConnectionsPerClient``).
    let clientConnections = HTTPConnectionCounts()
    /// Requests per client address, when ``HTTPServerLimits/requestsPerSecondPerClient`` is set.
    let requestLimiter: HTTPRateLimiter?

    /// Creates a server; nothing is bound until ``start()``.
    public init(configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
                handler: any HTTPHandler, accessLog: HTTPAccessLog? = nil) {
        self.configuration = configuration
        self.handler = handler
        self.accessLog = accessLog
        let limits = configuration.limits
        requestLimiter = limits.requestsPerSecondPerClient > 0
            ? HTTPRateLimiter(perSecond: limits.requestsPerSecondPerClient, burst: limits.requestBurstPerClient) : nil
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
    public var connectionCount: Int { lock.withLock { connectionTotal } }

    /// Whether ``shutdown(gracePeriod:)`` has begun.
    public var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    /// Binds, listens and starts accepting on a background thread. Ignores `SIGPIPE`.
    public func start() throws(HTTPServerError) {
        lock.lock()
        defer { lock.unlock() }
        guard state == .initial else { throw .alreadyStarted }
        signal(SIGPIPE, SIG_IGN)
        let count = configuration.eventLoops > 0 ? configuration.eventLoops : ProcessInfo.processInfo.activeProcessorCount
        var loops: [HTTPEventLoop] = []
        for _ in 0..<max(1, count) { loops.append(try HTTPEventLoop(server: self)) }
        let (fd, port) = try Self.listen(configuration)
        self.loops = loops
        for (n, loop) in loops.enumerated() { loop.start(name: "http-loop-\(n)") }
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
        shuttingDown.store(true, ordering: .relaxed)
        _ = sysShutdown(listenFD, Int32(SHUT_RDWR))  // wakes accept(2)
        while acceptRunning { lock.wait() }
        close(listenFD)
        listenFD = -1
        for loop in loops { loop.post(.drain) }
        let hooks = shutdownHooks
        lock.unlock()   // a hook may call back into the server
        for hook in hooks { hook() }
        lock.lock()

        let grace = max(0, gracePeriod ?? configuration.limits.shutdownGracePeriod)
        let deadline = Date(timeIntervalSinceNow: grace)
        while connectionTotal > 0 && lock.wait(until: deadline) {}
        if connectionTotal > 0 {
            for loop in loops { loop.post(.killAll) }
            let hardDeadline = Date(timeIntervalSinceNow: 1)
            while connectionTotal > 0 && lock.wait(until: hardDeadline) {}
        }
        for loop in loops { loop.post(.stop) }
        lock.unlock()
        for loop in loops { loop.waitUntilFinished() }
        lock.lock()
        state = .stopped
        lock.broadcast()
    }

    /// Registers `body` to run once when ``shutdown(gracePeriod:)`` begins, after accepting
    /// has stopped and idle connections are closed, before waiting for the rest: the place
    /// to end what keeps responses open (event streams waiting for events).
    public func onShutdown(_ body: @escaping @Sendable () -> Void) {
        lock.withLock { shutdownHooks.append(body) }
    }

    /// Installs `SIGINT`/`SIGTERM` handlers (Dispatch signal sources) that run
    /// ``shutdown(gracePeriod:)`` and then, if `exitProcess`, call `exit(0)`.
    public func installSignalHandlers(signals: [Int32] = [SIGINT, SIGTERM], exitProcess: Bool = true) {
        let queue = DispatchQueue(label: "http.server.signals")
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

    // MARK: - Connection bookkeeping (called by the loops)

    /// A loop closed one of its connections (from `peer`).
    func connectionClosed(peer: String) {
        clientConnections.release(peer)
        lock.withLock {
            connectionTotal -= 1
            lock.broadcast()
        }
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
        let limits = configuration.limits
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listenFD, $0, &length) }
            }
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
            let peer = peerAddressText(&storage)
            // One client address may hold only so many connections; past that
            // it is told to slow down, and nobody else's connection is evicted.
            guard clientConnections.admit(peer, limit: limits.maxConnectionsPerClient) else {
                rejectQueue.async { [self] in
                    reject(fd, .tooManyRequests, code: "too_many_requests",
                           message: "too many connections from \(peer) (max_connections_per_client)", retryAfter: 1)
                }
                continue
            }
            lock.lock()
            if state != .running {
                lock.unlock()
                clientConnections.release(peer)
                close(fd)
                continue
            }
            if connectionTotal >= limits.maxConnections && !makeRoom() {
                lock.unlock()
                clientConnections.release(peer)
                rejectQueue.async { [self] in
                    reject(fd, .serviceUnavailable, code: "unavailable", message: "too many connections", retryAfter: 1)
                }
                continue
            }
            connectionTotal += 1
            lock.unlock()
            setBlocking(fd, false)
            leastLoadedLoop().post(.adopt(fd, peer: peer))
        }
    }

    /// At the connection cap: asks every loop to close its oldest idle
    /// keep-alive connection and waits briefly for one to go, so idle sockets
    /// never keep a new client out. Called and returns with `lock` held;
    /// `true` once there is room.
    private func makeRoom() -> Bool {
        for loop in loops { loop.post(.evictIdle) }
        let deadline = Date(timeIntervalSinceNow: 0.1)
        while connectionTotal >= configuration.limits.maxConnections && state == .running && lock.wait(until: deadline) {}
        return connectionTotal < configuration.limits.maxConnections
    }

    /// The loop with the fewest connections (the first on ties).
    private func leastLoadedLoop() -> HTTPEventLoop {
        var best = loops[0]
        var bestLoad = best.load
        for loop in loops.dropFirst() {
            let load = loop.load
            if load < bestLoad { best = loop; bestLoad = load }
        }
        return best
    }

    /// Answers `status` without reading the request, then closes without provoking a reset.
    private func reject(_ fd: Int32, _ status: HTTPStatus, code: String, message: String, retryAfter: Int) {
        let response = HTTPResponse.error(status, code: code, message: message)
        guard case .bytes(let body) = response.body else { return }
        var out = Array("HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nContent-Type: application/json\r\n".utf8)
        appendUTF8("Retry-After: \(retryAfter)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n", to: &out)
        out.append(contentsOf: body)
        if socketSendAll(fd, out) {
            _ = sysShutdown(fd, Int32(SHUT_WR))
            setReceiveTimeout(fd, 0.1)
            var scratch = [UInt8](repeating: 0, count: 4096)
            for _ in 0..<16 where scratch.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) > 0 {}
        }
        close(fd)
        accessLog?("-", "-", status.code, 0, nil)
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
