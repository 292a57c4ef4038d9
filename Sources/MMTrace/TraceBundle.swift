import Foundation
import MMCore

/// A recorded trace on disk: a `perf script` or strace text file, a
/// directory of `strace -ff -o NAME` files (`NAME.PID`, joined by time
/// stamp), or a directory made by `scripts/capture.py` (perf.txt,
/// strace.txt, maps/PID-N.txt layouts at each exec, maps/PID-exit.txt
/// layouts at exit). Loading reads only the small layout files; the trace
/// itself is streamed through `TraceReplay` by each replay.
public struct TraceBundle {
    /// The trace text files: one, or the `-ff` files with their pids.
    public enum Source: Sendable {
        case file(String)
        case straceFF([(pid: Int, path: String)])
    }

    public var source: Source
    /// "perf" or "strace" (recognised from the content).
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

    /// Every event of the trace, parsed at once (holds the whole trace in
    /// memory: for tests and small traces; replays stream instead).
    public var events: [TraceEvent] {
        var all: [TraceEvent] = []
        switch source {
        case .file(let path):
            guard let text = try? Self.read(path) else { return [] }
            all = format == "perf" ? PerfScriptParser.parse(text) : StraceParser.parse(text)
        case .straceFF:
            var parser = StraceParser()
            var n = 0
            try? forEachJoinedLine { line in n += 1; parser.parse(line: line, number: n, into: &all) }
            parser.finish(into: &all)
        }
        return all
    }

    /// File names for a perf trace's nameless opens: every recorded layout of each pid.
    public var pathHints: [Int: [MapsEntry]] {
        var h: [Int: [MapsEntry]] = [:]
        for (pid, layouts) in execLayouts { h[pid, default: []] += layouts.flatMap { $0 } }
        for (pid, text) in exitMaps { h[pid, default: []] += (try? MapsParser.parse(text)) ?? [] }
        return h
    }

