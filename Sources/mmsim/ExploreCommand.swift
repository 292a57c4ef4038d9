import ArgumentParser
import Foundation
import MMCore
import MMServer

/// `mmsim explore FILE.json`: a race scenario (a layout and one program per
/// thread) explored over every interleaving within bounds under one or more
/// kernel models; prints, per model, the detectors that fired with the
/// shortest schedule found, the deadlocks and the outcomes
/// (docs/CONCURRENCY.md).
struct Explore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explore the interleavings of a race scenario under kernel models.",
        discussion: """
            FILE holds the body of POST /v1/sessions/{sid}/explore plus "setup" (ops that lay the \
            process out, as in POST …/ops, pid defaulting to 1) and optionally "kernels". Example: \
            docs/examples/s1-munmap-vs-anon-vma-prepare.json. Exit status 0 whatever fired; 64 for a \
            bad file or flag.
            """)

    @Argument(help: "The scenario file (JSON).")
    var file: String

    @Option(name: .customLong("kernel"), help: "A kernel model to explore under; repeat for several (default: the file's \"kernels\", else all).")
    var kernels: [String] = []

    @Flag(help: "Print one JSON answer per model, as POST …/explore answers (a JSON array).")
    var json = false

    func validate() throws {
        for k in kernels { _ = try KernelModel.parse(k) }
    }

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("cannot read \(file)")
        }
        let scenario: ExploreFile
        do { scenario = try ExploreFile(bytes: Array(data)) } catch { throw ValidationError("\(file): \(error)") }
        let models = try kernels.isEmpty ? (scenario.kernels.isEmpty ? KernelModel.all : scenario.kernels)
                                         : kernels.map(KernelModel.parse)
        var answers: [JSONValue] = []
        for model in models {
            let run: ExploreFile.Run
            do { run = try scenario.run(kernel: model) } catch { throw ValidationError("\(file): \(error)") }
            if json { answers.append(run.json) } else { print(Self.text(run), terminator: "") }
        }
        if json { print(String(decoding: JSONWriter.encode(.array(answers)), as: UTF8.self)) }
    }

    /// One model's result for a terminal.
    static func text(_ run: ExploreFile.Run) -> String {
        let r = run.result
        let cut = r.boundedBy.isEmpty ? "complete" : "bounded by " + r.boundedBy.map(\.rawValue).joined(separator: ", ")
        var out = "\(run.kernel.id): \(r.schedulesExplored) schedules, \(r.stepsExecuted) steps (\(cut))\n"
        if r.hazards.isEmpty { out += "  no detector fired\n" }
        for h in r.hazards {
            out += "  \(h.detector.rawValue) \(h.name) fired: \(h.thread) at step \(h.step)"
            out += h.fixedBy.map { " (fixed by \($0))" } ?? ""
            out += "\n    schedule: \(h.firstSchedule.joined(separator: " "))\n"
        }
        for d in r.deadlocks {
            out += "  deadlock: \(d.cycle.joined(separator: " → ")) waiting for \(d.locks.joined(separator: ", "))\n"
            out += "    schedule: \(d.schedule.joined(separator: " "))\n"
        }
        for t in r.faultPaths.keys.sorted() {
            out += "  \(t) faults ended with: \(r.faultPaths[t]!.map(\.rawValue).joined(separator: ", "))\n"
        }
        out += "  \(r.outcomes.count) outcome\(r.outcomes.count == 1 ? "" : "s"):\n"
        for o in r.outcomes {
            out += "    ×\(o.count) \(o.summary.joined(separator: "; "))\n"
        }
        return out
    }
}
