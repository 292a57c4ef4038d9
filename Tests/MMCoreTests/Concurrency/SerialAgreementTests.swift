import XCTest
@testable import MMCore

/// Serial agreement (docs/CONCURRENCY.md §5): one thread running one op
/// through the engine ends with the same VMA layout, flags and anon_vma
/// attachment as `Simulation.syscall` / `Simulation.fault` on the same state.
final class SerialAgreementTests: XCTestCase {
    typealias Bed = ConcurrencyBed

    struct Shape: Equatable, CustomStringConvertible {
        var start, end, pgoff: UInt64
        var flags: VMFlags
        var anonVMA: Int?
        var chain: [Int]
        var description: String { "\(hex(start))-\(hex(end)) pg \(hex(pgoff)) \(flags.names.joined(separator: "|")) av\(anonVMA ?? 0) \(chain)" }
    }

    /// Sets the state up twice, runs `op` through the engine on one and
    /// serially on the other, and compares every process's VMAs.
    func agree(_ model: KernelModel, _ name: String, setup: (Bed) -> Void, op: (Bed) -> ThreadOp,
               file: StaticString = #filePath, line: UInt = #line) {
        let engine = Bed(model), serial = Bed(model)
        setup(engine)
        setup(serial)
        let o = op(engine)
        let r = engine.explore([("T", [o])])
        XCTAssertEqual(r.outcomes.count, 1, "\(name) \(model.id): one thread, one end state", file: file, line: line)
        // (Detectors are lock-discipline predicates: a lone thread can fire some, e.g. D2 in v3-no-26.)
        XCTAssertFalse(r.fired.contains(.D12), file: file, line: line)
        switch o {
        case let .fault(address, access): _ = try! serial.sim.fault(pid: serial.pid, address: address, access: access)
        case let .syscall(call): _ = try! serial.sim.syscall(pid: serial.pid, call)
        case .mbind: return XCTFail("the Simulation has no mbind", file: file, line: line)
        }
        guard let out = r.outcomes.first else { return }
        for (mmIndex, proc) in serial.sim.processList.enumerated() {
            let want = proc.mm.vmas.map { Shape(start: $0.start, end: $0.end, pgoff: $0.pgoff, flags: $0.flags,
                                                 anonVMA: $0.anonVMA?.id, chain: $0.chain.map(\.anonVMA.id)) }
            let got = out.vmas.filter { $0.mm == mmIndex && !$0.detached && !$0.freed }
                .map { Shape(start: $0.start, end: $0.end, pgoff: $0.pgoff, flags: $0.flags, anonVMA: $0.anonVMA, chain: $0.chain) }
            XCTAssertEqual(got, want, "\(name) under \(model.id), mm\(mmIndex)", file: file, line: line)
        }
    }

    static let models: [KernelModel] = [.v6_3, .v3No26, .v3Patch, .v6_4, .v6_4_3, .v6_4_9, .v6_18]

    func testFaults() {
        for m in Self.models {
            agree(m, "first write, neighbour's anon_vma reused", setup: { b in
                b.map(1, 1, "rw-"); b.touch(1); b.map(0, 1, "rwx")
            }, op: { $0.fault(0) })
            agree(m, "write next to an incompatible neighbour", setup: { b in
                b.map(1, 1, "r--"); b.map(0, 2 - 1, "rw-")
            }, op: { $0.fault(0) })
            agree(m, "read: zero page", setup: { b in b.map(0, 2, "rw-") }, op: { $0.fault(1, .read) })
            agree(m, "stack growth", setup: { b in b.map(8, 8, "rw-", growsdown: true); b.touch(15) }, op: { $0.fault(6) })
            agree(m, "stack growth preparing the anon_vma", setup: { b in b.map(8, 8, "rw-", growsdown: true) },
                  op: { $0.fault(7) })
        }
    }

    func testMunmapAndMprotect() {
        for m in Self.models {
            agree(m, "munmap the middle (two splits)", setup: { b in b.map(0, 4, "rw-"); b.touch(3) }, op: { $0.munmap(1, 2) })
            agree(m, "munmap a whole VMA", setup: { b in b.map(0, 2, "rw-"); b.touch(0) }, op: { $0.munmap(0, 2) })
            agree(m, "mprotect splits", setup: { b in b.map(0, 4, "rw-"); b.touch(3) }, op: { $0.mprotect(2, 2, "r--") })
            agree(m, "mprotect merges prev and next", setup: { b in
                b.map(2, 1, "rw-"); b.touch(2); b.map(1, 1, "r--"); b.map(0, 1, "rw-")
            }, op: { $0.mprotect(1, 1, "rw-") })
            agree(m, "mprotect merges into prev", setup: { b in
                b.map(0, 1, "rw-"); b.touch(0); b.map(1, 2, "r--")
            }, op: { $0.mprotect(1, 1, "rw-") })
            agree(m, "mprotect of an unfaulted VMA", setup: { b in b.map(0, 1, "rw-") }, op: { $0.mprotect(0, 1, "r--") })
        }
    }

