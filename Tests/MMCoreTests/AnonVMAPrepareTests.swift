import XCTest
@testable import MMCore

/// §5: __anon_vma_prepare → find_mergeable_anon_vma (next first, then prev)
/// → reusable_anon_vma → anon_vma_compatible, and the §8.4 options.
final class AnonVMAPrepareTests: XCTestCase {
    typealias W = FaultWorld

    // A fresh root: refcount 1, num_children 1 (self link), one active VMA, chain length 1.
    func testFreshRootCounters() {
        let w = W()
        let v = w.anon(16, 2)
        let r = w.touch(16, .write)
        let av = v.anonVMA!
        XCTAssertEqual(r.anonVMA.action, .allocated)
        XCTAssertEqual(av.refcount, 1)
        XCTAssertEqual(av.numChildren, 1)
        XCTAssertEqual(av.numActiveVMAs, 1)
        XCTAssertTrue(av.isRoot)
        XCTAssertEqual(v.chainLength, 1)
        XCTAssertFalse(v.isForkChild)
        XCTAssertEqual(w.sim.stats.anonVMA.allocated, 1)
    }

    // E-07d — next is tried first.
    //   A [16 rw- 18) av1 | B [18 rwx 20) | C [20 rw- 22) av2     write B
    // B takes C's anon_vma (it later re-merges with C, not A).
    func testNextIsTriedFirst() {
        let w = W()
        let a = w.anon(16, 2)
        let b = w.anon(18, 2, "rwx")
        let c = w.anon(20, 2)
        w.touch(16, .write)
        w.touch(20, .write)
        XCTAssertFalse(a.anonVMA === c.anonVMA)
        let r = w.touch(18, .write)
        XCTAssertEqual(r.anonVMA.action, .reused)
        XCTAssertEqual(r.anonVMA.fromSide, .next)
        XCTAssertEqual(r.anonVMA.fromVMA, c.rangeDescription)
        XCTAssertTrue(b.anonVMA === c.anonVMA)
        XCTAssertEqual(r.anonVMA.candidates.map(\.side), [.next], "a hit on next stops the search")
        XCTAssertEqual(c.anonVMA!.numActiveVMAs, 2)
        XCTAssertEqual(w.sim.stats.anonVMA.reusedNext, 1)
    }

    // E-07 — prev when next is absent: an RW/RWX difference is only access bits.
    //   A [16 rw- 18) av1 | B [18 rwx 20)      write B → av1 from prev
    func testPrevReusedWhenOnlyAccessBitsDiffer() {
        let w = W()
        let a = w.anon(16, 2)
        let b = w.anon(18, 2, "rwx")
        w.touch(16, .write)
        let r = w.touch(19, .write)
        XCTAssertEqual(r.anonVMA.action, .reused)
        XCTAssertEqual(r.anonVMA.fromSide, .prev)
        XCTAssertTrue(b.anonVMA === a.anonVMA)
        XCTAssertEqual(w.sim.stats.anonVMA.reusedPrev, 1)
        XCTAssertEqual(w.sim.anonVMAs.count, 1)
    }

    // Not adjacent: a one-page hole between the VMAs.
    func testNotAdjacentAllocates() {
        let w = W()
        w.anon(16, 2)
        w.touch(16, .write)
        w.anon(19, 2)
        let r = w.touch(19, .write)
        XCTAssertEqual(r.anonVMA.action, .allocated)
        XCTAssertEqual(r.anonVMA.candidates.first?.compatible, false)
        XCTAssertTrue(r.anonVMA.candidates.first!.why.hasPrefix("not adjacent"))
    }

