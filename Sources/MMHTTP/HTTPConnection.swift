import CLinuxShims
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One accepted TCP connection with a non-blocking socket, driven by its
/// ``HTTPEventLoop``: bytes in, requests decoded, answered in order, bytes out.
///
/// `@unchecked Sendable`: the connection is owned by its loop's thread, except
/// while ``isBusy``: then it is out of the loop's epoll set and exactly one
/// other thread (a worker answering a slow request, or a stream thread) owns
/// it until it hands it back with ``HTTPEventLoop/resume(_:with:keepAlive:)``.
final class HTTPConnection: @unchecked Sendable {
    let fd: Int32
    /// The client's address (numeric), for per-client limits and `HTTPRequest.clientAddress`.
    let peer: String
    unowned(unsafe) let loop: HTTPEventLoop
    var parser: HTTPParser
    /// Bytes to send, from `outOffset` on.
    var out: [UInt8] = []
    var outOffset = 0
    /// Monotonic seconds of the last byte read or written.
    var lastActivity: Double
    /// When the first byte of the request still being received arrived
    /// (an empty line before its request line included).
    var requestStarted: Double?
    /// When the head of the request still being received was complete (its body is being read).
    var bodyStarted: Double?
    /// Monotonic seconds of the last byte sent (or when output became pending).
    var lastSend: Double
    /// A request is being answered off the loop; the connection is not in epoll.
    var isBusy = false
    /// Close once `out` is sent (no more requests are read).
    var closeAfterFlush = false
    /// The peer closed its sending side.
    var peerClosed = false
    /// Lingering close: our side is shut down, reading until the peer closes or this deadline.
    var lingerDeadline: Double?
    var lingerDrained = 0
    /// The epoll events currently registered (nil: not registered).
    var interest: UInt32?
    /// Set by ``kill()``: close as soon as the loop owns the connection again.
    var isKilled = false
    /// The pulled body being sent (``HTTPResponse/Body/pull(_:)``); no further
    /// request is read until it ends.
    var source: (any HTTPBodySource)?
    /// The source answered `.wait` and has not been woken since.
    var sourceWaiting = false
    /// When the source was last asked (it is asked again about once a second).
    var sourcePolled = 0.0
    var sourceChunked = true
    var sourceKeepAlive = true
    var waker: HTTPWaker?
    /// Set while the connection is in its loop's flush queue.
    var flushScheduled = false

    /// Pull the source while fewer than this many bytes wait to be sent.
    static let pullLowWater = 64 * 1024
    /// The size of piece asked of a source.
    static let pullPiece = 64 * 1024

    /// Stop reading requests while this many response bytes wait to be sent.
    static let outputHighWater = 1 << 20

    init(fd: Int32, peer: String, loop: HTTPEventLoop, now: Double) {
        self.fd = fd
        self.peer = peer
        self.loop = loop
        self.parser = HTTPParser(limits: loop.server.configuration.limits.parserLimits)
        if let streaming = loop.server.handler as? any HTTPStreamingHandler {
            parser.streamedBodyLimit = { streaming.streamedBodyLimit($0) }
        }
        self.lastActivity = now
        self.lastSend = now
    }

    /// Nothing received, nothing being answered, nothing to send: closable at
    /// shutdown and when the server needs room.
    var isIdle: Bool {
        !isBusy && source == nil && !parser.isReceivingRequest && outOffset == out.count && lingerDeadline == nil
    }

    /// The epoll events this connection wants now.
    var wantedEvents: UInt32 {
        let pending = outOffset < out.count
        if lingerDeadline != nil { return EPOLLIN.rawValue }
        var events: UInt32 = pending ? EPOLLOUT.rawValue : 0
        // While a body is pulled, requests are not read (answers go in
        // order), but the peer closing is watched for; a source with more to
        // give asks for EPOLLOUT, so it is pulled again next round (one
        // piece per round: a fast reader of a long body does not starve the
        // loop's other connections).
        if source != nil {
            if !sourceWaiting { events |= EPOLLOUT.rawValue }
            return events | EPOLLRDHUP.rawValue
        }
        if !closeAfterFlush && !peerClosed && out.count - outOffset < Self.outputHighWater { events |= EPOLLIN.rawValue }
        return events
    }
}
