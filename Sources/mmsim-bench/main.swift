import Foundation
import MMCore
import MMTrace

// mmsim-bench: in-process benchmarks of the simulation core and of the API
// (issue targets in parentheses). Run with `scripts/bench.sh` (release
// build); `mmsim-bench app [fault|fault-new|batch]` runs only the API benchmarks
// (AppBench.swift), `mmsim-bench explore` only the exploration ones (ExploreBench.swift).

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func rssKiB() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
    return 0
}

nonisolated(unsafe) var rows: [(String, String, String)] = []
func record(_ name: String, _ value: String, _ target: String) {
    rows.append((name, value, target))
    FileHandle.standardError.write(Data("\(name): \(value) (target \(target))\n".utf8))
}

/// Best of `rounds` timings of `n` iterations of `body`, in ns per iteration.
func measure(_ n: Int, rounds: Int = 5, _ body: (Int) -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<rounds {
        let t0 = now()
        for i in 0..<n { body(i) }
        best = min(best, (now() - t0) / Double(n) * 1e9)
    }
    return best
}

let base: UInt64 = 0x1000_0000_0000
let page = Linux.PAGE_SIZE
let rw = Linux.PROT_READ | Linux.PROT_WRITE
let anonFixed = Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED

/// A process with `count` one-page anonymous VMAs two pages apart (they never merge).
func populated(_ count: Int, model: KernelModel = .v6_18) -> (Simulation, Int) {
    let sim = Simulation(model: model, config: SimulationConfig(tracing: false))
    let p = sim.createProcess()
    for i in 0..<count {
        _ = try! sim.syscall(pid: p.pid, .mmap(addr: base + UInt64(i) * 2 * page, length: page, prot: rw,
                                               flags: anonFixed, fd: -1, offset: 0))
    }
    return (sim, p.pid)
}

let onlyApp = CommandLine.arguments.dropFirst().first == "app"

/// Prints the markdown table of everything recorded.
func printTable() {
    let date = ISO8601DateFormatter().string(from: Date())
    var cpu = "unknown CPU"
    if let s = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
       let line = s.split(separator: "\n").first(where: { $0.hasPrefix("model name") }) {
        cpu = line.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? cpu
    }
    print("Measured \(date) on \(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu), Linux \(ProcessInfo.processInfo.operatingSystemVersionString); release build.\n")
    print("| benchmark | result | target |\n| --- | --- | --- |")
    for (n, v, t) in rows { print("| \(n) | \(v) | \(t) |") }
}

if CommandLine.arguments.dropFirst().first == "explore" {
    exploreBenchmarks()
    printTable()
    exit(0)
}

if onlyApp {
    appBenchmarks(only: CommandLine.arguments.dropFirst(2).first)
    printTable()
    exit(0)
}

// 0. Memory (first, before other benchmarks leave freed heap behind): 10,000 VMAs and 100,000 resident pages.
do {
    let before = rssKiB()
    let (sim, pid) = populated(10_000)
    let big = base + 0x4000_0000
    _ = try! sim.syscall(pid: pid, .mmap(addr: big, length: 100_000 * page, prot: rw, flags: anonFixed, fd: -1, offset: 0))
    for i in 0..<100_000 { _ = try! sim.fault(pid: pid, address: big + UInt64(i) * page, access: .write) }
    let after = rssKiB()
    record("memory, 10,000 VMAs + 100,000 resident pages", String(format: "%.1f MiB", Double(after - before) / 1024), "≤ 64 MiB")
    withExtendedLifetime(sim) {}
}

// 1. VMA lookup with 10,000 VMAs.
do {
    let (sim, pid) = populated(10_000)
    let mm = sim.processes[pid]!.mm
    var rng = SystemRandomNumberGenerator()
    let addrs = (0..<4096).map { _ in base + UInt64.random(in: 0..<20_000, using: &rng) * page }
    var hits = 0
    let ns = measure(1_000_000) { i in if mm.vmas.find(containing: addrs[i & 4095]) != nil { hits += 1 } }
    record("VMA lookup (10,000 VMAs)", String(format: "%.1f ns", ns), "≤ 100 ns")
    precondition(hits > 0)
}

// 2. mmap + munmap with 10,000 VMAs (hint-less top-down placement, then MAP_FIXED).
do {
    let (sim, pid) = populated(10_000)
    let ns = measure(100_000) { _ in
        let r = try! sim.syscall(pid: pid, .mmap(addr: 0, length: page, prot: rw, flags: Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS, fd: -1, offset: 0))
        _ = try! sim.syscall(pid: pid, .munmap(addr: UInt64(bitPattern: r.ret), length: page))
    }
    record("mmap+munmap, hint-less (10,000 VMAs)", String(format: "%.0f ns", ns), "≤ 1 µs")
    let far = base + 0x1000_0000
    let ns2 = measure(100_000) { _ in
        _ = try! sim.syscall(pid: pid, .mmap(addr: far, length: page, prot: rw, flags: anonFixed, fd: -1, offset: 0))
        _ = try! sim.syscall(pid: pid, .munmap(addr: far, length: page))
    }
    record("mmap+munmap, MAP_FIXED (10,000 VMAs)", String(format: "%.0f ns", ns2), "≤ 1 µs")
}

