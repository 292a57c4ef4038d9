import Foundation
import XCTest
@testable import MMTrace
import MMCore

/// Helpers shared by the trace importer tests.
enum ReplayFixtures {
    /// The captures are kept with the MMCore fixtures (`Tests/MMCoreTests/Fixtures`).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MMCoreTests/Fixtures")

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    static func files(_ folder: String) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: root.appendingPathComponent(folder),
                                                    includingPropertiesForKeys: nil)
            .filter { !$0.hasDirectoryPath }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// Non-blank line numbers of a text, 1-based.
    static func nonBlankLines(_ text: String) -> Set<Int> {
        var result = Set<Int>()
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where line.contains(where: { $0 != " " && $0 != "\t" && $0 != "\r" }) {
            result.insert(i + 1)
        }
        return result
    }

    /// A description that avoids `Errno.description`, for failure messages.
    static func describe(_ e: TraceEvent) -> String {
        let kind: String
        switch e.kind {
        case .syscall(let sc, let r):
            switch r {
            case .value(let v): kind = "\(sc) = 0x\(String(v, radix: 16))"
            case .error(let err, let raw): kind = "\(sc) = \(err.name) (\(raw))"
            case .unknown: kind = "\(sc) = ?"
            }
        default: kind = "\(e.kind)"
        }
        return "line \(e.line) pid \(e.pid.map(String.init) ?? "-") tgid \(e.tgid.map(String.init) ?? "-") "
            + "time \(e.time.map { "\($0)" } ?? "-") dur \(e.duration.map { "\($0)" } ?? "-"): \(kind)"
    }

    static func describe(_ events: [TraceEvent]) -> String { events.map(describe).joined(separator: "\n") }

    static func skipReasons(_ events: [TraceEvent]) -> [String] {
        events.compactMap { if case .skipped(let r, _) = $0.kind { r } else { nil } }
    }

    static func nonSkipped(_ events: [TraceEvent]) -> [TraceEvent] {
        events.filter { if case .skipped = $0.kind { false } else { true } }
    }
}

func assertEvents(_ actual: [TraceEvent], _ expected: [TraceEvent], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertTrue(actual == expected, "got:\n\(ReplayFixtures.describe(actual))\nexpected:\n\(ReplayFixtures.describe(expected))",
                  file: file, line: line)
}

final class StraceParserTests: XCTestCase {
    typealias E = TraceEvent
    let O_CLOEXEC: UInt64 = 0o2000000

    private func parse(_ text: String, pid: Int? = nil) -> [TraceEvent] { StraceParser.parse(text, defaultPid: pid) }

    private func one(_ line: String, pid: Int? = nil) -> TraceEvent? {
        let events = parse(line, pid: pid)
        XCTAssertEqual(events.count, 1, ReplayFixtures.describe(events))
        return events.first
    }

    private func skipReason(_ line: String) -> String? {
        guard let e = one(line), case .skipped(let reason, let text) = e.kind else { return nil }
        XCTAssertEqual(text, line)
        return reason
    }

    func testSeedLines() {
        let text = """
        openat(AT_FDCWD, "/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY|O_CLOEXEC) = 3
        mmap(NULL, 1970000, PROT_READ, MAP_PRIVATE|MAP_DENYWRITE, 3, 0) = 0x7f0ce612e000
        mmap(0x7f0ce6154000, 1396736, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x26000) = 0x7f0ce6154000
        mmap(0x7f0ce62a9000, 339968, PROT_READ, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x17b000) = 0x7f0ce62a9000
        mmap(0x7f0ce62fc000, 24576, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x1ce000) = 0x7f0ce62fc000
        mmap(0x7f0ce6302000, 53072, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS, -1, 0) = 0x7f0ce6302000
        """
        assertEvents(parse(text), [
            E(line: 1, kind: .syscall(.open(path: "/lib/x86_64-linux-gnu/libc.so.6", flags: O_CLOEXEC), result: .value(3))),
            E(line: 2, kind: .syscall(.mmap(addr: 0, length: 1_970_000, prot: 1, flags: 0x802, fd: 3, offset: 0),
                                      result: .value(0x7f0c_e612_e000))),
            E(line: 3, kind: .syscall(.mmap(addr: 0x7f0c_e615_4000, length: 1_396_736, prot: 5, flags: 0x812, fd: 3,
                                            offset: 0x26000), result: .value(0x7f0c_e615_4000))),
            E(line: 4, kind: .syscall(.mmap(addr: 0x7f0c_e62a_9000, length: 339_968, prot: 1, flags: 0x812, fd: 3,
                                            offset: 0x17b000), result: .value(0x7f0c_e62a_9000))),
            E(line: 5, kind: .syscall(.mmap(addr: 0x7f0c_e62f_c000, length: 24576, prot: 3, flags: 0x812, fd: 3,
                                            offset: 0x1ce000), result: .value(0x7f0c_e62f_c000))),
            E(line: 6, kind: .syscall(.mmap(addr: 0x7f0c_e630_2000, length: 53072, prot: 3, flags: 0x32, fd: -1,
                                            offset: 0), result: .value(0x7f0c_e630_2000))),
        ])
    }

