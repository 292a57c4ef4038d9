import XCTest
@testable import MMCore

/// Bad requests are refused naming what is wrong, and nothing about the
/// Simulation changes (docs/CONCURRENCY.md §5).
final class ExploreErrorTests: XCTestCase {
    typealias Bed = ConcurrencyBed

    func bed() -> Bed {
        let b = Bed(.v6_18)
        b.map(0, 1, "rw-")
        return b
    }

    func testBadProgramsAreRefused() {
        let b = bed()
        let ok = ThreadProgram(name: "T1", ops: [b.fault(0)])
        func err(_ progs: [ThreadProgram], pid: Int? = nil) -> ExploreError? {
            do { _ = try b.sim.explore(pid: pid ?? b.pid, programs: progs); return nil } catch { return error }
        }
        XCTAssertEqual(err([ok], pid: 99), .noSuchProcess(99))
        XCTAssertEqual(err([]), .noThreads)
        XCTAssertEqual(err([ok, ThreadProgram(name: "T2", ops: [])]), .emptyProgram(thread: "T2"))
        XCTAssertEqual(err([ok, ThreadProgram(name: "rcu", ops: [b.fault(0)])]), .invalidThreadName("rcu"))
        XCTAssertEqual(err([ok, ok]), .invalidThreadName("T1"))
        guard case .invalidOp("T2", 1, _)? = err([ok, ThreadProgram(name: "T2", ops: [b.fault(0), .syscall(.close(fd: 3))])]) else {
            return XCTFail("close is not an mm op")
        }
        guard case .invalidOp("T1", 0, _)? = err([ThreadProgram(name: "T1", ops: [.syscall(.madvise(addr: b.at(0), length: 4096, advice: Linux.MADV_FREE))])]) else {
            return XCTFail("MADV_FREE is not modelled")
        }
    }

    /// A schedule that runs a parked thread is rejected with the step and the lock it waits for.
    ///
    ///     X         X+2p
    ///     [ V rw- *  ]      T1: munmap(X, p)   T2: fault(X+p, r)
    func testScheduleRunningABlockedThreadNamesTheLock() {
        let b = Bed(.v6_3)
        b.map(0, 2, "rw-")
        b.touch(0)
        let progs = [ThreadProgram(name: "T1", ops: [b.munmap(0, 1)]), ThreadProgram(name: "T2", ops: [b.fault(1, .read)])]
        let before = try! b.sim.process(b.pid).mm.vmas.map(\.rangeDescription)
        // T1 takes mmap_lock for write; T2's mmap_read_lock parks it; running T2 again is refused.
        XCTAssertThrowsError(try b.sim.interleave(pid: b.pid, programs: progs, schedule: ["T1", "T2", "T2"])) { e in
            XCTAssertEqual(e as? ExploreError, .threadBlocked(step: 2, thread: "T2", lock: "mmap_lock (read)"))
        }
        XCTAssertThrowsError(try b.sim.interleave(pid: b.pid, programs: progs, schedule: ["T1", "T9"])) { e in
            XCTAssertEqual(e as? ExploreError, .unknownThread(step: 1, name: "T9"))
        }
        // A valid prefix runs; the Simulation is untouched.
        let i = try! b.sim.interleave(pid: b.pid, programs: progs, schedule: ["T1", "T2"])
        XCTAssertFalse(i.finished)
        XCTAssertEqual(i.blocked, ["T2": "mmap_lock (read)"])
        XCTAssertEqual(i.steps[1].locksHeld["T1"], ["mmap_lock(write)"])
        XCTAssertEqual(try! b.sim.process(b.pid).mm.vmas.map(\.rangeDescription), before)
        XCTAssertNotNil(try! b.sim.process(b.pid).mm.pageTable[b.at(0) >> 12])
    }

    /// Exploration is deterministic and bounded runs say what cut them.
    func testDeterministicAndBounded() {
        let (_, a) = ScenarioS1Tests.run(.v3No26)
        let (_, b) = ScenarioS1Tests.run(.v3No26)
        XCTAssertEqual(a, b)
        let bed = Bed(.v3No26)
        bed.map(1, 1, "rw-")
        bed.touch(1)
        bed.map(0, 1, "rwx")
        let progs = [ThreadProgram(name: "T1", ops: [bed.fault(0)]), ThreadProgram(name: "T2", ops: [bed.munmap(1, 1)])]
        let cut = try! bed.sim.explore(pid: bed.pid, programs: progs, options: ExploreOptions(maxSchedules: 2))
        XCTAssertTrue(cut.bounded)
        XCTAssertTrue(cut.boundedBy.contains(.maxSchedules))
        XCTAssertEqual(cut.schedulesExplored, 2)
        let zero = try! bed.sim.explore(pid: bed.pid, programs: progs, options: ExploreOptions(preemptionBound: 0))
        XCTAssertEqual(zero.boundedBy, [.preemptionBound])
        XCTAssertFalse(zero.fired.contains(.D5), "a use-after-free needs a preemption")
        let steps = try! bed.sim.explore(pid: bed.pid, programs: progs, options: ExploreOptions(maxStepsPerThread: 2))
        XCTAssertTrue(steps.boundedBy.contains(.maxSteps))
    }

    /// The reduction only removes equivalent interleavings: same detectors, same outcomes.
    func testReductionKeepsDetectorsAndOutcomes() {
        for model in [KernelModel.v3No26, .v6_4, .v6_18] {
            let b = Bed(model)
            b.map(1, 1, "rw-")
            b.touch(1)
            b.map(0, 1, "rwx")
            let progs: [(String, [ThreadOp])] = [("T1", [b.fault(0)]), ("T2", [b.munmap(1, 1)])]
            let with = b.explore(progs), without = b.explore(progs, reduction: false)
            XCTAssertEqual(with.fired, without.fired, model.id)
            XCTAssertEqual(Set(with.outcomes.map(\.digest)), Set(without.outcomes.map(\.digest)), model.id)
            XCTAssertEqual(with.faultPaths, without.faultPaths, model.id)
        }
    }
}
