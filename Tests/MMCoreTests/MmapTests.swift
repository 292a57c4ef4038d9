import XCTest
@testable import MMCore

/// One process driven through the syscall interface, with the shorthand the
/// VMA tests use: pages are offsets from the oracle window `W`, prot is
/// "rw-" style, results are raw return values.
final class SyscallBed {
    static let W: UInt64 = 0x1000_0000_0000
    static let anon = Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS
    static let fixedAnon = Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED
    let sim: Simulation
    let p: MMCore.Process

    init(_ model: KernelModel = .v6_18, layout: LayoutConfig = LayoutConfig()) {
        sim = Simulation(model: model, config: SimulationConfig(layout: layout))
        p = sim.createProcess(comm: "bed")
    }

    static func at(_ page: UInt64) -> UInt64 { W + page << 12 }
    static func page(_ addr: UInt64) -> UInt64 { (addr - W) >> 12 }

    static func prot(_ s: String) -> UInt64 {
        let c = Array(s)
        var p: UInt64 = 0
        if c[0] == "r" { p |= Linux.PROT_READ }
        if c[1] == "w" { p |= Linux.PROT_WRITE }
        if c[2] == "x" { p |= Linux.PROT_EXEC }
        return p
    }

    @discardableResult
    func call(_ c: Syscall, in proc: MMCore.Process? = nil) -> SyscallResult {
        try! sim.syscall(pid: (proc ?? p).pid, c)
    }

    /// mmap at window page `page` (MAP_FIXED unless `flags` says otherwise).
    @discardableResult
    func mmap(_ page: UInt64, _ pages: UInt64, _ prot: String = "rw-", flags: UInt64 = SyscallBed.fixedAnon,
              fd: Int = -1, offset: UInt64 = 0, in proc: MMCore.Process? = nil) -> SyscallResult {
        call(.mmap(addr: Self.at(page), length: pages << 12, prot: Self.prot(prot), flags: flags, fd: fd,
                   offset: offset), in: proc)
    }

    @discardableResult
    func munmap(_ page: UInt64, _ pages: UInt64) -> SyscallResult {
        call(.munmap(addr: Self.at(page), length: pages << 12))
    }

    @discardableResult
    func mprotect(_ page: UInt64, _ pages: UInt64, _ prot: String, in proc: MMCore.Process? = nil) -> SyscallResult {
        call(.mprotect(addr: Self.at(page), length: pages << 12, prot: Self.prot(prot)), in: proc)
    }

    @discardableResult
    func madvise(_ page: UInt64, _ pages: UInt64, _ advice: UInt64, in proc: MMCore.Process? = nil) -> SyscallResult {
        call(.madvise(addr: Self.at(page), length: pages << 12, advice: advice), in: proc)
    }

    @discardableResult
    func mremap(_ page: UInt64, _ pages: UInt64, _ newPages: UInt64, _ flags: UInt64 = 0,
                to newPage: UInt64 = 0) -> SyscallResult {
        call(.mremap(oldAddress: Self.at(page), oldSize: pages << 12, newSize: newPages << 12, flags: flags,
                     newAddress: newPage == 0 ? 0 : Self.at(newPage)))
    }

    /// open(2) of a session file (created on first use with `pages` pages).
    func open(_ path: String, pages: UInt64 = 16, _ flags: UInt64 = Linux.O_RDWR) -> Int {
        if sim.inodes[path] == nil { _ = try! sim.createFile(path: path, size: pages << 12) }
        return Int(call(.open(path: path, flags: flags)).ret)
    }

    @discardableResult
    func touch(_ page: UInt64, _ access: Access = .write, in proc: MMCore.Process? = nil) -> FaultResult {
        try! sim.fault(pid: (proc ?? p).pid, address: Self.at(page), access: access)
    }

    func fork() -> MMCore.Process {
        sim.processes[Int(call(.fork).ret)]!
    }

    func vmas(_ proc: MMCore.Process? = nil) -> [VMA] { (proc ?? p).mm.vmas.all }

    /// VMA ranges as window pages: [(start, end)].
    func ranges(_ proc: MMCore.Process? = nil) -> [[UInt64]] {
        vmas(proc).filter { $0.start >= Self.W }.map { [Self.page($0.start), Self.page($0.end)] }
    }

