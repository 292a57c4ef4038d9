import MMHTTP
import Foundation
import MMCore

/// Prometheus counters of the service (/metrics): requests by route and
/// status, a latency histogram, live sessions, faults by lock path.
public final class Metrics: @unchecked Sendable {
    private let lock = NSLock()
    /// A request counter's labels.
    private struct RouteStatus: Hashable {
        var route: String
        var status: Int
        /// The order of the exposition: "route\u{0}status" as text.
        var sortKey: String { route + "\u{0}" + String(status) }
    }
    private var requests: [RouteStatus: Int] = [:]
    /// Histogram bucket upper bounds in seconds.
    static let buckets: [Double] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1]
    private var bucketCounts = [Int](repeating: 0, count: buckets.count)
    private var latencyCount = 0
    private var latencySum = 0.0
    private var faultsVMALock = 0
    private var faultsMmapLock = 0
    private var faultsAbort = 0
    private var faultsRetry = 0

    public init() {}

    /// Records one answered request.
    public func observe(route: String, status: Int, seconds: Double) {
        lock.lock()
        requests[RouteStatus(route: route, status: status), default: 0] += 1
        for (i, b) in Self.buckets.enumerated() where seconds <= b { bucketCounts[i] += 1 }
        latencyCount += 1
        latencySum += seconds
        lock.unlock()
    }

    /// The fault counters of a session that /metrics reports, copied out of
    /// `Stats.Faults` (a copy of the whole struct would share its counter
    /// arrays, and the next fault would then copy them on write).
    struct FaultCounters {
        var vmaLockSuccess: Int
        var mmapLock: Int
        var vmaLockAbort: Int
        var vmaLockRetry: Int

        init(_ f: borrowing Stats.Faults) {
            vmaLockSuccess = f.vmaLockSuccess
            mmapLock = f.mmapLock
            vmaLockAbort = f.vmaLockAbort
            vmaLockRetry = f.vmaLockRetry
        }
    }

    /// Adds the faults a request simulated (the delta of a session's counters).
    func countFaults(before: FaultCounters, after: FaultCounters) {
        // Nothing to add (e.g. an access the PTE already allowed): no lock.
        if after.vmaLockSuccess == before.vmaLockSuccess && after.mmapLock == before.mmapLock
            && after.vmaLockAbort == before.vmaLockAbort && after.vmaLockRetry == before.vmaLockRetry { return }
        lock.lock()
        faultsVMALock += after.vmaLockSuccess - before.vmaLockSuccess
        faultsMmapLock += after.mmapLock - before.mmapLock
        faultsAbort += after.vmaLockAbort - before.vmaLockAbort
        faultsRetry += after.vmaLockRetry - before.vmaLockRetry
        lock.unlock()
    }

    /// The Prometheus text exposition.
    public func render(liveSessions: Int) -> String {
        lock.lock()
        defer { lock.unlock() }
        var out = "# HELP mmsim_http_requests_total HTTP requests answered, by route and status.\n"
        out += "# TYPE mmsim_http_requests_total counter\n"
        for (key, count) in requests.sorted(by: { $0.key.sortKey < $1.key.sortKey }) {
            out += "mmsim_http_requests_total{route=\"\(key.route)\",status=\"\(key.status)\"} \(count)\n"
        }
        out += "# HELP mmsim_http_request_duration_seconds Time to answer a request.\n"
        out += "# TYPE mmsim_http_request_duration_seconds histogram\n"
        for (i, b) in Self.buckets.enumerated() {
            out += "mmsim_http_request_duration_seconds_bucket{le=\"\(b)\"} \(bucketCounts[i])\n"
        }
        out += "mmsim_http_request_duration_seconds_bucket{le=\"+Inf\"} \(latencyCount)\n"
        out += "mmsim_http_request_duration_seconds_sum \(latencySum)\n"
        out += "mmsim_http_request_duration_seconds_count \(latencyCount)\n"
        out += "# HELP mmsim_sessions_live Sessions currently open.\n# TYPE mmsim_sessions_live gauge\n"
        out += "mmsim_sessions_live \(liveSessions)\n"
        out += "# HELP mmsim_faults_total Simulated faults by the lock they were finally handled under.\n"
        out += "# TYPE mmsim_faults_total counter\n"
        out += "mmsim_faults_total{lock=\"vma_lock\"} \(faultsVMALock)\n"
        out += "mmsim_faults_total{lock=\"mmap_lock\"} \(faultsMmapLock)\n"
        out += "# HELP mmsim_vma_lock_fallbacks_total Per-VMA lock attempts that gave up (abort) or retried.\n"
        out += "# TYPE mmsim_vma_lock_fallbacks_total counter\n"
        out += "mmsim_vma_lock_fallbacks_total{stat=\"abort\"} \(faultsAbort)\n"
        out += "mmsim_vma_lock_fallbacks_total{stat=\"retry\"} \(faultsRetry)\n"
        return out
    }
}
