import XCTest
@testable import MMCore

/// Rules R1–R6 of docs/KERNEL-MODEL.md §2.5 (mm/vma.c is_mergeable_vma,
/// is_mergeable_anon_vma, can_vma_merge_left/right, vma_merge_new_range,
/// vma_merge_existing_range, vma_expand) and the anon_vma survivor rules.
final class MergeTests: XCTestCase {
    typealias B = SyscallBed

    // MARK: new ranges (mmap)

    /// E-01: a new range directly after a compatible VMA expands it (prev is the target).
    ///
    ///     before:  |----A----|              A = [4,6) rw-
    ///     mmap:               |--new--|     [6,8) rw-
    ///     after:   |-------A---------|      one VMA [4,8), pgoff of A
    func testNewRangeMergesIntoPrev() {
        let b = B()
        b.mmap(4, 2)
        let a = b.vma(4)!
        let r = b.mmap(6, 2)
        XCTAssertEqual(r.ret, Int64(B.at(6)))
        XCTAssertEqual(b.ranges(), [[4, 8]])
        XCTAssertTrue(b.vma(6) === a, "prev is the surviving VMA object")
        XCTAssertEqual(a.pgoff, B.at(4) >> 12)
        XCTAssertEqual(r.effects.merged, .prev)
        XCTAssertTrue(r.effects.vmasCreated.isEmpty)
    }

    /// E-01: a new range directly below a compatible VMA expands it downwards;
    /// next's pgoff becomes the proposal's (R3 holds: addr >> 12 is contiguous).
    ///
    ///     before:          |----A----|     A = [6,8)
    ///     mmap:   |--new--|                [4,6)
    ///     after:  |--------A---------|     [4,8), pgoff = at(4) >> 12
    func testNewRangeMergesIntoNext() {
        let b = B()
        b.mmap(6, 2)
        let a = b.vma(6)!
        let r = b.mmap(4, 2)
        XCTAssertEqual(b.ranges(), [[4, 8]])
        XCTAssertTrue(b.vma(4) === a)
        XCTAssertEqual(a.pgoff, B.at(4) >> 12)
        XCTAssertEqual(r.effects.merged, .next)
    }

    /// E-01b: filling the hole between two compatible VMAs merges all three;
    /// prev survives, next is removed.
    ///
    ///     |--P--|     |--N--|   then   |--P--|-new-|--N--|   →   |--------P--------|
    func testThreeWayMerge() {
        let b = B()
        b.mmap(0, 1)
        b.mmap(2, 1)
        let prev = b.vma(0)!, next = b.vma(2)!
        let r = b.mmap(1, 1)
        XCTAssertEqual(b.ranges(), [[0, 3]])
        XCTAssertTrue(b.vma(2) === prev)
        XCTAssertFalse(b.p.mm.vmas.contains(next))
        XCTAssertEqual(r.effects.merged, .both)
        XCTAssertEqual(r.effects.vmasRemoved.map { B.page($0.start) }, [2])
    }

    /// E-01c: a faulted prev (it has an anon_vma, chain of 1) absorbs a new
    /// range and keeps its anon_vma (case 2 of is_mergeable_anon_vma).
    func testFaultedPrevAbsorbsNewRange() {
        let b = B()
        b.mmap(0, 2)
        let av = b.giveAnonVMA(b.vma(0)!)
        b.mmap(2, 2)
        XCTAssertEqual(b.ranges(), [[0, 4]])
        XCTAssertTrue(b.vma(3)!.anonVMA === av)
        XCTAssertEqual(b.vma(3)!.chain.count, 1)
    }

    /// E-02 (R1): different access flags never merge; the read-only VMA has no VM_ACCOUNT.
    func testDifferentProtectionDoesNotMerge() {
        let b = B()
        b.mmap(0, 2)
        b.mmap(2, 2, "r--")
        XCTAssertEqual(b.ranges(), [[0, 2], [2, 4]])
        XCTAssertEqual(b.flags(2), ["rd", "mr", "mw", "me"])
        XCTAssertEqual(b.flags(0), ["rd", "wr", "mr", "mw", "me", "ac"])
    }

