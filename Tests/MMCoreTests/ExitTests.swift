import XCTest
@testable import MMCore

// MARK: - Fixture shared by the fault, lock-path, anon_vma, fork, exit and thread-case tests

/// A session with one process and helpers that build VMAs exactly as mmap
/// would leave them (flags, pgoff, struct file), so the fault path can be
/// tested independently of the mmap implementation.
final class FaultWorld {
    /// The oracle's window base; addresses are `W + page * 4096`.
    static let W: UInt64 = 0x1000_0000_0000
    let sim: Simulation
    let p: MMCore.Process

    init(_ model: KernelModel = .v6_18, options: ModelOptions = ModelOptions(), tracing: Bool = true) {
        sim = Simulation(model: model, options: options, config: SimulationConfig(tracing: tracing))
        p = sim.createProcess(comm: "test")
    }

    static func at(_ page: UInt64) -> UInt64 { W + page << 12 }

    static func flags(_ prot: String) -> VMFlags {
        var f: VMFlags = [.MAYREAD, .MAYWRITE, .MAYEXEC]
        let c = Array(prot)
        if c[0] == "r" { f.insert(.READ) }
        if c[1] == "w" { f.insert(.WRITE) }
        if c[2] == "x" { f.insert(.EXEC) }
        return f
    }

    /// MAP_PRIVATE|MAP_ANONYMOUS at page `page` (pgoff = addr >> 12, VM_ACCOUNT when writable).
    @discardableResult
    func anon(_ page: UInt64, _ pages: UInt64, _ prot: String = "rw-", extra: VMFlags = [],
              name: String? = nil, in proc: MMCore.Process? = nil) -> VMA {
        var f = Self.flags(prot).union(extra)
        if f.contains(.WRITE) && !f.contains(.NORESERVE) { f.insert(.ACCOUNT) }
        let s = Self.at(page)
        let v = sim.makeVMA(start: s, end: s + pages << 12, pgoff: s >> 12, flags: f, kind: .anonymous, name: name)
        (proc ?? p).mm.vmas.insert(v)
        return v
    }

    /// A session file of `pages` pages (or `bytes`).
    func file(_ path: String, pages: UInt64 = 0, bytes: UInt64? = nil) -> Inode {
        try! sim.createFile(path: path, size: bytes ?? pages << 12)
    }

    /// open(path, flags): a new struct file.
    func open(_ inode: Inode, _ flags: UInt64 = Linux.O_RDONLY, in proc: MMCore.Process? = nil) -> OpenFile {
        let f = sim.makeOpenFile(inode, flags: flags)
        _ = (proc ?? p).fds.install(f)
        return f
    }

    /// MAP_PRIVATE (or MAP_SHARED) file mapping at page `page`, file page `pgoff`.
    @discardableResult
    func map(_ file: OpenFile, _ page: UInt64, _ pages: UInt64, pgoff: UInt64, _ prot: String,
             shared: Bool = false, in proc: MMCore.Process? = nil) -> VMA {
        var f = Self.flags(prot)
        if shared {
            f.insert(.MAYSHARE)
            if file.writable { f.insert(.SHARED) } else { f.remove(.MAYWRITE) }
        } else if f.contains(.WRITE) {
            f.insert(.ACCOUNT)
        }
        let s = Self.at(page)
        let v = sim.makeVMA(start: s, end: s + pages << 12, pgoff: pgoff, flags: f, kind: .file, file: file)
        (proc ?? p).mm.vmas.insert(v)
        return v
    }

    /// MAP_SHARED|MAP_ANONYMOUS (shmem_zero_setup()).
    @discardableResult
    func shmem(_ page: UInt64, _ pages: UInt64, _ prot: String = "rw-") -> VMA {
        let file = sim.makeShmemFile(size: pages << 12)
        var f = Self.flags(prot).union([.MAYSHARE, .SHARED])
        f.remove(.ACCOUNT)
        let s = Self.at(page)
        let v = sim.makeVMA(start: s, end: s + pages << 12, pgoff: 0, flags: f, kind: .file, file: file)
        p.mm.vmas.insert(v)
        return v
    }

    /// A special mapping such as `[vdso]` (r-x, vm_ops without map_pages).
    @discardableResult
    func special(_ name: String, _ page: UInt64, _ pages: UInt64) -> VMA {
        let s = Self.at(page)
        let v = sim.makeVMA(start: s, end: s + pages << 12, pgoff: 0,
                            flags: [.READ, .EXEC, .MAYREAD, .MAYEXEC, .DONTEXPAND], kind: .special(name: name), name: name)
        p.mm.vmas.insert(v)
        return v
    }

    @discardableResult
    func touch(_ page: UInt64, _ access: Access = .read, inject: FaultInjection = .none,
               mode: FaultMode = .user, in proc: MMCore.Process? = nil) -> FaultResult {
        try! sim.fault(pid: (proc ?? p).pid, address: Self.at(page), access: access, mode: mode, inject: inject)
    }

    func pte(_ page: UInt64, in proc: MMCore.Process? = nil) -> PTE? { (proc ?? p).mm.pageTable[Self.at(page) >> 12] }
    func folio(_ page: UInt64, in proc: MMCore.Process? = nil) -> Folio? { pte(page, in: proc)?.folio }

    func fork(_ proc: MMCore.Process? = nil) -> MMCore.Process {
        let r = try! sim.syscall(pid: (proc ?? p).pid, .fork)
        return sim.processes[Int(r.ret)]!
    }

    func exit(_ proc: MMCore.Process) { _ = try! sim.syscall(pid: proc.pid, .exit(status: 0)) }
}

// MARK: - Exit

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
