import XCTest
@testable import MMCore

/// MADV_REMOVE: madvise_remove() (mm/madvise.c) → vfs_fallocate(PUNCH_HOLE),
/// shmem_fallocate() (mm/shmem.c), unmap_mapping_range() (mm/memory.c)
/// [oracle local/madvise_remove_punch_hole].
final class MadviseRemoveTests: XCTestCase {
    typealias B = SyscallBed

    /// A punched hole leaves every process: the shared mapping of the other
    /// process and the private mappings lose the page-cache pages, a private
    /// CoW copy stays; the folios leave the page cache; a later read gets a
    /// new page (read around the hole, so the neighbours come back too).
    func testPunchHoleUnmapsEveryProcessAndKeepsCoWCopies() {
        let b = B()
        let fd = b.open("/data", pages: 8)
        b.mmap(16, 8, flags: Linux.MAP_SHARED | Linux.MAP_FIXED, fd: fd)
        for i in UInt64(16)..<24 { b.touch(i, .read) }
        b.mmap(40, 8, flags: Linux.MAP_PRIVATE | Linux.MAP_FIXED, fd: fd)
        for i in UInt64(40)..<48 { b.touch(i, .read) }
        b.touch(42)                          // CoW copy of file page 2
        let child = b.fork()
        b.touch(19, .read, in: child)         // the child maps file page 3 shared
        let inode = b.sim.inodes["/data"]!
        let page3 = inode.pageCache[3]!
        XCTAssertEqual(page3.mapcount, 4, "p0 shared + private, child shared + private")
        let cow = b.pte(42)!.folio!

        XCTAssertNil(b.madvise(18, 4, Linux.MADV_REMOVE).errno)
        for proc in [b.p, child] {
            for page in [18, 19, 20, 21, 43, 44, 45] as [UInt64] {
                XCTAssertNil(b.pte(page, in: proc), "page \(page) of pid \(proc.pid) is unmapped")
            }
            XCTAssertTrue(b.pte(42, in: proc)?.folio === cow, "the private CoW copy stays (even_cows = false)")
            XCTAssertNotNil(b.pte(17, in: proc) ?? b.pte(41, in: proc), "pages outside the hole stay")
        }
        XCTAssertEqual(page3.mapcount, 0)
        XCTAssertTrue((2...5).allSatisfy { inode.pageCache[$0] == nil }, "the pages left the page cache")

        let r = b.touch(19, .read)
        XCTAssertEqual(r.outcome, .handled)
        let fresh = b.pte(19)!.folio!
        XCTAssertFalse(fresh === page3, "a later read gets a new page")
        XCTAssertTrue(inode.pageCache[3] === fresh)
        XCTAssertNotNil(b.pte(20), "the retry's fault-around maps the pages read around the hole")
    }

    /// shmem_fallocate(): a shared anonymous range punched by one process is
    /// gone for the other; its next fault allocates a new page.
    func testShmemHoleIsSharedAndRefaultsANewPage() {
        let b = B()
        b.mmap(60, 2, flags: Linux.MAP_SHARED | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED)
        b.touch(60)
        b.touch(61)
        let child = b.fork()
        b.touch(61, .read, in: child)
        let old = b.pte(61)!.folio!
        XCTAssertNil(b.madvise(61, 1, Linux.MADV_REMOVE, in: child).errno)
        XCTAssertNil(b.pte(61))
        XCTAssertNil(b.pte(61, in: child))
        XCTAssertNotNil(b.pte(60))
        b.touch(61, .read)
        XCTAssertFalse(b.pte(61)!.folio === old)
    }

    /// madvise_remove(): private anonymous → EINVAL; a private file mapping
    /// or a shared one of a file opened read-only → EACCES (not
    /// vma_is_shared_maywrite()); a PROT_READ shared mapping of a file opened
    /// read-write is allowed (VM_MAYWRITE).
    func testErrnos() {
        let b = B()
        b.mmap(0, 2)
        XCTAssertEqual(b.madvise(0, 2, Linux.MADV_REMOVE).errno, .EINVAL)
        let rw = b.open("/rw", pages: 4), ro = b.open("/ro", pages: 4, Linux.O_RDONLY)
        b.mmap(10, 2, flags: Linux.MAP_PRIVATE | Linux.MAP_FIXED, fd: rw)
        XCTAssertEqual(b.madvise(10, 2, Linux.MADV_REMOVE).errno, .EACCES)
        b.mmap(20, 2, "r--", flags: Linux.MAP_SHARED | Linux.MAP_FIXED, fd: ro)
        XCTAssertEqual(b.madvise(20, 2, Linux.MADV_REMOVE).errno, .EACCES)
        b.mmap(30, 2, "r--", flags: Linux.MAP_SHARED | Linux.MAP_FIXED, fd: rw)
        XCTAssertNil(b.madvise(30, 2, Linux.MADV_REMOVE).errno)
    }
}
