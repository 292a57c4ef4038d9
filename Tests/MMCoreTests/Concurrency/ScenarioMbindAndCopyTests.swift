import XCTest
@testable import MMCore

/// R-F (mbind() against a per-VMA fault, CVE-2023-4611) and copy_vma()'s
/// destination merge against a per-VMA fault (docs/CONCURRENCY.md §2.8,
/// §2.12, §3).
final class ScenarioMbindAndCopyTests: XCTestCase {
    typealias Bed = ConcurrencyBed

    func mbind(_ b: Bed, _ page: UInt64, _ pages: UInt64, _ mode: MempolicyMode) -> ThreadOp {
        .mbind(addr: b.at(page), length: pages * Bed.p, mode: mode)
    }

    /// R-F:
    ///
    ///     X          X+2p
    ///     [ V rw-   *]        av, page at X+p
    ///     T1: mbind(V, BIND), fault(X, w)     T2: mbind(V, INTERLEAVE)
    ///
    /// T1's fault reads V's BIND policy in get_vma_policy() under the VMA
    /// lock; T2 replaces and frees it before vma_alloc_folio() uses it,
    /// unless vma_replace_policy() write-locks V first (6c21e066f925: 6.4.8+).
    func testRFPolicyReplacedUnderAFault() {
        for model in KernelModel.all {
            for (t1, t2) in [("T1", "T2"), ("b", "a")] {
                let b = Bed(model, window: 0x3000_0000)
                b.map(0, 2, "rw-")
                b.touch(1)
                let r = b.explore([(t1, [mbind(b, 0, 2, .bind), b.fault(0)]), (t2, [mbind(b, 0, 2, .interleave)])])
                let perVMAFault = model.perVMALock && !model.mpolWriteLocks
                if perVMAFault {
                    XCTAssertTrue(r.fired.contains(.D11), "\(model.id): \(r.describe)")
                    XCTAssertEqual(r.hazard(.D11)?.fixedBy, "6c21e066f925")
                    XCTAssertEqual(r.hazard(.D11)?.thread, t1)
                    XCTAssertTrue(r.fired.contains(.D3b), "\(model.id): the replace under T1's read lock: \(r.describe)")
                } else {
                    XCTAssertFalse(r.fired.contains(.D11), "\(model.id): \(r.describe)")
                    XCTAssertFalse(r.fired.contains(.D3), "\(model.id): \(r.describe)")
                }
                if model.mpolWriteLocks && model.perVMALock {
                    XCTAssertTrue(r.lockWaitGraph.contains { $0.from == t2 && $0.to == t1 },
                                  "\(model.id): mbind waits for the fault's read lock: \(r.lockWaitGraph)")
                }
                XCTAssertTrue(r.deadlocks.isEmpty)
            }
        }
    }

    /// A split VMA is write-locked by __split_vma(), so an mbind of part of V
    /// never races the fault, even before 6c21e066f925; and a fault on a VMA
    /// with the default policy has nothing to lose.
    func testRFNeedsAWholeVMAAndAPolicy() {
        for model in [KernelModel.v6_4, .v6_4_3] {
            let b = Bed(model, window: 0x3000_0000)
            b.map(0, 4, "rw-")
            b.touch(3)
            let split = b.explore([("T1", [mbind(b, 0, 4, .bind), b.fault(0)]), ("T2", [mbind(b, 0, 1, .interleave)])])
            XCTAssertFalse(split.fired.contains(.D11), "\(model.id): \(split.describe)")
            let none = b.explore([("T1", [b.fault(0)]), ("T2", [mbind(b, 0, 4, .interleave)])])
            XCTAssertFalse(none.fired.contains(.D11), "\(model.id): \(none.describe)")
            XCTAssertTrue(none.fired.contains(.D3), "\(model.id): vma_replace_policy() without the VMA lock: \(none.describe)")
        }
    }

