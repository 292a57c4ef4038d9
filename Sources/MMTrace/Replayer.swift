// MMTrace: what real programs did, read back into the simulation. Parsers
// for strace output (StraceParser), `perf script` text (PerfScriptParser)
// and /proc/PID/maps (MapsParser) produce `TraceEvent`s; the Replayer
// applies them to an MMCore `Simulation` and measures agreement with the
// faults and mmap_lock use the real kernel recorded; TraceBundle loads a
// capture directory made by scripts/capture.py; Comparison runs one
// workload under several kernel models side by side. Uses MMCore; no I/O
// but reading the trace files TraceBundle is given.

import MMCore
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
///
/// Tasks: every trace task id maps to a simulated process. A thread
/// (clone with CLONE_THREAD, or CLONE_VM without CLONE_VFORK) is a task of
/// its creator's thread group (`Simulation.createThread(pid:)`): its faults
/// and syscalls act on the group's one mm. A vfork child (CLONE_VM |
/// CLONE_VFORK) also runs on its parent's mm, until it execs (then it gets
/// a process and a fresh mm of its own) or exits. The process ends with its
/// last task, or at once with exit_group.
public final class Replayer {
    public let sim: Simulation
    public var faults: ReplayFaults
    /// Record a ReplayStep per event (off for benchmarks).
    public var recordSteps = true
    /// Keep every FaultResult of the replayed faults (for comparisons).
    public var collectFaults = false
    /// Keep one `FaultRecord` per real fault in `report.faultRecords`.
    public var recordFaults = false
    public private(set) var faultResults: [FaultResult] = []
    /// Asked before each event is applied (the server's memory budget):
    /// nil applies it; a reason stops the replay there, so that event and
    /// every later one are skipped (``stopped``).
    public var admit: ((TraceEvent) -> String?)?
    /// Apply at most this many events, skip the rest (a replay that was
    /// stopped, replayed again from a session's log).
    public var maxEvents: Int?
    /// Events applied so far (admitted, within ``maxEvents``).
    public private(set) var eventsApplied = 0
    /// The line and reason at which ``admit`` stopped the replay.
    public private(set) var stopped: (line: Int, reason: String)?
    /// Layouts recorded at exec (/proc/PID/maps), per trace pid, in exec
    /// order: each execve of that pid imports the next one.
    public var execLayouts: [Int: [[MapsEntry]]] = [:]
    func appendFault(_ f: FaultResult) { faultResults.append(f) }
    public internal(set) var report = ReplayReport()
    /// Trace task id → simulated pid (threads and vfork children map to
    /// the process whose mm they run on).
    var pids: [Int: Int] = [:] { didSet { lastProcess = nil } }
    /// Per simulated pid: the trace tasks running on its mm.
    var tasks: [Int: Set<Int>] = [:]
    /// Trace tasks that are vfork children still on their parent's mm.
    var vforkChildren: Set<Int> = []
    /// The last `process(for:)` answer (consecutive events mostly come from
    /// one task): no hashing per event.
    private var lastProcess: (key: Int, process: Process)?
    /// Per simulated pid: trace fd → simulated fd.
    private var fds: [Int: [Int: Int]] = [:]
    private var pendingFault: [Int: PendingFault] = [:]
    /// Whether the trace has shown any mmap_lock event (if not, lock use is not compared).
    private(set) var sawLockEvents = false
    var unknownFilesCount = 0
    /// perf opens without a name: trace fd → open flags, per simulated pid.
    var lazyOpens: [Int: [Int: UInt64]] = [:]
    /// Recorded layouts (e.g. /proc/PID/maps at exit) per trace pid, used
    /// only to name files that the trace opened without a name.
    public var pathHints: [Int: [MapsEntry]] = [:]
    /// Per trace task: the file mapping perf reported inside its mmap in
    /// progress, which names the file the mmap's fd refers to.
    var recentMapping: [Int: MapsEntry] = [:]
    /// Processes whose brk area the trace has shown (a first brk() reveals start_brk).
    var brkKnown: Set<Int> = []
    private let rootPid: Int?
    /// What the event being applied amounted to (`apply` returns it).
    private var outcome: LineOutcome?
    /// Faults that found no simulated mapping (a warning names them).
    var faultsOutsideMappings = 0
    private var warned: Set<String> = []

