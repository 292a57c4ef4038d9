import Foundation
import XCTest
@testable import MMTrace
import MMCore

final class PerfScriptParserTests: XCTestCase {
    typealias E = TraceEvent

    private func parse(_ text: String) -> [TraceEvent] { PerfScriptParser.parse(text) }

    private func kinds(_ text: String) -> [TraceEvent.Kind] { parse(text).map(\.kind) }

    func testUserPageFaultsDecodeTheErrorCode() {
        let events = parse("""
                    true  3237 [001]   266.885015:           exceptions:page_fault_user: address=0x7fe52f282e06 ip=0x7fe52f26a7ad error_code=0x6
                    true  3237 [001]   266.885009:           exceptions:page_fault_user: address=0x7fe52f269b70 ip=0x7fe52f269b70 error_code=0x14
                    true  3237 [001]   266.885027:           exceptions:page_fault_user: address=0x7fe52f24fd40 ip=0x7fe52f26aa13 error_code=0x4
                    true  3237 [001]   266.885367:           exceptions:page_fault_user: address=0x565400ccfeb0 ip=0x7fe52f26d620 error_code=0x7
        """)
        assertEvents(events, [
            E(line: 1, pid: 3237, time: 266.885015, kind: .fault(address: 0x7fe5_2f28_2e06, ip: 0x7fe5_2f26_a7ad,
                                                                 write: true, exec: false, user: true)),
            E(line: 2, pid: 3237, time: 266.885009, kind: .fault(address: 0x7fe5_2f26_9b70, ip: 0x7fe5_2f26_9b70,
                                                                 write: false, exec: true, user: true)),
            E(line: 3, pid: 3237, time: 266.885027, kind: .fault(address: 0x7fe5_2f24_fd40, ip: 0x7fe5_2f26_aa13,
                                                                 write: false, exec: false, user: true)),
            E(line: 4, pid: 3237, time: 266.885367, kind: .fault(address: 0x5654_00cc_feb0, ip: 0x7fe5_2f26_d620,
                                                                 write: true, exec: false, user: true)),
        ])
    }

    func testKernelPageFaultWithSymbolicIp() {
        XCTAssertEqual(kinds("         python3  3374 [001]   278.026182:         exceptions:page_fault_kernel: address=0x7fff15d682a9 ip=_copy_to_user error_code=0x2"),
                       [.fault(address: 0x7fff_15d6_82a9, ip: nil, write: true, exec: false, user: false)])
    }

    func testCommWithSpacesAndPidTidHeader() {
        let events = parse("""
               my worker 18222/18224 [000]  1800.493960:              syscalls:sys_enter_mmap: addr: 0x00000000, len: 0x00001000, prot: 0x00000003, flags: 0x00000022, fd: 0xffffffff, off: 0x00000000
               my worker 18222/18224 [000]  1800.493972:               syscalls:sys_exit_mmap: 0x7f6add746000
        """)
        assertEvents(events, [
            E(line: 1, pid: 18224, tgid: 18222, time: 1800.493960,
              kind: .skipped(reason: "syscall entry: reported with its exit",
                             text: "       my worker 18222/18224 [000]  1800.493960:              syscalls:sys_enter_mmap: addr: 0x00000000, len: 0x00001000, prot: 0x00000003, flags: 0x00000022, fd: 0xffffffff, off: 0x00000000")),
            E(line: 2, pid: 18224, tgid: 18222, time: 1800.493972,
              kind: .syscall(.mmap(addr: 0, length: 4096, prot: 3, flags: 0x22, fd: -1, offset: 0), result: .value(0x7f6a_dd74_6000))),
        ])
    }

