import XCTest
@testable import MMCore

/// mremap(2): docs/KERNEL-MODEL.md §3.6 (check_mremap_params, remap_is_valid,
/// expand_vma_in_place → vma_merge_extend, move_vma → copy_vma,
/// move_page_tables, unmap_source_vma, dontunmap_complete); E-19, E-19b.
final class MremapTests: XCTestCase {
    typealias B = SyscallBed
    let maymove = Linux.MREMAP_MAYMOVE
    let fixed = Linux.MREMAP_MAYMOVE | Linux.MREMAP_FIXED

    /// E-19: a written 2-page VMA with free space after it grows in place to
    /// 4 pages (same address, same VMA object, same anon_vma, accounting +2).
    ///
    ///     |--V 2p--|.......   mremap 2p → 4p   →   |-----V 4p-----|
    func testGrowInPlace() {
        let b = B()
        b.mmap(0, 2)
        b.touch(0)
        let v = b.vma(0)!, av = v.anonVMA
        let r = b.mremap(0, 2, 4)
        XCTAssertEqual(r.ret, Int64(B.at(0)))
        XCTAssertEqual(b.ranges(), [[0, 4]])
        XCTAssertTrue(b.vma(3) === v)
        XCTAssertTrue(v.anonVMA === av)
        XCTAssertEqual(b.p.mm.committedPages, 4)
    }

    /// vma_merge_extend(): growing in place may also absorb a compatible next VMA.
    ///
    ///     |--V--|..|--N--|   mremap V 2p → 4p   →   |--------V--------|
    func testGrowInPlaceAbsorbsNext() {
        let b = B()
        b.mmap(0, 2)
        b.mmap(4, 2)
        b.mremap(0, 2, 4)
        XCTAssertEqual(b.ranges(), [[0, 6]])
    }

    /// E-19: growth blocked by a 1-page mapping: without MREMAP_MAYMOVE →
    /// ENOMEM; with it the VMA moves, the old range shows only the blocker,
    /// and the data (the folio) follows.
    func testBlockedGrowthMovesWithMaymove() {
        let b = B()
        b.mmap(0, 4)
        b.touch(0)
        b.mmap(4, 1, "r--")
        let folio = b.pte(0)!.folio!
        XCTAssertEqual(b.mremap(0, 4, 6).errno, .ENOMEM)
        let r = b.mremap(0, 4, 6, maymove)
        XCTAssertNil(r.errno)
        let newAddr = UInt64(bitPattern: r.ret)
        XCTAssertNotEqual(newAddr, B.at(0))
        XCTAssertEqual(b.ranges().filter { $0[0] < 4096 }, [[4, 5]], "the old range shows only the blocker")
        let moved = b.p.mm.vmas.find(containing: newAddr)!
        XCTAssertEqual(moved.end - moved.start, 6 << 12)
        XCTAssertTrue(b.p.mm.pageTable[newAddr >> 12]?.folio === folio)
        XCTAssertEqual(folio.index, B.at(0) >> 12, "folio index stays")
        XCTAssertEqual(folio.mapcount, 1)
        XCTAssertEqual(moved.pgoff, B.at(0) >> 12, "faulted source: pgoff kept")
    }

    /// E-19: shrinking 4 → 1 page unmaps the tail in place.
    func testShrink() {
        let b = B()
        b.mmap(0, 4)
        b.touch(3)
        let r = b.mremap(0, 4, 1)
        XCTAssertEqual(r.ret, Int64(B.at(0)))
        XCTAssertEqual(b.ranges(), [[0, 1]])
        XCTAssertNil(b.pte(3))
        XCTAssertEqual(b.p.mm.committedPages, 1)
    }

