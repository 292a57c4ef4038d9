import Foundation
import MMCore

/// A recorded trace on disk: a `perf script` or strace text file, or a
/// directory made by `scripts/capture.py` (perf.txt, strace.txt, maps/PID-N.txt
/// layouts at each exec, maps/PID-exit.txt layouts at exit).
public struct TraceBundle {
    public var events: [TraceEvent]
    public var format: String
    /// Layouts at exec, per trace pid, in exec order.
    public var execLayouts: [Int: [[MapsEntry]]] = [:]
    /// The layouts at exit, per trace pid, as /proc/PID/maps text.
    public var exitMaps: [Int: String] = [:]

    public struct LoadError: Error, CustomStringConvertible { public let description: String }

    static func read(_ path: String) throws(LoadError) -> String {
        guard let d = FileManager.default.contents(atPath: path) else { throw LoadError(description: "cannot read \(path)") }
        return String(decoding: d, as: UTF8.self)
    }

    /// Whether `text` looks like perf script output rather than strace.
    static func isPerf(_ text: String) -> Bool {
        text.prefix(20_000).contains(": exceptions:page_fault") || text.prefix(20_000).contains(": syscalls:sys_")
    }

    /// File names for a perf trace's nameless opens: every recorded layout of each pid.
    public var pathHints: [Int: [MapsEntry]] {
        var h: [Int: [MapsEntry]] = [:]
        for (pid, layouts) in execLayouts { h[pid, default: []] += layouts.flatMap { $0 } }
        for (pid, text) in exitMaps { h[pid, default: []] += (try? MapsParser.parse(text)) ?? [] }
        return h
    }

    /// Loads a trace file or capture directory.
    public static func load(_ path: String) throws(LoadError) -> TraceBundle {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw LoadError(description: "no such trace: \(path)") }
        if !isDir.boolValue {
            let text = try read(path)
            let perf = isPerf(text)
            return TraceBundle(events: perf ? PerfScriptParser.parse(text) : StraceParser.parse(text), format: perf ? "perf" : "strace")
        }
        let dir = URL(fileURLWithPath: path)
        var bundle: TraceBundle
        let perfPath = dir.appendingPathComponent("perf.txt").path
        let stracePath = dir.appendingPathComponent("strace.txt").path
        if FileManager.default.fileExists(atPath: perfPath) {
            bundle = TraceBundle(events: PerfScriptParser.parse(try read(perfPath)), format: "perf")
        } else if FileManager.default.fileExists(atPath: stracePath) {
            bundle = TraceBundle(events: StraceParser.parse(try read(stracePath)), format: "strace")
        } else {
            throw LoadError(description: "\(path) has neither perf.txt nor strace.txt")
        }
        let mapsDir = dir.appendingPathComponent("maps")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: mapsDir.path)) ?? []
        var layouts: [Int: [(Int, [MapsEntry])]] = [:]
        for name in names where name.hasSuffix(".txt") {
            let stem = name.dropLast(4).split(separator: "-")
            guard stem.count == 2, let pid = Int(stem[0]) else { continue }
            let text = try read(mapsDir.appendingPathComponent(name).path)
            if stem[1] == "exit" { bundle.exitMaps[pid] = text; continue }
            guard let n = Int(stem[1]) else { continue }
            do { layouts[pid, default: []].append((n, try MapsParser.parse(text))) } catch {
                throw LoadError(description: "\(name): line \(error.line): \(error.reason)")
            }
        }
        for (pid, list) in layouts { bundle.execLayouts[pid] = list.sorted { $0.0 < $1.0 }.map(\.1) }
        return bundle
    }

    /// Replays the bundle into `sim`: exec layouts imported at each execve,
    /// nameless perf opens named from the recorded layouts, faults kept.
    public func replayer(on sim: Simulation, faults: ReplayFaults) -> Replayer {
        let r = Replayer(sim: sim, faults: faults)
        r.recordSteps = false
        r.collectFaults = true
        r.execLayouts = execLayouts
        r.pathHints = pathHints
        r.replay(events)
        return r
    }

    /// Replays the bundle into a fresh simulation of `column`.
    public func replay(_ column: ComparisonColumn, faults: ReplayFaults) -> (Simulation, Replayer) {
        let sim = Simulation(model: column.model, options: column.options, config: SimulationConfig(tracing: false))
        return (sim, replayer(on: sim, faults: faults))
    }
}

