import XCTest
@testable import MMCore

/// §6: dup_mmap, anon_vma_fork and copy_page_range (E-14..E-17, §6.2).
final class ForkTests: XCTestCase {
    typealias W = FaultWorld

    // E-14 — a written page is shared read-only after fork (mapcount 2, not
    // exclusive, write-protected in BOTH processes); the parent's write copies.
    func testE14SharedPageWriteProtectedInBoth() {
        let w = W()
        w.anon(16, 4)
        w.touch(16, .write)
        let f = w.folio(16)!
        let c = w.fork()
        XCTAssertEqual(f.mapcount, 2)
        XCTAssertFalse(f.anonExclusive)
        XCTAssertFalse(w.pte(16)!.writable, "parent PTE write-protected")
        XCTAssertFalse(w.pte(16, in: c)!.writable, "child PTE read-only")
        XCTAssertTrue(w.folio(16, in: c) === f)
        let eff = w.sim.effects.fork
        XCTAssertEqual(eff.count, 1)
        XCTAssertEqual(eff[0].anonVMA, .cloned)
        XCTAssertTrue(eff[0].pageTablesCopied)
        XCTAssertEqual(eff[0].pagesWriteProtected, 1)
        w.touch(16, .write)
        XCTAssertFalse(w.folio(16) === f, "parent gets a new PFN")
        XCTAssertEqual(f.mapcount, 1)
        XCTAssertTrue(w.folio(16, in: c) === f, "child keeps the old one")
        // The parent's new page went into the parent's own anon_vma; the
        // child's next write reuses the old page in place (sole user).
        w.touch(16, .write, in: c)
        XCTAssertTrue(w.folio(16, in: c) === f)
        XCTAssertTrue(f.anonVMA === c.mm.vmas.first!.anonVMA, "folio_move_anon_rmap to the child's anon_vma")
    }

    // E-15 / E-15b — vma_needs_copy(): only VMAs with an anon_vma get page tables.
    //   z: anon read-faulted (zero page, no av); p1: private file read only;
    //   p2: private file read + one page written; sh: shared file written; sa: shmem written
    func testE15PageTablesCopiedOnlyWithAnonVMA() {
        let w = W()
        w.anon(16, 2)
        w.touch(16)
        let ino = w.file("/f", pages: 8)
        let fd = w.open(ino)
        w.map(fd, 32, 4, pgoff: 0, "rw-")                 // p1
        w.touch(32)
        w.map(fd, 48, 4, pgoff: 4, "rw-")                 // p2
        w.touch(48)
        w.touch(49, .write)
        let sfile = w.open(w.file("/s", pages: 4), Linux.O_RDWR)
        w.map(sfile, 64, 4, pgoff: 0, "rw-", shared: true) // sh
        w.touch(64, .write)
        w.shmem(80, 4)                                      // sa
        w.touch(80, .write)
        let pc48 = ino.pageCache[4]!
        let before = pc48.mapcount
        let c = w.fork()
        XCTAssertNil(w.pte(16, in: c), "E-15: zero page of an av-less VMA not present in the child")
        XCTAssertNil(w.pte(32, in: c), "p1 not present")
        XCTAssertTrue(w.folio(48, in: c) === pc48, "p2 page-cache page present")
        XCTAssertEqual(pc48.mapcount, before + 1)
        XCTAssertEqual(w.folio(49, in: c)?.mapcount, 2, "p2 CoW page shared")
        XCTAssertNil(w.pte(64, in: c), "shared file not present")
        XCTAssertNil(w.pte(80, in: c), "shmem not present")
        let copied = w.sim.effects.fork.map(\.pageTablesCopied)
        XCTAssertEqual(copied, [false, false, true, false, false])
    }

    // E-25 — a zero-page PTE is copied verbatim when the VMA has an anon_vma.
    func testZeroPagePTECopiedWhenVMAHasAnonVMA() {
        let w = W()
        w.anon(16, 4)
        w.touch(16, .write)
        w.touch(17)
        let c = w.fork()
        XCTAssertTrue(w.folio(17, in: c)!.isZero)
        XCTAssertEqual(w.sim.zeroFolio.mapcount, 0)
    }

