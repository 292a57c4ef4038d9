import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Byte and socket helpers

@inline(__always)
func appendUTF8(_ string: String, to out: inout [UInt8]) {
    var string = string
    string.withUTF8 { out.append(contentsOf: $0) }
}

func appendDecimal(_ value: Int, to out: inout [UInt8]) {
    if value < 10 {
        out.append(UInt8(48 + max(0, value)))
        return
    }
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var v = value
    var count = 0
    withUnsafeMutableBytes(of: &digits) { raw in
        while v > 0 {
            raw[count] = UInt8(48 + v % 10)
            v /= 10
            count += 1
        }
        for i in stride(from: count - 1, through: 0, by: -1) { out.append(raw[i]) }
    }
}

/// `shutdown(2)`, callable from types that have their own `shutdown` method.
@discardableResult
func sysShutdown(_ fd: Int32, _ how: Int32) -> Int32 { shutdown(fd, how) }

/// `listen(2)`, callable from types that have their own `listen` method.
func sysListen(_ fd: Int32, _ backlog: Int32) -> Int32 { listen(fd, backlog) }

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Microseconds on the monotonic clock.
func monotonicMicros() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000 &+ UInt64(ts.tv_nsec) / 1000
}

/// Sets `SO_RCVTIMEO`; never zero, which would mean "no timeout".
func setReceiveTimeout(_ fd: Int32, _ seconds: Double) {
    let clamped = max(seconds, 0.001)
    var tv = timeval()
    tv.tv_sec = Int(clamped)
    tv.tv_usec = .init((clamped - Double(Int(clamped))) * 1_000_000)
    _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
}

/// Writes all of `bytes`, retrying on partial writes and `EINTR`; `false` on any other error.
func socketSendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            #if os(Linux)
            let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            #else
            let n = send(fd, raw.baseAddress! + offset, raw.count - offset, 0)
            #endif
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }
}

/// Waits up to `timeoutMs` for the peer to close or reset the connection; `true` if it did.
/// Data the peer sends in the meantime is left unread and does not count as closing.
func socketPeerClosed(_ fd: Int32, timeoutMs: Int32) -> Bool {
    #if os(Linux)
    let rdhup: Int16 = 0x2000  // POLLRDHUP
    var pfd = pollfd(fd: fd, events: rdhup, revents: 0)
    let r = poll(&pfd, 1, timeoutMs)
    if r < 0 { return errno != EINTR }
    return r > 0 && (pfd.revents & (rdhup | Int16(POLLHUP) | Int16(POLLERR) | Int16(POLLNVAL))) != 0
    #else
    var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    let r = poll(&pfd, 1, timeoutMs)
    if r < 0 { return errno != EINTR }
    if r == 0 { return false }
    if (pfd.revents & (Int16(POLLHUP) | Int16(POLLERR) | Int16(POLLNVAL))) != 0 { return true }
    var byte: UInt8 = 0
    let n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT)
    if n == 0 { return true }
    if n > 0, timeoutMs > 0 { usleep(useconds_t(timeoutMs) * 1000) }
    return false
    #endif
}