    /// E-03 (R1): MAP_STACK sets VM_NOHUGEPAGE (6.7+), which blocks the merge.
    func testMapStackNoHugepageBlocksMerge() {
        let b = B()
        b.mmap(0, 2)
        b.mmap(2, 2, flags: B.fixedAnon | Linux.MAP_STACK)
        XCTAssertEqual(b.ranges(), [[0, 2], [2, 4]])
        XCTAssertTrue(b.flags(2).contains("nh"))
        // Before 6.7 (model without the rule) MAP_STACK changes nothing and they merge.
        let old = B(.v6_4)
        old.mmap(0, 2)
        old.mmap(2, 2, flags: B.fixedAnon | Linux.MAP_STACK)
        XCTAssertEqual(old.ranges(), [[0, 4]])
    }

    /// E-24 (R1): MAP_NORESERVE gives `nr` instead of `ac`: no merge.
    func testNoreserveBlocksMerge() {
        let b = B()
        b.mmap(0, 2)
        b.mmap(2, 2, flags: B.fixedAnon | Linux.MAP_NORESERVE)
        XCTAssertEqual(b.ranges(), [[0, 2], [2, 4]])
        XCTAssertEqual(b.flags(2), ["rd", "wr", "mr", "mw", "me", "nr"])
    }

    /// E-12 (R1, R3): struct file identity, not the inode; contiguous offsets.
    ///
    ///     fd1@0 + fd2@2p (two opens)   → 2 VMAs
    ///     fd1@0 + fd1@2p (same file)   → 1 VMA
    ///     fd1@0 + fd1@4p (pgoff gap)   → 2 VMAs
    func testFileIdentityAndOffsetsDecideMerge() {
        let b = B()
        let fd1 = b.open("/lib", pages: 16, Linux.O_RDONLY)
        let fd2 = b.open("/lib", pages: 16, Linux.O_RDONLY)
        let priv = Linux.MAP_PRIVATE | Linux.MAP_FIXED
        b.mmap(0, 2, "r--", flags: priv, fd: fd1, offset: 0)
        b.mmap(2, 2, "r--", flags: priv, fd: fd2, offset: 2 << 12)
        XCTAssertEqual(b.ranges(), [[0, 2], [2, 4]])
        b.mmap(10, 2, "r--", flags: priv, fd: fd1, offset: 0)
        b.mmap(12, 2, "r--", flags: priv, fd: fd1, offset: 2 << 12)
        XCTAssertEqual(b.ranges().last, [10, 14])
        b.mmap(20, 2, "r--", flags: priv, fd: fd1, offset: 0)
        b.mmap(22, 2, "r--", flags: priv, fd: fd1, offset: 4 << 12)
        XCTAssertEqual(Array(b.ranges().suffix(2)), [[20, 22], [22, 24]])
    }

    // MARK: R2 anon_vma compatibility

    /// E-17 (R2 case 2): a new range next to a fork-child VMA (anon_vma with a
    /// chain of 2) stays separate; next to a chain-of-1 VMA it merges.
    func testForkChildNeighbourRefusesNewRange() {
        let b = B()
        b.mmap(0, 2)
        b.makeForkChild(b.vma(0)!)
        b.mmap(2, 2)
        XCTAssertEqual(b.ranges(), [[0, 2], [2, 4]])
        XCTAssertNil(b.vma(2)!.anonVMA)

        b.mmap(10, 2)
        b.giveAnonVMA(b.vma(10)!)
        b.mmap(12, 2)
        XCTAssertEqual(b.ranges().last, [10, 14])
    }

    /// E-07e (R2, 6.16+): only the modified VMA has an anon_vma and the
    /// neighbour has none → 6.16+ merges (the neighbour adopts it via
    /// dup_anon_vma); the pre-6.16 rule (neighbour's chain must be singular) refuses.
    ///
    ///     A [0,2) never touched | B [2,4) DONTFORK, written    MADV_DOFORK on B
    func testOnlyModifiedVMAHasAnonVMA() {
        for (model, merged) in [(KernelModel.v6_18, true), (.v6_4, false)] {
            let b = B(model)
            b.mmap(0, 4)
            b.madvise(2, 2, Linux.MADV_DONTFORK)
            let av = b.giveAnonVMA(b.vma(2)!)
            let a = b.vma(0)!
            b.madvise(2, 2, Linux.MADV_DOFORK)
            if merged {
                XCTAssertEqual(b.ranges(), [[0, 4]], model.id)
                XCTAssertTrue(b.vma(0) === a && a.anonVMA === av, "A adopts B's anon_vma")
                XCTAssertEqual(a.chain.map(\.anonVMA.id), [av.id])
                XCTAssertEqual(av.numActiveVMAs, 1, "B's link was unlinked, A's added")
            } else {
                XCTAssertEqual(b.ranges(), [[0, 2], [2, 4]], model.id)
            }
        }
    }

