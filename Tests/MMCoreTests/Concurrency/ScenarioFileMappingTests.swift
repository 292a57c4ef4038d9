import XCTest
@testable import MMCore

/// Private file mappings in the engine (docs/CONCURRENCY.md §2.4): the
/// libc data-segment case of the LKML thread with a concurrent munmap of the
/// anonymous tail, and the refusals.
final class ScenarioFileMappingTests: XCTestCase {
    typealias Bed = ConcurrencyBed

    func openLib(_ b: Bed, flags: UInt64 = Linux.O_RDONLY) {
        _ = try! b.sim.createFile(path: "/lib/libc.so.6", size: 512 * 4096)
        XCTAssertEqual(try! b.sim.syscall(pid: b.pid, .open(path: "/lib/libc.so.6", flags: flags)).ret, 3)
    }

    func mapLib(_ b: Bed, _ page: UInt64, _ pages: UInt64, offsetPages: UInt64, fixed: Bool = true) -> ThreadOp {
        .syscall(.mmap(addr: b.at(page), length: pages * 4096, prot: Bed.prot("rw-"),
                       flags: Linux.MAP_PRIVATE | (fixed ? Linux.MAP_FIXED : 0), fd: 3, offset: offsetPages * 4096))
    }

    ///     X            X+p          X+2p
    ///     [ D rw- file ][ B rw- anon *]        T1: fault(X, w)   T2: munmap(X+p, p)
    ///
    /// The CoW write of the data segment: 6.4 refuses the file VMA at lookup
    /// (NOT_ANON) and runs do_cow_fault() under mmap_lock; 6.18 runs it under
    /// the VMA lock with the mmap_read_trylock'd __anon_vma_prepare(), whose
    /// neighbour walk is then protected by mmap_lock. No model races.
    func testDataSegmentCoWAgainstMunmapOfTheTail() {
        for model in KernelModel.all {
            let b = Bed(model, window: 0x4000_0000)
            openLib(b)
            let r0 = b.explore([("L", [mapLib(b, 0, 1, offsetPages: 0x1ce)])])
            XCTAssertEqual(r0.outcomes.count, 1)
            _ = try! b.sim.syscall(pid: b.pid, .mmap(addr: b.at(0), length: 4096, prot: Bed.prot("rw-"),
                                                     flags: Linux.MAP_PRIVATE | Linux.MAP_FIXED, fd: 3, offset: 0x1ce * 4096))
            b.map(1, 1, "rw-")
            b.touch(1)
            let r = b.explore([("T1", [b.fault(0)]), ("T2", [b.munmap(1, 1)])])
            XCTAssertTrue(r.fired.isEmpty, "\(model.id): \(r.describe)")
            let codes = r.codes("T1")
            switch model.id {
            case _ where !model.perVMALock: XCTAssertEqual(codes, [.LEGACY], "\(model.id)")
            case "6.18": XCTAssertTrue(codes.isSubset(of: [.VMA_OK_TRYLOCK, .ANON_VMA_TRYLOCK_FAILED]) && codes.contains(.VMA_OK_TRYLOCK),
                                       "\(codes)")
            default: XCTAssertEqual(codes, [.NOT_ANON], "\(model.id)")
            }
            // The CoW page is an anonymous folio of the data segment's own anon_vma in every end state.
            for o in r.outcomes {
                let d = o.vmas.first { $0.mm == 0 && !$0.freed && !$0.detached && $0.start == b.at(0) }
                XCTAssertNotNil(d?.anonVMA, "\(model.id) \(o.firstSchedule)")
            }
        }
    }

    func testRefusals() {
        let b = Bed(.v6_18)
        func refusal(_ op: ThreadOp) -> String? {
            do {
                _ = try b.sim.explore(pid: b.pid, programs: [ThreadProgram(name: "T", ops: [op])])
                return nil
            } catch {
                if case let .invalidOp(_, _, reason) = error { return reason }
                return "\(error)"
            }
        }
        XCTAssertEqual(refusal(mapLib(b, 0, 1, offsetPages: 0)), "fd 3 is not open in process \(b.pid): open the file before exploring")
        openLib(b)
        XCTAssertNil(refusal(mapLib(b, 0, 1, offsetPages: 0)))
        XCTAssertTrue(refusal(mapLib(b, 0, 1, offsetPages: 0, fixed: false))?.contains("MAP_FIXED") == true)
        XCTAssertTrue(refusal(.syscall(.mmap(addr: b.at(0), length: 4096, prot: 1, flags: Linux.MAP_SHARED | Linux.MAP_FIXED,
                                             fd: 3, offset: 0)))?.contains("private") == true)
        _ = try! b.sim.syscall(pid: b.pid, .open(path: "/lib/libc.so.6", flags: Linux.O_WRONLY))
        XCTAssertEqual(refusal(.syscall(.mmap(addr: b.at(0), length: 4096, prot: 1, flags: Linux.MAP_PRIVATE | Linux.MAP_FIXED,
                                              fd: 4, offset: 0))), "fd 4 is not open for reading (do_mmap(): EACCES)")
    }
}
