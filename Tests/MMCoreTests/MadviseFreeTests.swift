import XCTest
@testable import MMCore

/// MADV_FREE and reclaim by MADV_PAGEOUT: madvise_free_single_vma(),
/// madvise_cold_or_pageout_pte_range() (mm/madvise.c), shrink_folio_list()
/// (mm/vmscan.c), try_to_unmap_one() (mm/rmap.c), on a machine without swap
/// [oracle local/madvise_free_lazyfree_pageout].
final class MadviseFreeTests: XCTestCase {
    typealias B = SyscallBed

    /// The pages stay mapped after MADV_FREE; reclaim discards the clean
    /// ones, keeps one written again in between; a later read of a discarded
    /// page maps the zero page, a write a new page.
    func testLazyFreeDiscardedUnlessWrittenAgain() {
        let b = B()
        b.mmap(0, 3)
        for i in UInt64(0)..<3 { b.touch(i) }
        let before = (0..<3).map { b.pte(UInt64($0))!.folio! }
        XCTAssertNil(b.madvise(0, 3, Linux.MADV_FREE).errno)
        for i in 0..<3 {
            XCTAssertTrue(b.pte(UInt64(i))?.folio === before[i], "still mapped after MADV_FREE")
            XCTAssertFalse(b.pte(UInt64(i))!.dirty)
        }
        b.touch(1)            // written again: the PTE is dirty
        b.touch(2, .read)     // only read: stays clean
        XCTAssertNil(b.madvise(0, 3, Linux.MADV_PAGEOUT).errno)
        XCTAssertNil(b.pte(0))
        XCTAssertNil(b.pte(2))
        XCTAssertTrue(b.pte(1)?.folio === before[1], "re-dirtied: kept")
        XCTAssertFalse(before[1].lazyFree, "PG_swapbacked set again")
        XCTAssertEqual(before[0].mapcount, 0)
        b.touch(0, .read)
        XCTAssertEqual(b.pte(0)?.folio?.kind, .zero, "a read after the discard maps the zero page")
        b.touch(2)
        XCTAssertFalse(b.pte(2)?.folio === before[2], "a write gets a new page")
    }

    /// Without MADV_FREE, MADV_PAGEOUT keeps anonymous pages (no swap); a
    /// folio shared with a fork child is not touched until it is mapped once.
    func testPageoutKeepsSwapBackedAndSharedPages() {
        let b = B()
        b.mmap(0, 1)
        b.touch(0)
        b.mmap(10, 1)
        b.touch(10)
        let child = b.fork()
        b.madvise(0, 1, Linux.MADV_DONTNEED, in: child)
        b.madvise(10, 1, Linux.MADV_FREE)
        b.madvise(0, 1, Linux.MADV_PAGEOUT)
        b.madvise(10, 1, Linux.MADV_PAGEOUT)
        XCTAssertNotNil(b.pte(0), "swap-backed: kept without swap")
        XCTAssertNotNil(b.pte(10), "mapped twice: left alone")
        b.call(.exit(status: 0), in: child)
        b.madvise(10, 1, Linux.MADV_PAGEOUT)
        XCTAssertNil(b.pte(10), "mapped once now, still lazily freed and clean: discarded")
    }

    /// MADV_PAGEOUT drops a clean page-cache page mapped once (unmapped and
    /// removed from the page cache); a later read brings a new page in.
    func testPageoutDropsCleanFilePages() {
        let b = B()
        let fd = b.open("/lib", pages: 2, Linux.O_RDONLY)
        b.mmap(0, 2, "r--", flags: Linux.MAP_PRIVATE | Linux.MAP_FIXED, fd: fd)
        b.touch(0, .read)
        let old = b.pte(0)!.folio!
        XCTAssertEqual(b.madvise(0, 2, Linux.MADV_FREE).errno, .EINVAL, "MADV_FREE is for anonymous VMAs only")
        b.madvise(0, 2, Linux.MADV_PAGEOUT)
        XCTAssertNil(b.pte(0))
        XCTAssertNil(b.sim.inodes["/lib"]!.pageCache[0])
        b.touch(0, .read)
        XCTAssertFalse(b.pte(0)?.folio === old)
    }
}
