import XCTest
@testable import MMCore

/// The 6.3.y, 6.4.y and hypothetical models (docs/CONCURRENCY.md §4) run a
/// single thread exactly like their base model except where the fix or the
/// missing patch changes the lock path.
final class KernelModelVariantTests: XCTestCase {
    typealias W = FaultWorld

    func testModelListIsOldestFirstAndHistoricKeepsTheFourColumns() {
        XCTAssertEqual(KernelModel.all.map(\.id), ["6.3", "6.3.11", "v3-no-26", "v3-patch", "6.4-no-26", "6.4",
                                                    "6.4.1", "6.4.3", "6.4.8", "6.4.9", "6.18"])
        XCTAssertEqual(KernelModel.historic.map(\.id), ["6.3", "v3-patch", "6.4", "6.18"])
        for m in KernelModel.all {
            XCTAssertEqual(KernelModel.named(m.id), m)
            XCTAssertFalse(m.title.isEmpty)
        }
        XCTAssertEqual(Set(KernelModel.all.map(\.id)).count, KernelModel.all.count)
    }

    /// Each summary names the fixing commits the model includes (§3's table).
    func testSummariesNameTheirFixingCommits() {
        let fixes: [String: [String]] = [
            "6.3.11": ["8d7071af8907"], "6.4.1": ["8d7071af8907"],
            "6.4.3": ["fb49c455323f", "c137381f71ae", "33313a747e81", "1c7873e33645"],
            "6.4.8": ["d8ab9f7b644a", "6c21e066f925"], "6.4.9": ["657b5146955e"],
            "v3-no-26": ["26/35"], "6.4-no-26": ["26/35"],
        ]
        for (id, hashes) in fixes {
            let m = KernelModel.named(id)!
            for h in hashes { XCTAssertTrue(m.summary.contains(h), "\(id) summary names \(h)") }
        }
    }

    /// The switches accumulate along 6.4 → 6.4.1 → 6.4.3 → 6.4.8 → 6.4.9.
    func testSwitchesAccumulateAlongTheStableSeries() {
        let series: [KernelModel] = [.v6_4, .v6_4_1, .v6_4_3, .v6_4_8, .v6_4_9]
        func on(_ m: KernelModel) -> [Bool] {
            [m.stackExpandUnderWriteLock, m.forkWriteLocksParentVMAs, m.stackExpandWriteLocksVMA,
             m.newVMALockedBeforeInsert, m.dupAnonVMAWriteLocks, m.mpolWriteLocks, m.anonCheckAfterVMALock]
        }
        for (a, b) in zip(series, series.dropFirst()) {
            XCTAssertTrue(zip(on(a), on(b)).allSatisfy { !$0 || $1 }, "\(b.id) keeps every fix of \(a.id)")
            XCTAssertGreaterThan(on(b).filter { $0 }.count, on(a).filter { $0 }.count, "\(b.id) adds a fix")
        }
        XCTAssertEqual(on(.v6_4_9), on(.v6_18).enumerated().map { $0.element })
        XCTAssertEqual(KernelModel.v6_18.vmaLockImpl, .refcount)
        XCTAssertTrue(KernelModel.all.filter { $0.id != "6.18" }.allSatisfy { $0.vmaLockImpl == .rwsem })
        XCTAssertTrue(KernelModel.v3Patch.mergeLocksBeforeDecision && KernelModel.v3No26.mergeLocksBeforeDecision)
        XCTAssertFalse(KernelModel.v6_4.mergeLocksBeforeDecision)
    }

    /// The hypothetical models admit an anonymous VMA without anon_vma: the
    /// first write is handled under the VMA lock (code VMA_OK) and
    /// __anon_vma_prepare() runs with no mmap_lock; read faults are admitted too.
    ///   [16 rw- anon 24)   write 16, read 20
    func testWithoutPatch26TheFirstWriteStaysOnTheVMALock() {
        for (model, base) in [(KernelModel.v3No26, KernelModel.v3Patch), (.v6_4No26, .v6_4)] {
            let w = W(model)
            let v = w.anon(16, 8)
            let r = w.touch(16, .write)
            XCTAssertEqual(r.lock?.code, .VMA_OK, model.id)
            XCTAssertEqual(r.lock?.path, .vmaLock, model.id)
            XCTAssertEqual(r.anonVMA.action, .allocated)
            XCTAssertNotNil(v.anonVMA)
            XCTAssertTrue(r.lock!.steps.contains { $0.fn == "__anon_vma_prepare" && $0.result == "vma_lock_only" })
            XCTAssertFalse(r.lock!.steps.contains { $0.fn.hasPrefix("mmap_read") }, "no mmap_lock taken")
            let w2 = W(model)
            w2.anon(16, 8)
            XCTAssertEqual(w2.touch(20, .read).lock?.code, .VMA_OK, "\(model.id): the read fault is admitted")
            // The base model refuses both at lookup.
            let b = W(base)
            b.anon(16, 8)
            XCTAssertEqual(b.touch(16, .write).lock?.code, .NO_ANON_VMA, base.id)
        }
    }

    /// 6.4.9 tests anon_vma after vma_start_read(): a VMA without anon_vma that
    /// is also write-locked reports VMA_WRITE_LOCKED (6.4.0–6.4.8: NO_ANON_VMA,
    /// tested first). With an anon_vma every 6.4.y behaves like 6.4.
    func testAnonVMATestOrderMovesIn649() {
        for model in [KernelModel.v6_4, .v6_4_1, .v6_4_3, .v6_4_8, .v6_4_9] {
            let w = W(model)
            w.anon(16, 8)
            let locked = w.touch(16, .write, inject: FaultInjection(vmaWriteLocked: true))
            XCTAssertEqual(locked.lock?.code, model.anonCheckAfterVMALock ? .VMA_WRITE_LOCKED : .NO_ANON_VMA, model.id)
            let w2 = W(model)
            w2.anon(16, 8)
            XCTAssertEqual(w2.touch(16, .write).lock?.code, .NO_ANON_VMA, model.id)
            XCTAssertEqual(w2.touch(17, .write).lock?.code, .VMA_OK, model.id)
        }
    }

    /// Stack growth: 6.4 and 6.3 expand under mmap_read_lock; 6.3.11 and
    /// 6.4.1+ drop it and expand under mmap_write_lock (lock_mm_and_find_vma()),
    /// with the same resulting layout.
    ///   [100 stack 101)   write 99
    func testStackGrowthTakesTheWriteLockFrom641And6311() {
        for model in KernelModel.all {
            let w = W(model)
            let s = w.anon(100, 1, extra: .GROWSDOWN)
            let r = w.touch(99, .write)
            XCTAssertEqual(r.outcome, .handled, model.id)
            XCTAssertEqual(s.start, W.at(99), model.id)
            let steps = r.lock!.steps.map(\.fn)
            XCTAssertEqual(steps.contains("mmap_write_lock"), model.stackExpandUnderWriteLock, model.id)
            XCTAssertEqual(steps.contains("expand_stack"), !model.stackExpandUnderWriteLock, model.id)
            XCTAssertEqual(r.lock?.code, model.perVMALock ? .NO_VMA : .LEGACY, model.id)
        }
        XCTAssertEqual(KernelModel.all.filter(\.stackExpandUnderWriteLock).map(\.id),
                       ["6.3.11", "6.4.1", "6.4.3", "6.4.8", "6.4.9", "6.18"])
    }
}