    func testMmapMremapMadviseBrkFork() {
        let anon = Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS
        for m in Self.models {
            agree(m, "mmap placed top-down", setup: { b in b.map(0, 1, "rw-") }, op: { _ in
                .syscall(.mmap(addr: 0, length: 3 * 4096, prot: 3, flags: anon, fd: -1, offset: 0))
            })
            agree(m, "mmap fixed next to a compatible VMA (merge)", setup: { b in b.map(0, 1, "rw-") }, op: { b in
                .syscall(.mmap(addr: b.at(1), length: 4096, prot: 3, flags: anon | Linux.MAP_FIXED, fd: -1, offset: 0))
            })
            agree(m, "mmap fixed over a faulted VMA", setup: { b in b.map(0, 3, "rw-"); b.touch(1) }, op: { b in
                .syscall(.mmap(addr: b.at(1), length: 4096, prot: 1, flags: anon | Linux.MAP_FIXED, fd: -1, offset: 0))
            })
            agree(m, "mremap same size (no move)", setup: { b in b.map(0, 2, "rw-"); b.touch(0) }, op: { b in
                .syscall(.mremap(oldAddress: b.at(0), oldSize: 8192, newSize: 8192, flags: Linux.MREMAP_MAYMOVE, newAddress: 0))
            })
            agree(m, "mremap fixed move", setup: { b in b.map(0, 2, "rw-"); b.touch(0) }, op: { b in
                .syscall(.mremap(oldAddress: b.at(0), oldSize: 8192, newSize: 8192,
                                 flags: Linux.MREMAP_MAYMOVE | Linux.MREMAP_FIXED, newAddress: b.at(64)))
            })
            agree(m, "mremap DONTUNMAP", setup: { b in b.map(0, 2, "rwx"); b.touch(0) }, op: { b in
                .syscall(.mremap(oldAddress: b.at(0), oldSize: 8192, newSize: 8192,
                                 flags: Linux.MREMAP_MAYMOVE | Linux.MREMAP_DONTUNMAP, newAddress: 0))
            })
            agree(m, "madvise DONTNEED", setup: { b in b.map(0, 2, "rw-"); b.touch(0) }, op: { b in
                .syscall(.madvise(addr: b.at(0), length: 8192, advice: Linux.MADV_DONTNEED))
            })
            agree(m, "brk grow", setup: { _ in }, op: { b in
                .syscall(.brk(addr: 0x5555_5555_9000 + 3 * 4096))
            })
            agree(m, "fork", setup: { b in b.map(0, 2, "rw-"); b.touch(0); b.map(4, 1, "rw-") }, op: { _ in .syscall(.fork) })
        }
    }

