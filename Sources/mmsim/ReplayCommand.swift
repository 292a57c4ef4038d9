import ArgumentParser
import Foundation
import MMCore
import MMServer
import MMTrace
import MMHTTP

/// `mmsim replay TRACE`: replays a trace into one kernel model, streamed
/// from the file (never read whole), and prints what it did: every line
/// counted (applied, skipped by reason, not understood with the first
/// example of each kind), the warnings, the faults by lock path, the VMAs
/// left at exit and, for perf traces, the agreement with the real kernel.
/// Exits 1 when the format is not recognised, 2 when nothing was replayed.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a trace into one kernel model and print the report.")

    @OptionGroup var trace: TraceOptions

    @Option(help: "The kernel model.")
    var kernel: String = KernelModel.default.id

    @Flag(help: "Print the report as JSON: POST …/replay's report (ReportJSON) and the session statistics.")
    var json = false

    @Option(help: ArgumentHelp("faults: one record per real fault in the JSON report (as the API's detail).",
                               valueName: "summary|faults"))
    var detail: String = "summary"

    @Flag(help: "List each fault where the replay disagrees with the real kernel (perf traces).")
    var disagreements = false

    func validate() throws {
        _ = try KernelModel.parse(kernel)
        guard TraceReplay.Detail(rawValue: detail) != nil else { throw ValidationError("--detail takes summary or faults, not '\(detail)'") }
    }

    func run() throws {
        let model = try KernelModel.parse(kernel)
        let bundle = try trace.load()
        let column = ComparisonColumn(model: model, options: trace.modelOptions)
        let (comparison, reports) = trace.run(bundle, columns: [column], detail: TraceReplay.Detail(rawValue: detail) ?? .summary)
        guard let report = reports[column.label], let stats = comparison.columns.first?.stats else { return }
        if json {
            let head: [(String, JSONValue)] = [("trace", .string(trace.trace)), ("format", .string(bundle.format)),
                                               ("kernel", .string(column.label))]
            print(String(decoding: JSONWriter.encode(.object(head + ReportJSON.replay(report, stats: stats))), as: UTF8.self))
            return try TraceOptions.failIfNothingReplayed(report)
        }
        print("trace: \(trace.trace) (\(bundle.format)) under \(column.label)")
        TraceOptions.lineCounts(report).forEach { print($0) }
        print("events applied \(report.applied), skipped \(report.skipped); processes \(report.processes.count)")
        print(comparison.table(), terminator: "")
        print(TraceOptions.census(report, label: column.label))
        if bundle.format == "perf" {
            print(TraceOptions.agreement(report, label: "simulated under " + column.label))
            if disagreements { TraceOptions.disagreements(report).forEach { print($0) } }
        }
        try TraceOptions.failIfNothingReplayed(report)
    }
}