    func testHeaderVariants() {
        // No cpu column; a comm that looks like numbers; no header at all.
        let events = parse("""
                       t  9292   559.070438:  exceptions:page_fault_user: address=0x1000 ip=0x2000 error_code=0x4
            my 2 prog 12/13   1.5: exceptions:page_fault_user: address=0x1000 ip=0x2000 error_code=0x4
        exceptions:page_fault_user: address=0x1000 ip=0x2000 error_code=0x4
        """)
        XCTAssertEqual(events.map(\.pid), [9292, 13, nil])
        XCTAssertEqual(events.map(\.tgid), [nil, 12, nil])
        XCTAssertEqual(events.map(\.time), [559.070438, 1.5, nil])
    }

    func testSyscallsPairPerTask() {
        let events = parse("""
        a 1 [000] 1.0: syscalls:sys_enter_munmap: addr: 0x7f0ddfe38000, len: 0x0000832f
        b 2 [001] 1.1: syscalls:sys_enter_mprotect: start: 0x004b6000, len: 0x00004000, prot: 0x00000001
        b 2 [001] 1.2: syscalls:sys_exit_mprotect: 0x0
        a 1 [000] 1.3: syscalls:sys_exit_munmap: 0x0
        a 1 [000] 1.4: syscalls:sys_enter_madvise: start: 0x7f0ddf72d000, len_in: 0x00004000, behavior: 0x00000004
        a 1 [000] 1.5: syscalls:sys_exit_madvise: 0x0
        a 1 [000] 1.6: syscalls:sys_enter_mremap: addr: 0x7f0ddfe38000, old_len: 0x00002000, new_len: 0x00004000, flags: 0x00000001, new_addr: 0x00000000
        a 1 [000] 1.7: syscalls:sys_exit_mremap: 0x7f0ddf72d000
        a 1 [000] 1.8: syscalls:sys_enter_brk: brk: 0x32c75d40
        a 1 [000] 1.9: syscalls:sys_exit_brk: 0x32c75d40
        a 1 [000] 2.0: syscalls:sys_enter_openat: dfd: 0xffffff9c, filename: 0x0048c00e, flags: 0x00080000, mode: 0x00000000
        a 1 [000] 2.1: syscalls:sys_exit_openat: 0x3
        a 1 [000] 2.2: syscalls:sys_enter_open: filename: 0x0048c00e, flags: 0x00000002, mode: 0x00000000
        a 1 [000] 2.3: syscalls:sys_exit_open: 0xfffffffffffffffe
        a 1 [000] 2.4: syscalls:sys_enter_close: fd: 0x00000003
        a 1 [000] 2.5: syscalls:sys_exit_close: 0x0
        """)
        assertEvents(ReplayFixtures.nonSkipped(events), [
            E(line: 3, pid: 2, time: 1.2, kind: .syscall(.mprotect(addr: 0x4b_6000, length: 0x4000, prot: 1), result: .value(0))),
            E(line: 4, pid: 1, time: 1.3, kind: .syscall(.munmap(addr: 0x7f0d_dfe3_8000, length: 0x832f), result: .value(0))),
            E(line: 6, pid: 1, time: 1.5, kind: .syscall(.madvise(addr: 0x7f0d_df72_d000, length: 0x4000, advice: 4), result: .value(0))),
            E(line: 8, pid: 1, time: 1.7, kind: .syscall(.mremap(oldAddress: 0x7f0d_dfe3_8000, oldSize: 0x2000, newSize: 0x4000,
                                                                 flags: 1, newAddress: 0), result: .value(0x7f0d_df72_d000))),
            E(line: 10, pid: 1, time: 1.9, kind: .syscall(.brk(addr: 0x32c7_5d40), result: .value(0x32c7_5d40))),
            E(line: 12, pid: 1, time: 2.1, kind: .syscall(.open(path: "<unknown>", flags: 0o2000000), result: .value(3))),
            E(line: 14, pid: 1, time: 2.3, kind: .syscall(.open(path: "<unknown>", flags: 2), result: .error(.known(.ENOENT), raw: -2))),
            E(line: 16, pid: 1, time: 2.5, kind: .syscall(.close(fd: 3), result: .value(0))),
        ])
    }

