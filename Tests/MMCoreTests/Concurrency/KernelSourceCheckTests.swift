import XCTest
@testable import MMCore

/// The rules docs/CONCURRENCY.md "Checked against the kernel source" changed
/// after re-reading the kernel: each test fails under the rule the engine
/// had before.
final class KernelSourceCheckTests: XCTestCase {
    typealias Bed = ConcurrencyBed
    static let perVMAModels: [KernelModel] = [.v3Patch, .v6_4, .v6_4_3, .v6_4_9, .v6_18]

    /// Runs `schedule` and returns the step functions, or nil if the schedule is rejected.
    func fns(_ b: Bed, _ progs: [ThreadProgram], _ schedule: [String]) -> [String]? {
        (try? b.sim.interleave(pid: b.pid, programs: progs, schedule: schedule))?.steps.map(\.fn)
    }

    /// One thread alone, stepped to the end: its step functions.
    func alone(_ b: Bed, _ op: ThreadOp) -> [String] {
        let progs = [ThreadProgram(name: "T", ops: [op])]
        for n in 1...40 {
            if let i = try? b.sim.interleave(pid: b.pid, programs: progs, schedule: Array(repeating: "T", count: n)), i.finished {
                return i.steps.map(\.fn)
            }
        }
        XCTFail("the op did not finish in 40 steps")
        return []
    }

    /// lock_vma_under_rcu() (6.4 – 6.14) tests the range before `detached`:
    /// a fault that found V, which munmap then shrank (the end split keeps
    /// the original below) and detached, aborts to mmap_lock instead of
    /// walking again. The refcount form (6.18) gets -EAGAIN and walks again.
    ///
    ///     V=[X,X+2p) rw, written at X      T1: fault(X+p, r)   T2: munmap(X, p)
    func testRangeIsCheckedBeforeTheDetachedFlag() {
        for model in [KernelModel.v3Patch, .v6_4, .v6_4_8, .v6_18] {
            let b = Bed(model)
            b.map(0, 2, "rw-")
            b.touch(0)
            let r = b.explore([("T1", [b.fault(1, .read)]), ("T2", [b.munmap(0, 1)])])
            XCTAssertTrue(r.fired.isEmpty, "\(model.id): \(r.describe)")
            if model.vmaLockImpl == .rwsem {
                XCTAssertTrue(r.codes("T1").contains(.RANGE_CHANGED), "\(model.id): \(r.codes("T1"))")
            } else {
                XCTAssertFalse(r.codes("T1").contains(.RANGE_CHANGED), "\(model.id): \(r.codes("T1"))")
                XCTAssertTrue(r.codes("T1").contains(.VMA_OK), "\(model.id): \(r.codes("T1"))")
            }
        }
    }

    /// do_vmi_align_munmap() before 6.6 splits the first VMA with new_below = 0:
    /// the original keeps the part below, write-locked by vma_prepare(), so a
    /// fault there waits; 6.6+ write-locks both halves (__split_vma()). Before
    /// the fix the kept part was a new, unlocked VMA under 6.4.
    ///
    ///     V=[X,X+4p) rw, written at X+3p   T1: munmap(X+2p, 2p)   T2: fault(X, w)
    func testMunmapsStartSplitLeavesTheKeptPartWriteLocked() {
        for model in Self.perVMAModels {
            let b = Bed(model)
            b.map(0, 4, "rw-")
            b.touch(3)
            let progs = [ThreadProgram(name: "T1", ops: [b.munmap(2, 2)]), ThreadProgram(name: "T2", ops: [b.fault(0)])]
            // T1: mmap_write_lock, gather, vma_start_write, __split_vma; then T2's lookup, vma_start_read, mmap_read_lock.
            let i = try! b.sim.interleave(pid: b.pid, programs: progs, schedule: ["T1", "T1", "T1", "T1", "T2", "T2", "T2"])
            XCTAssertEqual(i.steps[3].fn, "__split_vma", model.id)
            XCTAssertEqual(i.steps[5].note.contains("VMA_WRITE_LOCKED"), true, "\(model.id): \(i.steps[5].note)")
            XCTAssertNotNil(i.blocked["T2"], "\(model.id): T2 waits for T1's mmap_lock")
        }
    }

    /// Up to 6.4.y munmap(2) keeps the write lock when the next VMA is
    /// VM_GROWSDOWN; e4bd84c069f2 (6.5) always downgrades.
    func testMunmapNextToAStackDowngradesFrom65Only() {
        for model in [KernelModel.v6_3, .v3Patch, .v6_4, .v6_4_9, .v6_18] {
            let stack = Bed(model)
            stack.map(0, 1, "rw-")
            stack.map(1, 4, "rw-", growsdown: true)
            let downgraded = alone(stack, stack.munmap(0, 1)).contains("mmap_write_downgrade")
            XCTAssertEqual(downgraded, model.vmaLockImpl == .refcount, model.id)
            let plain = Bed(model)
            plain.map(0, 1, "rw-")
            plain.map(1, 4, "rw-")
            XCTAssertTrue(alone(plain, plain.munmap(0, 1)).contains("mmap_write_downgrade"), model.id)
        }
    }

