import XCTest
@testable import MMCore

/// S2–S6 (docs/CONCURRENCY.md §8): fork against a parent fault, StackRot,
/// stack growth without the VMA write lock, and R-E (the anon_vma test made
/// before the lock, defeated by MREMAP_DONTUNMAP).
final class ScenarioRaceTests: XCTestCase {
    typealias Bed = ConcurrencyBed
    static let fork = ThreadOp.syscall(.fork)

    /// S2 (R-B1):
    ///
    ///     X        X+p
    ///     [ P rw- *]      av, written page
    ///     K: fork     T2: fault(X, w)
    func testS2ForkAgainstAParentWriteFault() {
        for model in KernelModel.all {
            let b = Bed(model, window: 0x2000_0000)
            b.map(0, 1, "rw-")
            b.touch(0)
            let r = b.explore([("K", [Self.fork]), ("T2", [b.fault(0)])])
            switch model.id {
            case "v3-patch", "6.4", "6.4.1", "v3-no-26", "6.4-no-26":
                XCTAssertTrue(r.fired.contains(.D8), "\(model.id): \(r.describe)")
                XCTAssertEqual(r.hazard(.D8)?.fixedBy, "fb49c455323f")
                XCTAssertTrue(r.codes("T2").contains(.VMA_OK), "\(model.id): \(r.faultPaths)")
            default:
                XCTAssertTrue(r.fired.isEmpty, "\(model.id): \(r.describe)")
                if model.forkWriteLocksParentVMAs {
                    XCTAssertTrue(r.codes("T2").contains(.VMA_WRITE_LOCKED), "\(model.id): \(r.faultPaths)")
                    XCTAssertTrue(r.lockWaitGraph.contains { $0.from == "T2" && $0.to == "K" }, "\(r.lockWaitGraph)")
                }
            }
        }
    }

    /// S3 (R-B2): the parent VMA has no anon_vma when fork reads it, a page
    /// when copy_page_range() reads it again.
    ///
    ///     X        X+p
    ///     [ P rw-  ]      no av
    ///     K: fork     T2: fault(X, w)
    func testS3ForkCopiesAPageIntoAChildWithoutAnonVMA() {
        for model in KernelModel.all {
            let b = Bed(model)
            b.map(5, 1, "rw-")
            let r = b.explore([("T2", [b.fault(5)]), ("K", [Self.fork])])
            if model.anonPrepareUnderVMALock {
                XCTAssertTrue(r.fired.contains(.D9), "\(model.id): \(r.describe)")
            } else {
                XCTAssertTrue(r.fired.isDisjoint(with: [.D7, .D9, .D8]), "\(model.id): \(r.describe)")
                XCTAssertTrue(r.fired.isEmpty, "\(model.id): \(r.describe)")
            }
        }
    }

    /// S4 (R-C, StackRot):
    ///
    ///     X      X+4p       X+8p         X+16p        X+32p X+33p
    ///     [ G gd ]  (gap)   [ S gd     * ]    ...     [ Y rw- ]
    ///     T1: fault(X+4p, w) grows S down over the gap     T2: madvise(Y, p, DONTNEED)
    static func s4(_ model: KernelModel) -> ExploreResult {
        let b = Bed(model)
        b.map(0, 4, "rw-", growsdown: true)
        b.map(8, 8, "rw-", growsdown: true)
        b.touch(15)
        b.map(32, 1, "rw-")
        return b.explore([("T1", [b.fault(4)]),
                          ("T2", [.syscall(.madvise(addr: b.at(32), length: 4096, advice: Linux.MADV_DONTNEED))])])
    }

    func testS4StackRot() {
        for model in KernelModel.all {
            let r = Self.s4(model)
            if !model.stackExpandUnderWriteLock {
                XCTAssertTrue(r.fired.isSuperset(of: [.D4, .D4s]), "\(model.id): \(r.describe)")
                let h = r.hazard(.D4s)!
                XCTAssertEqual(h.thread, "T2")
                XCTAssertTrue(h.firstSchedule.contains("rcu"))
                XCTAssertEqual(h.firstSchedule.last, "T2")
                XCTAssertEqual(h.fixedBy, "8d7071af8907")
            } else {
                XCTAssertTrue(r.fired.isDisjoint(with: [.D4, .D4s]), "\(model.id): \(r.describe)")
                if model.stackExpandWriteLocksVMA || !model.perVMALock { XCTAssertTrue(r.fired.isEmpty, "\(model.id): \(r.describe)") }
            }
        }
    }

    /// The schedule of the write-up: T2 through "walk: load node", T1 to the
    /// end, a grace period, T2 reads the freed node.
    func testS4TheDescribedScheduleFiresD4sAtT2sRead() throws {
        let b = Bed(.v6_4)
        b.map(0, 4, "rw-", growsdown: true)
        b.map(8, 8, "rw-", growsdown: true)
        b.touch(15)
        b.map(32, 1, "rw-")
        let progs = [ThreadProgram(name: "T1", ops: [b.fault(4)]),
                     ThreadProgram(name: "T2", ops: [.syscall(.madvise(addr: b.at(32), length: 4096, advice: Linux.MADV_DONTNEED))])]
        let t1 = try XCTUnwrap((1...40).first { k in
            (try? b.sim.interleave(pid: b.pid, programs: progs, schedule: ["T2", "T2"] + Array(repeating: "T1", count: k)))?
                .linearization.contains(OpRef(thread: "T1", opIndex: 0)) ?? false
        })
        let schedule = ["T2", "T2"] + Array(repeating: "T1", count: t1) + ["rcu", "T2", "T2"]
        let i = try b.sim.interleave(pid: b.pid, programs: progs, schedule: schedule)
        XCTAssertTrue(i.finished)
        XCTAssertEqual(i.steps[t1 + 3].detectors, [.D4s], "\(i.steps.map { "\($0.thread) \($0.fn) \($0.detectors)" })")
        XCTAssertEqual(i.steps[t1 + 2].fn, "rcu.gp")
        // rcu cannot run when nothing is queued: the schedule is rejected.
        XCTAssertThrowsError(try b.sim.interleave(pid: b.pid, programs: progs, schedule: ["rcu"])) { e in
            guard case ExploreError.threadBlocked(0, "rcu", _) = e else { return XCTFail("\(e)") }
        }
    }

