import XCTest
@testable import MMCore

/// mprotect(2): docs/KERNEL-MODEL.md §3.4 (do_mprotect_pkey, mprotect_fixup,
/// vma_modify_flags, change_protection); E-06, E-06b, E-13b, E-13c.
final class MprotectTests: XCTestCase {
    typealias B = SyscallBed

    /// E-06: an unfaulted (no anon_vma) anonymous middle made read-only loses
    /// VM_ACCOUNT (6.8+); restoring RW charges it again and re-merges.
    ///
    ///     |---------V rw 4p---------|
    ///     mprotect [1,3) r--:  |V ac|--M r-- (no ac)--|V' ac|
    ///     mprotect [1,3) rw-:  |---------V ac-------------|
    func testUnfaultedMiddleLosesAccount() {
        let b = B()
        b.mmap(0, 4)
        XCTAssertEqual(b.p.mm.committedPages, 4)
        let r = b.mprotect(1, 2, "r--")
        XCTAssertEqual(r.ret, 0)
        XCTAssertEqual(b.ranges(), [[0, 1], [1, 3], [3, 4]])
        XCTAssertEqual(b.flags(1), ["rd", "mr", "mw", "me"])
        XCTAssertEqual(b.flags(0).last, "ac")
        XCTAssertEqual(b.p.mm.committedPages, 2)
        XCTAssertEqual(r.effects.splits, 2)
        b.mprotect(1, 2, "rw-")
        XCTAssertEqual(b.ranges(), [[0, 4]])
        XCTAssertEqual(b.flags(0), ["rd", "wr", "mr", "mw", "me", "ac"])
        XCTAssertEqual(b.p.mm.committedPages, 4)
    }

    /// E-06b: when the pages were written first (the VMA has an anon_vma) the
    /// read-only middle keeps `ac`; everything re-merges.
    func testFaultedMiddleKeepsAccount() {
        let b = B()
        b.mmap(0, 4)
        for i: UInt64 in 0..<4 { b.touch(i) }
        b.mprotect(1, 2, "r--")
        XCTAssertEqual(b.flags(1), ["rd", "mr", "mw", "me", "ac"])
        b.mprotect(1, 2, "rw-")
        XCTAssertEqual(b.ranges(), [[0, 4]])
    }

    /// Before ~6.8 (models M0–M2) VM_ACCOUNT is never dropped by mprotect.
    func testOlderKernelsKeepAccount() {
        let b = B(.v6_4)
        b.mmap(0, 4)
        b.mprotect(1, 2, "r--")
        XCTAssertEqual(b.flags(1), ["rd", "mr", "mw", "me", "ac"])
    }

    /// E-13b: a read-only shared file mapping cannot become writable (no
    /// VM_MAYWRITE → EACCES); a private mapping of the same fd can, and the
    /// writable page gets `ac` while the rest stays `r--p`.
    func testMayFlagsAndPrivateFileWrite() {
        let b = B()
        let fd = b.open("/f", pages: 8, Linux.O_RDONLY)
        b.mmap(0, 2, "r--", flags: Linux.MAP_SHARED | Linux.MAP_FIXED, fd: fd)
        XCTAssertEqual(b.mprotect(0, 2, "rw-").errno, .EACCES)
        XCTAssertEqual(b.flags(0), ["rd", "mr", "me", "ms"], "unchanged")
        b.mmap(4, 2, "r--", flags: Linux.MAP_PRIVATE | Linux.MAP_FIXED, fd: fd, offset: 0)
        XCTAssertNil(b.mprotect(4, 1, "rw-").errno)
        XCTAssertEqual(b.ranges().suffix(2), [[4, 5], [5, 6]])
        XCTAssertEqual(b.flags(4), ["rd", "wr", "mr", "mw", "me", "ac"])
        XCTAssertEqual(b.flags(5), ["rd", "mr", "mw", "me"])
        XCTAssertEqual(b.vma(5)!.pgoff, 1)
    }

    /// E-13c: nothing mapped → ENOMEM; one mapped page followed by a hole →
    /// ENOMEM, but the mapped page was already changed (and lost `ac`).
    func testHolesGiveENOMEMAfterChanges() {
        let b = B()
        XCTAssertEqual(b.mprotect(0, 1, "r--").errno, .ENOMEM)
        b.mmap(0, 1)
        let r = b.mprotect(0, 2, "r--")
        XCTAssertEqual(r.errno, .ENOMEM)
        XCTAssertEqual(b.flags(0), ["rd", "mr", "mw", "me"])
        // A hole in the middle of the range is found while walking.
        b.mmap(10, 1)
        b.mmap(12, 1)
        XCTAssertEqual(b.mprotect(10, 3, "r--").errno, .ENOMEM)
        XCTAssertEqual(b.flags(10), ["rd", "mr", "mw", "me"])
        XCTAssertEqual(b.flags(12).first, "rd")
        XCTAssertTrue(b.flags(12).contains("wr"), "pieces after the hole are not reached")
        // A range starting in a hole fails before any change.
        XCTAssertEqual(b.mprotect(11, 2, "---").errno, .ENOMEM)
        XCTAssertTrue(b.flags(12).contains("wr"))
    }