    func testNegativeReturnsAreErrors() {
        let events = parse("""
        p 7 [000] 1.0: syscalls:sys_enter_mmap: addr: 0x00000000, len: 0x4000000000000, prot: 0x00000001, flags: 0x00000022, fd: 0xffffffff, off: 0x00000000
        p 7 [000] 1.1: syscalls:sys_exit_mmap: 0xfffffffffffffff4
        p 7 [000] 1.2: syscalls:sys_enter_munmap: addr: 0x00001000, len: 0x00001000
        p 7 [000] 1.3: syscalls:sys_exit_munmap: 0xffffffffffffffcd
        """)
        XCTAssertEqual(ReplayFixtures.nonSkipped(events).map(\.kind), [
            .syscall(.mmap(addr: 0, length: 1 << 50, prot: 1, flags: 0x22, fd: -1, offset: 0), result: .error(.known(.ENOMEM), raw: -12)),
            .syscall(.munmap(addr: 0x1000, length: 0x1000), result: .error(.other("EL2HLT"), raw: -51)),
        ])
    }

    func testProcessCreationIsReportedOnce() {
        // Real lines: task_newtask's clone_flags tell a clone3 thread apart.
        let events = parse("""
                       t  9292/9292  [000]   559.070438:  syscalls:sys_enter_clone3: uargs: 0x7ffe6712ff70, size: 0x00000058
                       t  9292/9292  [000]   559.070639:          task:task_newtask: pid=9294 comm=t clone_flags=3d0f00 oom_score_adj=0
                       t  9292/9292  [000]   559.070642:   sched:sched_process_fork: comm=t pid=9292 child_comm=t child_pid=9294
                       t  9292/9292  [000]   559.070648:   syscalls:sys_exit_clone3: 0x244e
                       t  9292/9294  [000]   559.070658:   syscalls:sys_exit_clone3: 0x0
        """)
        XCTAssertEqual(events.map(\.kind).filter { if case .skipped = $0 { false } else { true } }, [.thread(childPid: 9294)])
        XCTAssertEqual(events[1].pid, 9292)
        XCTAssertEqual(ReplayFixtures.skipReasons(events), ["syscall entry: reported with its exit", "child 9294 already reported",
                                                            "child 9294 already reported", "child side of process creation"])
        // Without task_newtask: clone's flags from its entry, clone3 unknown (fork), vfork.
        XCTAssertEqual(ReplayFixtures.nonSkipped(parse("""
        p 1 [000] 1.0: syscalls:sys_enter_clone: clone_flags: 0x01200011, newsp: 0x00000000, parent_tidptr: 0x00000000, child_tidptr: 0x7f0ddfb2b310, tls: 0x00000000
        p 1 [000] 1.1: sched:sched_process_fork: comm=p pid=1 child_pid=2 child_comm=p
        p 1 [000] 1.2: syscalls:sys_exit_clone: 0x2
        p 1 [000] 1.3: syscalls:sys_enter_clone: clone_flags: 0x003d0f00, newsp: 0x7f0000000000, parent_tidptr: 0x0, child_tidptr: 0x0, tls: 0x0
        p 1 [000] 1.4: syscalls:sys_exit_clone: 0x3
        p 1 [000] 1.5: syscalls:sys_enter_clone3: uargs: 0x7fff15d67780, size: 0x00000058
        p 1 [000] 1.6: syscalls:sys_exit_clone3: 0x4
        p 1 [000] 1.7: syscalls:sys_enter_vfork:
        p 1 [000] 1.8: sched:sched_process_fork: comm=p pid=1 child_comm=p child_pid=5
        p 1 [000] 1.9: syscalls:sys_exit_vfork: 0x5
        p 1 [000] 2.0: syscalls:sys_enter_fork:
        p 1 [000] 2.1: syscalls:sys_exit_fork: 0xfffffffffffffff5
        """)).map(\.kind), [.fork(childPid: 2), .thread(childPid: 3), .fork(childPid: 4), .fork(childPid: 5)])
    }

