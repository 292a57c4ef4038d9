import XCTest
@testable import MMCore

/// /proc/PID/maps and /proc/PID/smaps as fs/proc/task_mmu.c prints them
/// (show_map_vma, show_smap, smaps_account); expected texts were captured
/// from /proc/self/smaps on the 6.18 test machine.
final class ProcMapsTests: XCTestCase {
    typealias B = SyscallBed

    /// Anonymous VMA: `%08lx-%08lx perms %08llx 00:00 0 ` — the trailing space
    /// stays, no padding without a name.
    func testAnonymousLine() {
        let b = B()
        b.mmap(0, 4)
        XCTAssertEqual(ProcMaps.maps(b.p), "100000000000-100000004000 rw-p 00000000 00:00 0 \n")
    }

    /// Shared anonymous memory: `s`, dev 00:01, the shmem inode, path padded to
    /// column 73 and printed as `/dev/zero (deleted)`.
    func testSharedAnonymousLine() {
        let b = B()
        b.mmap(16, 4, "r--", flags: Linux.MAP_SHARED | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED)
        let v = b.vma(16)!
        let line = ProcMaps.mapsLine(v, b.p.mm)
        let ino = v.file!.inode.ino
        let head = "100000010000-100000014000 r--s 00000000 00:01 \(ino) "
        XCTAssertEqual(line, head + String(repeating: " ", count: 73 - head.count) + "/dev/zero (deleted)")
        XCTAssertEqual(line.firstIndex(of: "/")!.utf16Offset(in: line), 73)
    }

    /// File VMA: the offset column is pgoff << 12 in hex, dev 08:01, the inode number, the path.
    func testFileLine() {
        let b = B()
        let fd = b.open("/usr/lib/libc.so.6", pages: 16, Linux.O_RDONLY)
        b.mmap(0, 2, "r-x", flags: Linux.MAP_PRIVATE | Linux.MAP_FIXED, fd: fd, offset: 0x3000)
        let ino = b.sim.inodes["/usr/lib/libc.so.6"]!.ino
        let line = ProcMaps.mapsLine(b.vma(0)!, b.p.mm)
        XCTAssertTrue(line.hasPrefix("100000000000-100000002000 r-xp 00003000 08:01 \(ino) "))
        XCTAssertTrue(line.hasSuffix(String(repeating: " ", count: 2) + "/usr/lib/libc.so.6") || line.count > 73)
        XCTAssertEqual(line.firstIndex(of: "/")!.utf16Offset(in: line), 73)
    }

    /// `[heap]`: an anonymous VMA overlapping [start_brk, brk) (vma_is_initial_heap()).
    func testHeapName() {
        let b = B()
        _ = b.call(.brk(addr: b.p.mm.startBrk + 8192))
        let line = ProcMaps.maps(b.p)
        XCTAssertTrue(line.hasSuffix("                          [heap]\n"), line)
        XCTAssertEqual(line, "555555559000-55555555b000 rw-p 00000000 00:00 0" + String(repeating: " ", count: 26) + "[heap]\n")
    }

    /// A VMA with one written page and one zero-page read, compared with the
    /// machine's smaps: the zero page is not in Rss (vm_normal_page() is NULL).
    func testSmapsOfAnonymousVMA() {
        let b = B()
        b.mmap(0, 4)
        b.touch(0, .write)
        b.touch(1, .read)
        let expected = """
        100000000000-100000004000 rw-p 00000000 00:00 0 
        Size:                 16 kB
        KernelPageSize:        4 kB
        MMUPageSize:           4 kB
        Rss:                   4 kB
        Pss:                   4 kB
        Pss_Dirty:             4 kB
        Shared_Clean:          0 kB
        Shared_Dirty:          0 kB
        Private_Clean:         0 kB
        Private_Dirty:         4 kB
        Referenced:            4 kB
        Anonymous:             4 kB
        KSM:                   0 kB
        LazyFree:              0 kB
        AnonHugePages:         0 kB
        ShmemPmdMapped:        0 kB
        FilePmdMapped:         0 kB
        Shared_Hugetlb:        0 kB
        Private_Hugetlb:       0 kB
        Swap:                  0 kB
        SwapPss:               0 kB
        Locked:                0 kB
        THPeligible:           0
        VmFlags: rd wr mr mw me ac 

        """
        XCTAssertEqual(ProcMaps.smaps(b.p), expected)
    }

    /// A shmem page read through a private-to-this-process mapping counts as
    /// Private_Clean (mapcount 1) and not as Anonymous [observed].
    func testSmapsOfSharedAnonymousPage() {
        let b = B()
        b.mmap(16, 4, "r--", flags: Linux.MAP_SHARED | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED)
        b.touch(16, .read)
        let u = ProcMaps.usage(b.vma(16)!, b.p.mm)
        XCTAssertEqual(u.rss, 4096)
        XCTAssertEqual(u.privateClean, 4096)
        XCTAssertEqual(u.anonymous, 0)
        XCTAssertEqual(ProcMaps.smapsEntry(b.vma(16)!, b.p.mm).split(separator: "\n").last, "VmFlags: rd sh mr mw me ms ")
    }

    /// After fork a CoW-shared anonymous page has mapcount 2: Shared_Dirty,
    /// half of it in Pss.
    func testSharedAfterFork() {
        let b = B()
        b.mmap(0, 1)
        b.touch(0, .write)
        let child = b.fork()
        let u = ProcMaps.usage(b.vma(0)!, b.p.mm)
        XCTAssertEqual(u.sharedDirty, 4096)
        XCTAssertEqual(u.privateDirty, 0)
        XCTAssertEqual(u.pss >> ProcMaps.pssShift, 2048)
        XCTAssertEqual(ProcMaps.usage(b.vma(0, in: child)!, child.mm).anonymous, 4096)
    }

    /// THPeligible with THP `madvise`: 1 only for a VM_HUGEPAGE anonymous VMA
    /// holding an aligned 2 MiB block [observed: 4 MiB `hg` VMA → 1, 1-page → 0].
    func testTHPEligible() {
        let b = B()
        let big = b.sim.makeVMA(start: 0x1000_0020_0000, end: 0x1000_0060_0000, pgoff: 0,
                                flags: [.READ, .WRITE, .HUGEPAGE], kind: .anonymous)
        XCTAssertTrue(ProcMaps.thpEligible(big))
        big.flags.remove(.HUGEPAGE)
        XCTAssertFalse(ProcMaps.thpEligible(big))
        let small = b.sim.makeVMA(start: 0x1000_0100_1000, end: 0x1000_0100_2000, pgoff: 0,
                                  flags: [.READ, .WRITE, .HUGEPAGE], kind: .anonymous)
        XCTAssertFalse(ProcMaps.thpEligible(small))
        let unaligned = b.sim.makeVMA(start: 0x1000_0000_1000, end: 0x1000_0040_0000, pgoff: 0,
                                      flags: [.READ, .WRITE, .HUGEPAGE], kind: .anonymous)
        XCTAssertTrue(ProcMaps.thpEligible(unaligned), "[2 MiB, 4 MiB) is inside it")
    }

    /// VmFlags follow the kernel's bit order, `gu` between `pf` and `lo`.
    func testVmFlagsOrder() {
        let b = B()
        b.mmap(0, 2)
        b.madvise(0, 1, Linux.MADV_GUARD_INSTALL)
        b.madvise(0, 2, Linux.MADV_DONTFORK)
        XCTAssertTrue(ProcMaps.smaps(b.p).contains("VmFlags: rd wr mr mw me gu dc ac \n"))
    }
}
