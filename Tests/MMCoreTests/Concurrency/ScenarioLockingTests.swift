import XCTest
@testable import MMCore

/// S7–S11 (docs/CONCURRENCY.md §8): merges publishing an anon_vma, detached
/// VMAs, lock contention, the blocking-prepare deadlock, concurrent preparers.
final class ScenarioLockingTests: XCTestCase {
    typealias Bed = ConcurrencyBed

    /// S7 (R-D1): mprotect makes M match both neighbours; 6.4's vma_merge()
    /// runs dup_anon_vma(V, N) before vma_prepare() write-locks V.
    ///
    ///     X        X+p      X+2p     X+3p
    ///     [ V rw-  ][ M r--  ][ N rw-  ]     N.anon_vma = A (page at X+2p)
    ///     T1: mprotect(X+p, p, rw-) [anon_vma_clone ENOMEM]     T2: fault(X, write)
    static func s7(_ model: KernelModel, base: UInt64 = 0, enomem: Bool = true, names: (String, String) = ("T1", "T2"))
        -> (Bed, ExploreResult) {
        let b = Bed(model)
        b.map(base + 2, 1, "rw-")
        b.touch(base + 2)
        b.map(base + 1, 1, "r--")
        b.map(base, 1, "rw-")
        XCTAssertEqual(try! b.sim.process(b.pid).mm.vmas.count, 3)
        return (b, b.explore([(names.0, [b.mprotect(base + 1, 1, "rw-")]), (names.1, [b.fault(base)])], enomem: enomem))
    }

    func testS7DupAnonVMABeforeTheLockOrphansAFolio() {
        for model in [KernelModel.v6_4, .v6_4_1, .v6_4_3] {
            let (_, r) = Self.s7(model)
            XCTAssertTrue(r.fired.isSuperset(of: [.D3, .D7]), "\(model.id): \(r.describe)")
            XCTAssertEqual(r.hazard(.D3)?.fixedBy, "d8ab9f7b644a")
            // With ENOMEM the orphan stays: some end state maps an anon folio of A in V without A on V's chain.
            XCTAssertTrue(r.outcomes.contains { o in o.vmas.contains { $0.start == 0x1000_0000 && $0.anonVMA == nil } },
                          model.id)
        }
        for model in [KernelModel.v6_4_8, .v6_4_9, .v6_18, .v3Patch] {
            let (_, r) = Self.s7(model)
            XCTAssertTrue(r.fired.isDisjoint(with: [.D3, .D7]), "\(model.id): \(r.describe)")
        }
    }

    /// Without the injection: mprotect first → V absorbs M and N and keeps A;
    /// the fault first → V gets its own anon_vma, and R5 (prev and next with
    /// different anon_vmas) lets M merge only into V.
    func testS7WithoutENOMEMMergesLikeTheSerialOrders() {
        for model in [KernelModel.v6_4, .v6_4_8, .v6_18] {
            let (b, r) = Self.s7(model, enomem: false)
            let a = b.vma(2).anonVMA!.id
            var shapes = Set<[[UInt64]]>()
            for o in r.outcomes {
                let live = o.vmas.filter { !$0.detached && !$0.freed && $0.mm == 0 }
                shapes.insert(live.map { [$0.start, $0.end] })
                if live.count == 1 { XCTAssertEqual(live[0].anonVMA, a, "\(model.id): \(o.summary)") }
                if live.count == 2 { XCTAssertNotEqual(live[0].anonVMA, a, "\(model.id): \(o.summary)") }
            }
            XCTAssertEqual(shapes, [[[b.at(0), b.at(3)]], [[b.at(0), b.at(2)], [b.at(2), b.at(3)]]], model.id)
        }
    }

    /// The same race shifted, with other names and the faulter listed first.
    func testS7VariantShiftedAndRenamed() {
        let (_, r) = Self.s7(.v6_4, base: 100, names: ("merger", "toucher"))
        XCTAssertTrue(r.fired.isSuperset(of: [.D3, .D7]), r.describe)
        XCTAssertEqual(r.hazard(.D3)?.thread, "merger")
    }

    /// S8 (R-H): munmap detaches V before downgrading; a walker that found V
    /// under RCU sees it detached (rwsem) or gets -EAGAIN (refcount) and retries.
    ///
    ///     X           X+2p
    ///     [ V rw-  *  ]        av, page at X+p
    ///     T1: fault(X, read)     T2: munmap(X, 2p)
    static func s8(_ model: KernelModel, mutant: Mutant? = nil) -> ExploreResult {
        let b = Bed(model)
        b.map(0, 2, "rw-")
        b.touch(1)
        return b.explore([("T1", [b.fault(0, .read)]), ("T2", [b.munmap(0, 2)])], mutant: mutant)
    }

    func testS8NeverFaultsOnADetachedVMA() {
        for model in KernelModel.all {
            let r = Self.s8(model)
            XCTAssertFalse(r.fired.contains(.D10), "\(model.id): \(r.describe)")
            XCTAssertTrue(r.fired.isEmpty, "\(model.id): \(r.describe)")
            XCTAssertEqual(r.outcomes.count, 1, "\(model.id): V is gone in every end state")
        }
        for model in [KernelModel.v6_18, .v6_4] {
            let r = Self.s8(model, mutant: .noDetachCheck)
            XCTAssertTrue(r.fired.contains(.D10), "\(model.id) mutant: \(r.describe)")
            XCTAssertNil(r.hazard(.D10)?.fixedBy)
        }
    }