    /// A fault cannot be StackRot's reader: find_vma() walks inside RCU.
    func testS4WithAFaultAsTheReaderNeverFiresD4s() {
        for model in [KernelModel.v6_3, .v6_4] {
            let b = Bed(model)
            b.map(0, 4, "rw-", growsdown: true)
            b.map(8, 8, "rw-", growsdown: true)
            b.touch(15)
            b.map(32, 1, "rw-")
            let r = b.explore([("T1", [b.fault(4)]), ("T2", [b.fault(32, .read)])])
            XCTAssertTrue(r.fired.contains(.D4), "\(model.id): \(r.describe)")
            XCTAssertFalse(r.fired.contains(.D4s), "\(model.id): \(r.describe)")
        }
    }

    /// S5 (R-C2):
    ///
    ///     X+7p X+8p                 X+16p
    ///          [ S gd        .  *   ]      av, page at X+15p
    ///     T1: fault(X+7p, w) grows S     T2: fault(X+14p, w) under S's read lock
    func testS5StackGrowthUnderAVMAReader() {
        for model in [KernelModel.v3Patch, .v6_4, .v6_4_1, .v6_4_3, .v6_18] {
            let b = Bed(model)
            b.map(8, 8, "rw-", growsdown: true)
            b.touch(15)
            let r = b.explore([("T1", [b.fault(7)]), ("T2", [b.fault(14)])])
            switch model.id {
            case "v3-patch", "6.4":
                XCTAssertTrue(r.fired.isSuperset(of: [.D3b, .D4]), "\(model.id): \(r.describe)")
            case "6.4.1":
                XCTAssertTrue(r.fired.contains(.D3b), "\(model.id): \(r.describe)")
                XCTAssertFalse(r.fired.contains(.D4))
                XCTAssertEqual(r.hazard(.D3b)?.fixedBy, "c137381f71ae")
            default:
                XCTAssertTrue(r.fired.isEmpty, "\(model.id): \(r.describe)")
                XCTAssertTrue(r.lockWaitGraph.contains { $0.from == "T1" && $0.to == "T2" && $0.lock.hasSuffix("readers") },
                              "\(model.id): \(r.lockWaitGraph)")
            }
        }
    }

    /// S6 (R-E):
    ///
    ///     X             X+2p     X+3p
    ///     [ V rwx *      ][ N rw- *]     V.anon_vma = B, N reuses B
    ///     T1: fault(X+p, w)   T2: mremap(X, 2p, 2p, MAYMOVE|DONTUNMAP)   T3: munmap(X+2p, p)
    static func s6(_ model: KernelModel, base: UInt64 = 0, names: [String] = ["T1", "T2", "T3"]) -> ExploreResult {
        let b = Bed(model)
        b.map(base, 2, "rwx")
        b.touch(base)
        b.map(base + 2, 1, "rw-")
        b.touch(base + 2)
        XCTAssertEqual(b.vma(base + 2).anonVMA?.id, b.vma(base).anonVMA?.id, "N reuses B")
        let mremap = ThreadOp.syscall(.mremap(oldAddress: b.at(base), oldSize: 2 * 4096, newSize: 2 * 4096,
                                              flags: Linux.MREMAP_MAYMOVE | Linux.MREMAP_DONTUNMAP, newAddress: 0))
        return b.explore([(names[0], [b.fault(base + 1)]), (names[1], [mremap]), (names[2], [b.munmap(base + 2, 1)])])
    }

    func testS6DontUnmapDefeatsTheTestBeforeTheLock() {
        for model in [KernelModel.v3Patch, .v6_4, .v6_4_8] {
            let r = Self.s6(model)
            XCTAssertTrue(r.fired.isSuperset(of: [.D1, .D2, .D5]), "\(model.id): \(r.describe)")
            XCTAssertEqual(r.hazard(.D5)?.fixedBy, "657b5146955e")
            XCTAssertTrue(r.hazards.contains { $0.detector == .D1r }, "latent R-E on every admitted fault")
        }
        for model in [KernelModel.v6_4_9, .v6_18] {
            let r = Self.s6(model)
            XCTAssertTrue(r.hazards.isEmpty, "\(model.id): \(r.describe)")
        }
    }

    func testS6VariantShiftedAndRenamed() {
        let r = Self.s6(.v6_4, base: 64, names: ["reader", "mover", "unmapper"])
        XCTAssertTrue(r.fired.isSuperset(of: [.D1, .D2, .D5]), r.describe)
        XCTAssertEqual(r.hazard(.D5)?.thread, "reader")
    }
}
