import ArgumentParser
import Foundation
import MMCore
import MMServer
import MMTrace
import MMHTTP

/// `mmsim replay TRACE`: replays a trace into one kernel model and prints
/// what it did: lines applied and skipped, the faults by lock path, the VMAs
/// left at exit and, for perf traces, the agreement with the real kernel.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a trace into one kernel model and print the report.")

    @OptionGroup var trace: TraceOptions

    @Option(help: "The kernel model.")
    var kernel: String = KernelModel.default.id

    @Flag(help: "Print the report as JSON: the API's replay report and session statistics.")
    var json = false

    @Flag(help: "List each fault where the replay disagrees with the real kernel (perf traces).")
    var disagreements = false

    func validate() throws { _ = try KernelModel.parse(kernel) }

    func run() throws {
        let model = try KernelModel.parse(kernel)
        let bundle = try trace.load()
        let column = ComparisonColumn(model: model, options: ModelOptions(
            eagerAnonVMA: trace.options.contains("eager_anon_vma"),
            skipMergeableForFile: trace.options.contains("skip_mergeable_for_file")))
        let (comparison, reports) = trace.run(bundle, columns: [column])
        guard let report = reports[column.label], let stats = comparison.columns.first?.stats else { return }
        if json {
            let head: [(String, JSONValue)] = [("trace", .string(trace.trace)), ("format", .string(bundle.format)),
                                               ("events", .int(Int64(bundle.events.count))), ("kernel", .string(column.label))]
            print(String(decoding: JSONWriter.encode(.object(head + ReportJSON.replay(report, stats: stats))), as: UTF8.self))
            return
        }
        print("trace: \(trace.trace) (\(bundle.format), \(bundle.events.count) events) under \(column.label)")
        print("lines applied \(report.applied), skipped \(report.skipped); processes \(report.processes.count)")
        print(comparison.table(), terminator: "")
        print(TraceOptions.census(report, label: column.label))
        if bundle.format == "perf" {
            print(TraceOptions.agreement(report, label: "simulated under " + column.label))
            if disagreements { TraceOptions.disagreements(report).forEach { print($0) } }
        }
    }
}
