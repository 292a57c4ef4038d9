// MMTrace: what real programs did, read back into the simulation. Parsers
// for strace output (StraceParser), `perf script` text (PerfScriptParser)
// and /proc/PID/maps (MapsParser) produce `TraceEvent`s; the Replayer
// applies them to an MMCore `Simulation` and measures agreement with the
// faults and mmap_lock use the real kernel recorded; TraceBundle loads a
// capture directory made by scripts/capture.py; Comparison runs one
// workload under several kernel models side by side. Uses MMCore; no I/O
// but reading the trace files TraceBundle is given.

import MMCore
/// What a replay did with one trace event.
public struct ReplayStep: Sendable, Equatable {
    public enum Status: String, Sendable { case applied, skipped }
    public var line: Int
    public var pid: Int?
    public var status: Status
    /// What was applied (strace spelling) or why the line was skipped.
    public var what: String
}

/// A disagreement between the real kernel (the trace) and the simulation.
public struct ReplayDisagreement: Sendable, Equatable {
    public var line: Int
    public var address: UInt64
    public var what: String
}

/// The outcome of replaying a trace into a simulation.
public struct ReplayReport: Sendable {
    public var steps: [ReplayStep] = []
    public var applied = 0
    public var skipped = 0
    /// Faults the trace shows the real kernel taking.
    public var realFaults = 0
    /// …of which the simulation also took (no PTE or one that forbids the
    /// access) and handled without a signal.
    public var faultsAgreeing = 0
    /// Faults whose real mmap_lock use is known from mmap_lock tracepoints.
    public var lockObserved = 0
    /// …of which the simulation took mmap_lock exactly when the real one did.
    public var lockAgreeing = 0
    public var disagreements: [ReplayDisagreement] = []
    /// Trace pid → simulated pid.
    public var processes: [Int: Int] = [:]
    /// A census of the VMAs processes had when they exited (the thread's
    /// "how often is a region mapped and never faulted?").
    public var census = VMACensus()
    /// The simulated /proc/PID/maps of each trace process just before it exited.
    public var exitMaps: [Int: [MapsEntry]] = [:]

    /// Fraction of real faults the simulation reproduced (1 when none).
    public var faultAgreement: Double { realFaults == 0 ? 1 : Double(faultsAgreeing) / Double(realFaults) }
    /// Fraction of observed faults whose mmap_lock use matched (1 when none).
    public var lockAgreement: Double { lockObserved == 0 ? 1 : Double(lockAgreeing) / Double(lockObserved) }
}

/// VMAs counted at process exit, by kind and by what faulted them.
public struct VMACensus: Sendable, Equatable {
    public var vmas = 0
    public var neverFaulted = 0
    public var readFaultedOnly = 0
    public var written = 0
    /// Private writable anonymous VMAs (the ones eager_anon_vma would prepare).
    public var anonWritable = 0
    public var anonWritableNeverFaulted = 0
    /// Private file VMAs that got an anon_vma (a CoW write happened).
    public var filePrivateWithAnonVMA = 0
    public var filePrivate = 0
    /// VMAs with an anon_vma.
    public var withAnonVMA = 0

    public init() {}

    mutating func add(_ p: Process) {
        for v in p.mm.vmas {
            vmas += 1
            if !v.faultedRead && !v.faultedWrite { neverFaulted += 1 } else if !v.faultedWrite { readFaultedOnly += 1 } else { written += 1 }
            if v.anonVMA != nil { withAnonVMA += 1 }
            let priv = !v.flags.contains(.MAYSHARE)
            if v.isAnonymous && priv && v.flags.contains(.WRITE) {
                anonWritable += 1
                if !v.faultedRead && !v.faultedWrite { anonWritableNeverFaulted += 1 }
            }
            if v.file != nil && priv && v.kind == .file {
                filePrivate += 1
                if v.anonVMA != nil { filePrivateWithAnonVMA += 1 }
            }
        }
    }
}

/// How a replay treats faults.
public enum ReplayFaults: String, Sendable {
    /// Only the faults the trace records (perf).
    case trace
    /// No faults.
    case none
    /// After each successful mmap/brk growth, touch every new page once
    /// (write if the mapping is writable, else read), at most 256 pages.
    case touch
}

