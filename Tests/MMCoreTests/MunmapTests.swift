import XCTest
@testable import MMCore

/// munmap(2): docs/KERNEL-MODEL.md §3.3 (do_vmi_munmap, vms_gather_munmap_vmas,
/// vms_complete_munmap_vmas), E-08, E-13c.
final class MunmapTests: XCTestCase {
    typealias B = SyscallBed

    /// E-08: unmapping the middle page of a 5-page VMA leaves two VMAs; the
    /// neighbours are never merged back, the upper part's pgoff advances.
    ///
    ///     |-----V 5p-----|   munmap [2,3)   →   |--V--|  |--V'--|
    func testMiddlePageSplitsInTwo() {
        let b = B()
        b.mmap(0, 5)
        let r = b.munmap(2, 1)
        XCTAssertEqual(r.ret, 0)
        XCTAssertEqual(b.ranges(), [[0, 2], [3, 5]])
        XCTAssertEqual(b.vma(3)!.pgoff, B.at(3) >> 12)
        XCTAssertEqual(r.effects.splits, 2)
        XCTAssertEqual(r.effects.vmasRemoved.map { [B.page($0.start), B.page($0.end)] }, [[2, 3]])
        XCTAssertNil(r.effects.merged)
        XCTAssertEqual(b.p.mm.committedPages, 4)
    }

    /// E-13c: unaligned start → EINVAL; length 0 → EINVAL; an unmapped range → 0.
    func testValidation() {
        let b = B()
        XCTAssertEqual(b.call(.munmap(addr: B.at(0) + 1, length: 4096)).errno, .EINVAL)
        XCTAssertEqual(b.call(.munmap(addr: B.at(0), length: 0)).errno, .EINVAL)
        XCTAssertEqual(b.call(.munmap(addr: B.at(0), length: 4096)).ret, 0)
        XCTAssertEqual(b.call(.munmap(addr: b.p.mm.taskSize, length: 8192)).errno, .EINVAL, "beyond TASK_SIZE")
        XCTAssertEqual(b.call(.munmap(addr: B.at(0), length: 1)).ret, 0, "length rounds up")
    }

    /// A range covering several VMAs and holes removes every piece; partial
    /// VMAs at both ends are split.
    ///
    ///     |--A--|  |--B(r--)--|   |--C--|     munmap [1, 9)
    func testRangeAcrossVMAsAndHoles() {
        let b = B()
        b.mmap(0, 3)
        b.mmap(4, 2, "r--")
        b.mmap(7, 3)
        b.munmap(1, 8)
        XCTAssertEqual(b.ranges(), [[0, 1], [9, 10]])
    }

    /// Zapping: anonymous folios lose their mapping and are freed; the chain
    /// is unlinked and an anon_vma nobody links to is freed.
    func testZapsPagesAndFreesAnonVMA() {
        let b = B()
        b.mmap(0, 2)
        b.touch(0)
        b.touch(1, .read)
        let av = b.vma(0)!.anonVMA!
        let folio = b.pte(0)!.folio!
        let r = b.munmap(0, 2)
        XCTAssertEqual(r.effects.pagesZapped, 2, "the zero-page PTE counts as a present PTE")
        XCTAssertEqual(folio.mapcount, 0)
        XCTAssertNil(folio.anonVMA)
        XCTAssertTrue(av.freed)
        XCTAssertEqual(b.p.mm.pageTable.count, 0)
    }

    /// Unmapping half of a faulted VMA keeps the anon_vma alive for the other
    /// half (the split cloned the chain).
    func testHalfUnmapKeepsAnonVMA() {
        let b = B()
        b.mmap(0, 4)
        b.touch(0)
        b.touch(3)
        let av = b.vma(0)!.anonVMA!
        b.munmap(2, 2)
        XCTAssertFalse(av.freed)
        XCTAssertEqual(av.numActiveVMAs, 1)
        XCTAssertTrue(b.vma(0)!.anonVMA === av)
        XCTAssertNotNil(b.pte(0))
        XCTAssertNil(b.pte(3))
    }

    /// Guard markers are dropped by munmap (not kept like MADV_DONTNEED).
    func testDropsGuardMarkers() {
        let b = B()
        b.mmap(0, 2)
        b.madvise(0, 1, Linux.MADV_GUARD_INSTALL)
        XCTAssertEqual(b.pte(0)?.guardMarker, true)
        b.munmap(0, 2)
        XCTAssertNil(b.pte(0))
    }

    /// §1.1: splitting one VMA in the middle would leave map_count above the
    /// limit → ENOMEM and nothing changes; unmapping its head (one split, net
    /// zero) is allowed at the limit.
    func testMapCountLimit() {
        var layout = LayoutConfig()
        layout.maxMapCount = 2
        let b = B(layout: layout)
        b.mmap(0, 4)
        b.mmap(10, 4, "r--")
        XCTAssertEqual(b.munmap(1, 1).errno, .ENOMEM)
        XCTAssertEqual(b.ranges(), [[0, 4], [10, 14]])
        XCTAssertNil(b.munmap(0, 1).errno)
        XCTAssertEqual(b.ranges(), [[1, 4], [10, 14]])
    }

    /// The VMAs left after a split are write-locked until the syscall ends,
    /// then unlocked by mmap_write_unlock().
    func testWriteLockReleased() {
        let b = B()
        b.mmap(0, 4)
        let seq = b.p.mm.mmLockSeq
        b.munmap(1, 1)
        XCTAssertGreaterThan(b.p.mm.mmLockSeq, seq)
        for v in b.vmas() { XCTAssertFalse(b.sim.isWriteLocked(b.p.mm, v)) }
    }
}