    // E-16 — VM_WIPEONFORK: child VMA without anon_vma or pages (flag kept), a
    // read sees the zero page; VM_DONTCOPY: no child VMA at all.
    func testE16WipeOnForkAndDontFork() {
        let w = W()
        let wv = w.anon(16, 4, extra: .WIPEONFORK)
        w.touch(16, .write)
        w.anon(32, 2, extra: .DONTCOPY)
        w.touch(32, .write)
        let c = w.fork()
        let cv = c.mm.vmas.first!
        XCTAssertEqual(c.mm.vmas.count, 1, "the VM_DONTCOPY VMA is absent")
        XCTAssertTrue(cv.flags.contains(.WIPEONFORK))
        XCTAssertNil(cv.anonVMA)
        XCTAssertEqual(cv.chainLength, 0)
        XCTAssertNil(w.pte(16, in: c))
        XCTAssertEqual(w.folio(16)?.mapcount, 1, "parent page untouched")
        XCTAssertTrue(w.folio(16)!.anonExclusive)
        XCTAssertNotNil(wv.anonVMA)
        XCTAssertEqual(w.sim.effects.fork.map(\.anonVMA), [.wiped, .skipped])
        XCTAssertTrue(w.touch(16, in: c).folio!.id == 0, "child read → zero page")
    }

    // eager_anon_vma reproduces 4.14's WIPEONFORK: the child VMA gets a fresh root.
    func testEagerWipeOnForkPreparesChildAnonVMA() {
        let w = W(options: ModelOptions(eagerAnonVMA: true))
        w.anon(16, 4, extra: .WIPEONFORK)
        w.touch(16, .write)
        let c = w.fork()
        let av = c.mm.vmas.first!.anonVMA
        XCTAssertNotNil(av)
        XCTAssertTrue(av!.isRoot)
        XCTAssertEqual(c.mm.vmas.first!.chainLength, 1)
    }

    // E-17 — a faulted parent VMA makes a fork child (chain 2); an untouched one
    // stays anon_vma-less (and therefore mergeable in the child).
    func testE17ForkChildChains() {
        let w = W()
        let a = w.anon(16, 2)
        w.touch(16, .write)
        w.anon(32, 2)
        let c = w.fork()
        let ca = c.mm.vmas.all[0], cb = c.mm.vmas.all[1]
        XCTAssertTrue(ca.isForkChild)
        XCTAssertEqual(ca.chainLength, 2)
        XCTAssertTrue(ca.chain[0].anonVMA === a.anonVMA, "oldest link is the parent's anon_vma")
        XCTAssertTrue(ca.anonVMA!.parent === a.anonVMA)
        XCTAssertTrue(ca.anonVMA!.root === a.anonVMA)
        XCTAssertEqual(a.anonVMA!.numChildren, 2)
        XCTAssertEqual(a.anonVMA!.refcount, 2, "the child anon_vma pins the root")
        XCTAssertNil(cb.anonVMA)
        XCTAssertEqual(a.chainLength, 1, "the parent's chain is unchanged")
        XCTAssertEqual(w.sim.stats.anonVMA.forkCloned, 1)
    }

    // §6.2 worked example: P forks C1, P exits, C1 forks C2, C1 exits, C2 forks
    // C3 → C3 reuses the idle N1; chain {R, N1, N2}; no new anon_vma.
    func testForkExitForkReusesIdleAnonVMA() {
        let w = W()
        let pv = w.anon(16, 2)
        w.touch(16, .write)
        let r = pv.anonVMA!
        let c1 = w.fork()
        let n1 = c1.mm.vmas.first!.anonVMA!
        XCTAssertEqual(r.numChildren, 2)
        w.exit(w.p)
        XCTAssertFalse(r.freed)
        XCTAssertEqual(r.numActiveVMAs, 0)
        let c2 = w.fork(c1)
        let n2 = c2.mm.vmas.first!.anonVMA!
        XCTAssertTrue(n2.parent === n1)
        XCTAssertEqual(n1.numChildren, 1)
        w.exit(c1)
        XCTAssertFalse(n1.freed, "still in C2's chain")
        XCTAssertEqual(n1.numActiveVMAs, 0)
        let allocated = w.sim.stats.anonVMA.allocated
        let c3 = w.fork(c2)
        let v3 = c3.mm.vmas.first!
        XCTAssertTrue(v3.anonVMA === n1, "reuse: N1 has 1 child and no active VMA")
        XCTAssertEqual(v3.chain.map(\.anonVMA.id), [r.id, n1.id, n2.id])
        XCTAssertEqual(w.sim.stats.anonVMA.allocated, allocated, "no new anon_vma")
        XCTAssertEqual(w.sim.stats.anonVMA.forkReused, 1)
        XCTAssertEqual(w.sim.effects.fork.first?.anonVMA, .reused)
        XCTAssertEqual(n1.numActiveVMAs, 1)
    }