/// `mmsim compare TRACE [--kernels a,b] [--option NAME]… [--faults trace|touch|none]`.
public enum CompareCommand {
    public static func run(_ args: [String]) -> Int32 {
        var trace: String?
        var kernels = KernelModel.historic
        var options: [String] = []
        var faultsName: String?
        var showDisagreements = false
        var i = 0
        func fail(_ m: String) -> Int32 { FileHandle.standardError.write(Data("mmsim compare: \(m)\n".utf8)); return 2 }
        while i < args.count {
            let a = args[i]
            func value() -> String? { i + 1 < args.count ? args[i + 1] : nil }
            switch a {
            case "--kernels":
                guard let v = value() else { return fail("--kernels needs a list") }
                var ks: [KernelModel] = []
                for id in v.split(separator: ",") {
                    guard let k = KernelModel.named(String(id)) else { return fail("unknown kernel \(id)") }
                    ks.append(k)
                }
                kernels = ks
                i += 2
            case "--option":
                guard let v = value(), ["eager_anon_vma", "skip_mergeable_for_file"].contains(v) else {
                    return fail("--option takes eager_anon_vma or skip_mergeable_for_file")
                }
                options.append(v)
                i += 2
            case "--disagreements":
                showDisagreements = true
                i += 1
            case "--faults":
                faultsName = value()
                i += 2
            default:
                guard trace == nil, !a.hasPrefix("--") else { return fail("unexpected argument \(a)") }
                trace = a
                i += 1
            }
        }
        guard let trace else { return fail("usage: mmsim compare TRACE [--kernels 6.3,v3-patch,6.4,6.18] [--option eager_anon_vma] [--faults trace|touch|none] [--disagreements]") }
        let bundle: TraceBundle
        do { bundle = try TraceBundle.load(trace) } catch { return fail(error.description) }
        guard let faults = ReplayFaults(rawValue: faultsName ?? (bundle.format == "perf" ? "trace" : "touch")) else {
            return fail("--faults takes trace, touch or none")
        }
        let columns = ComparisonColumn.grid(models: kernels, options: options)
        var reports: [String: ReplayReport] = [:]
        let comparison = Comparison.run(columns) { sim in
            let r = bundle.replayer(on: sim, faults: faults)
            reports[ComparisonColumn(model: sim.model, options: sim.options).label] = r.report
            return r.faultResults
        }
        print("trace: \(trace) (\(bundle.format), \(bundle.events.count) events)")
        print(comparison.table(), terminator: "")
        if let r = reports[columns[0].label] {
            let c = r.census
            print("VMAs at exit (\(columns[0].label)): \(c.vmas); never faulted \(c.neverFaulted); read-faulted only \(c.readFaultedOnly); written \(c.written); private writable anonymous \(c.anonWritable) (never faulted \(c.anonWritableNeverFaulted)); private file \(c.filePrivate) (with an anon_vma \(c.filePrivateWithAnonVMA))")
        }
        if let r = reports["6.18"], bundle.format == "perf" {
            print("agreement with the real kernel (6.18): faults reproduced \(r.faultsAgreeing)/\(r.realFaults) = \(String(format: "%.4f", r.faultAgreement)); mmap_lock use matching \(r.lockAgreeing)/\(r.lockObserved) = \(String(format: "%.4f", r.lockAgreement))")
            if showDisagreements {
                for d in r.disagreements { print("  line \(d.line) \(hex(d.address)): \(d.what)") }
            }
        }
        return 0
    }
}
