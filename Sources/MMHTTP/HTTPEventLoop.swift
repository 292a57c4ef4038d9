import CLinuxShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One event-loop thread: an epoll(7) set of non-blocking connections, woken
/// through an eventfd(2) for work posted from other threads (new connections,
/// connections handed back by workers, shutdown steps). Each connection belongs
/// to exactly one loop, so its requests are decoded and answered in order.
///
/// `@unchecked Sendable`: `connections` and the epoll set are touched only on the
/// loop's thread; `inbox` is guarded by `inboxLock`; `liveCount` is atomic-enough
/// for load balancing (read under `inboxLock` by the acceptor).
final class HTTPEventLoop: @unchecked Sendable {
    /// Work posted to the loop from another thread.
    enum Message {
        /// A newly accepted, already non-blocking socket and its peer's address.
        case adopt(Int32, peer: String)
        /// A connection whose hand-off (worker or stream) has finished.
        case resume(HTTPConnection)
        /// The body source of a connection has more to send.
        case wake(HTTPConnection)
        /// Shutdown began: close idle connections now; answer the rest with `Connection: close`.
        case drain
        /// The server is at its connection cap: close the idle keep-alive
        /// connection that has waited longest (if any).
        case evictIdle
        /// Grace period over: close every connection.
        case killAll
        /// Leave the loop.
        case stop
    }

    unowned(unsafe) let server: HTTPServer
    private let epollFD: Int32
    private let wakeFD: Int32
    private var connections: [Int32: HTTPConnection] = [:]
    /// Connections with responses to send at the end of this round.
    private var flushQueue: [HTTPConnection] = []
    private let inboxLock = NSLock()
    private var inbox: [Message] = []
    private var woken = false
    private var assigned = 0
    private var stopped = false
    private let sweepInterval: Double
    private var nextSweep = 0.0
    private let finished = NSCondition()
    private var isFinished = false

    /// Creates the loop's epoll set and wake-up eventfd; ``start()`` runs it.
    init(server: HTTPServer) throws(HTTPServerError) {
        self.server = server
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        let limits = server.configuration.limits
        sweepInterval = min(0.25, max(0.01, min(limits.readTimeout, limits.idleTimeout) / 4))
        guard epollFD >= 0, wakeFD >= 0 else {
            throw .cannotListen(host: server.configuration.host, port: server.configuration.port, errno: errno)
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wakeFD
        _ = epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event)
    }

    deinit {
        Glibc.close(epollFD)
        Glibc.close(wakeFD)
    }

    /// The epoll_wait timeout once shutdown has begun, in seconds.
    static let shutdownTick = 0.01

    /// Connections given to this loop and not yet closed (for balancing).
    var load: Int { inboxLock.withLock { assigned } }