    /// S9 (contention): a split waits for a reader; a waiting writer makes
    /// the per-VMA lookup fail and the fallback queues behind the writer.
    ///
    ///     X                   X+4p
    ///     [ V rw-          *  ]     av, page at X+3p
    ///     T1: fault(X, w)   T2: mprotect(X+2p, 2p, r--)   T3: fault(X+p, w)
    func testS9ContentionEdgesWithoutDeadlock() {
        for model in [KernelModel.v6_4, .v6_18, .v6_3] {
            let b = Bed(model)
            b.map(0, 4, "rw-")
            b.touch(3)
            let r = b.explore([("T1", [b.fault(0)]), ("T2", [b.mprotect(2, 2, "r--")]), ("T3", [b.fault(1)])])
            XCTAssertTrue(r.fired.isEmpty, "\(model.id): \(r.describe)")
            XCTAssertTrue(r.deadlocks.isEmpty, model.id)
            let edges = r.lockWaitGraph
            if model.perVMALock {
                XCTAssertTrue(r.codes("T3").isSuperset(of: [.VMA_OK, .VMA_WRITE_LOCKED]), "\(model.id): \(r.faultPaths)")
                XCTAssertTrue(edges.contains { $0.from == "T2" && $0.to == "T1" && $0.lock.hasSuffix("readers") }, "\(edges)")
                XCTAssertTrue(edges.contains { $0.from == "T3" && $0.to == "T2" && $0.lock.hasPrefix("mmap_lock") }, "\(edges)")
            } else {
                XCTAssertEqual(r.codes("T1").union(r.codes("T3")), [.LEGACY])
                XCTAssertTrue(edges.allSatisfy { $0.lock.hasPrefix("mmap_lock") }, "\(edges)")
                XCTAssertFalse(edges.isEmpty)
            }
        }
    }

    /// S10 (R-I): a VMA reader that blocked on mmap_lock would deadlock with a
    /// writer waiting for that reader; 6.18 only trylocks.
    ///
    ///     X        X+p
    ///     [ V rw-  ]      no anon_vma
    ///     T1: fault(X, w)     T2: mprotect(X, p, r--)
    func testS10TrylockAvoidsTheDeadlockTheBlockingMutantHits() {
        let b = Bed(.v6_18)
        b.map(0, 1, "rw-")
        let progs: [(String, [ThreadOp])] = [("T1", [b.fault(0)]), ("T2", [b.mprotect(0, 1, "r--")])]
        let r = b.explore(progs)
        XCTAssertTrue(r.fired.isEmpty, r.describe)
        XCTAssertTrue(r.deadlocks.isEmpty)
        XCTAssertTrue(r.codes("T1").contains(.ANON_VMA_TRYLOCK_FAILED), r.describe)
        let m = b.explore(progs, mutant: .blockingPrepare)
        XCTAssertTrue(m.fired.contains(.D12), m.describe)
        let d = try! XCTUnwrap(m.deadlocks.first)
        XCTAssertEqual(Set(d.cycle), ["T1", "T2"])
        XCTAssertTrue(d.locks.contains { $0.hasPrefix("mmap_lock") } && d.locks.contains { $0.hasSuffix("readers") }, "\(d)")
    }

    /// S11: two preparers of one VMA; page_table_lock makes one winner.
    ///
    ///     X             X+2p
    ///     [ V rw-        ]     no anon_vma, no neighbours
    ///     T1: fault(X, w)     T2: fault(X+p, w)
    func testS11ConcurrentPreparersAttachOneAnonVMA() {
        for model in KernelModel.all {
            let b = Bed(model)
            b.map(0, 2, "rw-")
            let r = b.explore([("T1", [b.fault(0)]), ("T2", [b.fault(1)])])
            XCTAssertTrue(r.fired.isDisjoint(with: [.D6, .D7]), "\(model.id): \(r.describe)")
            for o in r.outcomes {
                let v = o.vmas.first { $0.start == b.at(0) }!
                XCTAssertNotNil(v.anonVMA, model.id)
                XCTAssertEqual(v.chain, [v.anonVMA!], "\(model.id): one anon_vma attached")
                XCTAssertTrue(o.summary.allSatisfy { !$0.contains("anon(av") || $0.components(separatedBy: "anon(av\(v.anonVMA!))").count == 3 },
                              "\(model.id): both pages in V's anon_vma: \(o.summary)")
            }
            if model.anonPrepareUnderVMALock {
                XCTAssertEqual(r.fired, [.D2], "\(model.id): \(r.describe)")
            } else {
                XCTAssertTrue(r.fired.isEmpty, "\(model.id): \(r.describe)")
            }
        }
    }

    /// S11 with three threads: still one winner.
    func testS11ThreeWritersVariant() {
        let b = Bed(.v3No26)
        b.map(10, 3, "rw-")
        let r = b.explore([("a", [b.fault(12)]), ("b", [b.fault(10)]), ("c", [b.fault(11)])], bound: 2)
        XCTAssertEqual(r.fired, [.D2], r.describe)
        XCTAssertTrue(r.outcomes.allSatisfy { o in o.vmas.filter { $0.mm == 0 }.allSatisfy { $0.chain.count == 1 } })
    }
}