// 3. mprotect split + merge with 10,000 VMAs.
do {
    let (sim, pid) = populated(10_000)
    let v = base + 0x2000_0000
    _ = try! sim.syscall(pid: pid, .mmap(addr: v, length: 3 * page, prot: rw, flags: anonFixed, fd: -1, offset: 0))
    let before = sim.processes[pid]!.mm.mapCount
    let ns = measure(100_000) { _ in
        _ = try! sim.syscall(pid: pid, .mprotect(addr: v + page, length: page, prot: Linux.PROT_READ))
        _ = try! sim.syscall(pid: pid, .mprotect(addr: v + page, length: page, prot: rw))
    }
    precondition(sim.processes[pid]!.mm.mapCount == before, "split+merge must restore one VMA")
    record("mprotect split+merge (10,000 VMAs)", String(format: "%.0f ns", ns), "≤ 2 µs")
}

// 4. Faults with 10,000 VMAs present: anonymous write, read (zero page), CoW.
// A fault changes its page, so each round faults its own fresh range of n
// pages (best of `rounds`, like the other benchmarks).
do {
    let (sim, pid) = populated(10_000)
    let big = base + 0x4000_0000
    let n = 200_000, rounds = 3
    _ = try! sim.syscall(pid: pid, .mmap(addr: big, length: UInt64(2 * rounds * n) * page, prot: rw, flags: anonFixed, fd: -1, offset: 0))
    /// Best of `rounds` timings; round `r` faults pages [first + r·n, first + (r+1)·n).
    func faults(_ pid: Int, from first: Int, _ access: Access) -> Double {
        (0..<rounds).map { r in
            measure(n, rounds: 1) { i in
                _ = try! sim.fault(pid: pid, address: big + UInt64(first + r * n + i) * page, access: access)
            }
        }.min()!
    }
    let w = faults(pid, from: 0, .write)
    record("fault: anonymous write, new page (10,000 VMAs)", String(format: "%.0f ns", w), "≤ 300 ns")
    let r = faults(pid, from: rounds * n, .read)
    record("fault: anonymous read, zero page (10,000 VMAs)", String(format: "%.0f ns", r), "≤ 300 ns")
    let child = Int(try! sim.syscall(pid: pid, .fork).ret)
    let c = faults(child, from: 0, .write)
    record("fault: CoW write after fork (10,000 VMAs)", String(format: "%.0f ns", c), "≤ 300 ns")
}

// 5. fork of a process with 20,000 VMAs (half of them faulted).
do {
    let (sim, pid) = populated(20_000)
    for i in stride(from: 0, to: 20_000, by: 2) { _ = try! sim.fault(pid: pid, address: base + UInt64(i) * 2 * page, access: .write) }
    var best = Double.infinity
    for _ in 0..<5 {
        let t0 = now()
        let child = Int(try! sim.syscall(pid: pid, .fork).ret)
        best = min(best, now() - t0)
        _ = try! sim.syscall(pid: child, .exit(status: 0))
    }
    record("fork, 20,000 VMAs (10,000 with pages)", String(format: "%.2f ms", best * 1e3), "≤ 10 ms")
}

// 7. Replay speed: a synthetic strace of mmap / fault-free mprotect / munmap.
do {
    var text = ""
    let n = 100_000
    for i in 0..<n / 3 {
        let a = 0x7f00_0000_0000 + UInt64(i % 512) * 0x10000
        text += "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x\(String(a, radix: 16))\n"
        text += "mprotect(0x\(String(a, radix: 16)), 4096, PROT_READ) = 0\n"
        text += "munmap(0x\(String(a, radix: 16)), 8192) = 0\n"
    }
    var best = Double.infinity
    var events = 0
    for _ in 0..<3 {
        let t0 = now()
        let ev = StraceParser.parse(text)
        let sim = Simulation(config: SimulationConfig(tracing: false))
        let r = Replayer(sim: sim)
        r.recordSteps = false
        r.replay(ev)
        best = min(best, now() - t0)
        events = ev.count
    }
    record("replay: parse + apply strace events", String(format: "%.2f M events/s", Double(events) / best / 1e6), "≥ 1 M events/s")
}

// 8. Exploration of the concurrency scenarios (ExploreBench.swift).
exploreBenchmarks()

// 9. The API in-process (AppBench.swift).
appBenchmarks()

printTable()