    /// Starts the loop's thread.
    func start(name: String) {
        let thread = Thread { [self] in
            // The kernel's thread name (top -H, perf, /proc/PID/task/*/comm), set
            // directly: Foundation's Thread.current.name was seen, rarely, to
            // read back the process name on a loop thread.
            _ = mmsim_set_thread_name(name)
            Thread.current.name = name
            run()
            finished.withLock {
                isFinished = true
                finished.broadcast()
            }
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Blocks until the loop's thread has left ``run()``.
    func waitUntilFinished() {
        finished.lock()
        while !isFinished { finished.wait() }
        finished.unlock()
    }

    /// Posts work from any thread.
    func post(_ message: Message) {
        inboxLock.lock()
        if case .adopt = message { assigned += 1 }
        inbox.append(message)
        let wake = !woken
        woken = true
        inboxLock.unlock()
        if wake {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    // MARK: - The loop

    private func run() {
        let capacity = 256
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        while !stopped {
            // Once shutdown has begun, sweep every round and wake often, so lingering
            // connections close at their (short) deadline rather than a sweep later.
            let shuttingDown = server.isShuttingDown
            let timeout = shuttingDown ? Self.shutdownTick : sweepInterval
            let n = epoll_wait(epollFD, events, Int32(capacity), Int32(timeout * 1000))
            if n < 0 && errno != EINTR { break }
            let now = monotonicSeconds()
            for i in 0..<max(0, Int(n)) {
                let fd = events[i].data.fd
                if fd == wakeFD {
                    drainInbox(now: now)
                } else if let connection = connections[fd], connection.interest != nil {
                    connection.handle(events: events[i].events, buffer: buffer, now: now)
                }
            }
            flushRound(now: now)
            if now >= nextSweep || shuttingDown {
                nextSweep = now + sweepInterval
                for connection in Array(connections.values) { connection.checkTimeouts(now: now) }
            }
        }
        for connection in Array(connections.values) { close(connection) }
    }

    private func drainInbox(now: Double) {
        var count: UInt64 = 0
        _ = read(wakeFD, &count, 8)
        inboxLock.lock()
        let messages = inbox
        inbox.removeAll(keepingCapacity: true)
        woken = false
        inboxLock.unlock()
        for message in messages {
            switch message {
            case .adopt(let fd, let peer):
                let connection = HTTPConnection(fd: fd, peer: peer, loop: self, now: now)
                connections[fd] = connection
                if server.isShuttingDown { close(connection) } else { updateInterest(connection) }
            case .resume(let connection):
                connection.resumed(now: now)
            case .wake(let connection):
                if connections[connection.fd] === connection { connection.sourceWoken(now: now) }
            case .drain:
                // Every connection finishes what it started (beginShutdown); event
                // streams end with their last chunk when the server's shutdown
                // hook closes their source.
                for connection in Array(connections.values) { connection.beginShutdown(now: now) }
            case .evictIdle:
                var oldest: HTTPConnection?
                for connection in connections.values where connection.isIdle {
                    if connection.lastActivity < oldest?.lastActivity ?? .infinity { oldest = connection }
                }
                if let oldest { close(oldest) }
            case .killAll:
                for connection in Array(connections.values) { connection.kill() }
            case .stop:
                stopped = true
            }
        }
    }

    /// Sends the responses of this round (see ``HTTPConnection/flushQueued(now:)``).
    private func flushRound(now: Double) {
        guard !flushQueue.isEmpty else { return }
        server.handler.willSendAnswers()
        let queued = flushQueue
        flushQueue.removeAll(keepingCapacity: true)
        for connection in queued {
            connection.flushScheduled = false
            if connections[connection.fd] === connection && !connection.isBusy { connection.flushQueued(now: now) }
        }
    }

    // MARK: - Called by connections, on the loop's thread

    /// Queues the connection's responses for the end of the round.
    func scheduleFlush(_ connection: HTTPConnection) {
        guard !connection.flushScheduled else { return }
        connection.flushScheduled = true
        flushQueue.append(connection)
    }

    /// Registers, re-arms or keeps the connection's epoll events as it wants them.
    func updateInterest(_ connection: HTTPConnection) {
        guard !connection.isBusy else { return }
        let wanted = connection.wantedEvents
        guard connection.interest != wanted else { return }
        var event = epoll_event()
        event.events = wanted
        event.data.fd = connection.fd
        let op = connection.interest == nil ? EPOLL_CTL_ADD : EPOLL_CTL_MOD
        if epoll_ctl(epollFD, op, connection.fd, &event) == 0 {
            connection.interest = wanted
        } else {
            close(connection)
        }
    }

    /// Takes the connection out of the epoll set (it is being handed off).
    func unregister(_ connection: HTTPConnection) {
        guard connection.interest != nil else { return }
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, connection.fd, nil)
        connection.interest = nil
    }

    /// Closes the socket and forgets the connection (cancelling its body source).
    func close(_ connection: HTTPConnection) {
        guard connections[connection.fd] === connection else { return }
        connection.cancelSource()
        unregister(connection)
        connections[connection.fd] = nil
        Glibc.close(connection.fd)
        inboxLock.withLock { assigned -= 1 }
        server.connectionClosed(peer: connection.peer)
    }
}

/// Sets or clears `O_NONBLOCK`.
func setBlocking(_ fd: Int32, _ blocking: Bool) {
    let flags = fcntl(fd, F_GETFL)
    guard flags >= 0 else { return }
    _ = fcntl(fd, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK)
}
