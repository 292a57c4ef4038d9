import XCTest
@testable import MMCore

/// A process set up with real syscalls and faults, then explored with
/// threads (docs/CONCURRENCY.md §8). Addresses are `X + page * 4096` in an
/// empty window; `p` in the pictures is one page.
final class ConcurrencyBed {
    let sim: Simulation
    let pid: Int
    let X: UInt64
    static let p: UInt64 = 4096

    init(_ model: KernelModel, window: UInt64 = 0x1000_0000) {
        sim = Simulation(model: model)
        pid = sim.createProcess(comm: "threads").pid
        X = window
    }

    func at(_ page: UInt64) -> UInt64 { X + page * Self.p }

    static func prot(_ s: String) -> UInt64 {
        let c = Array(s)
        return (c[0] == "r" ? Linux.PROT_READ : 0) | (c[1] == "w" ? Linux.PROT_WRITE : 0) | (c[2] == "x" ? Linux.PROT_EXEC : 0)
    }

    /// mmap(MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED) of `pages` pages at page `page`.
    @discardableResult
    func map(_ page: UInt64, _ pages: UInt64, _ prot: String, growsdown: Bool = false) -> UInt64 {
        let flags = Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED | (growsdown ? Linux.MAP_GROWSDOWN : 0)
        let r = try! sim.syscall(pid: pid, .mmap(addr: at(page), length: pages * Self.p, prot: Self.prot(prot),
                                                 flags: flags, fd: -1, offset: 0))
        XCTAssertEqual(UInt64(bitPattern: r.ret), at(page), "setup mmap at page \(page)")
        return at(page)
    }

    /// A write (or read) at page `page` from the main thread.
    func touch(_ page: UInt64, _ access: Access = .write) {
        let r = try! sim.fault(pid: pid, address: at(page), access: access)
        XCTAssertEqual(r.outcome, .handled, "setup touch of page \(page)")
    }

    func vma(_ page: UInt64) -> VMA { try! sim.process(pid).mm.vmas.find(containing: at(page))! }

    func explore(_ threads: [(String, [ThreadOp])], bound: Int = 3, mutant: Mutant? = nil, enomem: Bool = false,
                 reduction: Bool = true) -> ExploreResult {
        let opts = ExploreOptions(preemptionBound: bound, reduction: reduction,
                                  inject: ExploreInjection(anonVMACloneENOMEM: enomem), mutant: mutant)
        return try! sim.explore(pid: pid, programs: threads.map { ThreadProgram(name: $0.0, ops: $0.1) }, options: opts)
    }

    func fault(_ page: UInt64, _ access: Access = .write) -> ThreadOp { .fault(address: at(page), access: access) }
    func munmap(_ page: UInt64, _ pages: UInt64) -> ThreadOp { .syscall(.munmap(addr: at(page), length: pages * Self.p)) }
    func mprotect(_ page: UInt64, _ pages: UInt64, _ prot: String) -> ThreadOp {
        .syscall(.mprotect(addr: at(page), length: pages * Self.p, prot: Self.prot(prot)))
    }
}

extension ExploreResult {
    /// Detectors that fired, D1r left out (latent R-E in v3-patch and 6.4–6.4.8, §8).
    var fired: Set<Detector> { Set(hazards.map(\.detector)).subtracting([.D1r]) }
    func hazard(_ d: Detector) -> Hazard? { hazards.first { $0.detector == d } }
    func codes(_ thread: String) -> Set<LockCode> { Set(faultPaths[thread] ?? []) }
    var describe: String {
        "schedules \(schedulesExplored) pruned \(statesPruned) bounded \(boundedBy) hazards \(hazards.map { "\($0.detector.rawValue)@\($0.firstSchedule)" }) paths \(faultPaths) outcomes \(outcomes.map(\.summary)) deadlocks \(deadlocks.map(\.cycle))"
    }
}
