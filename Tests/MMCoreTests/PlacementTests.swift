import XCTest
@testable import MMCore

/// get_unmapped_area() on x86-64, top-down layout, ASLR off
/// (docs/KERNEL-MODEL.md §2.3; E-04, E-05, E-26).
final class PlacementTests: XCTestCase {
    typealias B = SyscallBed
    let rw = Linux.PROT_READ | Linux.PROT_WRITE

    private func mapNull(_ b: B, _ len: UInt64, flags: UInt64 = SyscallBed.anon, fd: Int = -1,
                         offset: UInt64 = 0) -> UInt64 {
        let r = b.call(.mmap(addr: 0, length: len, prot: rw, flags: flags, fd: fd, offset: offset))
        XCTAssertNil(r.errno)
        return UInt64(bitPattern: r.ret)
    }

    /// The first hint-less mapping sits at the top of the highest gap: just below mmap_base.
    func testFirstMappingBelowMmapBase() {
        let b = B()
        XCTAssertEqual(mapNull(b, 4096), b.p.mm.mmapBase - 4096)
    }

    /// E-05: consecutive hint-less mmaps are placed immediately below each
    /// other (second = first − len) and therefore merge.
    func testConsecutiveMappingsStackDownAndMerge() {
        let b = B()
        let a1 = mapNull(b, 3 * 4096)
        let a2 = mapNull(b, 3 * 4096)
        XCTAssertEqual(a2, a1 - 3 * 4096)
        XCTAssertEqual(b.p.mm.mapCount, 1)
        XCTAssertEqual(b.vmas().first!.end - b.vmas().first!.start, 6 * 4096)
    }

    /// E-04: anonymous, no hint, length a multiple of 2 MiB → 2 MiB aligned
    /// (thp_get_unmapped_area); 2 MiB + 4 KiB → not aligned by the allocator.
    func testTHPAlignmentForAnonymous() {
        let b = B()
        let a = mapNull(b, 2 << 20)
        XCTAssertEqual(a % (2 << 20), 0)
        b.call(.mprotect(addr: a, length: 2 << 20, prot: Linux.PROT_READ))   // keep the next one separate
        let c = mapNull(b, (2 << 20) + 4096)
        XCTAssertEqual(c, a - (2 << 20) - 4096, "plain top-down: directly below")
        XCTAssertNotEqual(c % (2 << 20), 0)
        let d = mapNull(b, 4 << 20)
        XCTAssertEqual(d % (2 << 20), 0)
        XCTAssertLessThan(d, c)
    }

    /// The THP path pads the search by 2 MiB; when the padded result is
    /// already aligned (top-down) the mapping goes to its top.
    func testTHPAlignedPlacementUsesTopOfPaddedArea() {
        let b = B()
        // mmap_base is 0x7ffff7fff000: the highest 2 MiB-aligned start for 2 MiB is 0x7ffff7c00000.
        XCTAssertEqual(mapNull(b, 2 << 20), 0x7fff_f7c0_0000)
    }

    /// ext4 files use thp_get_unmapped_area too: a mapping covering a whole
    /// 2 MiB unit of the file is placed so that address ≡ offset (mod 2 MiB)
    /// [probe: 4 MiB at offset 0 → aligned; at offset 4096 → …01000].
    func testFileMappingsAreTHPAligned() {
        let b = B()
        let fd = b.open("/big", pages: 2048, Linux.O_RDONLY)
        let a = mapNull(b, 4 << 20, flags: Linux.MAP_PRIVATE, fd: fd)
        XCTAssertEqual(a % (2 << 20), 0)
        let c = mapNull(b, 4 << 20, flags: Linux.MAP_PRIVATE, fd: fd, offset: 4096)
        XCTAssertEqual(c % (2 << 20), 4096)
        let small = mapNull(b, 1 << 20, flags: Linux.MAP_PRIVATE, fd: fd)
        // Under 2 MiB: plain top-down, into the space the padded search left
        // above the first mapping [probe: 1 MiB landed above the 4 MiB ones].
        XCTAssertGreaterThanOrEqual(small, a + (4 << 20))
        XCTAssertEqual(small, b.p.mm.mmapBase - (1 << 20))
    }

