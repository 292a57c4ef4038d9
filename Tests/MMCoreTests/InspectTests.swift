import XCTest
@testable import MMCore

/// Simulation.pages(): the pagemap view of a process (pagemap_pte_range(),
/// fs/proc/task_mmu.c) that the API's `pages` is built from.
final class InspectTests: XCTestCase {
    typealias B = SyscallBed

    /// A guard marker (madvise_guard_install(), mm/madvise.c) is a PTE with no
    /// page: pages() reports it as a guard entry, not present, mapcount 0 and
    /// no frame, next to the ordinary pages — as the kernel's pagemap and
    /// kpagecount showed [oracle local/madvise_guard_install_remove,
    /// observation "installed"].
    func testGuardMarkerIsAnEntryWithMapcountZero() throws {
        let b = B()
        b.mmap(16, 3)
        XCTAssertNil(b.madvise(17, 1, Linux.MADV_GUARD_INSTALL).errno)
        b.touch(16)
        let pages = try b.sim.pages(pid: b.p.pid, start: B.at(16), end: B.at(19))
        XCTAssertEqual(pages.map(\.address), [B.at(16), B.at(17)], "the guard page is listed, the untouched one not")
        let g = pages[1]
        XCTAssertTrue(g.guardMarker)
        XCTAssertFalse(g.present)
        XCTAssertEqual(g.mapcount, 0)
        XCTAssertNil(g.folio)
        XCTAssertEqual(pages[0].mapcount, 1, "an ordinary page reports its folio's mapcount")
        XCTAssertFalse(pages[0].guardMarker)

        let expected = try OracleFixtures.expected("local", "madvise_guard_install_remove")
        let kernel = try XCTUnwrap(expected.observations.first { $0.label == "installed" }?.procs["p0"]?.pages.first { $0.page == 17 })
        XCTAssertEqual(kernel.guard, true)
        XCTAssertEqual(kernel.present, g.present)
        XCTAssertEqual(kernel.mapcount, g.mapcount)
        XCTAssertNil(kernel.frame)
    }

    /// The zero page is never counted (kpagecount reports 0 for it).
    func testZeroPageMapcountIsZero() throws {
        let b = B()
        b.mmap(0, 1)
        b.touch(0, .read)
        let page = try XCTUnwrap(b.sim.pages(pid: b.p.pid).first { $0.address == B.at(0) })
        XCTAssertEqual(page.folio?.zeroPage, true)
        XCTAssertEqual(page.mapcount, 0)
    }
}