    /// vma_merge_existing_range() (6.18) write-locks next only when merging
    /// right: mprotect merging V into P leaves N (incompatible) unlocked, so
    /// a fault on N is never refused. Before the fix 6.18 locked N too.
    ///
    ///     P=[X,X+2p) rw written at X; V=[X+2p,X+3p) r--; N=[X+3p,X+4p) r-x
    ///     T1: mprotect(X+2p, p, rw)   T2: fault(X+3p, r) / fault(X+p, r)
    func testV618MprotectLocksOnlyTheNeighbourItMerges() {
        func run(_ page: UInt64) -> ExploreResult {
            let b = Bed(.v6_18)
            b.map(0, 2, "rw-")
            b.touch(0)
            b.map(2, 1, "r--")
            b.map(3, 1, "r-x")
            return b.explore([("T1", [b.mprotect(2, 1, "rw-")]), ("T2", [b.fault(page, .read)])])
        }
        let r = run(3)
        XCTAssertTrue(r.fired.isEmpty, r.describe)
        XCTAssertEqual(r.codes("T2"), [.VMA_OK], r.describe)
        XCTAssertTrue(r.outcomes.allSatisfy { $0.summary.count == 2 }, "V merged into P in every schedule: \(r.describe)")
        // The merge target is locked: a fault on P can be refused.
        let q = run(1)
        XCTAssertTrue(q.codes("T2").contains(.VMA_WRITE_LOCKED), q.describe)
    }

    /// madvise(MADV_DONTNEED) in 6.17+: try_vma_read_lock() zaps under the
    /// VMA read lock when the range stays in one VMA, else mmap_read_lock();
    /// before 6.17 always mmap_read_lock() and find_vma_prev().
    func testMadviseDontneedTakesTheVMALockIn618() {
        let dontneed = { (b: Bed, pages: UInt64) in
            ThreadOp.syscall(.madvise(addr: b.at(0), length: pages * Bed.p, advice: Linux.MADV_DONTNEED))
        }
        for model in [KernelModel.v6_4, .v6_4_9, .v6_18] {
            let b = Bed(model)
            b.map(0, 2, "rw-")
            b.map(2, 1, "r--")
            b.touch(0)
            let inside = alone(b, dontneed(b, 2))
            XCTAssertEqual(inside.contains("mmap_read_lock"), model.vmaLockImpl == .rwsem, "\(model.id): \(inside)")
            XCTAssertEqual(inside.contains("find_vma_prev"), model.vmaLockImpl == .rwsem, "\(model.id): \(inside)")
            let across = alone(b, dontneed(b, 3))
            XCTAssertTrue(across.contains("mmap_read_lock") && across.contains("find_vma_prev"), "\(model.id): \(across)")
        }
        // Against munmap: the zap under the VMA lock makes munmap's vma_start_write() wait for it.
        let b = Bed(.v6_18)
        b.map(0, 2, "rw-")
        b.touch(0)
        let r = b.explore([("T1", [dontneed(b, 1)]), ("T2", [b.munmap(0, 2)])])
        XCTAssertTrue(r.fired.isEmpty, r.describe)
        XCTAssertTrue(r.lockWaitGraph.contains { $0.from == "T2" && $0.to == "T1" && $0.lock.contains("V#") }, r.describe)
        XCTAssertTrue(r.deadlocks.isEmpty)
    }

    /// dup_mmap(): anon_vma_fork() failing (injected ENOMEM) tears the child
    /// down; the parent keeps its VMAs and anon_vmas, no page of the child
    /// survives. Before the fix the injection was ignored by fork.
    func testForkHonoursTheAnonVMAForkENOMEM() {
        for model in [KernelModel.v6_4, .v6_18] {
            let b = Bed(model)
            b.map(0, 1, "rw-")
            b.touch(0)
            b.map(2, 1, "rw-")
            b.touch(2)
            let r = b.explore([("K", [.syscall(.fork)])], enomem: true)
            XCTAssertEqual(r.outcomes.count, 1, model.id)
            XCTAssertTrue(r.fired.isEmpty, r.describe)
            let out = r.outcomes[0]
            XCTAssertTrue(out.vmas.filter { $0.mm != 0 }.allSatisfy(\.freed), "\(model.id): no child VMA survives")
            XCTAssertEqual(out.vmas.filter { $0.mm == 0 && !$0.freed }.count, 2, model.id)
            let ok = b.explore([("K", [.syscall(.fork)])])
            XCTAssertEqual(ok.outcomes[0].vmas.filter { $0.mm != 0 && !$0.freed }.count, 2, "\(model.id): without ENOMEM the child has both")
        }
    }
}