    /// E-19b: an isolated faulted VMA moved next to a fresh VMA keeps its
    /// pgoff (old address >> 12) and stays separate; an unfaulted one gets
    /// pgoff = new address >> 12 and merges.
    ///
    ///     |--F 2p--| (fresh)  ←  move here with MAYMOVE|FIXED
    func testMovedPgoffDependsOnAnonVMA() {
        let b = B()
        b.mmap(0, 2)
        b.mmap(100, 2)
        b.touch(100)
        b.mremap(100, 2, 2, fixed, to: 2)
        XCTAssertEqual(b.ranges(), [[0, 2], [2, 4]])
        XCTAssertEqual(b.vma(2)!.pgoff, B.at(100) >> 12)

        b.mmap(20, 2)
        b.mmap(200, 2)
        b.mremap(200, 2, 2, fixed, to: 22)
        XCTAssertEqual(b.ranges().last, [20, 24])
        XCTAssertEqual(b.vma(22)!.pgoff, B.at(20) >> 12)
    }

    /// copy_vma(): a faulted source that cannot merge gets a duplicate VMA
    /// sharing its anon_vma and chain (anon_vma_clone()); the source's links
    /// are unlinked when the old range is unmapped.
    func testMoveClonesChain() {
        let b = B()
        b.mmap(0, 2)
        b.touch(0)
        let av = b.vma(0)!.anonVMA!
        b.mremap(0, 2, 2, fixed, to: 50)
        XCTAssertEqual(b.ranges(), [[50, 52]])
        let v = b.vma(50)!
        XCTAssertTrue(v.anonVMA === av)
        XCTAssertEqual(v.chain.map(\.anonVMA.id), [av.id])
        XCTAssertEqual(av.numActiveVMAs, 1)
        XCTAssertEqual(av.avcs.count, 1)
        XCTAssertEqual(b.pte(50)?.folio?.anonVMA?.id, av.id)
        XCTAssertEqual(b.p.mm.committedPages, 2, "a move charges nothing extra")
    }

    /// MREMAP_FIXED unmaps whatever is at the destination first.
    func testFixedReplacesDestination() {
        let b = B()
        b.mmap(0, 2)
        b.mmap(10, 4, "r--")
        b.touch(11, .read)
        let r = b.mremap(0, 2, 2, fixed, to: 11)
        XCTAssertEqual(r.ret, Int64(B.at(11)))
        XCTAssertEqual(b.ranges(), [[10, 11], [11, 13], [13, 14]])
        XCTAssertEqual(b.flags(11), ["rd", "wr", "mr", "mw", "me", "ac"])
        XCTAssertNil(b.pte(11))
    }

    /// Moving part of a VMA splits the source; the remaining parts keep VM_ACCOUNT.
    func testMovePartOfVMA() {
        let b = B()
        b.mmap(0, 6)
        b.mremap(2, 2, 2, fixed, to: 40)
        XCTAssertEqual(b.ranges(), [[0, 2], [4, 6], [40, 42]])
        XCTAssertEqual(b.flags(0).last, "ac")
        XCTAssertEqual(b.flags(4).last, "ac")
        XCTAssertEqual(b.p.mm.committedPages, 6)
    }

    /// MREMAP_DONTUNMAP: the pages move, the source VMA stays mapped (empty)
    /// and keeps VM_ACCOUNT (6.17+ fix; the 6.16 code cleared it); the new
    /// range is charged in full; a whole-VMA move unlinks the source's chain.
    func testDontunmap() {
        let b = B()
        b.mmap(0, 2)
        b.touch(0)
        let r = b.mremap(0, 2, 2, fixed | Linux.MREMAP_DONTUNMAP, to: 30)
        XCTAssertEqual(r.ret, Int64(B.at(30)))
        XCTAssertEqual(b.ranges(), [[0, 2], [30, 32]])
        XCTAssertNil(b.pte(0))
        XCTAssertNotNil(b.pte(30))
        XCTAssertTrue(b.flags(0).contains("ac"))
        XCTAssertEqual(b.p.mm.committedPages, 4)
        XCTAssertNil(b.vma(0)!.anonVMA)
        XCTAssertNotNil(b.vma(30)!.anonVMA)
    }

