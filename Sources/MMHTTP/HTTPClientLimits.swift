import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A token bucket per key (a client address): `burst` tokens, refilled at
/// `perSecond`. ``take(_:now:)`` spends one or says how long until one is
/// there. Thread-safe (one lock; a take is a dictionary lookup). Buckets
/// that have refilled completely are forgotten when the table grows, so its
/// memory is bounded by the clients active within `burst / perSecond`
/// seconds.
public final class HTTPRateLimiter: @unchecked Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    /// Tokens added per second.
    public let perSecond: Double
    /// The bucket's size: requests allowed at once after a quiet period.
    public let burst: Double
    private let lock = NSLock()
    private var buckets: [String: Bucket] = [:]
    private var pruneAt = 4096

    /// A limiter allowing `perSecond` on average and `burst` at once per key.
    public init(perSecond: Double, burst: Int) {
        self.perSecond = perSecond
        self.burst = Double(max(1, burst))
    }

    /// Spends a token of `key`: nil if there was one, else the seconds until there is.
    public func take(_ key: String) -> Double? { take(key, now: monotonicSeconds()) }

    /// ``take(_:)`` at the monotonic time `now` (seconds).
    public func take(_ key: String, now: Double) -> Double? {
        lock.lock()
        defer { lock.unlock() }
        var b = buckets[key] ?? Bucket(tokens: burst, updated: now)
        b.tokens = min(burst, b.tokens + (now - b.updated) * perSecond)
        b.updated = now
        if b.tokens >= 1 {
            b.tokens -= 1
            buckets[key] = b
            if buckets.count > pruneAt { prune(now) }
            return nil
        }
        buckets[key] = b
        return (1 - b.tokens) / perSecond
    }

    /// Gives a token back (the thing it was taken for did not happen).
    public func refund(_ key: String) {
        lock.withLock { if var b = buckets[key] { b.tokens = min(burst, b.tokens + 1); buckets[key] = b } }
    }

    private func prune(_ now: Double) {
        buckets = buckets.filter { $0.value.tokens + (now - $0.value.updated) * perSecond < burst }
        pruneAt = max(4096, buckets.count * 2)
    }
}

/// Open connections per client address (``HTTPServerLimits/maxConnectionsPerClient``),
/// counted by the acceptor and released by the loops. Guarded by its lock.
final class HTTPConnectionCounts: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]

    /// Counts a connection from `address` unless it already has `limit` (0: no limit).
    func admit(_ address: String, limit: Int) -> Bool {
        lock.withLock {
            let n = counts[address, default: 0]
            if limit > 0 && n >= limit { return false }
            counts[address] = n + 1
            return true
        }
    }

    /// A connection from `address` closed.
    func release(_ address: String) {
        lock.withLock {
            let n = counts[address, default: 1] - 1
            counts[address] = n > 0 ? n : nil
        }
    }
}

/// The numeric text form of a peer address (`127.0.0.1`, `::1`), or `-`.
func peerAddressText(_ storage: inout sockaddr_storage) -> String {
    var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
    let length = socklen_t(Int32(storage.ss_family) == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
    let rc = withUnsafePointer(to: &storage) { ptr in
        ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            getnameinfo($0, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
        }
    }
    guard rc == 0 else { return "-" }
    var text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    if text.hasPrefix("::ffff:") && text.contains(".") { text.removeFirst(7) }  // IPv4-mapped
    return text
}