    func testExecAndExit() {
        let events = parse("""
                    true  3378 [001]   278.116387:             sched:sched_process_exec: filename=/bin/my true pid=3378 old_pid=3378
                    true  3378 [001]   278.116389:             syscalls:sys_exit_execve: 0x0
                    true  3379 [001]   278.2:             syscalls:sys_exit_execve: 0x0
                    true  3380 [001]   278.3:             syscalls:sys_exit_execve: 0xfffffffffffffffe
                    true  3378 [001]   278.117004:        syscalls:sys_enter_exit_group: error_code: 0x00000003
                    true  3378 [001]   278.117012:             sched:sched_process_exit: comm=true pid=3378 prio=120 group_dead=true
                 python3  3376 [001]   278.112196:              syscalls:sys_enter_exit: error_code: 0x00000000
                 python3  3376 [001]   278.112221:             sched:sched_process_exit: comm=python3 pid=3376 prio=120 group_dead=false
                       t  9295/9295  [000]   559.071079:   sched:sched_process_exit: comm=t pid=9295 prio=120 group_dead=true
                       t  9292/9294  [000]   559.070689:   sched:sched_process_exit: comm=t pid=9294 prio=120 group_dead=false
        """)
        assertEvents(ReplayFixtures.nonSkipped(events), [
            E(line: 1, pid: 3378, time: 278.116387, kind: .execve(path: "/bin/my true")),
            E(line: 3, pid: 3379, time: 278.2, kind: .execve(path: "<unknown>")),
            E(line: 5, pid: 3378, time: 278.117004, kind: .exit(status: 3)),
            E(line: 7, pid: 3376, time: 278.112196, kind: .threadExit(status: 0)),
            E(line: 9, pid: 9295, tgid: 9295, time: 559.071079, kind: .exit(status: -1)),
            E(line: 10, pid: 9294, tgid: 9292, time: 559.070689, kind: .threadExit(status: -1)),
        ])
        XCTAssertEqual(ReplayFixtures.skipReasons(events), [
            "exec already reported by sched_process_exec", "execve failed: ENOENT",
            "exit already reported by the exit syscall", "exit already reported by the exit syscall",
        ])
    }

    func testMmapLockTracepoints() {
        let events = parse("""
                    true  3237 [001]   266.884617:    mmap_lock:mmap_lock_start_locking: mm=0xffff888104d38640 memcg_id=3137 write=true
                    true  3237 [001]   266.884624: mmap_lock:mmap_lock_acquire_returned: mm=0xffff888104d38640 memcg_id=3137 write=true success=true
                    true  3237 [001]   266.884644:         mmap_lock:mmap_lock_released: mm=0xffff888104d38640 memcg_id=3137 write=true
        prog 10 [002] 5.0: mmap_lock:mmap_lock_start_locking: mm=00000000a4fd5e65 memcg_path= write=false
        prog 10 [002] 5.1: mmap_lock:mmap_lock_acquire_returned: mm=00000000a4fd5e65 memcg_path=/user.slice write=false success=false
        """)
        XCTAssertEqual(events.map(\.kind), [
            .mmapLock(LockEvent(phase: .startLocking, write: true, success: nil, mm: 0xffff_8881_04d3_8640)),
            .mmapLock(LockEvent(phase: .acquireReturned, write: true, success: true, mm: 0xffff_8881_04d3_8640)),
            .mmapLock(LockEvent(phase: .released, write: true, success: nil, mm: 0xffff_8881_04d3_8640)),
            .mmapLock(LockEvent(phase: .startLocking, write: false, success: nil, mm: 0xa4fd_5e65)),
            .mmapLock(LockEvent(phase: .acquireReturned, write: false, success: false, mm: 0xa4fd_5e65)),
        ])
    }

