import ArgumentParser
import Foundation
import MMCore
import MMServer
import MMTrace
import MMHTTP

/// `mmsim compare TRACE`: replays a trace under several kernel models, each
/// streamed from the file, and prints one table of fault lock paths,
/// fallbacks and anon_vma decisions, with the input's line counts and
/// warnings. Exits 1 when the format is not recognised, 2 when nothing was replayed.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a trace under several kernel models and compare their lock paths.")

    @OptionGroup var trace: TraceOptions

    @Option(help: "Kernel models, comma-separated.")
    var kernels: String = KernelModel.historic.map(\.id).joined(separator: ",")

    @Flag(help: "List each fault where the 6.18 replay disagrees with the real kernel (perf traces).")
    var disagreements = false

    @Flag(help: "Print each column's report as JSON (the API's replay report and statistics, ReportJSON).")
    var json = false

    /// The kernel models named by `--kernels`, in order.
    var models: [KernelModel] {
        get throws { try kernels.split(separator: ",").map { try KernelModel.parse(String($0)) } }
    }

    func validate() throws { _ = try models }

    func run() throws {
        let models = try models
        let bundle = try trace.load()
        let columns = ComparisonColumn.grid(models: models, options: trace.options)
        let (comparison, reports) = trace.run(bundle, columns: columns)
        if json {
            let cols: [JSONValue] = zip(columns, comparison.columns).compactMap { c, col in
                reports[c.label].map { .object([("kernel", .string(c.label))] + ReportJSON.replay($0, stats: col.stats)) }
            }
            print(String(decoding: JSONWriter.encode(.object([("trace", .string(trace.trace)), ("format", .string(bundle.format)),
                                                              ("columns", .array(cols))])), as: UTF8.self))
            if let first = reports[columns[0].label] { try TraceOptions.failIfNothingReplayed(first) }
            return
        }
        print("trace: \(trace.trace) (\(bundle.format))")
        print(comparison.table(), terminator: "")
        if let r = reports[columns[0].label] { TraceOptions.lineCounts(r).forEach { print($0) } }
        if let r = reports[columns[0].label] { print(TraceOptions.census(r, label: columns[0].label)) }
        if let r = reports["6.18"], bundle.format == "perf" {
            print(TraceOptions.agreement(r, label: "6.18"))
            if disagreements { TraceOptions.disagreements(r).forEach { print($0) } }
        }
        if let r = reports[columns[0].label] { try TraceOptions.failIfNothingReplayed(r) }
    }
}