/// Applies trace events (strace, perf script) and /proc/PID/maps layouts to
/// a Simulation. Mappings are replayed at the addresses the real kernel
/// chose (MAP_FIXED), so that placement differences cannot make the
/// simulated layout drift from the traced one.
public final class Replayer {
    public let sim: Simulation
    public var faults: ReplayFaults
    /// Record a ReplayStep per event (off for benchmarks).
    public var recordSteps = true
    /// Keep every FaultResult of the replayed faults (for comparisons).
    public var collectFaults = false
    public private(set) var faultResults: [FaultResult] = []
    /// Layouts recorded at exec (/proc/PID/maps), per trace pid, in exec
    /// order: each execve of that pid imports the next one.
    public var execLayouts: [Int: [[MapsEntry]]] = [:]
    func appendFault(_ f: FaultResult) { faultResults.append(f) }
    public private(set) var report = ReplayReport()
    /// Trace task id → simulated pid (threads map to their process).
    private var pids: [Int: Int] = [:] { didSet { lastProcess = nil } }
    /// The last `process(for:)` answer (consecutive events mostly come from
    /// one task): no hashing per event.
    private var lastProcess: (key: Int, process: Process)?
    /// Per simulated pid: trace fd → simulated fd.
    private var fds: [Int: [Int: Int]] = [:]
    private var pendingFault: [Int: (line: Int, address: UInt64, simTookMmapLock: Bool, realTookMmapLock: Bool)] = [:]
    var unknownFilesCount = 0
    /// perf opens without a name: trace fd → open flags, per simulated pid.
    var lazyOpens: [Int: [Int: UInt64]] = [:]
    /// Recorded layouts (e.g. /proc/PID/maps at exit) per trace pid, used
    /// only to name files that the trace opened without a name.
    public var pathHints: [Int: [MapsEntry]] = [:]
    /// Processes whose brk area the trace has shown (a first brk() reveals start_brk).
    var brkKnown: Set<Int> = []
    private let rootPid: Int?

    func fdTable(_ pid: Int) -> [Int: Int] { fds[pid] ?? [:] }
    func setFdTable(_ pid: Int, _ t: [Int: Int]) { fds[pid] = t }

    /// `rootPid`: the simulated process the trace's first pid maps to (a new
    /// one is created when nil).
    public init(sim: Simulation, rootPid: Int? = nil, faults: ReplayFaults = .trace) {
        self.sim = sim
        self.rootPid = rootPid
        self.faults = faults
    }

    func step(_ line: Int, _ pid: Int?, _ status: ReplayStep.Status, _ what: @autoclosure () -> String) {
        if status == .applied { report.applied += 1 } else { report.skipped += 1 }
        if recordSteps { report.steps.append(ReplayStep(line: line, pid: pid, status: status, what: what())) }
    }

    /// The simulated process for a trace task, created on first sight.
    private func process(for tracePid: Int?) -> Process? {
        let key = tracePid ?? -1
        if let last = lastProcess, last.key == key { return last.process }
        if let p = pids[key] {
            let found = sim.processes[p]
            if let found { lastProcess = (key, found) }
            return found
        }
        let p: Process
        if pids.isEmpty, let rootPid, let existing = sim.processes[rootPid] {
            p = existing
        } else {
            p = sim.createProcess(comm: "pid\(key)")
        }
        pids[key] = p.pid
        report.processes[key] = p.pid
        return p
    }

    /// Replays events in order and returns the cumulative report.
    @discardableResult
    public func replay(_ events: [TraceEvent]) -> ReplayReport {
        for e in events { apply(e) }
        for key in Array(pendingFault.keys) { finishFault(key) }
        return report
    }

    /// Events of a task between its sys_enter_execve and the exec itself:
    /// the ELF loader's faults (perf shows them inside execve), replayed
    /// once the new layout is imported.
    private var inExec: [Int: [TraceEvent]] = [:]