    // Oracle fork_grandchild_mapcount: mapcount 3 across three generations; a
    // write in the middle copies only there; the grandchild's exit drops the count.
    func testGrandchildMapcount() {
        let w = W()
        w.anon(16, 4)
        w.touch(16, .write)
        w.touch(17, .write)
        let f1 = w.folio(16)!, f2 = w.folio(17)!
        let c1 = w.fork()
        let c2 = w.fork(c1)
        XCTAssertEqual([f1.mapcount, f2.mapcount], [3, 3])
        w.touch(16, .write, in: c1)
        XCTAssertEqual(f1.mapcount, 2)
        XCTAssertEqual(w.folio(16, in: c1)!.mapcount, 1)
        XCTAssertTrue(w.folio(16, in: c1)!.anonExclusive)
        w.exit(c2)
        XCTAssertEqual([f1.mapcount, f2.mapcount], [1, 2])
        XCTAssertFalse(f1.anonExclusive, "mapped once again, but PG_anon_exclusive stays clear until a write")
    }

    // dup_mmap details: VM_LOCKED cleared, guard markers copied, fd table shares
    // struct files, ppid/brk inherited, parent VMAs write-locked in 6.5+ only.
    func testDupMmapDetails() {
        for model in [KernelModel.v6_4, .v6_18] {
            let w = W(model)
            let v = w.anon(16, 3, extra: .LOCKED)
            w.touch(16, .write)
            w.p.mm.pageTable[W.at(17) >> 12] = .guardPTE
            let fd = w.open(w.file("/f", pages: 1))
            w.p.mm.brk = w.p.mm.startBrk + 0x3000
            let seqBefore = w.p.mm.mmLockSeq
            let c = w.fork()
            XCTAssertEqual(c.ppid, w.p.pid)
            XCTAssertFalse(c.mm.vmas.first!.flags.contains(.LOCKED))
            XCTAssertTrue(v.flags.contains(.LOCKED))
            XCTAssertEqual(w.pte(17, in: c)?.guardMarker, true)
            XCTAssertTrue(c.fds[3] === fd)
            XCTAssertEqual(c.mm.brk, w.p.mm.brk)
            XCTAssertEqual(c.mm.startBrk, w.p.mm.startBrk)
            XCTAssertEqual(v.vmLockSeq == seqBefore, model.forkWriteLocksParentVMAs,
                           "fb49c455323f: dup_mmap write-locks parent VMAs (\(model.id))")
            XCTAssertFalse(w.sim.isWriteLocked(w.p.mm, v), "released by mmap_write_unlock")
        }
    }

    // Performance: fork of 20,000 VMAs.
    func testForkOf20000VMAsIsFast() {
        let w = W(tracing: false)
        for i in 0..<UInt64(20_000) {
            let v = w.anon(16 + i * 2, 1, i % 2 == 0 ? "rw-" : "r--")
            if i % 4 == 0 { _ = w.sim.anonVMAPrepare(w.p, v); w.touch(16 + i * 2, .write) }
        }
        let t0 = ContinuousClock.now
        let c = w.fork()
        let dt = ContinuousClock.now - t0
        XCTAssertEqual(c.mm.vmas.count, 20_000)
        print("fork of 20000 VMAs: \(dt)")
    }
}
