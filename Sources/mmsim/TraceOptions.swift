import ArgumentParser
import Foundation
import MMCore
import MMServer
import MMTrace
import MMHTTP

/// What `compare` and `replay` share: the trace to load, the thread's
/// options, and which faults to replay.
struct TraceOptions: ParsableArguments {
    @Argument(help: "A perf script or strace file, or a directory made by scripts/capture.py.")
    var trace: String

    @Option(name: .customLong("option"),
            help: ArgumentHelp("A model option to add (repeatable).", valueName: Self.optionNames.joined(separator: "|")))
    var options: [String] = []

    @Option(help: ArgumentHelp("Faults to replay: the trace's own (perf), a touch of each new page, or none (default: trace for perf, touch for strace).",
                               valueName: "trace|touch|none"))
    var faults: String?

    /// The thread's "what if" options (ModelOptions), by their API names.
    /// The model options' names, from MMCore (`ModelOptions.switches`): written once.
    static let optionNames = ModelOptions.switches.map(\.name)

    /// The options named by `--option`, as a value.
    var modelOptions: ModelOptions {
        var o = ModelOptions()
        for s in ModelOptions.switches where options.contains(s.name) { o[keyPath: s.keyPath] = true }
        return o
    }

    func validate() throws {
        for o in options where !Self.optionNames.contains(o) {
            throw ValidationError("--option takes \(Self.optionNames.joined(separator: " or ")), not '\(o)'")
        }
        if let faults, ReplayFaults(rawValue: faults) == nil {
            throw ValidationError("--faults takes trace, touch or none, not '\(faults)'")
        }
        guard FileManager.default.fileExists(atPath: trace) else { throw ValidationError("no such trace: \(trace)") }
    }

    /// Loads the trace; one that cannot be read or parsed is reported on stderr (exit 1).
    func load() throws -> TraceBundle {
        do { return try TraceBundle.load(trace) } catch {
            complain("mmsim: \(error.description)")
            throw ExitCode.failure
        }
    }

    /// The faults to replay for `bundle`: `--faults`, else what its format records.
    func replayFaults(for bundle: TraceBundle) -> ReplayFaults {
        faults.flatMap(ReplayFaults.init(rawValue:)) ?? (bundle.format == "perf" ? .trace : .touch)
    }

    /// Replays `bundle` once per column, each streamed from the file (never
    /// read whole, no per-fault results kept: the table is built from the
    /// statistics); the comparison table and each column's report by label.
    func run(_ bundle: TraceBundle, columns: [ComparisonColumn],
             detail: TraceReplay.Detail = .summary) -> (Comparison, [String: ReplayReport]) {
        let faults = replayFaults(for: bundle)
        var reports: [String: ReplayReport] = [:]
        let comparison = Comparison.run(columns) { sim in
            let r = bundle.replay(on: sim, faults: faults, detail: detail, collectFaults: false).replayer
            reports[ComparisonColumn(model: sim.model, options: sim.options).label] = r.report
            return []
        }
        return (comparison, reports)
    }

    /// What happened to the input's lines: applied, skipped by reason, not
    /// understood by kind with the first example, and the warnings.
    static func lineCounts(_ r: ReplayReport) -> [String] {
        let c = r.lines
        var out = ["lines: \(c.total) read, \(c.applied) applied, \(c.skippedTotal) skipped, \(c.notUnderstoodTotal) not understood"]
        for reason in c.skipped.keys.sorted() { out.append("  skipped \(c.skipped[reason]!): \(reason)") }
        for kind in c.notUnderstood.keys.sorted() {
            let e = c.notUnderstood[kind]!
            out.append("  not understood \(e.count): \(kind) (first, line \(e.firstLine): \(e.text.prefix(160)))")
        }
        out += r.warnings.map { "warning: \($0)" }
        return out
    }

    /// Exit status 2 (after the report) when nothing of the trace was replayed.
    static func failIfNothingReplayed(_ r: ReplayReport) throws {
        if r.lines.applied == 0 && r.applied == 0 {
            complain("mmsim: nothing in the trace was replayed")
            throw ExitCode(2)
        }
    }

    /// The census line of a report: what the VMAs at exit were and how they were faulted.
    static func census(_ r: ReplayReport, label: String) -> String {
        let c = r.census
        return "VMAs at exit (\(label)): \(c.vmas); never faulted \(c.neverFaulted); read-faulted only \(c.readFaultedOnly); written \(c.written); private writable anonymous \(c.anonWritable) (never faulted \(c.anonWritableNeverFaulted)); private file \(c.filePrivate) (with an anon_vma \(c.filePrivateWithAnonVMA))"
    }

    /// The agreement line: how much of the real kernel's behaviour the replay reproduced.
    static func agreement(_ r: ReplayReport, label: String) -> String {
        "agreement with the real kernel (\(label)): faults reproduced \(r.faultsAgreeing)/\(r.realFaults) = \(String(format: "%.4f", r.faultAgreement)); mmap_lock use matching \(r.lockAgreeing)/\(r.lockObserved) = \(String(format: "%.4f", r.lockAgreement))"
    }

    /// One line per disagreement with the real kernel.
    static func disagreements(_ r: ReplayReport) -> [String] {
        r.disagreements.map { "  line \($0.line) \(hex($0.address)): \($0.what)" }
    }
}

/// A kernel model id given on the command line.
extension KernelModel {
    /// The model named `id`, or a usage error listing the known ids.
    static func parse(_ id: String) throws -> KernelModel {
        guard let k = KernelModel.named(id) else {
            throw ValidationError("unknown kernel '\(id)' (known: \(KernelModel.all.map(\.id).joined(separator: ", ")))")
        }
        return k
    }
}