    /// Applies one event.
    public func apply(_ e: TraceEvent) {
        let key = e.pid ?? -1
        if inExec[key] != nil {
            if case .execve = e.kind {} else if case let .skipped(_, text) = e.kind, text.contains("sys_exit_execve") {
                // The exec failed: the buffered events ran in the old address space.
                let held = inExec.removeValue(forKey: key)!
                for h in held { apply(h) }
            } else {
                inExec[key]!.append(e)
                return
            }
        } else if case let .skipped(_, text) = e.kind, text.contains("sys_enter_execve") {
            inExec[key] = []
        }
        if case .mmapLock = e.kind {} else if pendingFault[key] != nil { finishFault(key) }
        switch e.kind {
        case let .skipped(reason, _):
            step(e.line, e.pid, .skipped, reason)
        case let .mmapLock(ev):
            if pendingFault[key] != nil, ev.phase != .released { pendingFault[key]!.realTookMmapLock = true }
        case let .thread(child):
            if let p = process(for: e.pid) { pids[child] = p.pid; report.processes[child] = p.pid }
            step(e.line, e.pid, .applied, "thread \(child) shares the address space")
        case let .fork(child):
            guard let p = process(for: e.pid), p.state == .running else { return step(e.line, e.pid, .skipped, "fork in an exited process") }
            guard let r = try? sim.syscall(pid: p.pid, .fork), r.errno == nil else {
                return step(e.line, e.pid, .skipped, "fork failed in the simulation")
            }
            let childSim = Int(r.ret)
            pids[child] = childSim
            report.processes[child] = childSim
            fds[childSim] = fds[p.pid]
            step(e.line, e.pid, .applied, r.strace)
        case let .execve(path):
            guard let p = process(for: e.pid) else { return }
            exec(p)
            step(e.line, e.pid, .applied, "execve(\"\(path)\"): fresh address space")
            let tgid = e.tgid ?? key
            if var layouts = execLayouts[tgid], !layouts.isEmpty {
                let layout = layouts.removeFirst()
                execLayouts[tgid] = layouts
                for s in importMaps(layout, into: p, loaderWrites: false) { step(e.line, e.pid, s.status, s.what) }
            }
            for h in inExec.removeValue(forKey: key) ?? [] { apply(h) }
        case let .exit(status), let .threadExit(status):
            if case .threadExit = e.kind, pids.values.filter({ $0 == pids[key] }).count > 1 {
                return step(e.line, e.pid, .applied, "thread exit")
            }
            guard let p = process(for: e.pid), p.state == .running else { return step(e.line, e.pid, .skipped, "already exited") }
            report.exitMaps[e.tgid ?? key] = p.mm.vmas.map { v in
                MapsEntry(start: v.start, end: v.end, read: v.flags.contains(.READ), write: v.flags.contains(.WRITE),
                          exec: v.flags.contains(.EXEC), shared: v.flags.contains(.MAYSHARE),
                          offset: v.file == nil ? 0 : v.pgoff << Linux.PAGE_SHIFT, devMajor: 0, devMinor: 0, inode: 0,
                          path: ProcMaps.name(v, p.mm) ?? "", deleted: false, kind: .anonymous)
            }
            report.census.add(p)
            let r = try? sim.syscall(pid: p.pid, .exit(status: status))
            step(e.line, e.pid, .applied, r?.strace ?? "exit")
        case let .fault(address, _, write, exec, user):
            guard faults == .trace, let p = process(for: e.pid), p.state == .running else {
                return step(e.line, e.pid, .skipped, "fault not replayed")
            }
            fault(p, key: key, line: e.line, address: address,
                  access: write ? .write : (exec ? .exec : .read), mode: user ? .user : .kernel)
        case let .syscall(call, result):
            guard let p = process(for: e.pid), p.state == .running else { return step(e.line, e.pid, .skipped, "process exited") }
            syscall(p, call, result, line: e.line, tracePid: e.pid)
        }
    }

    private func fault(_ p: Process, key: Int, line: Int, address: UInt64, access: Access, mode: FaultMode) {
        report.realFaults += 1
        guard let r = try? sim.fault(pid: p.pid, address: address, access: access, mode: mode) else { return }
        if collectFaults { faultResults.append(r) }
        step(line, p.pid, .applied, "fault \(access.rawValue) \(hex(address)) → \(r.lock?.code.rawValue ?? "no fault")")
        if r.fault && r.outcome == .handled {
            report.faultsAgreeing += 1
        } else {
            report.disagreements.append(ReplayDisagreement(line: line, address: address,
                what: r.fault ? "real fault handled, simulated \(r.outcome.rawValue)" : "real fault, but the simulated PTE already allowed \(access.rawValue)"))
        }
        guard let lock = r.lock, mode == .user else { return }
        let simTook = lock.path != .vmaLock || lock.code == .VMA_OK_TRYLOCK
        pendingFault[key] = (line, address, simTook, false)
    }

    private func finishFault(_ key: Int) {
        guard let f = pendingFault.removeValue(forKey: key) else { return }
        report.lockObserved += 1
        if f.simTookMmapLock == f.realTookMmapLock {
            report.lockAgreeing += 1
        } else {
            report.disagreements.append(ReplayDisagreement(line: f.line, address: f.address,
                what: "real fault \(f.realTookMmapLock ? "took" : "did not take") mmap_lock; simulated one \(f.simTookMmapLock ? "did" : "did not")"))
        }
    }

    /// execve(): the old address space is torn down and a fresh one begins.
    func exec(_ p: Process) {
        _ = try? sim.syscall(pid: p.pid, .munmap(addr: 0, length: p.mm.taskSize))
        p.mm.startBrk = sim.layout.startBrk
        p.mm.brk = sim.layout.startBrk
        brkKnown.remove(p.pid)
    }
}
