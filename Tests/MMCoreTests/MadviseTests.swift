import XCTest
@testable import MMCore

/// madvise(2): docs/KERNEL-MODEL.md §3.5 (madvise_walk_vmas, madvise_vma_behavior,
/// madvise_update_vma, madvise_dontneed_free, madvise_populate, guard
/// regions); E-07b, E-13c, E-16, E-25, E-28, E-29.
final class MadviseTests: XCTestCase {
    typealias B = SyscallBed

    /// MADV_DONTFORK / MADV_DOFORK go through vma_modify_flags(): split off
    /// the advised part, then merge it back.
    ///
    ///     |----V 4p----|   DONTFORK [2,4)  →  |--V--|--V' dc--|   DOFORK  →  |----V----|
    func testDontforkSplitsAndDoforkMerges() {
        let b = B()
        b.mmap(0, 4)
        let r = b.madvise(2, 2, Linux.MADV_DONTFORK)
        XCTAssertEqual(r.ret, 0)
        XCTAssertEqual(b.ranges(), [[0, 2], [2, 4]])
        XCTAssertEqual(b.flags(2), ["rd", "wr", "mr", "mw", "me", "dc", "ac"])
        b.madvise(2, 2, Linux.MADV_DOFORK)
        XCTAssertEqual(b.ranges(), [[0, 4]])
    }

    /// E-16/E-13c: MADV_WIPEONFORK sets `wf` on private anonymous memory and
    /// is refused (EINVAL) on file mappings and on shared anonymous memory;
    /// MADV_KEEPONFORK clears it.
    func testWipeonfork() {
        let b = B()
        b.mmap(0, 2)
        b.madvise(0, 2, Linux.MADV_WIPEONFORK)
        XCTAssertTrue(b.flags(0).contains("wf"))
        b.madvise(0, 2, Linux.MADV_KEEPONFORK)
        XCTAssertFalse(b.flags(0).contains("wf"))
        let fd = b.open("/f", pages: 4, Linux.O_RDWR)
        b.mmap(4, 2, flags: Linux.MAP_PRIVATE | Linux.MAP_FIXED, fd: fd)
        XCTAssertEqual(b.madvise(4, 2, Linux.MADV_WIPEONFORK).errno, .EINVAL)
        b.mmap(8, 2, flags: Linux.MAP_SHARED | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED)
        XCTAssertEqual(b.madvise(8, 2, Linux.MADV_WIPEONFORK).errno, .EINVAL)
    }

    /// E-25: MADV_DONTNEED zaps the PTEs (a later read maps the zero page)
    /// but keeps the VMA's flags and anon_vma — and guard markers.
    func testDontneedZapsButKeepsAnonVMAAndGuards() {
        let b = B()
        b.mmap(0, 4)
        b.touch(0, .write)
        b.touch(1, .read)
        b.madvise(3, 1, Linux.MADV_GUARD_INSTALL)
        let av = b.vma(0)!.anonVMA!
        let folio = b.pte(0)!.folio!
        let r = b.madvise(0, 4, Linux.MADV_DONTNEED)
        XCTAssertEqual(r.effects.pagesZapped, 2)
        XCTAssertNil(b.pte(0))
        XCTAssertNil(b.pte(1))
        XCTAssertEqual(b.pte(3)?.guardMarker, true)
        XCTAssertEqual(folio.mapcount, 0)
        XCTAssertTrue(b.vma(0)!.anonVMA === av)
        XCTAssertEqual(b.ranges(), [[0, 4]])
        XCTAssertEqual(b.touch(0, .read).folio?.kind, .zero)
    }

    /// MADV_DONTNEED on VM_LOCKED → EINVAL; MADV_DONTNEED_LOCKED is allowed.
    func testDontneedLocked() {
        let b = B()
        b.mmap(0, 1, flags: B.fixedAnon | Linux.MAP_LOCKED)
        XCTAssertEqual(b.madvise(0, 1, Linux.MADV_DONTNEED).errno, .EINVAL)
        XCTAssertNil(b.madvise(0, 1, Linux.MADV_DONTNEED_LOCKED).errno)
        XCTAssertNil(b.pte(0))
    }