    func testTTTimeOfDayPrefix() {
        let e = one("15:04:05.123456 munmap(0x7f0ce612e000, 4096) = 0")
        XCTAssertEqual(e?.time ?? 0, 15 * 3600 + 4 * 60 + 5.123456, accuracy: 1e-9)
        XCTAssertEqual(e?.kind, .syscall(.munmap(addr: 0x7f0c_e612_e000, length: 4096), result: .value(0)))
        XCTAssertEqual(one("4286  15:23:30 brk(NULL) = 0x5600cfc10000")?.time, 15 * 3600 + 23 * 60 + 30)
    }

    func testTTTEpochPrefix() {
        let e = one("4296  1795706610.594956 brk(NULL)       = 0x557a912ec000")
        XCTAssertEqual(e?.pid, 4296)
        XCTAssertEqual(e?.time ?? 0, 1_795_706_610.594956, accuracy: 1e-6)
        XCTAssertEqual(e?.kind, .syscall(.brk(addr: 0), result: .value(0x557a_912e_c000)))
    }

    func testDurationSuffix() {
        let e = one("4286  15:23:30.571677 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f36e2817000 <0.000067>")
        XCTAssertEqual(e?.duration ?? 0, 0.000067, accuracy: 1e-12)
        XCTAssertEqual(e?.kind, .syscall(.mmap(addr: 0, length: 8192, prot: 3, flags: 0x22, fd: -1, offset: 0),
                                         result: .value(0x7f36_e281_7000)))
    }

    func testBracketPidPrefix() {
        let e = one("[pid  4319] mprotect(0x7f425a8ae000, 8388608, PROT_READ|PROT_WRITE) = 0")
        XCTAssertEqual(e?.pid, 4319)
        XCTAssertEqual(e?.kind, .syscall(.mprotect(addr: 0x7f42_5a8a_e000, length: 8_388_608, prot: 3), result: .value(0)))
    }

    func testBarePidPrefixAndDefaultPid() {
        XCTAssertEqual(one("1234  madvise(0x7f0000000000, 8192, MADV_DONTNEED) = 0")?.pid, 1234)
        XCTAssertEqual(one("madvise(0x7f0000000000, 8192, MADV_DONTNEED) = 0", pid: 77),
                       E(line: 1, pid: 77, kind: .syscall(.madvise(addr: 0x7f00_0000_0000, length: 8192, advice: 4),
                                                          result: .value(0))))
        XCTAssertNil(one("madvise(0x7f0000000000, 8192, 4) = 0")?.pid)
    }

    func testUnfinishedResumedPairsJoinPerPid() {
        let events = parse("""
        4152  mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0 <unfinished ...>
        4149  read(3,  <unfinished ...>
        4149  brk(0x3a527000 <unfinished ...>
        4152  <... mmap resumed>)               = 0x7f171e73c000
        4149  <... brk resumed>)                = 0x3a527000
        4149  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD <unfinished ...>
        4149  <... clone resumed>, child_tidptr=0x7f7e34d4e310) = 4151
        """)
        assertEvents(events, [
            E(line: 1, pid: 4152, kind: .skipped(reason: "unfinished, reported when resumed: mmap",
                                                 text: "4152  mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0 <unfinished ...>")),
            E(line: 2, pid: 4149, kind: .skipped(reason: "not a memory syscall: read", text: "4149  read(3,  <unfinished ...>")),
            E(line: 3, pid: 4149, kind: .skipped(reason: "unfinished, reported when resumed: brk",
                                                 text: "4149  brk(0x3a527000 <unfinished ...>")),
            E(line: 4, pid: 4152, kind: .syscall(.mmap(addr: 0, length: 8192, prot: 3, flags: 0x22, fd: -1, offset: 0),
                                                 result: .value(0x7f17_1e73_c000))),
            E(line: 5, pid: 4149, kind: .syscall(.brk(addr: 0x3a52_7000), result: .value(0x3a52_7000))),
            E(line: 6, pid: 4149, kind: .skipped(reason: "unfinished, reported when resumed: clone",
                                                 text: "4149  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD <unfinished ...>")),
            E(line: 7, pid: 4149, kind: .fork(childPid: 4151)),
        ])
    }