    func vma(_ page: UInt64, in proc: MMCore.Process? = nil) -> VMA? {
        (proc ?? p).mm.vmas.find(containing: Self.at(page))
    }

    func pte(_ page: UInt64, in proc: MMCore.Process? = nil) -> PTE? {
        (proc ?? p).mm.pageTable[Self.at(page) >> 12]
    }

    /// Gives `vma` a fresh anon_vma as __anon_vma_prepare() would (chain of 1).
    @discardableResult
    func giveAnonVMA(_ vma: VMA, pid: Int? = nil) -> AnonVMA {
        let av = sim.anonVMAAlloc()
        av.numChildren = 1
        av.numActiveVMAs += 1
        vma.anonVMA = av
        sim.anonVMAChainLink(vma, av, pid: pid ?? p.pid)
        return av
    }

    /// Makes `vma` look like a fork child: its own anon_vma plus a link to a parent's.
    @discardableResult
    func makeForkChild(_ vma: VMA) -> (own: AnonVMA, parent: AnonVMA) {
        let parent = sim.anonVMAAlloc()
        sim.anonVMAChainLink(vma, parent, pid: p.pid)
        let own = sim.anonVMAAlloc()
        own.parentLink = parent
        own.rootLink = parent
        own.numActiveVMAs += 1
        vma.anonVMA = own
        sim.anonVMAChainLink(vma, own, pid: p.pid)
        return (own, parent)
    }

    func flags(_ page: UInt64) -> [String] { vma(page)?.flags.smapsCodes ?? [] }
}

/// mmap(2): the errno contract (docs/KERNEL-MODEL.md §2.1, E-13, E-26), vm_flags
/// derivation (§2.2), mmap_region() (§2.4: MAP_FIXED replacement, no
/// anon_vma), MAP_POPULATE (E-23) and the map-count limit.
final class MmapTests: XCTestCase {
    typealias B = SyscallBed

    private func errno(_ r: SyscallResult) -> Errno? { r.errno }

    /// E-13 errno table, one line per probe of t8_err.c, in the kernel's check order.
    func testErrnoTable() {
        let b = B()
        let rdonly = b.open("/f", pages: 8, Linux.O_RDONLY)
        let wronly = b.open("/f", pages: 8, Linux.O_WRONLY)
        let rw = Linux.PROT_READ | Linux.PROT_WRITE
        func mm(_ addr: UInt64, _ len: UInt64, _ prot: UInt64, _ flags: UInt64, _ fd: Int = -1,
                _ off: UInt64 = 0) -> Errno? {
            b.call(.mmap(addr: addr, length: len, prot: prot, flags: flags, fd: fd, offset: off)).errno
        }
        XCTAssertEqual(mm(0, 0, rw, B.anon), .EINVAL, "len 0")
        XCTAssertEqual(mm(0, 4096, rw, B.anon, -1, 4097), .EINVAL, "offset 4097")
        XCTAssertEqual(mm(0, 4096, rw, Linux.MAP_ANONYMOUS), .EINVAL, "neither SHARED nor PRIVATE")
        b.mmap(0, 1)
        XCTAssertEqual(mm(B.at(0), 4096, rw, B.anon | Linux.MAP_FIXED_NOREPLACE), .EEXIST, "NOREPLACE over a mapping")
        XCTAssertEqual(mm(B.at(0) + 1, 4096, rw, B.fixedAnon), .EINVAL, "MAP_FIXED unaligned")
        XCTAssertEqual(mm(0, 4096, rw, Linux.MAP_PRIVATE, 999), .EBADF, "fd 999")
        XCTAssertEqual(mm(0, 4096, rw, Linux.MAP_SHARED, rdonly), .EACCES, "O_RDONLY + SHARED + PROT_WRITE")
        XCTAssertNil(mm(0, 4096, rw, Linux.MAP_PRIVATE, rdonly), "O_RDONLY + PRIVATE + PROT_WRITE")
        XCTAssertEqual(mm(0, 4096, rw, Linux.MAP_SHARED, wronly), .EACCES, "O_WRONLY + SHARED")
        XCTAssertEqual(mm(0, 4096, Linux.PROT_READ, Linux.MAP_PRIVATE, wronly), .EACCES, "O_WRONLY + PRIVATE")
        XCTAssertEqual(mm(0, 4096, Linux.PROT_READ, Linux.MAP_SHARED_VALIDATE | Linux.MAP_SYNC, rdonly),
                       .EOPNOTSUPP, "MAP_SHARED_VALIDATE|MAP_SYNC on a non-DAX file")
        XCTAssertNil(mm(0, 4096, Linux.PROT_READ, Linux.MAP_SHARED | Linux.MAP_SYNC, rdonly),
                     "MAP_SHARED silently drops unknown flags")
        XCTAssertEqual(mm(0, 1 << 47, rw, B.anon), .ENOMEM, "len 2^47")
        XCTAssertEqual(mm(0, UInt64(bitPattern: -4096), rw, B.anon), .ENOMEM, "len -4096")
        XCTAssertNil(mm(0, 4096, rw, B.anon, 999), "anonymous ignores the fd")
        XCTAssertNil(mm(0, 4096, rw, B.anon | Linux.MAP_DENYWRITE), "MAP_DENYWRITE is ignored")
        XCTAssertEqual(mm(0, 4096, rw, Linux.MAP_SHARED | Linux.MAP_ANONYMOUS | Linux.MAP_GROWSDOWN), .EINVAL)
        XCTAssertEqual(mm(0, 4096, rw, Linux.MAP_SHARED_VALIDATE | Linux.MAP_ANONYMOUS), .EINVAL, "E-26")
        XCTAssertEqual(mm(0, 4096, rw, B.anon | Linux.MAP_HUGETLB), .ENOMEM, "no huge pages reserved")
        XCTAssertEqual(mm(0, 4096, Linux.PROT_READ, Linux.MAP_PRIVATE | Linux.MAP_GROWSDOWN, rdonly), .EINVAL)
    }

