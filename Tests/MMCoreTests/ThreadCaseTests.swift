import XCTest
@testable import MMCore

/// The thread's own case (LKML, Matthew Wilcox, 2023-04-03): ld.so loading
/// libc, then the first faults into it, under each of the four models.
///
///   openat("/usr/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY|O_CLOEXEC) = 3
///   mmap(NULL, 1970000, PROT_READ, MAP_PRIVATE|MAP_DENYWRITE, 3, 0)                          = B
///   mmap(B+0x26000,  1396736, PROT_READ|PROT_EXEC,  MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x26000)
///   mmap(B+0x17b000,  339968, PROT_READ,            MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x17b000)
///   mmap(B+0x1ce000,   24576, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x1ce000)
///   mmap(B+0x1d4000,   53072, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS, -1, 0)
///
/// Resulting address space (the rodata mapping merges with the rest of the
/// first mapping, which the data and anonymous mappings then replace):
///
///   B          +0x26000      +0x17b000     +0x1ce000  +0x1d4000      +0x1e1000
///   |  r--p @0  |  r-xp @0x26 |  r--p @0x17b |rw-p @1ce | rw-p anon     |
///                  text          rodata        data        tail (.bss)
final class ThreadCaseTests: XCTestCase {
    struct Libc {
        let w: FaultWorld
        let base: UInt64
        var text: UInt64 { base + 0x26000 }
        var rodata: UInt64 { base + 0x17b000 }
        var data: UInt64 { base + 0x1ce000 }
        var tail: UInt64 { base + 0x1d4000 }
        var end: UInt64 { base + 0x1e1000 }
        func vma(_ a: UInt64) -> VMA { w.p.mm.vmas.find(containing: a)! }
        func fault(_ a: UInt64, _ access: Access, inject: FaultInjection = .none) -> FaultResult {
            try! w.sim.fault(pid: w.p.pid, address: a, access: access, inject: inject)
        }
    }

    /// Loads libc exactly as in the thread, through open + mmap.
    func loadLibc(_ model: KernelModel, options: ModelOptions = ModelOptions()) throws -> Libc {
        let w = FaultWorld(model, options: options)
        let path = "/usr/lib/x86_64-linux-gnu/libc.so.6"
        try w.sim.createFile(path: path, size: 2_125_328)
        let sim = w.sim, pid = w.p.pid
        let fd = try sim.syscall(pid: pid, .open(path: path, flags: Linux.O_RDONLY))
        XCTAssertEqual(fd.ret, 3)
        let ro = Linux.MAP_PRIVATE | Linux.MAP_DENYWRITE, fixed = ro | Linux.MAP_FIXED
        let b = try sim.syscall(pid: pid, .mmap(addr: 0, length: 1_970_000, prot: Linux.PROT_READ, flags: ro, fd: 3, offset: 0))
        guard b.errno == nil else { throw XCTSkip("mmap not available: \(b.strace)") }
        let base = UInt64(bitPattern: b.ret)
        let calls: [(UInt64, UInt64, UInt64, UInt64, Int, UInt64)] = [
            (base + 0x26000, 1_396_736, Linux.PROT_READ | Linux.PROT_EXEC, fixed, 3, 0x26000),
            (base + 0x17b000, 339_968, Linux.PROT_READ, fixed, 3, 0x17b000),
            (base + 0x1ce000, 24_576, Linux.PROT_READ | Linux.PROT_WRITE, fixed, 3, 0x1ce000),
            (base + 0x1d4000, 53_072, Linux.PROT_READ | Linux.PROT_WRITE,
             Linux.MAP_PRIVATE | Linux.MAP_FIXED | Linux.MAP_ANONYMOUS, -1, 0),
        ]
        for (a, len, prot, flags, fd, off) in calls {
            let r = try sim.syscall(pid: pid, .mmap(addr: a, length: len, prot: prot, flags: flags, fd: fd, offset: off))
            XCTAssertEqual(UInt64(bitPattern: r.ret), a, r.strace)
        }
        return Libc(w: w, base: base)
    }