    /// Loads a trace file or directory; the format is recognised from the
    /// first lines (an error if neither perf script nor strace output).
    public static func load(_ path: String) throws(LoadError) -> TraceBundle {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw LoadError(description: "no such trace: \(path)") }
        var bundle: TraceBundle
        if !isDir.boolValue {
            bundle = TraceBundle(source: .file(path), format: "")
        } else {
            let dir = URL(fileURLWithPath: path)
            let perfPath = dir.appendingPathComponent("perf.txt").path
            let stracePath = dir.appendingPathComponent("strace.txt").path
            if FileManager.default.fileExists(atPath: perfPath) {
                bundle = TraceBundle(source: .file(perfPath), format: "")
            } else if FileManager.default.fileExists(atPath: stracePath) {
                bundle = TraceBundle(source: .file(stracePath), format: "")
            } else {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                let ff = names.compactMap { n -> (pid: Int, path: String)? in
                    guard let dot = n.lastIndex(of: "."), let pid = Int(n[n.index(after: dot)...]) else { return nil }
                    return (pid, dir.appendingPathComponent(n).path)
                }.sorted { $0.pid < $1.pid }
                guard !ff.isEmpty else { throw LoadError(description: "\(path) has neither perf.txt, strace.txt nor strace -ff files (NAME.PID)") }
                bundle = TraceBundle(source: .straceFF(ff), format: "strace")
            }
            try bundle.loadLayouts(dir.appendingPathComponent("maps"))
        }
        if bundle.format.isEmpty {
            guard case .file(let file) = bundle.source else { return bundle }
            let probe = TraceReplay(sim: Simulation(config: SimulationConfig(tracing: false)), faults: .none)
            // Fed in 64 KiB pieces, stopping once the format is known: the lines
            // after the probed ones would only be replayed into a throwaway simulation.
            try Self.stream(file, maxBytes: 1 << 20) { block in
                var at = 0
                while at < block.count, probe.format == nil {
                    let n = min(1 << 16, block.count - at)
                    probe.feed(UnsafeRawBufferPointer(rebasing: block[at..<(at + n)]))
                    at += n
                }
            }
            guard let f = try? probe.finish().format else {
                throw LoadError(description: "\(file): not perf script or strace output")
            }
            bundle.format = f
        }
        return bundle
    }

    private mutating func loadLayouts(_ mapsDir: URL) throws(LoadError) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: mapsDir.path)) ?? []
        var layouts: [Int: [(Int, [MapsEntry])]] = [:]
        for name in names where name.hasSuffix(".txt") {
            let stem = name.dropLast(4).split(separator: "-")
            guard stem.count == 2, let pid = Int(stem[0]) else { continue }
            let text = try Self.read(mapsDir.appendingPathComponent(name).path)
            if stem[1] == "exit" { exitMaps[pid] = text; continue }
            guard let n = Int(stem[1]) else { continue }
            do { layouts[pid, default: []].append((n, try MapsParser.parse(text))) } catch {
                throw LoadError(description: "\(name): line \(error.line): \(error.reason)")
            }
        }
        for (pid, list) in layouts { execLayouts[pid] = list.sorted { $0.0 < $1.0 }.map(\.1) }
    }

    /// Reads `path` in 1 MiB blocks (up to `maxBytes`).
    static func stream(_ path: String, maxBytes: Int = .max, _ body: (UnsafeRawBufferPointer) -> Void) throws(LoadError) {
        guard let f = fopen(path, "rb") else { throw LoadError(description: "cannot read \(path)") }
        defer { fclose(f) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        while total < maxBytes {
            let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, min($0.count, maxBytes - total), f) }
            if n <= 0 { break }
            total += n
            buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// The lines of `strace -ff` files joined into one `-o`-style trace:
    /// each line prefixed with its file's pid, the files merged by their
    /// time stamps (-t/-tt/-ttt; without them, one file after another).
    func forEachJoinedLine(_ body: (String) -> Void) throws(LoadError) {
        guard case .straceFF(let files) = source else { return }
        var readers: [(pid: Int, lines: [Substring], next: Int)] = []
        for f in files {
            let text = try Self.read(f.path)
            readers.append((f.pid, text.split(separator: "\n", omittingEmptySubsequences: true), 0))
        }
        func stamp(_ l: Substring) -> Double? {
            guard let sp = l.firstIndex(of: " ") else { return nil }
            let t = l[..<sp]
            if let d = Double(t) { return d }
            let parts = t.split(separator: ":")
            guard parts.count == 3, let h = Double(parts[0]), let m = Double(parts[1]), let s = Double(parts[2]) else { return nil }
            return h * 3600 + m * 60 + s
        }
        while true {
            var best: Int?
            var bestTime = Double.infinity
            for (i, r) in readers.enumerated() where r.next < r.lines.count {
                let t = stamp(r.lines[r.next]) ?? -Double.infinity
                if best == nil || t < bestTime { best = i; bestTime = t }
            }
            guard let i = best else { return }
            body("\(readers[i].pid) " + readers[i].lines[readers[i].next])
            readers[i].next += 1
        }
    }

    /// A streaming replay of the bundle into `sim`: exec layouts imported
    /// at each execve, nameless perf opens named from the recorded layouts.
    public func replay(on sim: Simulation, faults: ReplayFaults, detail: TraceReplay.Detail = .summary,
                       collectFaults: Bool = true) -> TraceReplay {
        let t = TraceReplay(sim: sim, faults: faults, format: TraceReplay.Format(rawValue: format), detail: detail)
        t.replayer.collectFaults = collectFaults
        t.replayer.execLayouts = execLayouts
        t.replayer.pathHints = pathHints
        switch source {
        case .file(let path): try? Self.stream(path) { t.feed($0) }
        case .straceFF:
            try? forEachJoinedLine { line in t.feed(line.utf8); t.feed(CollectionOfOne(Ch.nl)) }
        }
        _ = try? t.finish()
        return t
    }

    /// Replays the bundle into `sim` (see `replay(on:faults:)`).
    public func replayer(on sim: Simulation, faults: ReplayFaults) -> Replayer {
        replay(on: sim, faults: faults).replayer
    }

    /// Replays the bundle into a fresh simulation of `column`.
    public func replay(_ column: ComparisonColumn, faults: ReplayFaults) -> (Simulation, Replayer) {
        let sim = Simulation(model: column.model, options: column.options, config: SimulationConfig(tracing: false))
        return (sim, replayer(on: sim, faults: faults))
    }
}