    func testUnfinishedNeverResumedIsUnknown() {
        let events = parse("""
        7  munmap(0x7f0000001000, 4096 <unfinished ...>
        8  mprotect(0x7f0000002000, 4096, PROT_READ <unfinished ...>
        8  +++ killed by SIGKILL +++
        9  mmap(NULL, 4096 <unfinished ...>
        """)
        assertEvents(ReplayFixtures.nonSkipped(events), [
            E(line: 2, pid: 8, kind: .syscall(.mprotect(addr: 0x7f00_0000_2000, length: 4096, prot: 1), result: .unknown)),
            E(line: 3, pid: 8, kind: .exit(status: 137)),
            E(line: 1, pid: 7, kind: .syscall(.munmap(addr: 0x7f00_0000_1000, length: 4096), result: .unknown)),
        ])
        XCTAssertEqual(events.last, E(line: 4, pid: 9, kind: .skipped(reason: "mmap unfinished and never resumed",
                                                                      text: "mmap(NULL, 4096 <unfinished ...>")))
    }

    func testFailedCallsWithErrno() {
        XCTAssertEqual(one("mmap(NULL, 1125899906842624, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = -1 ENOMEM (Cannot allocate memory)")?.kind,
                       .syscall(.mmap(addr: 0, length: 1 << 50, prot: 1, flags: 0x22, fd: -1, offset: 0),
                                result: .error(.known(.ENOMEM), raw: -12)))
        XCTAssertEqual(one("openat(AT_FDCWD, \"/etc/x/y\", O_RDONLY) = -1 ENOTDIR (Not a directory)")?.kind,
                       .syscall(.open(path: "/etc/x/y", flags: 0), result: .error(TraceErrno(name: "ENOTDIR"), raw: -20)))
        XCTAssertEqual(one("munmap(0x1000, 4096) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)")?.kind,
                       .syscall(.munmap(addr: 0x1000, length: 4096), result: .error(.other("ERESTARTSYS"), raw: -512)))
        XCTAssertEqual(one("brk(NULL) = ? <unavailable>")?.kind, .syscall(.brk(addr: 0), result: .unknown))
        XCTAssertEqual(TraceErrno(name: "EWOULDBLOCK"), .other("EWOULDBLOCK"))
        XCTAssertEqual(TraceErrno(name: "EAGAIN"), .known(.EAGAIN))
        XCTAssertEqual(TraceErrno(number: 12).name, "ENOMEM")
    }

    func testFlagSpellingsAndNumbers() {
        XCTAssertEqual(one("mmap(NULL, 2097152, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|21<<MAP_HUGE_SHIFT, -1, 0) = 0x7f0000000000")?.kind,
                       .syscall(.mmap(addr: 0, length: 2_097_152, prot: 3, flags: 0x22 | 0x40000 | (21 << 26), fd: -1, offset: 0),
                                result: .value(0x7f00_0000_0000)))
        XCTAssertEqual(one("mmap(0x10000000, 8192, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE, -1, 0) = 0x10000000")?.kind,
                       .syscall(.mmap(addr: 0x1000_0000, length: 8192, prot: 0, flags: 0x100022, fd: -1, offset: 0),
                                result: .value(0x1000_0000)))
        // strace -X verbose and raw numbers; unknown bits in hex.
        XCTAssertEqual(one("mmap(NULL, 8192, 0x3 /* PROT_READ|PROT_WRITE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0) = 0x7f3d74004000")?.kind,
                       .syscall(.mmap(addr: 0, length: 8192, prot: 3, flags: 0x22, fd: -1, offset: 0), result: .value(0x7f3d_7400_4000)))
        XCTAssertEqual(one("mmap(0x7f0000000000, 0x1000, PROT_READ, MAP_SHARED|0x40000000, 5, 4096) = 0x7f0000000000")?.kind,
                       .syscall(.mmap(addr: 0x7f00_0000_0000, length: 4096, prot: 1, flags: 0x4000_0001, fd: 5, offset: 4096),
                                result: .value(0x7f00_0000_0000)))
        XCTAssertEqual(skipReason("mmap(NULL, 4096, PROT_READ, MAP_BOGUS, -1, 0) = 0x7f0000000000"), "cannot decode mmap arguments")
    }