    /// §2.1 order: EBADF (ksys_mmap_pgoff) is checked before len == 0 (do_mmap),
    /// and the offset alignment before both.
    func testErrnoOrder() {
        let b = B()
        XCTAssertEqual(b.call(.mmap(addr: 0, length: 0, prot: 1, flags: Linux.MAP_PRIVATE, fd: 77, offset: 0)).errno, .EBADF)
        XCTAssertEqual(b.call(.mmap(addr: 0, length: 0, prot: 1, flags: Linux.MAP_PRIVATE, fd: 77, offset: 1)).errno, .EINVAL)
    }

    /// §2.2: private RW anonymous → `rd wr mr mw me ac`, pgoff = addr >> 12,
    /// no anon_vma, VMA write-locked until the syscall returns.
    func testPrivateAnonymousFlagsAndPgoff() {
        let b = B()
        let r = b.mmap(3, 2)
        XCTAssertEqual(r.ret, Int64(B.at(3)))
        let v = b.vma(3)!
        XCTAssertEqual(v.flags.smapsCodes, ["rd", "wr", "mr", "mw", "me", "ac"])
        XCTAssertEqual(v.pgoff, B.at(3) >> 12)
        XCTAssertNil(v.anonVMA, "mmap never allocates an anon_vma (§2.4.7)")
        XCTAssertTrue(v.isAnonymous)
        XCTAssertFalse(b.sim.isWriteLocked(b.p.mm, v), "unlocked by mmap_write_unlock()")
        XCTAssertEqual(r.effects.vmasCreated.map(\.start), [B.at(3)])
        XCTAssertEqual(b.p.mm.committedPages, 2)
    }

    /// E-11: MAP_SHARED|MAP_ANONYMOUS is a shmem file VMA: `rw-s`, `sh ms`, no
    /// `ac`, pgoff 0, shown as /dev/zero (deleted); it never merges.
    func testSharedAnonymousIsShmem() {
        let b = B()
        b.mmap(0, 2, flags: Linux.MAP_SHARED | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED)
        b.mmap(2, 2, flags: Linux.MAP_SHARED | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED)
        XCTAssertEqual(b.ranges(), [[0, 2], [2, 4]])
        let v = b.vma(0)!
        XCTAssertEqual(v.flags.smapsCodes, ["rd", "wr", "sh", "mr", "mw", "me", "ms"])
        XCTAssertEqual(v.pgoff, 0)
        XCTAssertEqual(v.kind, .file)
        XCTAssertTrue(v.file!.inode.isShmem)
        XCTAssertEqual(ProcMaps.name(v, b.p.mm), "/dev/zero (deleted)")
        XCTAssertFalse(b.vma(2)!.file === v.file, "one shmem object per mapping")
    }