    private struct PendingFault {
        var record: Int?
        var line: Int
        var address: UInt64
        var simTookMmapLock: Bool
        /// mmap_lock acquisitions (read first) in the fault's window.
        var acquires: Int
        var realTookMmapLock: Bool { acquires > 0 }
    }

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
        if status == .applied {
            report.applied += 1
            outcome = .applied
        } else {
            report.skipped += 1
            if outcome == nil { outcome = .skipped(what()) }
        }
        if recordSteps { report.steps.append(ReplayStep(line: line, pid: pid, status: status, what: what())) }
    }

    /// Adds a warning once.
    func warn(_ w: String) {
        if warned.insert(w).inserted { report.warnings.append(w) }
    }

    /// The simulated process for a trace task, created on first sight. A
    /// task first seen with a known thread group (perf's pid/tid) joins it.
    func process(for tracePid: Int?, tgid: Int? = nil) -> Process? {
        let key = tracePid ?? -1
        if let last = lastProcess, last.key == key { return last.process }
        if let p = pids[key] {
            let found = sim.processes[p]
            if let found { lastProcess = (key, found) }
            return found
        }
        if let tgid, tgid != key, let group = pids[tgid], let p = sim.processes[group], p.state == .running {
            addThread(key, to: p)
            return p
        }
        let p: Process
        if pids.isEmpty, let rootPid, let existing = sim.processes[rootPid] {
            p = existing
        } else {
            p = sim.createProcess(comm: "pid\(key)")
        }
        pids[key] = p.pid
        tasks[p.pid, default: []].insert(key)
        report.processes[key] = p.pid
        return p
    }

    /// Replays events in order and returns the cumulative report.
    @discardableResult
    public func replay(_ events: [TraceEvent]) -> ReplayReport {
        for e in events { apply(e) }
        finish()
        return report
    }

    /// Closes the lock windows still open and settles the summary; call
    /// once after the last event.
    public func finish() {
        for key in pendingFault.keys.sorted() { finishFault(key) }
        if !sawLockEvents, report.realFaults > 0 {
            report.lockObserved = 0
            report.lockAgreeing = 0
            for i in report.faultRecords.indices { report.faultRecords[i].realTookMmapLock = nil }
            report.disagreements.removeAll { $0.what.contains("mmap_lock") }
            warn("the trace has no mmap_lock events: lock use was not compared (record mmap_lock:* too)")
        }
        if faultsOutsideMappings > 0 {
            warn("\(faultsOutsideMappings) real faults hit no simulated mapping: the trace does not show how those addresses were mapped (with perf, record with -d and print with --show-mmap-events)")
        }
    }

    /// Events of a task between its sys_enter_execve and the exec itself:
    /// the ELF loader's faults (perf shows them inside execve), replayed
    /// once the new layout is imported.
    private var inExec: [Int: [TraceEvent]] = [:]

    /// Applies one event and says what it amounted to.
    @discardableResult
    func applyEvent(_ e: TraceEvent) -> LineOutcome {
        if let stopped { return .skipped("replay stopped at line \(stopped.line)") }
        if let maxEvents, eventsApplied >= maxEvents { return .skipped("past max_events") }
        if let why = admit?(e) {
            stopped = (e.line, why)
            return .skipped(why)
        }
        eventsApplied += 1
        outcome = nil
        apply(e)
        let o = outcome ?? .skipped("no effect")
        outcome = nil
        return o
    }

    /// Applies one event.
    public func apply(_ e: TraceEvent) {
        let key = e.pid ?? -1
        if inExec[key] != nil {
            switch e.kind {
            case .execve, .execNewMM: break
            case let .skipped(_, text) where text.contains("sys_exit_execve"):
                // The exec failed: the buffered events ran in the old address space.
                let held = inExec.removeValue(forKey: key)!
                for h in held { apply(h) }
            default:
                inExec[key]!.append(e)
                if outcome == nil { outcome = .applied }
                return
            }
        } else if case let .skipped(_, text) = e.kind, text.contains("sys_enter_execve") {
            inExec[key] = []
        }
        switch e.kind {
        case .mmapLock, .mapping, .mappingInSyscall: break  // inside a fault (stack growth reports its new extent)
        case .exit(-1), .threadExit(-1):
            // Reported after the task left its mm: exit_mm() took mmap_lock
            // for read once, inside the last fault's window.
            if pendingFault[key] != nil { pendingFault[key]!.acquires -= 1; finishFault(key) }
        default: if pendingFault[key] != nil { finishFault(key) }
        }
        switch e.kind {
        case let .skipped(reason, _):
            step(e.line, e.pid, .skipped, reason)
        case let .unrecognised(reason, text):
            report.skipped += 1
            outcome = .notUnderstood(reason, text)
        case let .mmapLock(ev):
            sawLockEvents = true
            if let f = pendingFault[key], ev.write, !f.realTookMmapLock {
                // A fault takes mmap_lock for read first (lock_mm_and_find_vma(),
                // the anon_vma trylock); only stack expansion upgrades to write.
                // A write acquire first is an untraced syscall's (fork, mmap):
                // the fault is over.
                finishFault(key)
                outcome = .skipped("mmap_lock use outside a fault")
            } else if pendingFault[key] != nil {
                if ev.phase == .acquireReturned { pendingFault[key]!.acquires += 1 }
                outcome = .applied
            } else {
                outcome = .skipped("mmap_lock use outside a fault")
            }
        case let .thread(child):
            guard let p = process(for: e.pid, tgid: e.tgid) else { return }
            addThread(child, to: p)
            step(e.line, e.pid, .applied, "thread \(child) shares the address space")
        case let .vfork(child):
            guard let p = process(for: e.pid, tgid: e.tgid) else { return }
            pids[child] = p.pid
            tasks[p.pid, default: []].insert(child)
            vforkChildren.insert(child)
            report.processes[child] = p.pid
            step(e.line, e.pid, .applied, "vfork: \(child) runs on the parent's mm until it execs or exits")
        case let .fork(child):
            guard let p = process(for: e.pid, tgid: e.tgid), p.state == .running else { return step(e.line, e.pid, .skipped, "fork in an exited process") }
            guard let r = try? sim.syscall(pid: p.pid, .fork), r.errno == nil else {
                return step(e.line, e.pid, .skipped, "fork failed in the simulation")
            }
            let childSim = Int(r.ret)
            pids[child] = childSim
            tasks[childSim] = [child]
            report.processes[child] = childSim
            fds[childSim] = fds[p.pid]
            step(e.line, e.pid, .applied, r.strace)
        case let .execNewMM(comm):
            // The point of no return: what the task did inside execve so far used the old mm.
            for h in inExec.removeValue(forKey: key) ?? [] { apply(h) }
            guard execTask(key, tgid: e.tgid) != nil else { return }
            step(e.line, e.pid, .applied, "exec of \(comm): fresh address space")
        case let .execve(path):
            guard let p = execTask(key, tgid: e.tgid) else { return }
            step(e.line, e.pid, .applied, "execve(\"\(path)\"): fresh address space")
            let tgid = e.tgid ?? key
            if var layouts = execLayouts[tgid], !layouts.isEmpty {
                let layout = layouts.removeFirst()
                execLayouts[tgid] = layouts
                for s in importMaps(layout, into: p, loaderWrites: false) { step(e.line, e.pid, s.status, s.what) }
            }
            for h in inExec.removeValue(forKey: key) ?? [] { apply(h) }
        case let .exit(status), let .threadExit(status):
            var groupExit = false
            if case .exit = e.kind { groupExit = true }
            exitTask(key, tgid: e.tgid, line: e.line, status: status, group: groupExit)
        case let .mappingInSyscall(entry):
            if entry.kind == .file { recentMapping[key] = entry }
            step(e.line, e.pid, .skipped, "mapping reported by the syscall in progress")
        case let .mapping(entry):
            guard let p = process(for: e.pid, tgid: e.tgid), p.state == .running else { return step(e.line, e.pid, .skipped, "process exited") }
            reconcile(p, entry, line: e.line, tracePid: e.pid)
        case let .fault(address, _, write, exec, user):
            guard faults == .trace, let p = process(for: e.pid, tgid: e.tgid), p.state == .running else {
                return step(e.line, e.pid, .skipped, "fault not replayed")
            }
            fault(p, key: key, line: e.line, address: address,
                  access: write ? .write : (exec ? .exec : .read), mode: user ? .user : .kernel)
        case let .syscall(call, result):
            guard let p = process(for: e.pid, tgid: e.tgid), p.state == .running else { return step(e.line, e.pid, .skipped, "process exited") }
            syscall(p, call, result, line: e.line, tracePid: e.pid)
        }
    }

    private func fault(_ p: Process, key: Int, line: Int, address: UInt64, access: Access, mode: FaultMode) {
        report.realFaults += 1
        guard let r = try? sim.fault(pid: p.pid, address: address, access: access, mode: mode) else { return }
        if collectFaults { faultResults.append(r) }
        step(line, key, .applied, "fault \(access.rawValue) \(hex(address)) → \(r.lock?.code.rawValue ?? "no fault")")
        if r.fault && r.outcome == .handled {
            report.faultsAgreeing += 1
        } else {
            if r.fault, p.mm.vmas.find(containing: address) == nil { faultsOutsideMappings += 1 }
            report.disagreements.append(ReplayDisagreement(line: line, address: address,
                what: r.fault ? "real fault handled, simulated \(r.outcome.rawValue)" : "real fault, but the simulated PTE already allowed \(access.rawValue)"))
        }
        let compared = r.lock != nil && mode == .user
        let simTook = r.lock.map { $0.path != .vmaLock || $0.code == .VMA_OK_TRYLOCK }
        var recordIndex: Int?
        if recordFaults {
            recordIndex = report.faultRecords.count
            report.faultRecords.append(FaultRecord(line: line, tid: key == -1 ? nil : key, address: address, access: access, mode: mode,
                realTookMmapLock: nil,
                sim: .init(fault: r.fault, outcome: r.outcome.rawValue, path: r.lock?.path.rawValue,
                           code: r.lock?.code.rawValue, tookMmapLock: compared ? simTook : nil)))
        }
        guard compared, let simTook else { return }
        pendingFault[key] = PendingFault(record: recordIndex, line: line, address: address, simTookMmapLock: simTook, acquires: 0)
    }

    private func finishFault(_ key: Int) {
        guard let f = pendingFault.removeValue(forKey: key) else { return }
        if let i = f.record { report.faultRecords[i].realTookMmapLock = f.realTookMmapLock }
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