    func testQuotedPathsWithEscapesAndOpenVariants() {
        XCTAssertEqual(one(#"open("/tmp/a \"b\"\\c\n\303\251\x41", O_RDWR|O_CREAT|O_TRUNC, 0644) = 4"#)?.kind,
                       .syscall(.open(path: "/tmp/a \"b\"\\c\né\u{41}", flags: 0o1102), result: .value(4)))
        XCTAssertEqual(one(#"openat2(AT_FDCWD, "/etc/passwd", {flags=O_RDONLY|O_CLOEXEC, resolve=0}, 24) = 5"#)?.kind,
                       .syscall(.open(path: "/etc/passwd", flags: O_CLOEXEC), result: .value(5)))
        XCTAssertEqual(one(#"creat("/tmp/new", 0600) = 6"#)?.kind, .syscall(.open(path: "/tmp/new", flags: 0o1101), result: .value(6)))
        // strace -y decorations on fds and results.
        XCTAssertEqual(one(#"openat(AT_FDCWD</tmp/rp>, "/etc/hostname", O_RDONLY) = 3</etc/hostname> <0.000015>"#)?.kind,
                       .syscall(.open(path: "/etc/hostname", flags: 0), result: .value(3)))
        XCTAssertEqual(one("mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 3</etc/host,name>, 0) = 0x7fb686f6c000")?.kind,
                       .syscall(.mmap(addr: 0, length: 4096, prot: 1, flags: 2, fd: 3, offset: 0), result: .value(0x7fb6_86f6_c000)))
        XCTAssertEqual(one("close(3</etc/hostname>) = 0")?.kind, .syscall(.close(fd: 3), result: .value(0)))
    }

    func testMremapBrkAndPkeyMprotect() {
        XCTAssertEqual(one("mremap(0x7f7e3505b000, 8192, 16384, MREMAP_MAYMOVE) = 0x7f7e34950000")?.kind,
                       .syscall(.mremap(oldAddress: 0x7f7e_3505_b000, oldSize: 8192, newSize: 16384, flags: 1, newAddress: 0),
                                result: .value(0x7f7e_3495_0000)))
        XCTAssertEqual(one("mremap(0x10000000, 8192, 16384, MREMAP_MAYMOVE|MREMAP_FIXED, 0x20000000) = -1 EFAULT (Bad address)")?.kind,
                       .syscall(.mremap(oldAddress: 0x1000_0000, oldSize: 8192, newSize: 16384, flags: 3, newAddress: 0x2000_0000),
                                result: .error(.known(.EFAULT), raw: -14)))
        XCTAssertEqual(one("brk(NULL) = 0x55d5fe57e000")?.kind, .syscall(.brk(addr: 0), result: .value(0x55d5_fe57_e000)))
        XCTAssertEqual(one("pkey_mprotect(0x1000, 4096, PROT_READ, -1) = 0")?.kind,
                       .syscall(.mprotect(addr: 0x1000, length: 4096, prot: 1), result: .value(0)))
        XCTAssertEqual(skipReason("pkey_mprotect(0x1000, 4096, PROT_READ, 1) = 0"),
                       "pkey_mprotect with a protection key is not modelled")
    }

    func testProcessCreation() {
        let events = parse("""
        10  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7fa27579da10) = 11
        10  clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7fa27579c990, parent_tid=0x7fa27579c990, exit_signal=0, stack=0x7fa274f9c000, stack_size=0x7fff80, tls=0x7fa27579c6c0} => {parent_tid=[12]}, 88) = 12
        10  clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD, stack=0x7f0000000000, stack_size=0x9000}, 88) = 13
        10  vfork() = 14
        10  fork() = 15
        10  clone(child_stack=0x7f0000000000, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM) = 16
        10  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = -1 EAGAIN (Resource temporarily unavailable)
        """)
        let kinds = events.map(\.kind)
        XCTAssertEqual(Array(kinds.prefix(6)), [.fork(childPid: 11), .thread(childPid: 12), .fork(childPid: 13),
                                                .fork(childPid: 14), .fork(childPid: 15), .thread(childPid: 16)])
        XCTAssertEqual(ReplayFixtures.skipReasons(events), ["process creation failed: EAGAIN"])
        XCTAssertTrue(events.allSatisfy { $0.pid == 10 })
    }

    func testVforkChildLinesBeforeTheParentReturns() {
        let events = parse("""
        4203  vfork( <unfinished ...>
        4206  execve("/bin/true", ["true"], 0x7ffda6e1f6c8 /* 35 vars */ <unfinished ...>
        4203  <... vfork resumed>)              = 4206
        4206  <... execve resumed>)             = 0
        """)
        assertEvents(ReplayFixtures.nonSkipped(events), [
            E(line: 2, pid: 4203, kind: .fork(childPid: 4206)),
            E(line: 4, pid: 4206, kind: .execve(path: "/bin/true")),
        ])
        XCTAssertEqual(ReplayFixtures.skipReasons(events), [
            "unfinished, reported when resumed: vfork", "unfinished, reported when resumed: execve",
            "child 4206 already reported at its first line",
        ])
    }

    func testExecve() {
        XCTAssertEqual(one(#"execve("/usr/bin/ls", ["ls"], 0x7ffd8a3c9e50 /* 20 vars */) = 0"#)?.kind, .execve(path: "/usr/bin/ls"))
        XCTAssertEqual(skipReason(#"execve("/root/.cargo/bin/bash", ["bash"], 0x7ffe729cd5a8 /* 35 vars */) = -1 ENOENT (No such file or directory)"#),
                       "execve failed: ENOENT")
        XCTAssertEqual(one(#"execveat(3, "prog", ["prog"], NULL, AT_EMPTY_PATH) = 0"#)?.kind, .execve(path: "prog"))
    }

    func testExitGroupExitedAndKilled() {
        let events = parse("""
        5  exit_group(3)                     = ?
        5  +++ exited with 3 +++
        6  +++ exited with 0 +++
        7  --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=NULL} ---
        7  +++ killed by SIGSEGV (core dumped) +++
        8  exit_group(-1) = ?
        """)
        assertEvents(events, [
            E(line: 1, pid: 5, kind: .exit(status: 3)),
            E(line: 2, pid: 5, kind: .skipped(reason: "exit already reported by the exit/exit_group call", text: "5  +++ exited with 3 +++")),
            E(line: 3, pid: 6, kind: .exit(status: 0)),
            E(line: 4, pid: 7, kind: .skipped(reason: "signal SIGSEGV",
                                              text: "7  --- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=NULL} ---")),
            E(line: 5, pid: 7, kind: .exit(status: 139)),
            E(line: 6, pid: 8, kind: .exit(status: 255)),
        ])
    }

    func testThreadsAndThreadExit() {
        let events = parse("""
        4203  clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, exit_signal=0, stack=0x7fa274f9c000, stack_size=0x7fff80} => {parent_tid=[4204]}, 88) = 4204
        4204  munmap(0x7fa275989000, 4096)      = 0
        4204  exit(0)                           = ?
        4204  +++ exited with 0 +++
        4203  clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0} => {parent_tid=[4205]}, 88) = 4205
        4203  exit_group(0) = ?
        4205  +++ exited with 0 +++
        4203  +++ exited with 0 +++
        """)
        assertEvents(ReplayFixtures.nonSkipped(events), [
            E(line: 1, pid: 4203, kind: .thread(childPid: 4204)),
            E(line: 2, pid: 4204, kind: .syscall(.munmap(addr: 0x7fa2_7598_9000, length: 4096), result: .value(0))),
            E(line: 3, pid: 4204, kind: .threadExit(status: 0)),
            E(line: 5, pid: 4203, kind: .thread(childPid: 4205)),
            E(line: 6, pid: 4203, kind: .exit(status: 0)),
            E(line: 7, pid: 4205, kind: .threadExit(status: 0)),
        ])
    }

    func testExecveFromAThreadSupersedesTheLeader() {
        let events = parse("""
        4208  clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0} <unfinished ...>
        4209  clock_nanosleep(CLOCK_REALTIME, 0, {tv_sec=0, tv_nsec=1000000}, NULL) = 0
        4208  <... clone3 resumed> => {parent_tid=[4209]}, 88) = 4209
        4209  execve("/bin/true", ["true"], 0x7ffda6e1f6c8 /* 35 vars */ <unfinished ...>
        4208  +++ superseded by execve in pid 4209 +++
        4208  <... execve resumed>)             = 0
        """)
        assertEvents(ReplayFixtures.nonSkipped(events), [
            E(line: 2, pid: 4208, kind: .thread(childPid: 4209)),
            E(line: 6, pid: 4208, kind: .execve(path: "/bin/true")),
        ])
        XCTAssertTrue(ReplayFixtures.skipReasons(events).contains("thread replaced by the execve of another thread"))
    }

    func testStderrOutputWithAttachMessagesAndUnprefixedLines() {
        let events = parse("""
        mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000
        clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLDstrace: Process 4320 attached
        , child_tidptr=0x7f425b0aea10) = 4320
        [pid  4320] munmap(0x7f0000000000, 4096) = 0
        [pid  4318] brk(NULL) = 0x1000
        [pid  4320] +++ exited with 0 +++
        munmap(0x7f0000000000, 4096) = 0
        """)
        assertEvents(ReplayFixtures.nonSkipped(events), [
            E(line: 1, kind: .syscall(.mmap(addr: 0, length: 4096, prot: 1, flags: 0x22, fd: -1, offset: 0), result: .value(0x7f00_0000_0000))),
            E(line: 3, kind: .fork(childPid: 4320)),
            E(line: 4, pid: 4320, kind: .syscall(.munmap(addr: 0x7f00_0000_0000, length: 4096), result: .value(0))),
            // The unprefixed process shows its pid: mapped to the pid-less process.
            E(line: 5, kind: .thread(childPid: 4318)),
            E(line: 5, pid: 4318, kind: .syscall(.brk(addr: 0), result: .value(0x1000))),
            E(line: 6, pid: 4320, kind: .exit(status: 0)),
            E(line: 7, pid: 4318, kind: .syscall(.munmap(addr: 0x7f00_0000_0000, length: 4096), result: .value(0))),
        ])
        XCTAssertEqual(ReplayFixtures.skipReasons(events), ["strace message inside a call; the call continues on the next line"])
    }

    func testSkippedLinesCarryReasons() {
        XCTAssertEqual(skipReason(#"4203  read(3, "\177ELF\2\1\1\3\0\0\0\0\0\0\0\0\3\0>\0\1\0\0\0\20t\2\0\0\0\0\0"..., 832) = 832"#),
                       "not a memory syscall: read")
        XCTAssertEqual(skipReason("4203  dup2(3, 10)                       = 10"), "fd duplication not modelled: dup2")
        XCTAssertEqual(skipReason("mlock(0x7f0000000000, 4096) = 0"), "memory syscall not modelled: mlock")
        XCTAssertEqual(skipReason("--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=4206} ---"), "signal SIGCHLD")
        XCTAssertEqual(skipReason("strace: Process 4319 attached"), "strace message")
        XCTAssertEqual(skipReason("4203  <... mmap resumed>) = 0x1000"), "resumed without its unfinished start: mmap")
        XCTAssertEqual(skipReason("what is this"), "unrecognised line")
        XCTAssertEqual(skipReason("munmap(0x1000, 4096"), "truncated line: no closing parenthesis")
        XCTAssertEqual(skipReason("mmap(NULL, 4096, PROT_READ"), "truncated line: no closing parenthesis")
        XCTAssertEqual(parse("\n   \n").count, 0)
    }

    /// Every line of real strace output yields an event; none is unparsable.
    func testRealFixturesAreFullyAccounted() throws {
        var files = try ReplayFixtures.files("strace").map { ($0, nil as Int?) }
        files += try ReplayFixtures.files("strace/ff").map { ($0, Int($0.pathExtension)) }
        XCTAssertEqual(files.count, 10)
        for (url, pid) in files {
            let text = try String(contentsOf: url, encoding: .utf8)
            let events = StraceParser.parse(text, defaultPid: pid)
            XCTAssertEqual(Set(events.map(\.line)), ReplayFixtures.nonBlankLines(text), url.lastPathComponent)
            let bad = ReplayFixtures.skipReasons(events).filter {
                $0.hasPrefix("cannot") || $0.hasPrefix("unrecognised") || $0.hasPrefix("truncated")
            }
            XCTAssertEqual(bad, [], url.lastPathComponent)
        }
    }

    func testFixtureOutputWithBarePids() throws {
        let events = StraceParser.parse(try ReplayFixtures.text("strace/c-f-o.txt"))
        let at = { (line: Int) in ReplayFixtures.nonSkipped(events).filter { $0.line == line }.map(\.kind) }
        XCTAssertEqual(at(31), [.syscall(.mmap(addr: 0, length: 2_097_152, prot: 3, flags: 0x22 | 0x40000 | (21 << 26), fd: -1, offset: 0),
                                         result: .error(.known(.ENOMEM), raw: -12))])
        XCTAssertEqual(at(52), [.thread(childPid: 4204)])
        XCTAssertEqual(at(65), [.threadExit(status: 0)])
        XCTAssertEqual(at(73), [.exit(status: 139)])
        XCTAssertEqual(at(77), [.fork(childPid: 4206)])
        XCTAssertEqual(at(138), [.execve(path: "/bin/true")])
        XCTAssertEqual(at(171), [.syscall(.mmap(addr: 0, length: 4096, prot: 3, flags: 0x4000_0022, fd: -1, offset: 0),
                                          result: .value(0x7fa2_7598_9000))])
        XCTAssertEqual(ReplayFixtures.nonSkipped(events).count, 87)
    }

    func testFixtureWithTimesDurationsAndFdPaths() throws {
        let events = StraceParser.parse(try ReplayFixtures.text("strace/static-f-ttt-T-y.txt"))
        let mremap = try XCTUnwrap(events.first { $0.line == 18 })
        XCTAssertEqual(mremap.pid, 18843)
        XCTAssertEqual(mremap.time ?? 0, 1_795_707_996.769245, accuracy: 1e-6)
        XCTAssertEqual(mremap.duration ?? 0, 0.000015, accuracy: 1e-12)
        XCTAssertEqual(mremap.kind, .syscall(.mremap(oldAddress: 0x7fb6_86f6_d000, oldSize: 8192, newSize: 16384, flags: 1,
                                                     newAddress: 0), result: .error(.known(.EFAULT), raw: -14)))
        XCTAssertEqual(events.first { $0.line == 22 }?.kind,
                       .syscall(.mmap(addr: 0, length: 4096, prot: 1, flags: 2, fd: 3, offset: 0), result: .value(0x7fb6_86f6_c000)))
        XCTAssertEqual(ReplayFixtures.nonSkipped(events).map(\.kind).filter {
            switch $0 { case .fork, .thread, .execve, .exit, .threadExit: true; default: false }
        }, [.execve(path: "./pstatic"), .thread(childPid: 18844), .threadExit(status: 0), .fork(childPid: 18845),
            .exit(status: 3), .fork(childPid: 18846), .execve(path: "/proc/self/exe"), .exit(status: 5), .exit(status: 0)])
    }

    func testFixtureStderrMode() throws {
        let events = StraceParser.parse(try ReplayFixtures.text("strace/c-f-stderr.txt"))
        let lifecycle = ReplayFixtures.nonSkipped(events).compactMap { e -> String? in
            switch e.kind {
            case .fork(let c): "\(e.pid ?? 0) fork \(c)"
            case .thread(let c): "\(e.pid ?? 0) thread \(c)"
            case .exit(let s): "\(e.pid ?? 0) exit \(s)"
            default: nil
            }
        }
        XCTAssertEqual(lifecycle, ["0 thread 4319", "0 thread 4318", "4318 fork 4320", "4320 exit 139", "4318 fork 4321",
                                   "4321 exit 0", "4318 fork 4322", "4322 exit 139", "4318 fork 4323", "4323 thread 4324",
                                   "4323 exit 0", "4318 exit 0"])
    }
}