    func testSkippedLinesCarryReasons() {
        let lines = [
            "p 1 [000] 1.0: syscalls:sys_enter_read: fd: 0x00000003, buf: 0x7ffd, count: 0x00000340",
            "p 1 [000] 1.0: syscalls:sys_exit_read: 0x340",
            "p 1 [000] 1.0: sched:sched_switch: prev_comm=p prev_pid=1 prev_prio=120 prev_state=S ==> next_comm=swapper/0",
            "p 1 [000] 1.0: syscalls:sys_exit_munmap: 0x0",
            "p 1 [000] 1.0: sched:sched_process_free: comm=p pid=1 prio=120",
            "            7f0ddfe38000 __libc_start_main+0x80 (/usr/lib/x86_64-linux-gnu/libc.so.6)",
            "# ========",
        ]
        let events = parse(lines.joined(separator: "\n"))
        XCTAssertEqual(events.map(\.kind), zip(lines, [
            "not a memory syscall: read", "not a memory syscall: read", "unmodelled event: sched:sched_switch",
            "syscall exit without a recorded entry", "task freed", "not a perf script tracepoint line", "comment",
        ]).map { .skipped(reason: $1, text: $0) })
    }

    func testEnteredButNeverExitedIsUnknown() {
        let events = parse("""
        p 1 [000] 1.0: syscalls:sys_enter_munmap: addr: 0x7f0ddfe38000, len: 0x00001000
        """)
        XCTAssertEqual(events.last, E(line: 1, pid: 1, time: 1.0,
                                      kind: .syscall(.munmap(addr: 0x7f0d_dfe3_8000, length: 0x1000), result: .unknown)))
    }

    /// Real `perf script` output: every line accounted for, lifecycle as recorded.
    func testRealFixtures() throws {
        for (name, hasTgid) in [("perf/static.txt", false), ("perf/static-pid-tid.txt", true)] {
            let text = try ReplayFixtures.text(name)
            let events = PerfScriptParser.parse(text)
            XCTAssertEqual(Set(events.map(\.line)), ReplayFixtures.nonBlankLines(text), name)
            XCTAssertEqual(Set(ReplayFixtures.skipReasons(events)), [
                "syscall entry: reported with its exit", "exit already reported by the exit syscall",
                "child side of process creation", "child 18224 already reported", "child 18225 already reported",
                "child 18226 already reported", "exec already reported by sched_process_exec",
            ], name)
            let lifecycle = events.compactMap { e -> String? in
                switch e.kind {
                case .fork(let c): "\(e.pid!) fork \(c)"
                case .thread(let c): "\(e.pid!) thread \(c)"
                case .execve(let p): "\(e.pid!) exec \(p)"
                case .exit(let s): "\(e.pid!) exit \(s)"
                case .threadExit(let s): "\(e.pid!) threadExit \(s)"
                default: nil
                }
            }
            XCTAssertEqual(lifecycle, ["18222 exec ./pstatic", "18222 thread 18224", "18224 threadExit 0", "18222 fork 18225",
                                       "18225 exit 3", "18222 fork 18226", "18226 exec /proc/self/exe", "18226 exit 5",
                                       "18222 exit 0"], name)
            let worker = events.filter { $0.pid == 18224 }
            XCTAssertTrue(worker.allSatisfy { $0.tgid == (hasTgid ? 18222 : nil) }, name)
            XCTAssertEqual(events.first { $0.line == 95 }?.kind,
                           .syscall(.mremap(oldAddress: 0x7f6a_ddf4_9000, oldSize: 0x2000, newSize: 0x4000, flags: 1, newAddress: 0),
                                    result: .error(.known(.EFAULT), raw: -14)), name)
            let faults = events.filter { if case .fault = $0.kind { true } else { false } }
            XCTAssertEqual(faults.count, 77, name)
        }
    }
}