    /// check_mremap_params() / remap_is_valid() / do_mremap() errors [probe on 6.18].
    func testValidation() {
        let b = B()
        b.mmap(0, 4)
        XCTAssertEqual(b.mremap(0, 0, 1, maymove).errno, .EINVAL, "old_len 0 of a private mapping")
        XCTAssertEqual(b.mremap(0, 1, 0, maymove).errno, .EINVAL, "new_len 0")
        XCTAssertEqual(b.mremap(0, 1, 1, 8).errno, .EINVAL, "unknown flag")
        XCTAssertEqual(b.mremap(0, 1, 1, Linux.MREMAP_FIXED, to: 20).errno, .EINVAL, "FIXED without MAYMOVE")
        XCTAssertEqual(b.mremap(0, 1, 2, maymove | Linux.MREMAP_DONTUNMAP, to: 20).errno, .EINVAL, "DONTUNMAP resize")
        XCTAssertEqual(b.mremap(0, 2, 2, fixed, to: 1).errno, .EINVAL, "overlap")
        XCTAssertEqual(b.call(.mremap(oldAddress: B.at(0) + 1, oldSize: 4096, newSize: 4096, flags: 0, newAddress: 0)).errno, .EINVAL)
        XCTAssertEqual(b.call(.mremap(oldAddress: B.at(0), oldSize: 4096, newSize: 4096, flags: fixed,
                                      newAddress: B.at(20) + 1)).errno, .EINVAL, "unaligned new address")
        XCTAssertEqual(b.mremap(50, 1, 2).errno, .EFAULT, "nothing mapped")
        XCTAssertEqual(b.mremap(0, 8, 9).errno, .EFAULT, "old range crosses the VMA end")
        XCTAssertEqual(b.mremap(0, 8, 2).ret, Int64(B.at(0)), "a shrink does not check the old range [probe]")
        XCTAssertEqual(b.mremap(0, 1, 1).ret, Int64(B.at(0)), "same size: nothing")
    }

    /// remap_move() (6.17+): a same-size MREMAP_FIXED move may span several
    /// VMAs and holes; every piece moves, the gaps are kept [probe on 6.18].
    ///
    ///     |--A rw 2p--|--B r-- 2p--|.hole.|   MAYMOVE|FIXED 5p → 40   →   |--A'--|--B'--| at 40
    func testMultiVMAMove() {
        let b = B()
        b.mmap(0, 2)
        b.mmap(2, 2, "r--")
        b.touch(0)
        let folio = b.pte(0)!.folio!
        let r = b.mremap(0, 5, 5, fixed, to: 40)
        XCTAssertEqual(r.ret, Int64(B.at(40)))
        XCTAssertEqual(b.ranges(), [[40, 42], [42, 44]])
        XCTAssertEqual(b.flags(42), ["rd", "mr", "mw", "me"])
        XCTAssertTrue(b.pte(40)?.folio === folio)
        // A gap between source VMAs stays a gap at the destination.
        b.mmap(60, 1)
        b.mmap(62, 1, "r--")
        b.mmap(81, 1, "--x")
        XCTAssertNil(b.mremap(60, 3, 3, fixed, to: 80).errno)
        XCTAssertEqual(b.ranges().suffix(3), [[80, 81], [81, 82], [82, 83]], "the hole's destination is left alone")
        // Starting in a hole → EFAULT; only MAYMOVE or a resize → single-VMA rules (EFAULT).
        XCTAssertEqual(b.mremap(39, 3, 3, fixed, to: 100).errno, .EFAULT)
        XCTAssertEqual(b.mremap(40, 4, 8, maymove).errno, .EFAULT)
        XCTAssertEqual(b.mremap(40, 4, 6, fixed, to: 100).errno, .EFAULT)
    }

    /// DONTUNMAP alone treats new_address as a hint (0: anywhere).
    func testDontunmapWithoutFixedPicksAnAddress() {
        let b = B()
        b.mmap(0, 1)
        let r = b.mremap(0, 1, 1, maymove | Linux.MREMAP_DONTUNMAP)
        XCTAssertNil(r.errno)
        XCTAssertEqual(UInt64(bitPattern: r.ret), b.p.mm.mmapBase - 4096)
    }

