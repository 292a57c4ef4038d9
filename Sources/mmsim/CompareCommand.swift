import ArgumentParser
import Foundation
import MMCore
import MMServer
import MMTrace
import MMHTTP

/// `mmsim compare TRACE`: replays a trace under several kernel models and
/// prints one table of fault lock paths, fallbacks and anon_vma decisions.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a trace under several kernel models and compare their lock paths.")

    @OptionGroup var trace: TraceOptions

    @Option(help: "Kernel models, comma-separated.")
    var kernels: String = KernelModel.historic.map(\.id).joined(separator: ",")

    @Flag(help: "List each fault where the 6.18 replay disagrees with the real kernel (perf traces).")
    var disagreements = false

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
        print("trace: \(trace.trace) (\(bundle.format), \(bundle.events.count) events)")
        print(comparison.table(), terminator: "")
        if let r = reports[columns[0].label] { print(TraceOptions.census(r, label: columns[0].label)) }
        if let r = reports["6.18"], bundle.format == "perf" {
            print(TraceOptions.agreement(r, label: "6.18"))
            if disagreements { TraceOptions.disagreements(r).forEach { print($0) } }
        }
    }
}