    /// E-12 / §2.1.15: MAP_SHARED of an O_RDONLY fd clears VM_MAYWRITE and
    /// VM_SHARED but keeps VM_MAYSHARE (`r--s`, `rd mr me ms`).
    func testSharedReadOnlyFileKeepsMayshareOnly() {
        let b = B()
        let fd = b.open("/f", pages: 4, Linux.O_RDONLY)
        b.mmap(0, 2, "r--", flags: Linux.MAP_SHARED | Linux.MAP_FIXED, fd: fd)
        let v = b.vma(0)!
        XCTAssertEqual(v.flags.smapsCodes, ["rd", "mr", "me", "ms"])
        XCTAssertTrue(ProcMaps.mapsLine(v, b.p.mm).contains(" r--s "))
        XCTAssertEqual(v.pgoff, 0)
        // A private RW mapping of the same O_RDONLY fd is accountable.
        b.mmap(4, 2, "rw-", flags: Linux.MAP_PRIVATE | Linux.MAP_FIXED, fd: fd, offset: 4096)
        XCTAssertEqual(b.flags(4), ["rd", "wr", "mr", "mw", "me", "ac"])
        XCTAssertEqual(b.vma(4)!.pgoff, 1)
    }

    /// E-26: PROT_EXEC only → `--xp`, VmFlags `ex mr mw me`.
    func testExecOnlyMapping() {
        let b = B()
        b.mmap(0, 1, "--x")
        XCTAssertEqual(b.flags(0), ["ex", "mr", "mw", "me"])
    }

    /// E-08b: MAP_FIXED over the middle of a VMA splits it and replaces the
    /// middle; mapping the original protection back merges all three.
    ///
    ///     |-----------V rw 5p-----------|
    ///     FIXED r-- [1,3):  |V|-r--|--V--|     then FIXED rw- [1,3):  |------V------|
    func testMapFixedReplacesAndRemerges() {
        let b = B()
        b.mmap(0, 5)
        let r = b.mmap(1, 2, "r--")
        XCTAssertEqual(b.ranges(), [[0, 1], [1, 3], [3, 5]])
        XCTAssertEqual(r.effects.splits, 2)
        XCTAssertEqual(r.effects.vmasRemoved.count, 1)
        XCTAssertEqual(b.vma(3)!.pgoff, B.at(3) >> 12)
        b.mmap(1, 2)
        XCTAssertEqual(b.ranges(), [[0, 5]])
        XCTAssertEqual(b.vma(0)!.pgoff, B.at(0) >> 12)
    }

    /// §2.4.3/6: MAP_FIXED over faulted pages zaps them (anonymous folios are
    /// freed) and unlinks the replaced VMA's chain.
    func testMapFixedZapsAndUnlinks() {
        let b = B()
        b.mmap(0, 4)
        b.touch(1, .write)
        b.touch(2, .write)
        let old = b.vma(0)!
        let av = old.anonVMA!
        let folio = b.pte(1)!.folio!
        let r = b.mmap(0, 4, "r--")
        XCTAssertNil(b.pte(1))
        XCTAssertNil(b.pte(2))
        XCTAssertEqual(folio.mapcount, 0)
        XCTAssertEqual(r.effects.pagesZapped, 2)
        XCTAssertNil(b.vma(0)!.anonVMA)
        XCTAssertTrue(old.chain.isEmpty)
        XCTAssertTrue(av.freed, "last link gone: the anon_vma is freed")
    }

    /// E-23: MAP_POPULATE write-populates writable private mappings (anonymous
    /// pages) and read-populates read-only ones (the zero page).
    func testMapPopulate() {
        let b = B()
        let r = b.mmap(0, 2, flags: B.fixedAnon | Linux.MAP_POPULATE)
        XCTAssertEqual(r.effects.pagesPopulated, 2)
        XCTAssertEqual(r.faults.count, 2)
        XCTAssertEqual(b.pte(0)?.folio?.kind, .anon)
        XCTAssertEqual(b.pte(1)?.folio?.kind, .anon)
        XCTAssertNotNil(b.vma(0)!.anonVMA)
        b.mmap(4, 1, "r--", flags: B.fixedAnon | Linux.MAP_POPULATE)
        XCTAssertEqual(b.pte(4)?.folio?.kind, .zero)
        // MAP_NONBLOCK cancels MAP_POPULATE; PROT_NONE is never populated.
        b.mmap(6, 1, flags: B.fixedAnon | Linux.MAP_POPULATE | Linux.MAP_NONBLOCK)
        XCTAssertNil(b.pte(6))
        b.mmap(8, 1, "---", flags: B.fixedAnon | Linux.MAP_POPULATE)
        XCTAssertNil(b.pte(8))
    }