    /// copy_vma() merging the destination (vma_merge_copied_range(), the
    /// Simulation's rules): left, both sides, the source itself, a move back
    /// next to where it came from, and a faulted source next to an unfaulted
    /// VMA (merges from 6.16 with dup_anon_vma() from the source; refused by
    /// the pre-6.16 rule, whose unfaulted neighbour has no singular chain).
    func testMremapMergesAtTheDestination() {
        func move(_ b: Bed, from: UInt64, pages: UInt64, to: UInt64, dontunmap: Bool = false) -> ThreadOp {
            .syscall(.mremap(oldAddress: b.at(from), oldSize: pages * 4096, newSize: pages * 4096,
                             flags: Linux.MREMAP_MAYMOVE | (dontunmap ? Linux.MREMAP_DONTUNMAP : Linux.MREMAP_FIXED),
                             newAddress: b.at(to)))
        }
        func serialMove(_ b: Bed, from: UInt64, pages: UInt64, to: UInt64) {
            _ = try! b.sim.syscall(pid: b.pid, .mremap(oldAddress: b.at(from), oldSize: pages * 4096, newSize: pages * 4096,
                                                       flags: Linux.MREMAP_MAYMOVE | Linux.MREMAP_FIXED, newAddress: b.at(to)))
        }
        for m in Self.models {
            agree(m, "unfaulted source merges into prev", setup: { b in b.map(63, 1, "rw-"); b.map(0, 1, "rw-") },
                  op: { move($0, from: 0, pages: 1, to: 64) })
            agree(m, "unfaulted source joins prev and next", setup: { b in
                b.map(63, 1, "rw-"); b.map(65, 1, "rw-"); b.map(0, 1, "rw-")
            }, op: { move($0, from: 0, pages: 1, to: 64) })
            agree(m, "prev unfaulted, next faulted: prev absorbs next's anon_vma", setup: { b in
                b.map(63, 1, "rw-"); b.map(65, 1, "rw-"); b.touch(65); b.map(0, 1, "rw-")
            }, op: { move($0, from: 0, pages: 1, to: 64) })
            agree(m, "the source is the destination's prev", setup: { b in b.map(0, 2, "rw-") },
                  op: { move($0, from: 0, pages: 2, to: 2) })
            agree(m, "a faulted page moved back next to its old VMA", setup: { b in
                b.map(0, 2, "rw-"); b.touch(1); serialMove(b, from: 1, pages: 1, to: 64)
            }, op: { move($0, from: 64, pages: 1, to: 1) })
            agree(m, "a faulted source next to an unfaulted VMA", setup: { b in
                b.map(0, 2, "rw-"); b.touch(1); serialMove(b, from: 1, pages: 1, to: 64)
                _ = try! b.sim.syscall(pid: b.pid, .munmap(addr: b.at(0), length: 4096)); b.map(0, 1, "rw-")
            }, op: { move($0, from: 64, pages: 1, to: 1) })
            agree(m, "flags differ: no merge", setup: { b in b.map(63, 1, "r--"); b.map(0, 1, "rw-") },
                  op: { move($0, from: 0, pages: 1, to: 64) })
            agree(m, "DONTUNMAP next to a compatible VMA", setup: { b in b.map(63, 1, "rw-"); b.map(0, 1, "rw-") },
                  op: { move($0, from: 0, pages: 1, to: 64, dontunmap: true) })
        }
    }

    /// Private file mappings (MAP_FIXED, a file opened before exploring):
    /// the mmap itself, a merge with the previous chunk of the same file, and
    /// faults on them (page cache read, do_cow_fault() write).
    func testPrivateFileMappings() {
        func openFile(_ b: Bed) {
            _ = try! b.sim.createFile(path: "/lib/libdemo.so", size: 64 * 4096)
            let r = try! b.sim.syscall(pid: b.pid, .open(path: "/lib/libdemo.so", flags: Linux.O_RDONLY))
            XCTAssertEqual(r.ret, 3)
        }
        func fmap(_ b: Bed, _ page: UInt64, _ pages: UInt64, _ prot: String, offsetPages: UInt64) -> Syscall {
            .mmap(addr: b.at(page), length: pages * 4096, prot: Bed.prot(prot), flags: Linux.MAP_PRIVATE | Linux.MAP_FIXED,
                  fd: 3, offset: offsetPages * 4096)
        }
        for m in Self.models {
            agree(m, "private file mmap", setup: openFile, op: { .syscall(fmap($0, 0, 2, "r--", offsetPages: 4)) })
            agree(m, "file mmap merging with the previous chunk", setup: { b in
                openFile(b); _ = try! b.sim.syscall(pid: b.pid, fmap(b, 0, 2, "rw-", offsetPages: 4))
            }, op: { .syscall(fmap($0, 2, 1, "rw-", offsetPages: 6)) })
            agree(m, "file mmap not contiguous in the file", setup: { b in
                openFile(b); _ = try! b.sim.syscall(pid: b.pid, fmap(b, 0, 2, "rw-", offsetPages: 4))
            }, op: { .syscall(fmap($0, 2, 1, "rw-", offsetPages: 9)) })
            agree(m, "file mmap over anonymous memory", setup: { b in openFile(b); b.map(0, 4, "rw-"); b.touch(1) },
                  op: { .syscall(fmap($0, 1, 2, "r-x", offsetPages: 0)) })
            agree(m, "CoW write to a private file mapping", setup: { b in
                openFile(b); _ = try! b.sim.syscall(pid: b.pid, fmap(b, 0, 2, "rw-", offsetPages: 4))
            }, op: { $0.fault(1) })
            agree(m, "CoW write next to a written file chunk", setup: { b in
                openFile(b)
                _ = try! b.sim.syscall(pid: b.pid, fmap(b, 1, 1, "rw-", offsetPages: 5)); b.touch(1)
                _ = try! b.sim.syscall(pid: b.pid, fmap(b, 0, 1, "rwx", offsetPages: 4))
            }, op: { $0.fault(0) })
            agree(m, "read of a file page", setup: { b in
                openFile(b); _ = try! b.sim.syscall(pid: b.pid, fmap(b, 0, 2, "r--", offsetPages: 0))
            }, op: { $0.fault(0, .read) })
        }
    }
}
