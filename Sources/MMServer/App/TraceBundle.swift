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