    /// §1.1: mmap refuses when map_count > max_map_count (strictly greater).
    func testMapCountLimit() {
        var layout = LayoutConfig()
        layout.maxMapCount = 3
        let b = B(layout: layout)
        for i: UInt64 in 0..<4 { b.mmap(i * 2, 1) }   // four separate VMAs: map_count 4 > 3 after the 4th
        XCTAssertEqual(b.p.mm.mapCount, 4, "the 4th mmap ran with map_count 3, not > 3")
        XCTAssertEqual(b.mmap(20, 1).errno, .ENOMEM)
    }

    /// E-26: hints. A free hint is honoured, an occupied one is not, a hint
    /// below mmap_min_addr is raised to it, an unaligned hint is rounded down.
    func testHints() {
        let b = B()
        let free = b.call(.mmap(addr: B.at(100), length: 4096, prot: 3, flags: B.anon, fd: -1, offset: 0))
        XCTAssertEqual(free.ret, Int64(B.at(100)))
        let taken = b.call(.mmap(addr: B.at(100), length: 4096, prot: 3, flags: B.anon, fd: -1, offset: 0))
        XCTAssertNotEqual(taken.ret, Int64(B.at(100)))
        let low = b.call(.mmap(addr: 0x1000, length: 4096, prot: 3, flags: B.anon, fd: -1, offset: 0))
        XCTAssertEqual(low.ret, 0x10000)
        let odd = b.call(.mmap(addr: B.at(200) + 5, length: 4096, prot: 3, flags: B.anon, fd: -1, offset: 0))
        XCTAssertEqual(odd.ret, Int64(B.at(200)))
        // As root, MAP_FIXED below mmap_min_addr works, even at 0.
        XCTAssertEqual(b.call(.mmap(addr: 0x1000, length: 4096, prot: 3, flags: B.fixedAnon, fd: -1, offset: 0)).ret, 0x1000)
        XCTAssertEqual(b.call(.mmap(addr: 0, length: 4096, prot: 3, flags: B.fixedAnon, fd: -1, offset: 0)).ret, 0)
    }

    /// MAP_FIXED_NOREPLACE on a free range maps normally.
    func testFixedNoreplaceOnFreeRange() {
        let b = B()
        let r = b.mmap(7, 1, flags: B.anon | Linux.MAP_FIXED_NOREPLACE)
        XCTAssertEqual(r.ret, Int64(B.at(7)))
    }

    /// MAP_GROWSDOWN sets `gd`; MAP_LOCKED sets `lo` and populates.
    func testGrowsdownAndLocked() {
        let b = B()
        b.mmap(0, 1, flags: B.fixedAnon | Linux.MAP_GROWSDOWN)
        XCTAssertTrue(b.flags(0).contains("gd"))
        b.mmap(4, 1, flags: B.fixedAnon | Linux.MAP_LOCKED)
        XCTAssertTrue(b.flags(4).contains("lo"))
        XCTAssertEqual(b.pte(4)?.folio?.kind, .anon)
    }

    /// MAP_DROPPABLE: `wf dd nr` added, not accountable; not with MAP_LOCKED.
    func testDroppable() {
        let b = B()
        b.mmap(0, 1, flags: Linux.MAP_DROPPABLE | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED)
        XCTAssertEqual(b.flags(0), ["rd", "wr", "mr", "mw", "me", "nr", "wf", "dd", "dp"])
        XCTAssertEqual(b.mmap(4, 1, flags: Linux.MAP_DROPPABLE | Linux.MAP_ANONYMOUS | Linux.MAP_LOCKED).errno, .EINVAL)
    }

    /// The strace line of a successful call prints the address in hex.
    func testStraceLine() {
        let b = B()
        let r = b.mmap(0, 1)
        XCTAssertEqual(r.strace, "mmap(0x100000000000, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS, -1, 0) = 0x100000000000")
    }
}