    /// do_mprotect_pkey() validation order: unaligned start → EINVAL; len 0 →
    /// 0 (even with bad prot); unknown prot bits → EINVAL; PROT_SEM accepted;
    /// PROT_GROWSUP → EINVAL (no VM_GROWSUP on x86).
    func testValidation() {
        let b = B()
        b.mmap(0, 2)
        XCTAssertEqual(b.call(.mprotect(addr: B.at(0) + 1, length: 0, prot: 1)).errno, .EINVAL)
        XCTAssertEqual(b.call(.mprotect(addr: B.at(0), length: 0, prot: 0x10)).ret, 0)
        XCTAssertEqual(b.call(.mprotect(addr: B.at(0), length: 4096, prot: 0x10)).errno, .EINVAL)
        XCTAssertNil(b.call(.mprotect(addr: B.at(0), length: 4096, prot: Linux.PROT_READ | Linux.PROT_SEM)).errno)
        XCTAssertEqual(b.call(.mprotect(addr: B.at(0), length: 4096, prot: 3 | Linux.PROT_GROWSUP)).errno, .EINVAL)
        XCTAssertEqual(b.call(.mprotect(addr: B.at(0), length: 4096, prot: 3 | Linux.PROT_GROWSDOWN)).errno, .EINVAL,
                       "no VM_GROWSDOWN")
    }

    /// PROT_GROWSDOWN on a growsdown VMA extends the range down to its start.
    func testGrowsdownExtendsToVMAStart() {
        let b = B()
        b.mmap(0, 4, flags: B.fixedAnon | Linux.MAP_GROWSDOWN)
        XCTAssertNil(b.call(.mprotect(addr: B.at(2), length: 4096, prot: Linux.PROT_READ | Linux.PROT_GROWSDOWN)).errno)
        XCTAssertEqual(b.ranges(), [[0, 3], [3, 4]])
        XCTAssertFalse(b.flags(0).contains("wr"))
    }

    /// change_protection(): dropping write write-protects present PTEs;
    /// PROT_NONE keeps them present (protnone); adding write back makes
    /// exclusive anonymous pages writable at once (MM_CP_TRY_CHANGE_WRITABLE)
    /// but never the zero page.
    func testPTEProtection() {
        let b = B()
        b.mmap(0, 2)
        b.touch(0, .write)
        b.touch(1, .read)
        XCTAssertEqual(b.pte(0)?.writable, true)
        b.mprotect(0, 2, "r--")
        XCTAssertEqual(b.pte(0)?.writable, false)
        b.mprotect(0, 2, "---")
        XCTAssertEqual(b.pte(0)?.present, true)
        XCTAssertEqual(b.touch(0, .read).outcome, .SIGSEGV, "PROT_NONE: access error")
        b.mprotect(0, 2, "rw-")
        XCTAssertEqual(b.pte(0)?.writable, true)
        XCTAssertEqual(b.pte(1)?.writable, false, "zero page stays read-only")
    }

    /// mprotect never allocates an anon_vma (§3.4.7) and a no-op change does nothing.
    func testNoAnonVMAAndNoOp() {
        let b = B()
        b.mmap(0, 4)
        let r = b.mprotect(1, 2, "rw-")
        XCTAssertEqual(r.effects.splits, 0)
        XCTAssertEqual(b.ranges(), [[0, 4]])
        b.mprotect(1, 2, "r--")
        for v in b.vmas() { XCTAssertNil(v.anonVMA) }
    }

    /// split_vma() refuses at map_count >= max_map_count → ENOMEM, nothing changed.
    func testSplitLimit() {
        var layout = LayoutConfig()
        layout.maxMapCount = 1
        let b = B(layout: layout)
        b.mmap(0, 4)
        XCTAssertEqual(b.mprotect(1, 1, "r--").errno, .ENOMEM)
        XCTAssertEqual(b.ranges(), [[0, 4]])
        XCTAssertTrue(b.flags(1).contains("wr"))
    }

    /// A range spanning two VMAs changes both, and they merge with each other.
    ///
    ///     |--A rw--|--B r--|   mprotect all r--   →   |------A r--------|
    func testSpanningTwoVMAsMerges() {
        let b = B()
        b.mmap(0, 2)
        b.mmap(2, 2, "r--")
        b.mprotect(0, 4, "r--")
        XCTAssertEqual(b.ranges(), [[0, 4]])
    }

    /// A private VM_LOCKED mapping that becomes writable is populated (CoW broken).
    func testLockedBecomingWritableIsPopulated() {
        let b = B()
        b.mmap(0, 2, "r--", flags: B.fixedAnon | Linux.MAP_LOCKED)
        XCTAssertEqual(b.pte(0)?.folio?.kind, .zero)
        let r = b.mprotect(0, 2, "rw-")
        XCTAssertEqual(b.pte(0)?.folio?.kind, .anon)
        XCTAssertEqual(r.effects.pagesPopulated, 2)
    }
}