    /// E-07b (R2 case 3): two halves faulted with distinct anon_vmas never re-merge.
    func testDistinctAnonVMAsNeverMerge() {
        let b = B()
        b.mmap(0, 4)
        b.madvise(2, 2, Linux.MADV_DONTFORK)
        b.giveAnonVMA(b.vma(0)!)
        b.giveAnonVMA(b.vma(2)!)
        b.madvise(2, 2, Linux.MADV_DOFORK)
        XCTAssertEqual(b.ranges(), [[0, 2], [2, 4]])
        XCTAssertFalse(b.flags(2).contains("dc"), "the flag change itself happened")
    }

    /// E-17b (§3.1): split halves share anon_vma and chain, so they re-merge
    /// even in a fork child.
    ///
    ///     |------- V (fork child, chain 2) -------|
    ///     mprotect middle r--:  |--V--|--M r--|--V'--|   then rw-  →  |-------V-------|
    func testSplitHalvesRemergeInForkChild() {
        let b = B()
        b.mmap(0, 4)
        let (own, parent) = b.makeForkChild(b.vma(0)!)
        b.mprotect(1, 2, "r--")
        XCTAssertEqual(b.ranges(), [[0, 1], [1, 3], [3, 4]])
        for v in b.vmas() {
            XCTAssertTrue(v.anonVMA === own)
            XCTAssertEqual(v.chain.map(\.anonVMA.id), [parent.id, own.id])
        }
        XCTAssertEqual(own.numActiveVMAs, 3)
        b.mprotect(1, 2, "rw-")
        XCTAssertEqual(b.ranges(), [[0, 4]])
        XCTAssertEqual(own.numActiveVMAs, 1)
        XCTAssertEqual(b.vma(0)!.chain.count, 2)
        XCTAssertEqual(own.avcs.count, 1, "removed halves' AVCs unlinked")
    }

    /// R5: when both sides could merge but prev and next carry different
    /// anon_vmas, only the left merge is done.
    ///
    ///     |--P av1--|  new  |--N av2--|   →   |--P av1 + new--|--N av2--|
    func testPrevAndNextWithDifferentAnonVMAsOnlyMergeLeft() {
        let b = B()
        b.mmap(0, 1)
        b.mmap(2, 1)
        let av1 = b.giveAnonVMA(b.vma(0)!)
        b.giveAnonVMA(b.vma(2)!)
        let r = b.mmap(1, 1)
        XCTAssertEqual(b.ranges(), [[0, 2], [2, 3]])
        XCTAssertTrue(b.vma(1)!.anonVMA === av1)
        XCTAssertEqual(r.effects.merged, .prev)
    }

    /// dup_anon_vma(): a merge target without an anon_vma adopts the removed
    /// VMA's, with a cloned chain; the removed VMA's links are unlinked.
    ///
    ///     |--P rw- (none)--|--M r-- av--|   mprotect M rw-   →   |------P av------|
    func testTargetAdoptsSourceAnonVMA() {
        let b = B()
        b.mmap(0, 2)
        b.mmap(2, 2, "r--")
        let p = b.vma(0)!
        let av = b.giveAnonVMA(b.vma(2)!)
        b.mprotect(2, 2, "rw-")
        XCTAssertEqual(b.ranges(), [[0, 4]])
        XCTAssertTrue(b.vma(3) === p)
        XCTAssertTrue(p.anonVMA === av)
        XCTAssertEqual(p.chain.map(\.anonVMA.id), [av.id])
        XCTAssertEqual(av.numActiveVMAs, 1)
        XCTAssertEqual(av.avcs.count, 1)
        XCTAssertFalse(av.freed)
    }

