import XCTest
import MMCore
@testable import MMServer
@testable import MMHTTP

/// The byte writers of the hot routes (FaultJSON, the summary results,
/// JSONWriter's number writers) produce exactly the bytes of encoding the
/// JSONValue trees of DTO, for faults and syscalls of every kind; and a
/// batch recorded at once leaves the same SSE history as one by one.
final class OpResultJSONTests: XCTestCase {
    let rw = Linux.PROT_READ | Linux.PROT_WRITE
    let anonFixed = Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED

    /// Faults and syscalls over anonymous, file, shared, read-only and
    /// forked mappings, with and without tracing and injected conditions.
    func sampleResults(tracing: Bool) throws -> ([FaultResult], [SyscallResult]) {
        let sim = Simulation(model: .v6_18)
        sim.tracer.enabled = tracing
        let p = sim.createProcess(comm: "t")
        var faults: [FaultResult] = []
        var calls: [SyscallResult] = []
        func call(_ c: Syscall) throws -> SyscallResult {
            let r = try sim.syscall(pid: p.pid, c)
            calls.append(r)
            return r
        }
        func fault(_ pid: Int, _ a: UInt64, _ access: Access, _ mode: FaultMode = .user,
                   _ inject: FaultInjection = FaultInjection()) throws {
            faults.append(try sim.fault(pid: pid, address: a, access: access, mode: mode, inject: inject))
        }
        let a: UInt64 = 0x7f00_0000_0000
        _ = try call(.mmap(addr: a, length: 0x4000, prot: rw, flags: anonFixed, fd: -1, offset: 0))
        try fault(p.pid, a, .write)
        try fault(p.pid, a, .read)                      // present: no fault
        try fault(p.pid, a + 0x1000, .read)             // zero page
        try fault(p.pid, a + 0x1000, .write)            // write after zero page
        try fault(p.pid, a + 0x1000, .exec)             // exec on non-exec: SIGSEGV
        try fault(p.pid, 0x1000, .read)                 // no VMA: SEGV_MAPERR
        try fault(p.pid, a + 0x2000, .exec)             // zero page, then a protection fault
        try fault(p.pid, a + 0x2000, .write, .kernel)
        try fault(p.pid, a + 0x3000, .write, .user, FaultInjection(mmapLockContended: true, vmaWriteLocked: true))
        // A neighbour whose anon_vma is reused.
        _ = try call(.mmap(addr: a + 0x4000, length: 0x2000, prot: rw, flags: anonFixed, fd: -1, offset: 0))
        _ = try call(.mprotect(addr: a + 0x4000, length: 0x1000, prot: Linux.PROT_READ))
        try fault(p.pid, a + 0x5000, .write)
        try fault(p.pid, a + 0x4000, .write)            // read-only: SEGV_ACCERR
        // An exec neighbour: not merged, but its anon_vma is reused from prev.
        _ = try call(.mmap(addr: a + 0x6000, length: 0x1000, prot: rw | Linux.PROT_EXEC, flags: anonFixed, fd: -1, offset: 0))
        try fault(p.pid, a + 0x6000, .write)
        // A file mapping, private and shared, with a page cache miss.
        _ = try sim.createFile(path: "/data \"x\"\n", size: 0x10000)
        let fd = try call(.open(path: "/data \"x\"\n", flags: Linux.O_RDWR)).ret
        let f = UInt64(bitPattern: try call(.mmap(addr: 0, length: 0x8000, prot: rw | Linux.PROT_EXEC,
                                                  flags: Linux.MAP_PRIVATE, fd: Int(fd), offset: 0)).ret)
        try fault(p.pid, f, .read, .user, FaultInjection(pageCacheMiss: true))
        try fault(p.pid, f + 0x1000, .write)
        try fault(p.pid, f + 0x2000, .exec)
        let sh = UInt64(bitPattern: try call(.mmap(addr: 0, length: 0x4000, prot: rw, flags: Linux.MAP_SHARED,
                                                   fd: Int(fd), offset: 0x4000)).ret)
        try fault(p.pid, sh, .write)
        _ = try call(.mmap(addr: 0, length: 0x3000, prot: rw,
                           flags: Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS | Linux.MAP_POPULATE, fd: -1, offset: 0))
        _ = try call(.mmap(addr: 0, length: 0x1000, prot: rw, flags: 0xdead_0000, fd: -1, offset: 0))  // EINVAL
        // CoW after fork.
        let child = Int(try call(.fork).ret)
        try fault(child, a, .write)
        try fault(p.pid, a, .write)
        _ = try call(.munmap(addr: a, length: 0x6000))
        _ = try call(.brk(addr: 0))
        return (faults, calls)
    }

    func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