    // E-07b — a VM_DONTCOPY difference at fault time blocks sharing; so do
    // VM_ACCOUNT (rw- vs r-- anonymous!) and VM_NORESERVE.
    func testFlagDifferencesBeyondAccessBitsBlockReuse() {
        let cases: [(VMFlags, String, String)] = [
            ([.DONTCOPY], "rw-", "VM_DONTCOPY"),
            ([], "r--", "VM_ACCOUNT"),
            ([.NORESERVE], "rw-", "VM_ACCOUNT|VM_NORESERVE"),
            ([.WIPEONFORK], "rw-", "VM_WIPEONFORK"),
        ]
        for (extra, prot, names) in cases {
            let w = W()
            let a = w.anon(16, 2)
            w.touch(16, .write)
            let b = w.anon(18, 2, prot, extra: extra)
            let r = w.touch(18, prot == "r--" ? .read : .write)
            if prot == "r--" {
                // A read needs no anon_vma; ask __anon_vma_prepare directly (as stack growth would).
                XCTAssertEqual(r.anonVMA.action, .none)
                let out = w.sim.anonVMAPrepare(w.p, b)
                XCTAssertEqual(out.action, .allocated)
                XCTAssertEqual(out.candidates.first?.why, "vm_flags differ beyond access bits: \(names)")
            } else {
                XCTAssertEqual(r.anonVMA.action, .allocated, names)
                XCTAssertEqual(r.anonVMA.candidates.first?.why, "vm_flags differ beyond access bits: \(names)")
            }
            XCTAssertFalse(a.anonVMA === b.anonVMA)
        }
    }

    // A neighbour without an anon_vma has nothing to lend.
    func testNeighbourWithoutAnonVMA() {
        let w = W()
        w.anon(16, 2)
        w.anon(18, 2, "rwx")
        let r = w.touch(18, .write)
        XCTAssertEqual(r.anonVMA.action, .allocated)
        XCTAssertEqual(r.anonVMA.candidates.first?.compatible, false)
        XCTAssertEqual(r.anonVMA.candidates.first?.why, "compatible, but it has no anon_vma yet")
    }

    // E-17 — a fork child's anon_vma is never lent (list_is_singular fails).
    //   child: [16 rw- 18) inherited, faulted (chain 2) | [18 rwx 20) new   write → new av
    func testForkChildNeverLendsItsAnonVMA() {
        let w = W()
        w.anon(16, 2)
        w.touch(16, .write)
        let c = w.fork()
        let inherited = c.mm.vmas.first!
        XCTAssertEqual(inherited.chainLength, 2)
        let fresh = w.anon(18, 2, "rwx", in: c)
        let r = w.touch(18, .write, in: c)
        XCTAssertEqual(r.anonVMA.action, .allocated)
        XCTAssertTrue(r.anonVMA.candidates[0].why.contains("fork child"))
        XCTAssertFalse(fresh.anonVMA === inherited.anonVMA)
        // The parent's chain is still singular: there the same layout reuses.
        w.anon(18, 2, "rwx")
        XCTAssertEqual(w.touch(18, .write).anonVMA.action, .reused)
    }

    // E-27 — private file mappings reuse through vm_file *pointer* equality:
    // the same struct file with contiguous offsets shares; two opens never do.
    //   fd1: [16 rw- @0 18) | [18 rwx @2 20)    CoW-write both → one anon_vma
    func testFileIdentityRule() {
        let w = W()
        let ino = w.file("/f", pages: 8)
        let fd1 = w.open(ino)
        let a = w.map(fd1, 16, 2, pgoff: 0, "rw-")
        let b = w.map(fd1, 18, 2, pgoff: 2, "rwx")
        w.touch(16, .write)
        let r = w.touch(18, .write)
        XCTAssertEqual(r.handler, "do_cow_fault")
        XCTAssertEqual(r.anonVMA.action, .reused, "E-27 F1: vm_file equality does match")
        XCTAssertTrue(a.anonVMA === b.anonVMA)

        let w2 = W()
        let ino2 = w2.file("/f", pages: 8)
        let a2 = w2.map(w2.open(ino2), 16, 2, pgoff: 0, "rw-")
        let b2 = w2.map(w2.open(ino2), 18, 2, pgoff: 2, "rwx")
        w2.touch(16, .write)
        let r2 = w2.touch(18, .write)
        XCTAssertEqual(r2.anonVMA.action, .allocated, "E-27: fd1/fd2 are different struct files")
        XCTAssertTrue(r2.anonVMA.candidates[0].why.hasPrefix("vm_file differs"))
        XCTAssertFalse(a2.anonVMA === b2.anonVMA)

        // Same struct file, non-contiguous offsets.
        let w3 = W()
        let fd = w3.open(w3.file("/f", pages: 16))
        w3.map(fd, 16, 2, pgoff: 0, "rw-")
        w3.map(fd, 18, 2, pgoff: 4, "rwx")
        w3.touch(16, .write)
        let r3 = w3.touch(18, .write)
        XCTAssertEqual(r3.anonVMA.action, .allocated)
        XCTAssertTrue(r3.anonVMA.candidates[0].why.hasPrefix("pgoff not contiguous"))
    }