    /// mbind alone: the VMAs get the policy, split at the range's ends; the
    /// policy copies keep VMAs with different policies from merging.
    func testMbindSplitsAndKeepsPoliciesApart() {
        let b = Bed(.v6_18)
        b.map(0, 4, "rw-")
        let r = b.explore([("T", [mbind(b, 1, 2, .bind), b.mprotect(1, 2, "r--"), b.mprotect(1, 2, "rw-")])])
        XCTAssertEqual(r.outcomes.count, 1)
        let vmas = r.outcomes[0].vmas.filter { !$0.detached && !$0.freed }.map { [$0.start, $0.end] }
        XCTAssertEqual(vmas, [[b.at(0), b.at(1)], [b.at(1), b.at(3)], [b.at(3), b.at(4)]],
                       "the BIND middle does not merge back with its default-policy neighbours")
        let back = b.explore([("T", [mbind(b, 1, 2, .bind), mbind(b, 1, 2, .defaultPolicy),
                                     b.mprotect(1, 2, "r--"), b.mprotect(1, 2, "rw-")])])
        let merged = back.outcomes[0].vmas.filter { !$0.detached && !$0.freed }.map { [$0.start, $0.end] }
        XCTAssertEqual(merged, [[b.at(0), b.at(4)]], "MPOL_DEFAULT again: one VMA after the mprotect round trip")
        let hole = b.explore([("T", [mbind(b, 3, 2, .bind)])])
        XCTAssertEqual(hole.outcomes[0].vmas.filter { !$0.detached && !$0.freed }.count, 1, "EFAULT: nothing changed")
    }

    /// copy_vma()'s merge publishing an anon_vma on an unlocked target
    /// (R-D1's dup_anon_vma()): the destination joins an unfaulted prev and
    /// a faulted next; a per-VMA fault in prev may run as prev adopts next's
    /// anon_vma.
    ///
    ///     X     X+p      X+2p      X+64p
    ///     [prev][ dest ][ next *]  [src]     T1: mremap(src → X+p)   T2: fault(X, w)
    func testCopyMergeDupAnonVMA() {
        for model in [KernelModel.v3Patch, .v6_4, .v6_4_3, .v6_4_8, .v6_4_9, .v6_18] {
            let b = Bed(model, window: 0x3000_0000)
            b.map(0, 1, "rw-")
            b.map(2, 1, "rw-")
            b.touch(2)
            b.map(64, 1, "rw-")
            let mremap = ThreadOp.syscall(.mremap(oldAddress: b.at(64), oldSize: 4096, newSize: 4096,
                                                  flags: Linux.MREMAP_MAYMOVE | Linux.MREMAP_FIXED, newAddress: b.at(1)))
            let r = b.explore([("T1", [mremap]), ("T2", [b.fault(0)])])
            if ["6.4", "6.4.3"].contains(model.id) {
                XCTAssertTrue(r.fired.contains(.D3), "\(model.id): dup_anon_vma() before vma_prepare(): \(r.describe)")
                XCTAssertEqual(r.hazard(.D3)?.fixedBy, "d8ab9f7b644a")
            } else {
                XCTAssertTrue(r.fired.isEmpty, "\(model.id): \(r.describe)")
            }
            // The end states: one VMA [X, X+3p) with next's anon_vma; or, when
            // T2's fault gave prev its own anon_vma first, prev and next differ
            // (can_vma_merge_right()) and the destination joins prev only.
            let av = b.vma(2).anonVMA!.id
            var shapes = Set<[[UInt64]]>()
            for o in r.outcomes {
                let live = o.vmas.filter { $0.mm == 0 && !$0.detached && !$0.freed }
                shapes.insert(live.map { [$0.start, $0.end] })
                if live.count == 1 { XCTAssertEqual(live[0].anonVMA, av, "\(model.id)") }
                else { XCTAssertNotEqual(live[0].anonVMA, av, "\(model.id)") }
            }
            XCTAssertEqual(shapes, [[[b.at(0), b.at(3)]], [[b.at(0), b.at(2)], [b.at(2), b.at(3)]]], "\(model.id)")
        }
    }
}
