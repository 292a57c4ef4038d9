import MMCore
/// A replay fed as the input arrives: `feed` bytes in chunks of any size
/// (a socket's reads, a file's blocks), then `finish`. The raw text is never
/// held whole: complete lines are parsed and applied at once, and only the
/// current partial line (and, until the format is known, the first few
/// lines) is kept, so memory follows the simulated state, not the trace.
///
/// The format (perf script or strace) is recognised from the content: the
/// first lines are parsed by both importers and the one that understands
/// more of them wins. Every line is counted in `report.lines` by what
/// happened to it (applied, skipped with a reason, not understood with the
/// first example of each kind).
///
/// ```swift
/// let replay = TraceReplay(sim: sim, detail: .faults)
/// while let chunk = read() { replay.feed(chunk) }
/// let report = try replay.finish()   // throws when the format was not recognised
/// ```
public final class TraceReplay {
    /// A trace format the importers read.
    public enum Format: String, Sendable, CaseIterable {
        /// `perf script` text (tracepoints and, with --show-mmap-events /
        /// --show-task-events, PERF_RECORD_MMAP2/COMM/FORK/EXIT records).
        case perf
        /// strace text (-f, -ff joined, -tt, -T, -y…).
        case strace
    }

    /// How much the report says about faults.
    public enum Detail: String, Sendable {
        /// The summary agreement only.
        case summary
        /// Also one `FaultRecord` per real fault.
        case faults
    }

    /// `finish()`'s error: the input's format was not recognised (the report
    /// still counts its lines, all not understood).
    public struct FormatNotRecognised: Error, CustomStringConvertible {
        public let report: ReplayReport
        public var description: String {
            let first = report.lines.notUnderstood.values.min { $0.firstLine < $1.firstLine }
            return "input format not recognised as perf script or strace output"
                + (first.map { " (line \($0.firstLine): \($0.text.prefix(120)))" } ?? " (no lines)")
        }
    }

    /// The replayer the events go to (its `sim` is the simulation).
    public let replayer: Replayer
    private var perf: PerfScriptParser?
    private var strace: StraceParser?
    private var forced: Format?
    private var carry: [UInt8] = []
    private var lineNumber = 0
    private var probe: [[UInt8]] = []
    private var probeBytes = 0
    private var undecided = true
    private var finished = false
    private var events: [TraceEvent] = []
    /// Lines read before the format is decided (fewer if the input ends first).
    static let probeLines = 200
    static let probeMaxBytes = 1 << 20

    /// A replay into `sim`. `format`: skip recognition (the caller knows
    /// it); `rootPid`: the simulated process the first traced task maps to;
    /// `defaultPid`: the task of strace lines without a pid prefix (-ff files).
    public init(sim: Simulation, rootPid: Int? = nil, faults: ReplayFaults = .trace, format: Format? = nil,
                detail: Detail = .summary, defaultPid: Int? = nil) {
        replayer = Replayer(sim: sim, rootPid: rootPid, faults: faults)
        replayer.recordSteps = false
        replayer.recordFaults = detail == .faults
        forced = format
        if let format { choose(format, defaultPid: defaultPid) } else { strace = StraceParser(defaultPid: defaultPid) }
    }

    /// The recognised format, once known.
    public var format: Format? { undecided ? nil : (perf != nil ? .perf : .strace) }

    /// Feeds the next bytes of the input.
    public func feed(_ bytes: UnsafeRawBufferPointer) {
        guard !finished, !bytes.isEmpty else { return }
        let b = bytes.bindMemory(to: UInt8.self)
        var start = 0
        if !carry.isEmpty {
            guard let nl = b.firstIndex(of: Ch.nl) else { carry.append(contentsOf: b); return }
            carry.append(contentsOf: b[0..<nl])
            let line = carry
            carry.removeAll(keepingCapacity: true)
            line.withUnsafeBufferPointer { take($0) }
            start = nl + 1
        }
        while start < b.count {
            guard let nl = b[start...].firstIndex(of: Ch.nl) else {
                carry.append(contentsOf: b[start...])
                return
            }
            take(UnsafeBufferPointer(rebasing: b[start..<nl]))
            start = nl + 1
        }
    }