    /// E-28: MADV_POPULATE_READ maps the zero page, _WRITE real anonymous
    /// pages; write-populating PROT_READ and read-populating PROT_NONE →
    /// EINVAL; a hole → ENOMEM.
    func testPopulate() {
        let b = B()
        b.mmap(0, 2)
        XCTAssertNil(b.madvise(0, 1, Linux.MADV_POPULATE_READ).errno)
        XCTAssertEqual(b.pte(0)?.folio?.kind, .zero)
        let r = b.madvise(1, 1, Linux.MADV_POPULATE_WRITE)
        XCTAssertEqual(b.pte(1)?.folio?.kind, .anon)
        XCTAssertEqual(b.pte(1)?.folio?.mapcount, 1)
        XCTAssertEqual(r.effects.pagesPopulated, 1)
        XCTAssertEqual(r.faults.count, 1)
        b.mmap(4, 1, "r--")
        XCTAssertEqual(b.madvise(4, 1, Linux.MADV_POPULATE_WRITE).errno, .EINVAL)
        b.mmap(6, 1, "---")
        XCTAssertEqual(b.madvise(6, 1, Linux.MADV_POPULATE_READ).errno, .EINVAL)
        XCTAssertEqual(b.madvise(20, 1, Linux.MADV_POPULATE_READ).errno, .ENOMEM)
        // Pages before the failure stay populated.
        b.mmap(30, 1)
        XCTAssertEqual(b.madvise(30, 2, Linux.MADV_POPULATE_WRITE).errno, .ENOMEM)
        XCTAssertEqual(b.pte(30)?.folio?.kind, .anon)
    }

    /// E-29: MADV_GUARD_INSTALL marks the VMA `gu` without splitting it and
    /// puts a marker in each page; touching one raises SEGV_MAPERR;
    /// MADV_GUARD_REMOVE clears the markers (the flag stays) and the page
    /// faults normally again.
    func testGuardInstallAndRemove() {
        let b = B()
        b.mmap(0, 3)
        b.touch(1, .write)
        let r = b.madvise(1, 1, Linux.MADV_GUARD_INSTALL)
        XCTAssertEqual(r.ret, 0)
        XCTAssertEqual(r.effects.pagesZapped, 1, "the written page is zapped first")
        XCTAssertEqual(b.ranges(), [[0, 3]])
        XCTAssertEqual(b.flags(0), ["rd", "wr", "mr", "mw", "me", "gu", "ac"])
        XCTAssertEqual(b.pte(1)?.guardMarker, true)
        XCTAssertEqual(b.pte(1)?.present, false)
        let hit = b.touch(1, .read)
        XCTAssertEqual(hit.outcome, .SIGSEGV)
        XCTAssertEqual(hit.siCode, .SEGV_MAPERR)
        XCTAssertEqual(b.touch(0, .read).outcome, .handled)
        b.madvise(1, 1, Linux.MADV_GUARD_REMOVE)
        XCTAssertNil(b.pte(1))
        XCTAssertTrue(b.flags(0).contains("gu"))
        XCTAssertEqual(b.touch(1, .read).folio?.kind, .zero)
    }

    /// E-29: splitting a `gu` VMA by mprotect leaves `gu` on both halves, and
    /// they re-merge when restored.
    func testGuardFlagSurvivesSplitAndMerge() {
        let b = B()
        b.mmap(0, 4)
        b.madvise(0, 1, Linux.MADV_GUARD_INSTALL)
        b.mprotect(2, 2, "r--")
        XCTAssertEqual(b.ranges(), [[0, 2], [2, 4]])
        XCTAssertTrue(b.flags(0).contains("gu"))
        XCTAssertTrue(b.flags(2).contains("gu"))
        b.mprotect(2, 2, "rw-")
        XCTAssertEqual(b.ranges(), [[0, 4]])
        XCTAssertTrue(b.flags(0).contains("gu"))
    }

    /// Guard regions are refused on VM_LOCKED VMAs, and do not exist before
    /// 6.13 (unknown advice → EINVAL).
    func testGuardValidity() {
        let b = B()
        b.mmap(0, 1, flags: B.fixedAnon | Linux.MAP_LOCKED)
        XCTAssertEqual(b.madvise(0, 1, Linux.MADV_GUARD_INSTALL).errno, .EINVAL)
        XCTAssertNil(b.madvise(0, 1, Linux.MADV_GUARD_REMOVE).errno, "remove allows VM_LOCKED")
        let old = B(.v6_4)
        old.mmap(0, 1)
        XCTAssertEqual(old.madvise(0, 1, Linux.MADV_GUARD_INSTALL).errno, .EINVAL)
    }

    /// is_valid_madvise(): unknown advice → EINVAL even for length 0;
    /// unaligned start → EINVAL; empty range → 0; a huge length → EINVAL.
    func testValidation() {
        let b = B()
        XCTAssertEqual(b.call(.madvise(addr: B.at(0), length: 0, advice: 50)).errno, .EINVAL)
        XCTAssertEqual(b.call(.madvise(addr: B.at(0) + 1, length: 0, advice: 4)).errno, .EINVAL)
        XCTAssertEqual(b.call(.madvise(addr: B.at(0), length: 0, advice: 4)).ret, 0)
        XCTAssertEqual(b.call(.madvise(addr: B.at(0), length: UInt64.max, advice: 4)).errno, .EINVAL)
    }