    /// Shared anonymous memory goes through shmem's allocator: no THP padding here.
    func testSharedAnonymousNotPadded() {
        let b = B()
        let a = mapNull(b, 2 << 20, flags: Linux.MAP_SHARED | Linux.MAP_ANONYMOUS)
        XCTAssertEqual(a, b.p.mm.mmapBase - (2 << 20))
    }

    /// A hint inside the stack guard gap below a VM_GROWSDOWN VMA is refused;
    /// the top-down search also keeps the gap free.
    func testStackGuardGapRespected() {
        var layout = LayoutConfig()
        layout.mmapBase = 0x7000_0000_0000
        let b = B(layout: layout)
        let stackStart: UInt64 = 0x6fff_f000_0000
        b.call(.mmap(addr: stackStart, length: 4096, prot: rw,
                     flags: SyscallBed.fixedAnon | Linux.MAP_GROWSDOWN, fd: -1, offset: 0))
        let hint = stackStart - 4096
        let r = b.call(.mmap(addr: hint, length: 4096, prot: rw, flags: SyscallBed.anon, fd: -1, offset: 0))
        XCTAssertNotEqual(UInt64(bitPattern: r.ret), hint, "hint within stack_guard_gap is not free")
        // Fill the space above the stack up to mmap_base, then search: the
        // result stays stack_guard_gap below the stack.
        b.call(.mmap(addr: stackStart + 4096, length: layout.mmapBase - stackStart - 4096, prot: rw,
                     flags: SyscallBed.fixedAnon, fd: -1, offset: 0))
        let c = mapNull(b, 4096)
        XCTAssertLessThanOrEqual(c + 4096, stackStart - layout.stackGuardGap)
    }

    /// MAP_32BIT: bottom-up in [1 GiB, 2 GiB) (ASLR off: from 0x40000000).
    func testMap32Bit() {
        let b = B()
        let a = mapNull(b, 4096, flags: SyscallBed.anon | Linux.MAP_32BIT)
        XCTAssertEqual(a, 0x4000_0000)
        XCTAssertEqual(mapNull(b, 4096, flags: SyscallBed.anon | Linux.MAP_32BIT), 0x4000_1000, "lowest gap")
    }

    /// No room below mmap_base → bottom-up from TASK_UNMAPPED_BASE (a third of TASK_SIZE).
    func testBottomUpFallback() {
        var layout = LayoutConfig()
        layout.mmapBase = 0x20000
        let b = B(layout: layout)
        let a = mapNull(b, 0x10000)
        XCTAssertEqual(a, 0x10000, "fits exactly between mmap_min_addr and mmap_base")
        let c = mapNull(b, 4096)
        XCTAssertEqual(c, b.sim.taskUnmappedBase(b.p.mm))
        XCTAssertEqual(c, 0x2aaa_aaaa_b000)
    }

    /// The highest gap wins even when a lower one is larger.
    func testHighestFittingGap() {
        let b = B()
        let base = b.p.mm.mmapBase
        // Occupy [base-8p, base) except a 2-page hole at [base-6p, base-4p).
        b.call(.mmap(addr: base - 8 * 4096, length: 8 * 4096, prot: rw, flags: SyscallBed.fixedAnon, fd: -1, offset: 0))
        b.call(.munmap(addr: base - 6 * 4096, length: 2 * 4096))
        XCTAssertEqual(mapNull(b, 4096, flags: SyscallBed.anon), base - 5 * 4096, "top of the 2-page hole")
        XCTAssertEqual(mapNull(b, 2 * 4096, flags: SyscallBed.anon), base - 10 * 4096, "too big for what is left")
    }

    /// Placement failure: nothing fits anywhere → ENOMEM.
    func testNoSpace() {
        let b = B()
        let r = b.call(.mmap(addr: 0, length: b.p.mm.taskSize, prot: rw, flags: SyscallBed.anon, fd: -1, offset: 0))
        XCTAssertEqual(r.errno, .ENOMEM)
    }
}
