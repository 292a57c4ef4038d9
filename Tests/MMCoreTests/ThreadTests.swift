import XCTest
@testable import MMCore

/// Threads share their process's mm (clone(CLONE_VM|CLONE_THREAD), copy_process() in kernel/fork.c).
final class ThreadTests: XCTestCase {
    private let rw = Linux.PROT_READ | Linux.PROT_WRITE
    private let anon = Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS

    // tids come from the pid number space: a thread takes the next number and
    // the next process the one after it.
    func testTidsShareThePidNumberSpace() throws {
        let sim = Simulation()
        let p = sim.createProcess(comm: "main")
        let t1 = try sim.createThread(pid: p.pid)
        let t2 = try sim.createThread(pid: p.pid)
        let q = sim.createProcess(comm: "other")
        XCTAssertEqual([p.pid, t1, t2, q.pid], [1, 2, 3, 4])
        XCTAssertEqual(p.threads, [1, 2, 3])
        XCTAssertEqual(q.threads, [4])
    }

    //   0x…000        0x…002000
    //   |  V (rw-p, anon)  |
    // A fault by a secondary thread lands in the shared mm: the leader sees
    // the page, the VMA's anon_vma, and the leader's next fault on it is a
    // present-page fault.
    func testAThreadsFaultActsOnTheSharedMM() throws {
        let sim = Simulation(model: .v6_18)
        let p = sim.createProcess()
        let tid = try sim.createThread(pid: p.pid)
        let addr = UInt64(bitPattern: try sim.syscall(pid: p.pid, .mmap(addr: 0, length: 8192, prot: rw, flags: anon,
                                                                         fd: -1, offset: 0)).ret)
        XCTAssertNoThrow(try sim.process(p.pid, tid: tid))
        _ = try sim.fault(pid: p.pid, address: addr, access: .write)
        let v = try XCTUnwrap(sim.process(p.pid, tid: tid).mm.vmas.find(containing: addr))
        XCTAssertNotNil(v.anonVMA, "the thread's write prepared the shared VMA's anon_vma")
        XCTAssertNotNil(p.mm.pageTable[addr >> 12], "the page is in the one page table")
    }

    func testUnknownTidIsRejected() throws {
        let sim = Simulation()
        let p = sim.createProcess()
        let q = sim.createProcess()
        let tq = try sim.createThread(pid: q.pid)
        XCTAssertThrowsError(try sim.process(p.pid, tid: tq)) { e in
            XCTAssertEqual(e as? SimulationError, .noSuchThread(p.pid, tq), "a tid of another process is not ours")
        }
        XCTAssertNoThrow(try sim.process(p.pid, tid: p.pid), "the leader's tid is its pid")
    }

    // fork (dup_mmap) copies the address space to a new process with one thread.
    func testForkChildHasOneThread() throws {
        let sim = Simulation()
        let p = sim.createProcess()
        _ = try sim.createThread(pid: p.pid)
        let r = try sim.syscall(pid: p.pid, .fork)
        let child = try sim.process(Int(r.ret))
        XCTAssertEqual(child.threads, [child.pid])
        XCTAssertEqual(p.threads.count, 2)
    }

    func testNoThreadInAnExitedProcess() throws {
        let sim = Simulation()
        let p = sim.createProcess()
        _ = try sim.syscall(pid: p.pid, .exit(status: 0))
        XCTAssertThrowsError(try sim.createThread(pid: p.pid)) { e in
            XCTAssertEqual(e as? SimulationError, .processExited(p.pid))
        }
    }
}
