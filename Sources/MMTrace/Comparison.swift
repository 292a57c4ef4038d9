import MMCore
/// One column of a comparison: a kernel model with a set of thread options.
public struct ComparisonColumn: Sendable, Equatable {
    public var model: KernelModel
    public var options: ModelOptions

    public init(model: KernelModel, options: ModelOptions = ModelOptions()) {
        self.model = model
        self.options = options
    }

    /// "6.18", "6.18+eager_anon_vma", …
    public var label: String {
        var s = model.id
        if options.eagerAnonVMA { s += "+eager_anon_vma" }
        if options.skipMergeableForFile { s += "+skip_mergeable_for_file" }
        return s
    }

    /// Each model alone, then each model with each requested option.
    public static func grid(models: [KernelModel], options: [String]) -> [ComparisonColumn] {
        var cols = models.map { ComparisonColumn(model: $0) }
        for o in options {
            for m in models {
                var c = ComparisonColumn(model: m)
                if o == "eager_anon_vma" { c.options.eagerAnonVMA = true }
                if o == "skip_mergeable_for_file" { c.options.skipMergeableForFile = true }
                cols.append(c)
            }
        }
        return cols
    }
}

/// The same workload run once per column, side by side (docs/API.md /v1/compare,
/// `mmsim compare`).
public struct Comparison: Sendable {
    public struct Column: Sendable {
        public var column: ComparisonColumn
        public var stats: Stats
        /// The §9.1 code of every fault, in workload order.
        public var codes: [String]
        public var faults: [(address: UInt64, access: Access)]
        /// Every fault's lock path, handler and anon_vma action, in workload order.
        public var details: [(path: String?, handler: String?, anonVMA: String, outcome: String)]
    }

    public var columns: [Column]

    /// Runs `workload` on a fresh Simulation per column; it returns the
    /// faults it simulated, in order.
    public static func run(_ columns: [ComparisonColumn],
                           workload: (Simulation) -> [FaultResult]) -> Comparison {
        Comparison(columns: columns.map { c in
            let sim = Simulation(model: c.model, options: c.options, config: SimulationConfig(tracing: false))
            let results = workload(sim)
            return Column(column: c, stats: sim.statsSnapshot(),
                          codes: results.map { $0.lock?.code.rawValue ?? "no_fault" },
                          faults: results.map { ($0.address, $0.access) },
                          details: results.map { ($0.lock?.path.rawValue, $0.handler, $0.anonVMA.action.rawValue, $0.outcome.rawValue) })
        })
    }

    /// Faults whose lock code differs between columns: (index, address, access, code per column).
    public func differences(limit: Int = 200) -> [(index: Int, address: UInt64, access: Access, codes: [String])] {
        guard let first = columns.first else { return [] }
        var out: [(Int, UInt64, Access, [String])] = []
        for i in first.codes.indices {
            let codes = columns.map { i < $0.codes.count ? $0.codes[i] : "-" }
            if Set(codes).count > 1 {
                out.append((i, first.faults[i].address, first.faults[i].access, codes))
                if out.count >= limit { break }
            }
        }
        return out
    }

    /// Rows of the comparison table: (label, value per column).
    public var rows: [(String, [String])] {
        func row(_ name: String, _ f: (Stats) -> Int) -> (String, [String]) { (name, columns.map { String(f($0.stats)) }) }
        var r: [(String, [String])] = [
            row("faults") { $0.faults.total },
            row("vma_lock success") { $0.faults.vmaLockSuccess },
            row("vma_lock abort") { $0.faults.vmaLockAbort },
            row("vma_lock retry") { $0.faults.vmaLockRetry },
            row("vma_lock miss") { $0.faults.vmaLockMiss },
            row("handled under mmap_lock") { $0.faults.mmapLock },
            ("fallback ratio", columns.map { c in
                c.stats.faults.total == 0 ? "-" : String(format3(Double(c.stats.faults.mmapLock) / Double(c.stats.faults.total)))
            }),
            row("VMA_OK_TRYLOCK (mmap_read_trylock)") { $0.faults.byReason["VMA_OK_TRYLOCK"] ?? 0 },
        ]
        let reasons = Set(columns.flatMap { $0.stats.faults.byReason.keys })
            .filter { !["VMA_OK", "VMA_OK_TRYLOCK", "LEGACY", "ACCESS_ERROR_SEGV"].contains($0) }.sorted()
        for reason in reasons { r.append(row("  fallback \(reason)") { $0.faults.byReason[reason] ?? 0 }) }
        r += [
            row("anon_vma allocated") { $0.anonVMA.allocated },
            row("anon_vma reused from next") { $0.anonVMA.reusedNext },
            row("anon_vma reused from prev") { $0.anonVMA.reusedPrev },
            row("anon_vma cloned at fork") { $0.anonVMA.forkCloned },
            row("anon_vma reused at fork") { $0.anonVMA.forkReused },
            row("VMAs never faulted (live)") { $0.vmas.neverFaulted },
            row("VMAs read-faulted only (live)") { $0.vmas.readFaultedOnly },
            row("SIGSEGV") { $0.faults.sigsegv },
        ]
        return r
    }

    /// The table as fixed-width text.
    public func table() -> String {
        let header = ["", ] + columns.map(\.column.label)
        let body = rows.map { [$0.0] + $0.1 }
        let all = [header] + body
        let widths = (0..<header.count).map { c in all.map { $0[c].count }.max() ?? 0 }
        return all.map { cells in
            cells.enumerated().map { c, s in
                c == 0 ? s + String(repeating: " ", count: widths[c] - s.count)
                       : String(repeating: " ", count: widths[c] - s.count) + s
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

/// Three decimals without Foundation.
func format3(_ x: Double) -> String {
    let v = Int((x * 1000).rounded())
    let frac = String(v % 1000)
    return "\(v / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
}

/// A trace (and optional starting layout) as a comparison workload.
public enum TraceWorkload {
    /// Replays `events` into `sim` (after `maps`, if any) and returns every
    /// fault result the trace's faults produced.
    public static func run(_ events: [TraceEvent], maps: [MapsEntry], faults: ReplayFaults = .trace,
                           on sim: Simulation) -> [FaultResult] {
        let p = sim.createProcess(comm: "trace")
        let r = Replayer(sim: sim, rootPid: p.pid, faults: faults)
        r.recordSteps = false
        r.collectFaults = true
        if !maps.isEmpty { r.importMaps(maps, into: p) }
        r.replay(events)
        return r.faultResults
    }
}