    func testFaultAndSyscallWritersMatchTheTrees() throws {
        for tracing in [true, false] {
            let (faults, calls) = try sampleResults(tracing: tracing)
            XCTAssertGreaterThan(faults.count, 15)
            if tracing {  // the sample reaches every part of the response
                XCTAssertTrue(faults.contains { $0.folio?.copiedFrom != nil })
                XCTAssertTrue(faults.contains { !$0.anonVMA.candidates.isEmpty && $0.anonVMA.fromSide != nil })
                XCTAssertTrue(faults.contains { $0.vma?.fileID != nil })
                XCTAssertTrue(faults.contains { $0.lock?.steps.contains { $0.reason != nil } == true })
                XCTAssertTrue(faults.contains { $0.siCode != nil })
                XCTAssertTrue(faults.contains { !$0.secondFault.isEmpty })
            }
            for r in faults {
                XCTAssertEqual(text(OpResult.fault(r).encoded), text(JSONOutput.encode(DTO.fault(r, summary: false))))
                XCTAssertEqual(OpResult.fault(r).json, DTO.fault(r, summary: false))
                let s = OpResult.faultSummary(FaultSummary(r))
                XCTAssertEqual(text(s.encoded), text(JSONOutput.encode(DTO.fault(r, summary: true))))
                XCTAssertEqual(text(s.encoded), text(JSONOutput.encode(s.json)))
            }
            for r in calls {
                let s = OpResult.syscallSummary(SyscallSummary(r))
                XCTAssertEqual(text(s.encoded), text(JSONOutput.encode(DTO.syscall(r, summary: true))))
                XCTAssertEqual(text(OpResult.syscall(r).encoded), text(JSONOutput.encode(DTO.syscall(r, summary: false))))
            }
        }
    }

    func testEveryFaultSummaryIsWrittenLikeItsTree() {
        let outcomes: [FaultResult.Outcome] = [.handled, .SIGSEGV, .SIGBUS]
        let paths: [LockPath?] = [nil, .vmaLock, .mmapLock, .vmaLockThenMmapLock]
        for fault in [true, false] {
            for outcome in outcomes {
                for code in [nil] + LockCode.allCases.map(Optional.some) {
                    for path in paths {
                        let s = FaultSummary(fault: fault, outcome: outcome, code: code, path: path)
                        XCTAssertEqual(text(OpResult.faultSummary(s).encoded), text(JSONOutput.encode(s.json)))
                    }
                }
            }
        }
    }

    func testBufferWritersMatchStringFormatting() {
        for v: Int64 in [0, 1, 9, 10, -1, -9, -10, 12345, 99, 100, Int64.max, Int64.min, 1 << 40, -(1 << 40)] {
            var out = JSONBuffer(capacity: 1)
            out.int(v)
            let got = text(out.bytes())
            XCTAssertEqual(got, String(v))
        }
        for u: UInt64 in [0, 1, 0xf, 0x10, 0xff, 0x100, 0x7f00_0000_0000, UInt64.max] {
            var out = JSONBuffer(capacity: 1)
            out.address(u)
            let got = text(out.bytes())
            XCTAssertEqual(got, "\"0x\(String(u, radix: 16))\"")
        }
        var out = JSONBuffer(capacity: 1)  // grows from the minimum, many times
        var expected: [UInt8] = []
        for k in 0..<500 {
            let s = "k\(k) \"q\" \\ \n\u{01}é"
            out.string(s)
            JSONWriter.writeString(s, into: &expected)
        }
        let got = text(out.bytes())
        XCTAssertEqual(got, text(expected))
    }

    func testHexAddressFastPathAgreesWithTheGeneralParse() throws {
        for s in ["0x0", "0X1F", "0x7f0000000000", "0xffffffffffffffff", "0x1ffffffffffffffff", "0x", "0xg", "0x+1",
                  "4096", "null", "NULL", "0x00000000000000001"] {
            let a = try Args(.object([("a", .string(s))]))
            let fast = Args.hexAddress(s)
            let general: UInt64? = {
                let t = s.lowercased()
                if t == "null" { return 0 }
                if t.hasPrefix("0x"), let n = UInt64(t.dropFirst(2), radix: 16) { return n }
                return UInt64(t)
            }()
            if let fast { XCTAssertEqual(fast, general, s) }
            XCTAssertEqual(try? a.address("a"), general, s)
        }
    }

    func testRecordingABatchKeepsTheSameHistoryAsOneByOne() {
        let h = Session.eventHistory
        for total in [5, h, 2 * h, 2 * h + 1, 3 * h + 7, 5 * h + 1] {
            let one = Session(id: "a", name: nil, model: .v6_18, options: ModelOptions(), limits: Limits(), now: 0)
            let batched = Session(id: "b", name: nil, model: .v6_18, options: ModelOptions(), limits: Limits(), now: 0)
            let op = Op.process(comm: "x")
            var pending: [OpResult] = []
            for k in 0..<total {
                let r = OpResult.json(.int(Int64(k)))
                one.record(op: op, result: r)
                pending.append(r)
                if pending.count == 777 || k == total - 1 {
                    batched.record(ops: Array(repeating: op, count: pending.count), results: pending)
                    pending = []
                }
            }
            let a = one.takeEvents(from: 0, max: .max, waker: HTTPWaker {})!
            let b = batched.takeEvents(from: 0, max: .max, waker: HTTPWaker {})!
            XCTAssertEqual(a.next, b.next)
            XCTAssertEqual(a.payloads, b.payloads, "total \(total)")
            // Exactly the newest `eventHistory` events are kept, oldest first.
            XCTAssertEqual(a.payloads.count, min(total, h), "total \(total)")
            let first = String(decoding: a.payloads.first ?? [], as: UTF8.self)
            XCTAssertTrue(first.hasPrefix(#"{"seq":\#(max(0, total - h) + 1),"#), first)
            XCTAssertTrue(first.hasSuffix(#""result":\#(max(0, total - h))}"#), first)
            XCTAssertEqual(one.log.count, batched.log.count)
        }
    }
}
