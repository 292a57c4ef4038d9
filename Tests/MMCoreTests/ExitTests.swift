import XCTest
@testable import MMCore

/// §7: exit_mmap and when anon_vmas are freed.
final class ExitTests: XCTestCase {
    typealias W = FaultWorld

    // exit(): return 0, state exited, address space and page table gone;
    // anonymous folios unmapped everywhere; page-cache pages stay cached.
    func testExitTearsDownTheAddressSpace() {
        let w = W()
        w.anon(16, 2)
        w.touch(16, .write)
        let f = w.folio(16)!
        let ino = w.file("/f", pages: 2)
        w.map(w.open(ino), 32, 2, pgoff: 0, "r--")
        w.touch(32)
        let r = try! w.sim.syscall(pid: w.p.pid, .exit(status: 3))
        XCTAssertEqual(r.ret, 0)
        XCTAssertEqual(r.strace, "exit_group(3) = ?")
        XCTAssertEqual(w.p.state, .exited)
        XCTAssertEqual(w.p.exitStatus, 3)
        XCTAssertEqual(w.p.mm.vmas.count, 0)
        XCTAssertEqual(w.p.mm.pageTable.count, 0)
        XCTAssertEqual(f.mapcount, 0)
        XCTAssertNil(f.anonVMA)
        XCTAssertEqual(ino.pageCache[0]?.mapcount, 0)
        XCTAssertNotNil(ino.pageCache[0], "the page cache outlives the mapping")
        XCTAssertTrue(w.sim.anonVMAs.isEmpty)
        XCTAssertEqual(w.sim.stats.anonVMA.freed, 1)
        XCTAssertThrowsError(try w.sim.fault(pid: w.p.pid, address: W.at(16), access: .read)) {
            XCTAssertEqual($0 as? SimulationError, .processExited(w.p.pid))
        }
        XCTAssertEqual(try! w.sim.pages(pid: w.p.pid), [])
    }

    // A non-root anon_vma is freed as soon as its tree empties; the root's
    // num_children and refcount drop back.
    //   P: R    fork → C: N (parent R)    C exits → N freed, R stays
    func testChildAnonVMAFreedWhenItsTreeEmpties() {
        let w = W()
        let pv = w.anon(16, 2)
        w.touch(16, .write)
        let r = pv.anonVMA!
        let c = w.fork()
        let n = c.mm.vmas.first!.anonVMA!
        XCTAssertEqual(r.numChildren, 2)
        XCTAssertEqual(r.refcount, 2)
        w.exit(c)
        XCTAssertTrue(n.freed)
        XCTAssertNil(w.sim.anonVMAs[n.id])
        XCTAssertFalse(r.freed)
        XCTAssertEqual(r.numChildren, 1)
        XCTAssertEqual(r.refcount, 1)
        XCTAssertEqual(r.avcs.count, 1, "only the parent's AVC is left")
        XCTAssertEqual(w.folio(16)!.mapcount, 1)
    }

    // The root outlives its descendants: when the parent exits first, R stays
    // (C's AVC still links into R's tree); C's exit frees N, then R.
    func testRootOutlivesDescendants() {
        let w = W()
        let pv = w.anon(16, 2)
        w.touch(16, .write)
        let r = pv.anonVMA!
        let c = w.fork()
        let n = c.mm.vmas.first!.anonVMA!
        let shared = w.folio(16)!
        w.exit(w.p)
        XCTAssertFalse(r.freed, "root still linked from the child's chain")
        XCTAssertEqual(r.numActiveVMAs, 0)
        XCTAssertEqual(shared.mapcount, 1)
        XCTAssertTrue(shared.anonVMA === r, "the child still maps a folio of R")
        XCTAssertEqual(w.sim.anonVMAForest().map(\.id), [r.id, n.id])
        w.exit(c)
        XCTAssertTrue(n.freed)
        XCTAssertTrue(r.freed)
        XCTAssertTrue(w.sim.anonVMAs.isEmpty)
        XCTAssertEqual(w.sim.statsSnapshot().anonVMA.live, 0)
        XCTAssertEqual(w.sim.stats.anonVMA.freed, 2)
    }

    // A root whose tree empties while a descendant still holds a reference is
    // kept (refcount > 0) — a zombie with no VMA — until that descendant goes.
    //   P: R → C1: N1 → C2: N2     C1 exits (N1 idle, in C2's chain); P exits
    func testRootPinnedByGrandchild() {
        let w = W()
        let pv = w.anon(16, 2)
        w.touch(16, .write)
        let r = pv.anonVMA!
        let c1 = w.fork()
        let c2 = w.fork(c1)
        w.exit(c1)
        w.exit(w.p)
        XCTAssertFalse(r.freed)
        XCTAssertEqual(r.avcs.count, 1, "C2's link")
        w.exit(c2)
        XCTAssertTrue(r.freed)
        XCTAssertTrue(w.sim.anonVMAs.isEmpty)
    }

    // Exit of a fork child with its own CoW pages frees them; shared pages lose a mapping.
    func testExitDropsMappings() {
        let w = W()
        w.anon(16, 2)
        w.touch(16, .write)
        w.touch(17, .write)
        let c = w.fork()
        w.touch(17, .write, in: c)
        let own = w.folio(17, in: c)!
        w.exit(c)
        XCTAssertEqual(own.mapcount, 0)
        XCTAssertEqual(w.folio(16)!.mapcount, 1)
        XCTAssertEqual(w.sim.statsSnapshot().vmas.live, 1)
    }
}