    /// A moved unfaulted VMA placed directly after itself merges with its own
    /// remains (copy_vma()'s self-merge case); what is left is consistent.
    func testSelfMergeOfUnfaultedSource() {
        let b = B()
        b.mmap(0, 2)
        b.mremap(0, 2, 2, fixed, to: 2)
        XCTAssertEqual(b.ranges(), [[2, 4]])
        XCTAssertEqual(b.vma(2)!.pgoff, B.at(2) >> 12)
    }
    /// vma_merge_copied_range() / is_mergeable_anon_vma() (mm/vma.c): a
    /// faulted VMA moved back next to an unfaulted neighbour whose pgoff is
    /// contiguous merges into it (prev or next), and vma_expand()'s
    /// dup_anon_vma() from the copied-from VMA gives the merged VMA the
    /// source's anon_vma; a fork child's VMA (vma_had_uncowed_parents(): its
    /// chain also links the parent's anon_vma) never donates, so the same
    /// moves leave it separate [oracle local/mremap_copy_vma_fork_child_merge].
    ///
    ///     |--N 2p--|..........          |--N--|--V--|  parent: one VMA
    ///     (unfaulted)  V moved back  →  child: two VMAs
    func testCopiedRangeMergeAndForkChild() {
        let b = B()
        b.mmap(16, 2)
        b.touch(16)
        b.mmap(40, 2)
        b.touch(40)
        let av16 = b.vma(16)!.anonVMA!, av40 = b.vma(40)!.anonVMA!
        let child = b.fork()
        func moveAround(_ proc: MMCore.Process) {
            func mv(_ from: UInt64, _ to: UInt64) {
                let r = b.call(.mremap(oldAddress: B.at(from), oldSize: 2 << 12, newSize: 2 << 12, flags: fixed,
                                       newAddress: B.at(to)), in: proc)
                XCTAssertNil(r.errno)
            }
            mv(16, 300)
            b.mmap(14, 2, in: proc)   // unfaulted prev, pgoff = page 14
            mv(300, 16)
            mv(40, 310)
            b.mmap(42, 2, in: proc)   // unfaulted next, pgoff = page 42
            mv(310, 40)
        }
        moveAround(child)
        XCTAssertEqual(b.ranges(child), [[14, 16], [16, 18], [40, 42], [42, 44]],
                       "a fork child's moved VMA does not donate its anon_vma to an unfaulted neighbour")
        moveAround(b.p)
        XCTAssertEqual(b.ranges(), [[14, 18], [40, 44]])
        XCTAssertTrue(b.vma(14)!.anonVMA === av16, "prev adopted the moved VMA's anon_vma (dup_anon_vma)")
        XCTAssertTrue(b.vma(40)!.anonVMA === av40, "next adopted the moved VMA's anon_vma (dup_anon_vma)")
        XCTAssertEqual(b.vma(14)!.chain.count, 1)
        // fork copies the merged VMA's page tables: it has an anon_vma.
        let c2 = b.fork()
        XCTAssertTrue(b.pte(16, in: c2)?.folio === b.pte(16)?.folio)
    }

    /// copy_vma(): an unfaulted moved VMA gets pgoff = new address and merges
    /// into a faulted neighbour, except a fork child's (is_mergeable_anon_vma():
    /// the neighbour that would lend its anon_vma must not be a fork child).
    func testUnfaultedMoveMergesIntoFaultedNeighbourUnlessForkChild() {
        let b = B()
        b.mmap(70, 2)
        b.touch(70)
        let child = b.fork()
        for proc in [child, b.p] {
            b.mmap(60, 2, in: proc)
            let r = b.call(.mremap(oldAddress: B.at(60), oldSize: 2 << 12, newSize: 2 << 12, flags: fixed,
                                   newAddress: B.at(72)), in: proc)
            XCTAssertNil(r.errno)
        }
        XCTAssertEqual(b.ranges(child), [[70, 72], [72, 74]])
        XCTAssertEqual(b.ranges(), [[70, 74]])
    }
}
