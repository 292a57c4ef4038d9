import Foundation
import XCTest
@testable import MMCore
@testable import MMTrace

/// Replays captures recorded on this machine's 6.18 kernel the way a user
/// records them: plain `perf record … -d` + `perf script --show-mmap-events
/// --show-task-events` (Fixtures/perf-plain, Fixtures/perf-variants; the
/// commands are in scripts/CAPTURE.md) and scripts/capture.py
/// (Fixtures/captures), streamed through `TraceReplay`.
final class StreamingReplayTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func files(_ dir: String) -> [URL] {
        let d = fixtures.appendingPathComponent(dir)
        return ((try? FileManager.default.contentsOfDirectory(atPath: d.path)) ?? []).sorted().map { d.appendingPathComponent($0) }
    }

    static func replay(_ url: URL, chunk: Int = 1 << 16, detail: TraceReplay.Detail = .summary,
                       model: KernelModel = .v6_18) throws -> ReplayReport {
        let data = try Data(contentsOf: url)
        let sim = Simulation(model: model, config: SimulationConfig(tracing: false))
        let t = TraceReplay(sim: sim, detail: detail)
        var at = 0
        while at < data.count {
            let end = min(at + chunk, data.count)
            t.feed(data[at..<end])
            at = end
        }
        return try t.finish()
    }

    func nonBlankLines(_ url: URL) throws -> Int {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").filter { !$0.allSatisfy(\.isWhitespace) }.count
    }

    /// docs/KERNEL-MODEL.md §10: ≥ 99 % of the real faults reproduced and ≥ 99 %
    /// of their mmap_lock use matched under 6.18, for a shell pipeline, an
    /// interpreter importing modules, a compiler (vfork + exec of cc1 and
    /// as), a 4-thread compressor and a program that execs another.
    func testPlainPerfCapturesAgreeWithTheKernel() throws {
        let files = Self.files("perf-plain") + Self.files("perf-variants")
        XCTAssertGreaterThanOrEqual(files.count, 10)
        for url in files {
            let r = try Self.replay(url)
            let name = url.lastPathComponent
            XCTAssertEqual(r.format, "perf", name)
            XCTAssertGreaterThan(r.realFaults, 50, name)
            XCTAssertGreaterThan(r.lockObserved, 50, name)
            XCTAssertGreaterThanOrEqual(r.faultAgreement, 0.99, "\(name): \(r.faultsAgreeing)/\(r.realFaults); \(r.disagreements.prefix(5))")
            XCTAssertGreaterThanOrEqual(r.lockAgreement, 0.99, "\(name): \(r.lockAgreeing)/\(r.lockObserved); \(r.disagreements.prefix(5))")
            XCTAssertEqual(r.lines.notUnderstood, [:], name)
            XCTAssertEqual(r.lines.total, try nonBlankLines(url), "\(name): every line is counted once")
            XCTAssertEqual(r.warnings, [], name)
        }
    }

    func testCaptureDirectoriesAgreeWithTheKernel() throws {
        for url in Self.files("captures") {
            let bundle = try TraceBundle.load(url.path)
            let (_, r) = bundle.replay(ComparisonColumn(model: .v6_18), faults: .trace)
            let rep = r.report
            XCTAssertGreaterThan(rep.realFaults, 100, url.lastPathComponent)
            XCTAssertGreaterThanOrEqual(rep.faultAgreement, 0.99, "\(url.lastPathComponent): \(rep.disagreements.prefix(5))")
            XCTAssertGreaterThanOrEqual(rep.lockAgreement, 0.99, "\(url.lastPathComponent): \(rep.disagreements.prefix(5))")
        }
    }

    /// xz -T4: the worker threads' faults land in the one mm of their
    /// process, in perf-plain (PERF_RECORD_FORK with pid == ppid) and in the
    /// capture (task_newtask's CLONE_THREAD).
    func testThreadsShareTheirProcessMM() throws {
        let plain = try Self.replay(Self.fixtures.appendingPathComponent("perf-plain/xz-threads.txt"))
        let bundle = try TraceBundle.load(Self.fixtures.appendingPathComponent("captures/xz-threads").path)
        let (_, captured) = bundle.replay(ComparisonColumn(model: .v6_18), faults: .trace)
        for r in [plain, captured.report] {
            let tasksPerProcess = Dictionary(grouping: r.processes.keys, by: { r.processes[$0]! }).mapValues(\.count)
            XCTAssertGreaterThanOrEqual(tasksPerProcess.values.max() ?? 0, 5, "main thread and 4 workers in one mm: \(r.processes)")
        }
    }

    /// gcc vforks cc1 and as (CLONE_VM|CLONE_VFORK): each child runs on
    /// gcc's mm until its exec, then has a process of its own.
    func testVforkChildrenGetTheirOwnProcessAtExec() throws {
        let r = try Self.replay(Self.fixtures.appendingPathComponent("perf-plain/gcc-c.txt"))
        XCTAssertGreaterThanOrEqual(Set(r.processes.values).count, 3, "gcc, cc1, as: \(r.processes)")
    }

    /// The report does not depend on how the input is cut into chunks.
    func testChunkingDoesNotChangeTheReport() throws {
        let url = Self.fixtures.appendingPathComponent("perf-variants/default.txt")
        let whole = try Self.replay(url, chunk: 1 << 30, detail: .faults)
        for chunk in [1, 7, 4096] {
            let r = try Self.replay(url, chunk: chunk, detail: .faults)
            XCTAssertEqual(r.faultRecords, whole.faultRecords, "chunk \(chunk)")
            XCTAssertEqual(r.lines, whole.lines, "chunk \(chunk)")
            XCTAssertEqual(r.processes, whole.processes, "chunk \(chunk)")
        }
    }

    /// Anyone can recompute the summary agreement from the fault records.
    func testFaultRecordsRecomputeTheAgreement() throws {
        for name in ["perf-plain/sh-pipeline.txt", "perf-plain/gcc-c.txt"] {
            let r = try Self.replay(Self.fixtures.appendingPathComponent(name), detail: .faults)
            XCTAssertEqual(r.faultRecords.count, r.realFaults, name)
            XCTAssertEqual(r.faultRecords.filter { $0.sim.fault && $0.sim.outcome == "handled" }.count, r.faultsAgreeing, name)
            let compared = r.faultRecords.filter { $0.realTookMmapLock != nil && $0.sim.tookMmapLock != nil }
            XCTAssertEqual(compared.count, r.lockObserved, name)
            XCTAssertEqual(compared.filter { $0.realTookMmapLock == $0.sim.tookMmapLock }.count, r.lockAgreeing, name)
            XCTAssertTrue(r.faultRecords.contains { $0.mode == .kernel && $0.realTookMmapLock == nil }, name)
        }
    }

    func testUnrecognisedInputIsAnError() {
        let t = TraceReplay(sim: Simulation())
        t.feed(Array("hello\nworld 1 2 3\n".utf8))
        XCTAssertThrowsError(try t.finish()) { e in
            let r = (e as! TraceReplay.FormatNotRecognised).report
            XCTAssertEqual(r.lines.notUnderstoodTotal, 2)
            XCTAssertEqual(r.lines.notUnderstood.values.first?.firstLine, 1)
            XCTAssertEqual(r.lines.applied, 0)
        }
    }

    /// Lines perf prints that mmsim cannot read are counted, with an example.
    func testLinesNotUnderstoodAreCountedWithTheFirstExample() throws {
        let sim = Simulation()
        let t = TraceReplay(sim: sim)
        t.feed(Array("""
            true 1 [000] 1.0: PERF_RECORD_COMM exec: true:1/1
            true 1 [000] 1.1: PERF_RECORD_MMAP2 1/1: [0x7f0000000000(0x2000) @ 0 00:00 0 0]: rw-p //anon
            true 1 [000] 1.2: exceptions:page_fault_user: address=0x7f0000000010 ip=0x1 error_code=0x6
            true 1 [000] 1.3: exceptions:page_fault_user: ip=0x1 error_code=0x6
            garbage here
            more garbage

            """.utf8))
        let r = try t.finish()
        XCTAssertEqual(r.format, "perf")
        XCTAssertEqual(r.lines.applied, 3)
        XCTAssertEqual(r.lines.notUnderstood["page fault without a numeric address"]?.count, 1)
        XCTAssertEqual(r.lines.notUnderstood["not a perf script event line"],
                       LineCounts.Example(count: 2, firstLine: 5, text: "garbage here"))
        XCTAssertEqual(r.faultsAgreeing, 1)
        XCTAssertEqual(r.warnings.count, 1, "no mmap_lock events: \(r.warnings)")
    }

    func testStraceIsRecognisedByContent() throws {
        let url = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MMCoreTests/Fixtures/strace/c-f-tt-T.txt")
        let r = try Self.replay(url)
        XCTAssertEqual(r.format, "strace")
        XCTAssertGreaterThan(r.lines.applied, 10)
        XCTAssertEqual(r.lines.total, try nonBlankLines(url))
    }

    /// perf_event_mmap() reports whole VMAs: an RELRO mprotect comes as the
    /// part of the data segment that changed, a brk growth as the grown VMA.
    func testMappingRecordsReconcileTheLayout() throws {
        let sim = Simulation()
        let t = TraceReplay(sim: sim, format: .perf)
        t.feed(Array("""
            a 7/7 [000] 1.0: PERF_RECORD_COMM exec: a:7/7
            a 7/7 [000] 1.1: PERF_RECORD_MMAP2 7/7: [0x7f0000000000(0x6000) @ 0x1000 fe:00 5 0]: rw-p /lib/x.so
            a 7/7 [000] 1.2: exceptions:page_fault_user: address=0x7f0000000010 ip=0x1 error_code=0x6
            a 7/7 [000] 1.3: PERF_RECORD_MMAP2 7/7: [0x7f0000000000(0x4000) @ 0x1000 fe:00 5 0]: r--p /lib/x.so
            a 7/7 [000] 1.4: PERF_RECORD_MMAP2 7/7: [0x560000000000(0x1000) @ 0x560000000000 00:00 0 0]: rw-p //anon
            a 7/7 [000] 1.5: exceptions:page_fault_user: address=0x560000000000 ip=0x1 error_code=0x6
            a 7/7 [000] 1.6: PERF_RECORD_MMAP2 7/7: [0x560000000000(0x3000) @ 0x560000000000 00:00 0 0]: rw-p //anon
            a 7/7 [000] 1.7: PERF_RECORD_FORK(7:8):(7:7)
            a 7/8 [000] 1.8: exceptions:page_fault_user: address=0x560000002000 ip=0x1 error_code=0x6

            """.utf8))
        let r = try t.finish()
        let p = sim.processes[r.processes[7]!]!
        XCTAssertEqual(r.processes[8], r.processes[7], "the thread runs on its process's mm")
        XCTAssertEqual(p.threads.count, 2)
        let vmas = p.mm.vmas.map { ($0.start, $0.end, $0.flags.contains(.WRITE)) }
        XCTAssertEqual(vmas.map(\.0), [0x5600_0000_0000, 0x7f00_0000_0000, 0x7f00_0000_4000])
        XCTAssertEqual(vmas.map(\.1), [0x5600_0000_3000, 0x7f00_0000_4000, 0x7f00_0000_6000])
        XCTAssertEqual(vmas.map(\.2), [true, false, true])
        XCTAssertNotNil(p.mm.pageTable[0x7f00_0000_0000 >> 12], "mprotect kept the CoW page")
        XCTAssertNotNil(p.mm.pageTable[0x5600_0000_0000 >> 12], "the grown VMA kept its page")
        XCTAssertEqual(r.faultsAgreeing, 3)
    }

    /// `strace -ff -o NAME` files are joined (each line under its file's
    /// pid, merged by time stamp) and replayed as one trace.
    func testStraceFFFilesAreJoined() throws {
        let dir = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MMCoreTests/Fixtures/strace/ff")
        let bundle = try TraceBundle.load(dir.path)
        XCTAssertEqual(bundle.format, "strace")
        let t = bundle.replay(on: Simulation(), faults: .touch)
        let r = try t.finish()
        XCTAssertEqual(Set(r.processes.keys), [18853, 18854, 18855, 18856])
        XCTAssertEqual(r.lines.notUnderstood, [:])
        XCTAssertGreaterThan(r.lines.applied, 20)
    }
}