    // The layout the five mmaps leave, and what anon_vma_compatible() says
    // about each pair of neighbours (Matthew: "does a->vm_file == b->vm_file
    // ever match?").
    func testLayoutAndCompatibility() throws {
        let l = try loadLibc(.v6_18)
        let vmas = l.w.p.mm.vmas.all
        XCTAssertEqual(vmas.map(\.start), [l.base, l.text, l.rodata, l.data, l.tail])
        XCTAssertEqual(vmas.map(\.end), [l.text, l.rodata, l.data, l.tail, l.end])
        XCTAssertEqual(vmas.map(\.pgoff), [0, 0x26, 0x17b, 0x1ce, l.tail >> 12])
        XCTAssertTrue(vmas[0...3].allSatisfy { $0.file === vmas[0].file }, "one struct file for all four")
        XCTAssertNil(vmas[4].file)
        XCTAssertTrue(vmas.allSatisfy { $0.anonVMA == nil }, "mmap never allocates an anon_vma")
        let sim = l.w.sim
        XCTAssertTrue(sim.anonVMACompatible(vmas[0], vmas[1]), "r--@0 | r-x@0x26: same file, contiguous, only VM_EXEC differs")
        XCTAssertTrue(sim.anonVMACompatible(vmas[1], vmas[2]), "text | rodata: compatible too")
        XCTAssertEqual(sim.anonVMAIncompatibility(vmas[2], vmas[3]), "vm_flags differ beyond access bits: VM_ACCOUNT")
        XCTAssertEqual(sim.anonVMAIncompatibility(vmas[3], vmas[4]), "vm_file differs (file1 vs none)")
    }

    /// Expected lock codes for (text read, data write, tail write) per model.
    static let expected: [String: [LockCode]] = [
        "6.3": [.LEGACY, .LEGACY, .LEGACY],
        "v3-patch": [.NOT_ANON, .NOT_ANON, .NO_ANON_VMA],
        "6.4": [.NOT_ANON, .NOT_ANON, .NO_ANON_VMA],
        "6.18": [.VMA_OK, .VMA_OK_TRYLOCK, .VMA_OK_TRYLOCK],
    ]

    // Read in the text, write in the private data segment, write in the
    // anonymous tail — under each model. 6.4 (and the v3 patch) fall back to
    // mmap_lock for all three (file VMA: NOT_ANON; anonymous VMA without
    // anon_vma: NO_ANON_VMA); 6.18 handles all three under the VMA lock, the
    // two writes preparing their anon_vma under a trylock'd mmap_lock.
    func testFirstFaultsUnderEachModel() throws {
        for model in KernelModel.historic {
            let l = try loadLibc(model)
            let want = Self.expected[model.id]!
            let text = l.fault(l.text + 0x1000, .read)
            let data = l.fault(l.data + 0x10, .write)
            let tail = l.fault(l.tail, .write)
            XCTAssertEqual([text, data, tail].map { $0.lock!.code }, want, model.id)
            XCTAssertEqual([text, data, tail].map { $0.lock!.path },
                           model.id == "6.3" ? [.mmapLock, .mmapLock, .mmapLock]
                           : model.id == "6.18" ? [.vmaLock, .vmaLock, .vmaLock]
                           : [.vmaLockThenMmapLock, .vmaLockThenMmapLock, .vmaLockThenMmapLock], model.id)
            XCTAssertEqual([text.handler, data.handler, tail.handler], ["do_read_fault", "do_cow_fault", "do_anonymous_page"])

            // Text: page-cache pages, no anon_vma; fault-around stays inside the text VMA.
            XCTAssertEqual(text.anonVMA.action, .none)
            XCTAssertNil(l.vma(l.text).anonVMA)
            // do_fault_around(): the 64 KiB window starts at max(aligned, vm_start) and
            // runs 16 pages from there (it slides rather than shrinks at the VMA start).
            let from = max((l.text + 0x1000) & ~UInt64(0xffff), l.text)
            let mapped = try l.w.sim.pages(pid: l.w.p.pid, start: l.text, end: l.rodata).map(\.address)
            XCTAssertEqual(mapped, Array(stride(from: from, to: from + 0x10000, by: 4096)))
            XCTAssertEqual(try l.w.sim.pages(pid: l.w.p.pid, start: l.base, end: l.text).count, 0)

            // Data: a new anon_vma — neither neighbour can lend one.
            XCTAssertEqual(data.anonVMA.action, .allocated, model.id)
            XCTAssertEqual(data.anonVMA.candidates.map(\.side), [.next, .prev])
            XCTAssertEqual(data.anonVMA.candidates.map(\.why),
                           ["vm_file differs (file1 vs none)", "vm_flags differ beyond access bits: VM_ACCOUNT"])
            XCTAssertEqual(data.folio?.kind, .anon)
            XCTAssertEqual(data.folio?.index, 0x1ce, "CoW copy of file page 0x1ce")

            // Tail: its prev is the file data segment, which has an anon_vma by
            // now — but vm_file differs (file vs none), so no reuse: another new one.
            XCTAssertEqual(tail.anonVMA.action, .allocated, model.id)
            XCTAssertEqual(tail.anonVMA.candidates.map(\.side), [.prev])
            XCTAssertEqual(tail.anonVMA.candidates.first?.anonVMA, data.anonVMA.id)
            XCTAssertEqual(tail.anonVMA.candidates.first?.why, "vm_file differs (file1 vs none)")
            XCTAssertNotEqual(tail.anonVMA.id, data.anonVMA.id)
            XCTAssertEqual(l.w.sim.anonVMAs.count, 2)

            // After the first write, later faults in both VMAs qualify everywhere.
            let again = [l.fault(l.data + 0x1000, .write), l.fault(l.tail + 0x1000, .write)]
            XCTAssertEqual(again.map { $0.lock!.code }, model.id == "6.3" ? [.LEGACY, .LEGACY]
                           : model.id == "6.18" ? [.VMA_OK, .VMA_OK] : [.NOT_ANON, .VMA_OK], model.id)
        }
    }

