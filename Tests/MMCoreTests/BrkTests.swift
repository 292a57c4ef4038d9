import XCTest
@testable import MMCore

/// brk(2): docs/KERNEL-MODEL.md §3.7 (brk, check_brk_limits, do_brk_flags with
/// the expand-only merge); E-20.
final class BrkTests: XCTestCase {
    typealias B = SyscallBed

    private func brk(_ b: B, _ addr: UInt64, in proc: MMCore.Process? = nil) -> UInt64 {
        UInt64(bitPattern: b.call(.brk(addr: addr), in: proc).ret)
    }

    /// brk(0) (below start_brk) returns the current break of a fresh process: start_brk.
    func testQueryReturnsStartBrk() {
        let b = B()
        XCTAssertEqual(brk(b, 0), b.p.mm.startBrk)
        XCTAssertEqual(b.p.mm.mapCount, 0)
    }

    /// The first growth creates the `[heap]` VMA at start_brk (pgoff start_brk
    /// >> 12, `rd wr mr mw me ac`); later growths expand it in place (E-20
    /// parent: a single growing `[heap]`, even after it was written).
    func testHeapGrowsInPlace() {
        let b = B()
        let s = b.p.mm.startBrk
        XCTAssertEqual(brk(b, s + 3 * 4096), s + 3 * 4096)
        let heap = b.p.mm.vmas.first!
        XCTAssertEqual(heap.start, s)
        XCTAssertEqual(heap.end, s + 3 * 4096)
        XCTAssertEqual(heap.pgoff, s >> 12)
        XCTAssertEqual(heap.name, "[heap]")
        XCTAssertEqual(heap.flags.smapsCodes, ["rd", "wr", "mr", "mw", "me", "ac"])
        XCTAssertEqual(ProcMaps.name(heap, b.p.mm), "[heap]")
        _ = try! b.sim.fault(pid: b.p.pid, address: s + 4096 * 2 + 100, access: .write)
        XCTAssertEqual(brk(b, s + 5 * 4096), s + 5 * 4096)
        XCTAssertEqual(b.p.mm.mapCount, 1)
        XCTAssertEqual(heap.end, s + 5 * 4096)
        XCTAssertEqual(b.p.mm.committedPages, 5)
    }

    /// An unaligned break is stored as given; the VMA covers whole pages.
    func testUnalignedBreak() {
        let b = B()
        let s = b.p.mm.startBrk
        XCTAssertEqual(brk(b, s + 100), s + 100)
        XCTAssertEqual(b.p.mm.vmas.first!.end, s + 4096)
        XCTAssertEqual(brk(b, s + 4000), s + 4000, "same page: only mm->brk changes")
        XCTAssertEqual(b.p.mm.vmas.first!.end, s + 4096)
    }

    /// E-20 child: a fork child whose inherited heap was faulted (anon_vma with
    /// a chain of 2) refuses the expand-only merge: a second `[heap]` VMA.
    func testForkChildGetsSecondHeapVMA() {
        let b = B()
        let s = b.p.mm.startBrk
        _ = brk(b, s + 4096)
        _ = try! b.sim.fault(pid: b.p.pid, address: s, access: .write)
        let child = b.fork()
        XCTAssertEqual(brk(b, s + 3 * 4096, in: child), s + 3 * 4096)
        let vmas = child.mm.vmas.all
        XCTAssertEqual(vmas.map { [$0.start, $0.end] }, [[s, s + 4096], [s + 4096, s + 3 * 4096]])
        XCTAssertEqual(vmas.map { ProcMaps.name($0, child.mm) }, ["[heap]", "[heap]"])
        XCTAssertNil(vmas[1].anonVMA)
        // The parent still grows in place.
        XCTAssertEqual(brk(b, s + 3 * 4096), s + 3 * 4096)
        XCTAssertEqual(b.p.mm.mapCount, 1)
    }

    /// Shrinking unmaps [new, old) and returns the new break.
    func testShrink() {
        let b = B()
        let s = b.p.mm.startBrk
        _ = brk(b, s + 4 * 4096)
        _ = try! b.sim.fault(pid: b.p.pid, address: s + 3 * 4096, access: .write)
        XCTAssertEqual(brk(b, s + 4096), s + 4096)
        XCTAssertEqual(b.p.mm.vmas.first!.end, s + 4096)
        XCTAssertNil(b.p.mm.pageTable[(s + 3 * 4096) >> 12])
        XCTAssertEqual(brk(b, s), s)
        XCTAssertEqual(b.p.mm.mapCount, 0)
    }

    /// Growth must stay one page clear of the next VMA (and of the stack guard
    /// gap below a growsdown one); on failure the old break is returned.
    func testGrowthBlockedByNextVMA() {
        let b = B()
        let s = b.p.mm.startBrk
        b.call(.mmap(addr: s + 4 * 4096, length: 4096, prot: 3, flags: SyscallBed.fixedAnon, fd: -1, offset: 0))
        XCTAssertEqual(brk(b, s + 3 * 4096), s + 3 * 4096, "one page below the next VMA is fine")
        XCTAssertEqual(brk(b, s + 4 * 4096), s + 3 * 4096, "touching it is refused")
        XCTAssertEqual(b.p.mm.brk, s + 3 * 4096)

        let c = B()
        let cs = c.p.mm.startBrk
        let stack = cs + 1024 * 4096
        c.call(.mmap(addr: stack, length: 4096, prot: 3, flags: SyscallBed.fixedAnon | Linux.MAP_GROWSDOWN,
                     fd: -1, offset: 0))
        XCTAssertEqual(brk(c, cs + 800 * 4096), cs, "within stack_guard_gap of a growsdown VMA")
    }

    /// A shrink over a range with nothing mapped is refused (old brk returned).
    func testShrinkWithoutMappingRefused() {
        let b = B()
        let s = b.p.mm.startBrk
        _ = brk(b, s + 2 * 4096)
        b.call(.munmap(addr: s, length: 2 * 4096))
        XCTAssertEqual(brk(b, s), s + 2 * 4096)
    }
}