    // An anonymous VMA next to a file VMA: vm_file differs (the libc tail case).
    func testAnonymousNextToFileNeverShares() {
        let w = W()
        let fd = w.open(w.file("/f", pages: 8))
        w.map(fd, 16, 2, pgoff: 0, "rw-")
        w.touch(16, .write)
        w.anon(18, 2)
        let r = w.touch(18, .write)
        XCTAssertEqual(r.anonVMA.action, .allocated)
        XCTAssertEqual(r.anonVMA.candidates[0].why, "vm_file differs (file1 vs none)")
    }

    // skip_mergeable_for_file (§8.4): file VMAs always get a fresh anon_vma
    // (E-27 F1 would no longer merge); anonymous VMAs still search.
    func testSkipMergeableForFileOption() {
        let w = W(options: ModelOptions(skipMergeableForFile: true))
        let fd = w.open(w.file("/f", pages: 8))
        let a = w.map(fd, 16, 2, pgoff: 0, "rw-")
        let b = w.map(fd, 18, 2, pgoff: 2, "rwx")
        w.touch(16, .write)
        let r = w.touch(18, .write)
        XCTAssertEqual(r.anonVMA.action, .allocated)
        XCTAssertTrue(r.anonVMA.candidates.isEmpty, "no neighbour is inspected")
        XCTAssertFalse(a.anonVMA === b.anonVMA)
        w.anon(32, 2)
        w.anon(34, 2, "rwx")
        w.touch(32, .write)
        XCTAssertEqual(w.touch(34, .write).anonVMA.action, .reused)
    }

    // eager_anon_vma (§8.4): private writable VMAs get one at creation; read-only
    // and shared ones do not; the neighbour search still applies.
    func testEagerAnonVMAOption() {
        let w = W(options: ModelOptions(eagerAnonVMA: true))
        let a = w.anon(16, 2)
        w.sim.eagerAnonVMAIfNeeded(w.p, a)
        XCTAssertNotNil(a.anonVMA)
        let b = w.anon(18, 2, "rwx")
        w.sim.eagerAnonVMAIfNeeded(w.p, b)
        XCTAssertTrue(b.anonVMA === a.anonVMA)
        let ro = w.anon(32, 2, "r--")
        w.sim.eagerAnonVMAIfNeeded(w.p, ro)
        XCTAssertNil(ro.anonVMA, "program text/rodata still get none")
        let sh = w.shmem(40, 2)
        w.sim.eagerAnonVMAIfNeeded(w.p, sh)
        XCTAssertNil(sh.anonVMA)
        XCTAssertEqual(w.touch(16, .write).anonVMA.action, .present)
        // Off by default.
        let w2 = W()
        let c = w2.anon(16, 2)
        w2.sim.eagerAnonVMAIfNeeded(w2.p, c)
        XCTAssertNil(c.anonVMA)
    }

    // anon_vma_compatible() itself, directly.
    func testAnonVMACompatiblePredicate() {
        let w = W()
        let a = w.anon(16, 2)
        let b = w.anon(18, 2, "r-x")
        XCTAssertFalse(w.sim.anonVMACompatible(a, b), "VM_ACCOUNT differs (rw- anon has it, r-x not)")
        let c = w.anon(20, 2, "rwx")
        XCTAssertFalse(w.sim.anonVMACompatible(b, c))
        let d = w.anon(22, 2, "-w-")
        XCTAssertTrue(w.sim.anonVMACompatible(c, d))
        XCTAssertFalse(w.sim.anonVMACompatible(d, c), "a must lie directly below b")
    }

    // The forest view.
    func testAnonVMAForestView() {
        let w = W()
        w.anon(16, 2)
        w.anon(18, 2, "rwx")
        w.touch(16, .write)
        w.touch(18, .write)
        let forest = w.sim.anonVMAForest()
        XCTAssertEqual(forest.count, 1)
        XCTAssertEqual(forest[0].folios, 2)
        XCTAssertEqual(forest[0].chains.map(\.vma), [w.p.mm.vmas.all[0].rangeDescription, w.p.mm.vmas.all[1].rangeDescription])
        XCTAssertEqual(forest[0].numActiveVMAs, 2)
        XCTAssertEqual(forest[0].root, forest[0].id)
    }
}
