import XCTest
@testable import MMCore

/// `InterleaveResult.linearization` lets the service commit a schedule by
/// replaying whole ops serially: without a race the serial result equals the
/// engine's end state (docs/CONCURRENCY.md §5.4).
final class LinearizationTests: XCTestCase {
    typealias Bed = ConcurrencyBed

    /// S9's setup; every explored outcome's first schedule, replayed serially.
    ///
    ///     X                   X+4p
    ///     [ V rw-          *  ]     T1: fault(X, w)  T2: mprotect(X+2p, 2p, r--)  T3: fault(X+p, w)
    func testSerialReplayOfTheLinearizationReproducesEachOutcome() throws {
        for model in [KernelModel.v6_4, .v6_18, .v6_3] {
            func setup(_ b: Bed) { b.map(0, 4, "rw-"); b.touch(3) }
            let b = Bed(model)
            setup(b)
            let progs = [ThreadProgram(name: "T1", ops: [b.fault(0)]),
                         ThreadProgram(name: "T2", ops: [b.mprotect(2, 2, "r--")]),
                         ThreadProgram(name: "T3", ops: [b.fault(1)])]
            let r = try b.sim.explore(pid: b.pid, programs: progs)
            XCTAssertGreaterThan(r.outcomes.count, 0)
            for o in r.outcomes {
                let i = try b.sim.interleave(pid: b.pid, programs: progs, schedule: o.firstSchedule)
                XCTAssertTrue(i.finished)
                XCTAssertEqual(i.digest, o.digest)
                XCTAssertEqual(Set(i.linearization), Set(progs.map { OpRef(thread: $0.name, opIndex: 0) }))
                let serial = Bed(model)
                setup(serial)
                for ref in i.linearization {
                    switch progs.first(where: { $0.name == ref.thread })!.ops[ref.opIndex] {
                    case let .fault(a, acc): _ = try serial.sim.fault(pid: serial.pid, address: a, access: acc)
                    case let .syscall(c): _ = try serial.sim.syscall(pid: serial.pid, c)
                    case .mbind: XCTFail("the Simulation has no mbind")
                    }
                }
                let want = try serial.sim.process(serial.pid).mm.vmas.map { [$0.start, $0.end, $0.flags.rawValue, UInt64($0.anonVMA?.id ?? 0)] }
                let got = o.vmas.filter { $0.mm == 0 && !$0.detached && !$0.freed }
                    .map { [$0.start, $0.end, $0.flags.rawValue, UInt64($0.anonVMA ?? 0)] }
                XCTAssertEqual(got, want, "\(model.id) \(o.firstSchedule)")
            }
        }
    }
}
