import MMHTTP
import MMCore
import MMTrace

/// POST /v1/compare: one workload under several kernel models.
enum Compare {
    static func run(_ body: JSONValue, limits: Limits) throws(APIError) -> JSONValue {
        let a = try Args(body, schema: Schemas.compare)
        var models: [KernelModel] = KernelModel.historic
        if case let .array(items)? = a.value["kernels"] {
            models = []
            for item in items {
                guard case let .string(id) = item, let m = KernelModel.named(id) else {
                    throw .badRequest("field 'kernels': unknown model \(item)")
                }
                models.append(m)
            }
        }
        var options: [String] = []
        if case let .array(items)? = a.value["options"] {
            for item in items {
                guard case let .string(o) = item, Schemas.optionNames.contains(o) else {
                    throw .badRequest("field 'options': unknown option \(item)")
                }
                options.append(o)
            }
        }
        let columns = ComparisonColumn.grid(models: models, options: options)
        let comparison: Comparison
        if case let .array(items)? = a.value["ops"] {
            guard items.count <= limits.maxBatchOps else { throw APIError(.limitExceeded, "too many ops") }
            var ops: [Op] = []
            for (n, item) in items.enumerated() { ops.append(try Op.decode(item, opIndex: n)) }
            // Each op as a session would apply it; one that fails changes nothing and the rest go on.
            comparison = Comparison.run(columns) { sim in
                ops.flatMap { op in (try? op.apply(to: sim, maxProcesses: limits.maxProcessesPerSession, summary: false))?.faults ?? [] }
            }
        } else if a.has("strace") || a.has("perf") {
            let events = a.has("strace") ? StraceParser.parse(try a.string("strace")) : PerfScriptParser.parse(try a.string("perf"))
            var maps: [MapsEntry] = []
            if a.has("maps") {
                let text = try a.string("maps")
                do { maps = try MapsParser.parse(text) } catch { throw .badRequest("field 'maps': line \(error.line): \(error.reason)") }
            }
            let faultsName = try a.string("faults", default: a.has("strace") ? "touch" : "trace")
            guard let faults = ReplayFaults(rawValue: faultsName) else {
                throw .badRequest("field 'faults' must be \"none\", \"touch\" or \"trace\"")
            }
            comparison = Comparison.run(columns) { sim in TraceWorkload.run(events, maps: maps, faults: faults, on: sim) }
        } else {
            throw .badRequest("one of 'ops', 'strace' or 'perf' is required")
        }
        return .object([
            ("columns", .array(comparison.columns.map { .string($0.column.label) })),
            ("stats", .object(comparison.columns.map { ($0.column.label, DTO.stats($0.stats)) })),
            ("table", .array(comparison.rows.map { .object([("row", .string($0.0)), ("values", .array($0.1.map { .string($0) }))]) })),
            ("text", .string(comparison.table())),
            ("faults", .array(comparisonFaults(comparison))),
            ("differences", .array(comparison.differences().map { d in
                .object([("index", .num(d.index)), ("address", .addr(d.address)), ("access", .string(d.access.rawValue)),
                         ("codes", .object(zip(comparison.columns, d.codes).map { ($0.column.label, .string($1)) }))])
            })),
        ])
    }
}

extension Compare {
    /// Every fault (first 2,000) with each column's path, code, reason, handler and anon_vma action.
    static func comparisonFaults(_ c: Comparison) -> [JSONValue] {
        guard let first = c.columns.first else { return [] }
        return first.codes.indices.prefix(2000).map { i in
            .object([
                ("index", .num(i)), ("address", .addr(first.faults[i].address)), ("access", .string(first.faults[i].access.rawValue)),
                ("results", .object(c.columns.map { col in
                    guard i < col.codes.count else { return (col.column.label, .null) }
                    let d = col.details[i]
                    return (col.column.label, .object([
                        ("path", .str(d.path)), ("code", .string(col.codes[i])),
                        ("reason", .str(LockCode(rawValue: col.codes[i])?.reason)), ("handler", .str(d.handler)),
                        ("anon_vma", .string(d.anonVMA)), ("outcome", .string(d.outcome)),
                    ]))
                })),
            ])
        }
    }
}
