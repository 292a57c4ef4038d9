import Foundation
import XCTest
@testable import MMCore
@testable import MMTrace

/// Replays the real traces captured on this machine's 6.18 kernel
/// (Tests/MMCoreTests/Fixtures/traces, made by scripts/capture.py) and
/// checks the simulation against what the kernel did: every real fault is a
/// fault in the simulation and is handled; under 6.18 a fault takes
/// mmap_lock exactly when the real one did (mmap_lock tracepoints); the
/// layout at exit equals the real /proc/PID/maps at exit.
final class TraceReplayTests: XCTestCase {
    static let tracesDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("MMCoreTests/Fixtures/traces")

    static func traces() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: tracesDir.path)) ?? []).sorted()
            .filter { FileManager.default.fileExists(atPath: tracesDir.appendingPathComponent($0).appendingPathComponent("perf.txt").path) }
    }

    func testAtLeastFiveRealProgramsAreRecorded() {
        XCTAssertGreaterThanOrEqual(Self.traces().count, 5, "fixtures: \(Self.traces())")
    }

    /// docs/KERNEL-MODEL.md §10: under 6.18 the simulated lock path must match the
    /// observed one (target ≥ 99 % on every trace).
    func testAgreementWithTheRealKernel() throws {
        for name in Self.traces() {
            let bundle = try TraceBundle.load(Self.tracesDir.appendingPathComponent(name).path)
            let (_, r) = bundle.replay(ComparisonColumn(model: .v6_18), faults: .trace)
            let rep = r.report
            XCTAssertGreaterThan(rep.realFaults, 10, "\(name): too few faults in the trace")
            XCTAssertGreaterThanOrEqual(rep.faultAgreement, 0.99,
                "\(name): \(rep.faultsAgreeing)/\(rep.realFaults) real faults reproduced; \(rep.disagreements.prefix(5))")
            XCTAssertGreaterThanOrEqual(rep.lockAgreement, 0.99,
                "\(name): \(rep.lockAgreeing)/\(rep.lockObserved) lock paths agree; \(rep.disagreements.prefix(5))")
        }
    }

    /// The simulated layout at exit equals the real one (ranges, perms,
    /// offsets of file mappings, names).
    func testFinalLayoutEqualsTheRealMapsAtExit() throws {
        var compared = 0
        for name in Self.traces() {
            let bundle = try TraceBundle.load(Self.tracesDir.appendingPathComponent(name).path)
            let (_, r) = bundle.replay(ComparisonColumn(model: .v6_18), faults: .trace)
            for (pid, text) in bundle.exitMaps {
                guard let sim = r.report.exitMaps[pid] else { continue }
                let real = try MapsParser.parse(text).filter { $0.kind != .vsyscall }
                XCTAssertEqual(sim.map(Self.key), real.map(Self.key), "\(name) pid \(pid): layout at exit differs")
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 0, "no exit layouts were compared")
    }

    static func key(_ e: MapsEntry) -> String {
        let perms = (e.read ? "r" : "-") + (e.write ? "w" : "-") + (e.exec ? "x" : "-") + (e.shared ? "s" : "p")
        return "\(hex(e.start))-\(hex(e.end)) \(perms) \(e.path.isEmpty ? "" : hex(e.offset)) \(e.path)"
    }

    /// A thread-case check on a real trace: 6.4 sends every fault on a file
    /// VMA to mmap_lock (NOT_ANON), 6.18 handles them under the VMA lock.
    func testModelsDifferOnRealTraces() throws {
        guard let name = Self.traces().first(where: { $0.contains("python") }) ?? Self.traces().first else { return }
        let bundle = try TraceBundle.load(Self.tracesDir.appendingPathComponent(name).path)
        let (s64, _) = bundle.replay(ComparisonColumn(model: .v6_4), faults: .trace)
        let (s618, _) = bundle.replay(ComparisonColumn(model: .v6_18), faults: .trace)
        XCTAssertGreaterThan(s64.stats.faults.byReason["NOT_ANON"] ?? 0, 0)
        XCTAssertEqual(s618.stats.faults.byReason["NOT_ANON"] ?? 0, 0)
        XCTAssertLessThan(s618.stats.faults.mmapLock, s64.stats.faults.mmapLock)
        XCTAssertEqual(s64.stats.faults.total, s618.stats.faults.total, "same faults, different lock paths")
    }
}