    /// Feeds bytes from any collection (Data, [UInt8], a String's utf8).
    public func feed<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if let done: Void = bytes.withContiguousStorageIfAvailable({ feed(UnsafeRawBufferPointer($0)) }) { return done }
        let copy = Array(bytes)
        copy.withUnsafeBytes { feed($0) }
    }

    /// Feeds the whole file at `path`, read in 1 MiB blocks (never whole);
    /// false if it cannot be opened.
    public func feed(contentsOf path: String) -> Bool {
        do { try TraceBundle.stream(path) { feed($0) } } catch { return false }
        return true
    }

    /// Ends the input: the last partial line, syscalls still pending, open
    /// fault windows. Returns the report, or throws when the format was
    /// not recognised.
    public func finish() throws(FormatNotRecognised) -> ReplayReport {
        if !finished {
            if !carry.isEmpty {
                let line = carry
                carry = []
                line.withUnsafeBufferPointer { take($0) }
            }
            if undecided { decide() }
            finished = true
            events.removeAll(keepingCapacity: true)
            if perf != nil { perf!.finish(into: &events) } else { strace?.finish(into: &events) }
            for e in events { replayer.applyEvent(e) }
            replayer.finish()
            replayer.report.format = format?.rawValue
        }
        if format == nil { throw FormatNotRecognised(report: replayer.report) }
        return replayer.report
    }

    // MARK: - Lines

    private func take(_ line: UnsafeBufferPointer<UInt8>) {
        lineNumber += 1
        if undecided {
            probe.append(Array(line))
            probeBytes += line.count
            if probe.count >= Self.probeLines || probeBytes >= Self.probeMaxBytes { decide() }
            return
        }
        run(line, lineNumber)
    }

    /// Parses one line and applies its events; counts the line once, by the
    /// strongest of its outcomes.
    private func run(_ line: UnsafeBufferPointer<UInt8>, _ number: Int) {
        var end = line.count
        while end > 0, Scan.isSpace(line[end - 1]) || line[end - 1] == Ch.cr { end -= 1 }
        guard end > 0 else { return }
        events.removeAll(keepingCapacity: true)
        if perf != nil { perf!.parse(line: line, number: number, into: &events) } else { strace!.parse(line: line, number: number, into: &events) }
        var outcome: LineOutcome?
        for e in events {
            let o = replayer.applyEvent(e)
            if e.line == number { outcome = outcome.map { $0.merged(o) } ?? o }
        }
        replayer.report.lines.count(outcome ?? .skipped("reported with a later line"), line: number)
    }

    /// Recognises the format from the probed lines and replays them.
    private func decide() {
        undecided = false
        if forced == nil {
            var p = PerfScriptParser(), s = StraceParser(defaultPid: strace?.defaultPid)
            var perfScore = 0, straceScore = 0, scratch: [TraceEvent] = []
            for (n, l) in probe.enumerated() {
                l.withUnsafeBufferPointer { b in
                    scratch.removeAll(keepingCapacity: true)
                    p.parse(line: b, number: n + 1, into: &scratch)
                    perfScore += Self.understood(scratch)
                    scratch.removeAll(keepingCapacity: true)
                    s.parse(line: b, number: n + 1, into: &scratch)
                    straceScore += Self.understood(scratch)
                }
            }
            if perfScore == 0 && straceScore == 0 {
                // Not recognised: count the probed lines and stop.
                for (n, l) in probe.enumerated() {
                    let text = String(decoding: l, as: UTF8.self)
                    if !text.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) {
                        replayer.report.lines.count(.notUnderstood("not perf script or strace output", text), line: n + 1)
                    }
                }
                probe = []
                perf = nil
                strace = nil
                undecided = true
                finished = true
                return
            }
            choose(perfScore > straceScore ? .perf : .strace, defaultPid: strace?.defaultPid)
        }
        let lines = probe
        probe = []
        for (n, l) in lines.enumerated() { l.withUnsafeBufferPointer { run($0, n + 1) } }
    }

    private func choose(_ f: Format, defaultPid: Int?) {
        undecided = false
        switch f {
        case .perf: perf = PerfScriptParser(); strace = nil
        case .strace: strace = StraceParser(defaultPid: defaultPid); perf = nil
        }
    }

    /// Events an importer made sense of: anything but "not understood" and
    /// the generic skips both importers give to lines of the other format.
    private static func understood(_ events: [TraceEvent]) -> Int {
        events.contains {
            if case .unrecognised = $0.kind { return false }
            if case .skipped(let why, _) = $0.kind, why == "comment" || why.hasPrefix("not a memory syscall") { return false }
            return true
        } ? 1 : 0
    }
}