    /// vma_merge_existing_range(): a range at the right end of middle merges
    /// into next; middle shrinks, next grows down and its pgoff follows.
    ///
    ///     |-----M rw------|--N r--|   mprotect [2,4) r--  →  |--M--|-----N r--------|
    func testExistingRangeMergesRightAndShrinksMiddle() {
        let b = B()
        b.mmap(0, 4)
        b.mmap(4, 2, "r--")
        let m = b.vma(0)!, n = b.vma(4)!
        let r = b.mprotect(2, 2, "r--")
        XCTAssertEqual(r.errno, nil)
        XCTAssertEqual(b.ranges(), [[0, 2], [2, 6]])
        XCTAssertTrue(b.vma(2) === n && b.vma(0) === m)
        XCTAssertEqual(n.pgoff, B.at(2) >> 12)
        XCTAssertEqual(r.effects.merged, .next)
        XCTAssertEqual(r.effects.splits, 0, "a merge replaces the split")
    }

    /// vma_merge_existing_range(): a range at the left end of middle merges
    /// into prev; middle's start and pgoff move up.
    func testExistingRangeMergesLeftAndAdvancesMiddle() {
        let b = B()
        b.mmap(0, 2, "r--")
        b.mmap(2, 4)
        let m = b.vma(2)!
        b.mprotect(2, 2, "r--")
        XCTAssertEqual(b.ranges(), [[0, 4], [4, 6]])
        XCTAssertTrue(b.vma(4) === m)
        XCTAssertEqual(m.pgoff, B.at(4) >> 12)
    }

    /// R6: VM_SPECIAL proposals never merge.
    func testSpecialFlagsNeverMerge() {
        let b = B()
        b.mmap(0, 2)
        let prev = b.vma(0)!
        prev.flags.insert(.IO)
        var vmg = VMAMergeProposal(mm: b.p.mm, pid: b.p.pid, prev: prev, middle: nil, next: nil,
                                   start: prev.end, end: prev.end + 8192, pgoff: prev.pgoff + 2,
                                   flags: prev.flags, file: nil, anonVMA: nil)
        XCTAssertNil(b.sim.vmaMergeNewRange(&vmg))
        XCTAssertEqual(vmg.state, .noMerge)
    }

    /// brk's expand-only mode merges with prev but never absorbs next.
    func testJustExpandNeverAbsorbsNext() {
        let b = B()
        b.mmap(0, 2)
        b.mmap(4, 2)
        let prev = b.vma(0)!, next = b.vma(4)!
        var vmg = VMAMergeProposal(mm: b.p.mm, pid: b.p.pid, prev: prev, middle: nil, next: next,
                                   start: B.at(2), end: B.at(4), pgoff: B.at(2) >> 12, flags: prev.flags,
                                   file: nil, anonVMA: nil)
        vmg.justExpand = true
        XCTAssertTrue(b.sim.vmaMergeNewRange(&vmg) === prev)
        XCTAssertEqual(b.ranges(), [[0, 4], [4, 6]])
    }

    /// E-29 (sticky VM_MAYBE_GUARD): `gu` is ignored by R1 and OR-ed into the
    /// merge result.
    func testGuardFlagIsStickyAcrossMerges() {
        let b = B()
        b.mmap(0, 3)
        b.madvise(1, 1, Linux.MADV_GUARD_INSTALL)
        XCTAssertEqual(b.ranges(), [[0, 3]])
        b.mmap(3, 1)
        XCTAssertEqual(b.ranges(), [[0, 4]])
        XCTAssertTrue(b.flags(0).contains("gu"))
        // A new range below a plain VMA merges into it; the result has no gu.
        b.mmap(20, 2)
        b.mmap(18, 2)
        XCTAssertFalse(b.flags(18).contains("gu"))
    }

    /// Merging is counted in the statistics.
    func testMergeStatistics() {
        let b = B()
        b.mmap(0, 1)
        b.mmap(1, 1)
        b.mmap(5, 1)
        XCTAssertEqual(b.sim.stats.vmas.merged, 1)
        XCTAssertEqual(b.sim.stats.vmas.created, 2)
    }
}