    // The tail written first: the data segment then finds the tail as `next`
    // with an anon_vma — still vm_file differs.
    func testTailFirstOrder() throws {
        let l = try loadLibc(.v6_18)
        let tail = l.fault(l.tail, .write)
        let data = l.fault(l.data, .write)
        XCTAssertEqual(tail.anonVMA.candidates.map(\.why), ["vm_file differs (file1 vs none)"])
        XCTAssertEqual(data.anonVMA.action, .allocated)
        XCTAssertEqual(data.anonVMA.candidates.first?.anonVMA, tail.anonVMA.id)
    }

    // 6.18 with mmap_lock contended: both writes fall back (ANON_VMA_TRYLOCK_FAILED);
    // the text read does not care.
    func testContendedMmapLock() throws {
        let l = try loadLibc(.v6_18)
        let inj = FaultInjection(mmapLockContended: true)
        XCTAssertEqual(l.fault(l.text, .read, inject: inj).lock?.code, .VMA_OK)
        XCTAssertEqual(l.fault(l.data, .write, inject: inj).lock?.code, .ANON_VMA_TRYLOCK_FAILED)
        XCTAssertEqual(l.fault(l.tail, .write, inject: inj).lock?.code, .ANON_VMA_TRYLOCK_FAILED)
    }

    // Matthew's suggestion (skip_mergeable_for_file): the data write needs no
    // mmap_lock at all and inspects no neighbour; the anonymous tail still does.
    func testSkipMergeableForFile() throws {
        let l = try loadLibc(.v6_18, options: ModelOptions(skipMergeableForFile: true))
        let data = l.fault(l.data, .write, inject: FaultInjection(mmapLockContended: true))
        XCTAssertEqual(data.lock?.code, .VMA_OK)
        XCTAssertTrue(data.anonVMA.candidates.isEmpty)
        XCTAssertEqual(l.fault(l.tail, .write).lock?.code, .VMA_OK_TRYLOCK)
    }

    // Matthew's other question (eager_anon_vma): allocation at mmap time would
    // give the data segment and the tail their anon_vmas up front, so 6.4 would
    // take the VMA lock for the tail; the read-only text gets none either way.
    func testEagerAnonVMA() throws {
        let l = try loadLibc(.v6_4, options: ModelOptions(eagerAnonVMA: true))
        XCTAssertNil(l.vma(l.text).anonVMA)
        XCTAssertNotNil(l.vma(l.data).anonVMA)
        XCTAssertNotNil(l.vma(l.tail).anonVMA)
        XCTAssertEqual(l.fault(l.tail, .write).lock?.code, .VMA_OK)
        XCTAssertEqual(l.fault(l.data, .write).lock?.code, .NOT_ANON)
    }
}
