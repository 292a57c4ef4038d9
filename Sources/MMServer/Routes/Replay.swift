import MMHTTP
import MMCore
import MMTrace

/// POST …/replay: strace, perf script or /proc/PID/maps text into a session.
enum ReplayEndpoint {
    /// Decodes and runs a replay (caller holds the session lock); the caller
    /// logs it as one `{"op": "replay", …}` operation so the log replays it.
    static func replay(_ body: JSONValue, into s: Session) throws(APIError) -> JSONValue {
        let a = try Args(body)
        let format = try a.string("format")
        let text = try a.string("text")
        let faultsName = try a.string("faults", default: format == "perf" ? "trace" : "none")
        guard let faults = ReplayFaults(rawValue: faultsName) else {
            throw .badRequest("field 'faults' must be \"none\", \"touch\" or \"trace\"")
        }
        var rootPid: Int?
        if a.has("pid") {
            let pid = try a.int("pid")
            do { _ = try s.sim.process(pid) } catch { throw Session.apiError(error) }
            rootPid = pid
        }
        let events: [TraceEvent]
        switch format {
        case "strace": events = StraceParser.parse(text)
        case "perf": events = PerfScriptParser.parse(text)
        case "maps":
            let entries: [MapsEntry]
            do { entries = try MapsParser.parse(text) } catch {
                throw .badRequest("field 'text': maps line \(error.line): \(error.reason)")
            }
            let p = rootPid.flatMap { s.sim.processes[$0] } ?? s.sim.createProcess(comm: "maps")
            let r = MMTrace.Replayer(sim: s.sim, rootPid: p.pid)
            let steps = r.importMaps(entries, into: p)
            return .object([("pid", .num(p.pid)), ("lines", .array(steps.map(step)))])
        default:
            throw .badRequest("field 'format' must be \"strace\", \"perf\" or \"maps\"")
        }
        let r = MMTrace.Replayer(sim: s.sim, rootPid: rootPid, faults: faults)
        let report = r.replay(events)
        return json(report)
    }

    static func step(_ s: ReplayStep) -> JSONValue {
        .object([("line", .num(s.line)), ("pid", .num(s.pid)), ("status", .string(s.status.rawValue)), ("what", .string(s.what))])
    }

    /// The replay report (api.md "replay"): lines applied and skipped with
    /// reasons, the pid mapping, and agreement with the real kernel.
    static func json(_ r: ReplayReport) -> JSONValue {
        .object([
            ("applied", .num(r.applied)), ("skipped", .num(r.skipped)),
            ("processes", .object(r.processes.keys.sorted().map { (String($0), .num(r.processes[$0]!)) })),
            ("agreement", .object([
                ("real_faults", .num(r.realFaults)), ("faults_reproduced", .num(r.faultsAgreeing)),
                ("fault_ratio", .double(r.faultAgreement)),
                ("lock_observed", .num(r.lockObserved)), ("lock_agreeing", .num(r.lockAgreeing)),
                ("lock_ratio", .double(r.lockAgreement)),
            ])),
            ("disagreements", .array(r.disagreements.prefix(1000).map {
                .object([("line", .num($0.line)), ("address", .addr($0.address)), ("what", .string($0.what))])
            })),
            ("lines", .array(r.steps.map(step))),
        ])
    }
}

/// POST /v1/compare: one workload under several kernel models.
enum Compare {
    static func run(_ body: JSONValue, limits: Limits) throws(APIError) -> JSONValue {
        let a = try Args(body)
        var models: [KernelModel] = KernelModel.all
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
                guard case let .string(o) = item, ["eager_anon_vma", "skip_mergeable_for_file"].contains(o) else {
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
            for (n, item) in items.enumerated() { ops.append(try Op.decode(item, context: "ops[\(n)].")) }
            comparison = Comparison.run(columns) { sim in OpRunner.run(ops, on: sim) }
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

/// Runs decoded ops on a bare Simulation (compare), collecting fault results.
enum OpRunner {
    static func run(_ ops: [Op], on sim: Simulation) -> [FaultResult] {
        var faults: [FaultResult] = []
        for op in ops {
            switch op {
            case let .file(path, size, mode): _ = try? sim.createFile(path: path, size: size, mode: mode)
            case let .process(comm): sim.createProcess(comm: comm)
            case let .syscall(pid, call): if let r = try? sim.syscall(pid: pid, call) { faults += r.faults }
            case let .fault(pid, address, access, mode, inject):
                if let r = try? sim.fault(pid: pid, address: address, access: access, mode: mode, inject: inject) { faults.append(r) }
            case let .touch(pid, address, pages, access):
                for k in 0..<pages {
                    if let r = try? sim.fault(pid: pid, address: (address & ~(Linux.PAGE_SIZE - 1)) + UInt64(k) * Linux.PAGE_SIZE, access: access) {
                        faults.append(r)
                    }
                }
            case .replay: break
            }
        }
        return faults
    }
}
