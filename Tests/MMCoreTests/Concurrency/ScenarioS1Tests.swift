import XCTest
@testable import MMCore

/// S1 (race R-A, docs/CONCURRENCY.md §8): a fault preparing V's anon_vma
/// against a munmap of V's neighbour N, whose anon_vma A it could reuse.
///
///     X          X+p        X+2p
///     [ V rwx    ][ N rw-    ]        N.anon_vma = A (sole user)
///     T1: fault(X, write)     T2: munmap(X+p, p)
final class ScenarioS1Tests: XCTestCase {
    /// Builds S1 at page `base` of the window and explores it with the given thread names/order.
    static func run(_ model: KernelModel, base: UInt64 = 0, faulter: String = "T1", unmapper: String = "T2",
                    unmapperFirst: Bool = false) -> (ConcurrencyBed, ExploreResult) {
        let b = ConcurrencyBed(model)
        b.map(base + 1, 1, "rw-")
        b.touch(base + 1)
        b.map(base, 1, "rwx")
        XCTAssertEqual(b.vma(base).end, b.at(base + 1), "V and N stay separate (VM_EXEC differs)")
        let f = (faulter, [b.fault(base)])
        let u = (unmapper, [b.munmap(base + 1, 1)])
        return (b, b.explore(unmapperFirst ? [u, f] : [f, u]))
    }

    func testV3No26FiresTheUnlockedNeighbourWalkAndItsUseAfterFrees() {
        for model in [KernelModel.v3No26, .v6_4No26] {
            let (_, r) = Self.run(model)
            XCTAssertTrue(r.fired.isSuperset(of: [.D1, .D2, .D5, .D6]), "\(model.id): \(r.describe)")
            XCTAssertEqual(r.codes("T1"), [.VMA_OK], "prepared under the VMA lock only")
            XCTAssertNil(r.hazard(.D1)!.fixedBy, "R-A: the fix is patch 26/35 itself")
            XCTAssertFalse(r.fired.contains(.D12))
        }
    }

    func testModelsWithTheAnonVMATestFallBackAndFireNothing() {
        for model in [KernelModel.v3Patch, .v6_4, .v6_4_1, .v6_4_3, .v6_4_8, .v6_4_9] {
            let (b, r) = Self.run(model)
            XCTAssertTrue(r.fired.isDisjoint(with: [.D1, .D2, .D5, .D6]), "\(model.id): \(r.describe)")
            XCTAssertEqual(r.codes("T1"), [.NO_ANON_VMA], model.id)
            XCTAssertFalse(r.bounded && r.boundedBy != [.preemptionBound], model.id)
            // Outcomes: V reuses A (T1 first) or gets a new root.
            let a = b.vma(1).anonVMA!.id
            let vAVs = Set(r.outcomes.compactMap { o in o.vmas.first { $0.start == b.at(0) && !$0.detached }?.anonVMA })
            XCTAssertTrue(vAVs.contains(a), "\(model.id): some schedule reuses A")
            XCTAssertTrue(vAVs.contains { $0 != a }, "\(model.id): some schedule allocates a new root")
        }
    }

    func testV618TrylockFailsOnlyAgainstTheWriter() {
        let (_, r) = Self.run(.v6_18)
        XCTAssertTrue(r.fired.isEmpty, r.describe)
        XCTAssertEqual(r.codes("T1"), [.VMA_OK_TRYLOCK, .ANON_VMA_TRYLOCK_FAILED], r.describe)
    }

    func testV63IsLegacyOnly() {
        let (_, r) = Self.run(.v6_3)
        XCTAssertTrue(r.fired.isEmpty, r.describe)
        XCTAssertEqual(r.codes("T1"), [.LEGACY])
    }

    /// The same rules elsewhere: another address, other names, the unmapper listed first.
    func testShiftedRenamedAndReorderedVariant() {
        let (_, r) = Self.run(.v3No26, base: 40, faulter: "faulter", unmapper: "unmapper", unmapperFirst: true)
        XCTAssertTrue(r.fired.isSuperset(of: [.D1, .D2, .D5, .D6]), r.describe)
        XCTAssertEqual(r.hazard(.D1)?.thread, "faulter")
        let (_, r2) = Self.run(.v6_4_9, base: 40, faulter: "faulter", unmapper: "unmapper", unmapperFirst: true)
        XCTAssertTrue(r2.fired.isEmpty, r2.describe)
    }

    /// interleave replays an explore first_schedule and fires the same detector at the same step.
    func testInterleaveReplaysTheFirstSchedule() throws {
        let (b, r) = Self.run(.v3No26)
        for d in [Detector.D5, .D6] {
            let h = try XCTUnwrap(r.hazard(d))
            let progs = [ThreadProgram(name: "T1", ops: [b.fault(0)]), ThreadProgram(name: "T2", ops: [b.munmap(1, 1)])]
            let i = try b.sim.interleave(pid: b.pid, programs: progs, schedule: h.firstSchedule)
            XCTAssertTrue(i.steps[h.step].detectors.contains(d), "\(d) at step \(h.step) of \(h.firstSchedule)")
            XCTAssertEqual(i.hazards.first { $0.detector == d }?.step, h.step)
        }
    }
}