    /// E-13c: a hole → ENOMEM at the end, but the mapped parts on both sides
    /// of it were processed (unlike mprotect, the walk goes on).
    func testHolesProcessedAroundThenENOMEM() {
        let b = B()
        b.mmap(0, 1)
        b.mmap(2, 1)
        let r = b.madvise(0, 3, Linux.MADV_DONTFORK)
        XCTAssertEqual(r.errno, .ENOMEM)
        XCTAssertTrue(b.flags(0).contains("dc"))
        XCTAssertTrue(b.flags(2).contains("dc"))
        XCTAssertEqual(b.madvise(10, 1, Linux.MADV_DONTFORK).errno, .ENOMEM)
    }

    /// madvise_update_vma(): ENOMEM from the split (map-count limit) is reported as EAGAIN.
    func testSplitLimitIsEAGAIN() {
        var layout = LayoutConfig()
        layout.maxMapCount = 1
        let b = B(layout: layout)
        b.mmap(0, 4)
        XCTAssertEqual(b.madvise(1, 1, Linux.MADV_DONTFORK).errno, .EAGAIN)
    }

    /// Flag advices: RANDOM/SEQUENTIAL/NORMAL (`rr`/`sr`), HUGEPAGE/NOHUGEPAGE
    /// (`hg`/`nh` exclusive), DONTDUMP/DODUMP (`dd`), MERGEABLE (`mg`, not on shared).
    func testFlagAdvices() {
        let b = B()
        b.mmap(0, 4)
        b.madvise(2, 2, Linux.MADV_RANDOM)
        XCTAssertEqual(b.ranges(), [[0, 2], [2, 4]])
        XCTAssertTrue(b.flags(2).contains("rr"))
        b.madvise(2, 2, Linux.MADV_SEQUENTIAL)
        XCTAssertEqual(b.flags(2).filter { $0 == "rr" || $0 == "sr" }, ["sr"])
        b.madvise(2, 2, Linux.MADV_NORMAL)
        XCTAssertEqual(b.ranges(), [[0, 4]])
        b.madvise(0, 4, Linux.MADV_HUGEPAGE)
        XCTAssertTrue(b.flags(0).contains("hg"))
        b.madvise(0, 4, Linux.MADV_NOHUGEPAGE)
        XCTAssertTrue(b.flags(0).contains("nh") && !b.flags(0).contains("hg"))
        b.madvise(0, 4, Linux.MADV_DONTDUMP)
        XCTAssertTrue(b.flags(0).contains("dd"))
        b.madvise(0, 4, Linux.MADV_DODUMP)
        XCTAssertFalse(b.flags(0).contains("dd"))
        b.madvise(0, 4, Linux.MADV_MERGEABLE)
        XCTAssertTrue(b.flags(0).contains("mg"))
        b.mmap(8, 1, flags: Linux.MAP_SHARED | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED)
        XCTAssertNil(b.madvise(8, 1, Linux.MADV_MERGEABLE).errno)
        XCTAssertFalse(b.flags(8).contains("mg"), "ksm_madvise ignores shared mappings")
    }

    /// Advices the kernel accepts without a modelled effect succeed; MADV_FREE
    /// on a file mapping and MADV_REMOVE on private memory → EINVAL [probe].
    func testAcceptedAdvices() {
        let b = B()
        b.mmap(0, 2)
        for a in [Linux.MADV_WILLNEED, Linux.MADV_FREE, Linux.MADV_COLD, Linux.MADV_PAGEOUT] {
            XCTAssertNil(b.madvise(0, 2, a).errno, Linux.madvNames.format(a))
        }
        XCTAssertEqual(b.madvise(0, 2, Linux.MADV_REMOVE).errno, .EINVAL)
        XCTAssertEqual(b.madvise(0, 2, Linux.MADV_COLLAPSE).errno, .EINVAL)
        let fd = b.open("/f", pages: 4, Linux.O_RDWR)
        b.mmap(4, 2, flags: Linux.MAP_PRIVATE | Linux.MAP_FIXED, fd: fd)
        XCTAssertEqual(b.madvise(4, 2, Linux.MADV_FREE).errno, .EINVAL)
        XCTAssertEqual(b.madvise(4, 2, Linux.MADV_REMOVE).errno, .EACCES, "not a shared writable mapping")
    }
}
