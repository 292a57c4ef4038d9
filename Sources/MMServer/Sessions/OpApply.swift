import MMCore
import MMTrace

extension Op {
    /// Applies the operation to `sim`: the one function every operation
    /// goes through, whether it came alone, in a batch, from a replay of the
    /// log or in a compare. Errors change nothing. The caller holds the
    /// session lock (a session's operations run one at a time, in log order).
    /// `summary` keeps only a fault's outcome and lock code and a syscall's
    /// return (built straight from the result, which is not copied).
    func apply(to sim: Simulation, maxProcesses: Int, summary: Bool) throws(APIError) -> OpResult {
        do {
            switch self {
            case let .file(path, size, mode):
                return .file(try sim.createFile(path: path, size: size, mode: mode))
            case let .process(comm):
                guard Self.liveProcesses(sim) < maxProcesses else { throw Self.tooManyProcesses(maxProcesses) }
                return .process(sim.createProcess(comm: comm))
            case let .thread(pid):
                let tid = try sim.createThread(pid: pid)
                return .json(.object([("pid", .num(pid)), ("tid", .num(tid))]))
            case let .syscall(pid, tid, call):
                if let tid { _ = try sim.process(pid, tid: tid) }
                if case .fork = call, Self.liveProcesses(sim) >= maxProcesses { throw Self.tooManyProcesses(maxProcesses) }
                let r = try sim.syscall(pid: pid, call)
                return summary ? .syscallSummary(SyscallSummary(r)) : .syscall(r)
            case let .fault(pid, tid, address, access, mode, inject):
                if let tid { _ = try sim.process(pid, tid: tid) }
                let r = try sim.fault(pid: pid, address: address, access: access, mode: mode, inject: inject)
                return summary ? .faultSummary(FaultSummary(r)) : .fault(r)
            case let .touch(pid, address, pages, access):
                _ = try sim.process(pid)
                var out: [FaultResult] = []
                let base = address & ~(Linux.PAGE_SIZE - 1)
                for k in 0..<pages {
                    out.append(try sim.fault(pid: pid, address: base + UInt64(k) * Linux.PAGE_SIZE, access: access))
                }
                return .touch(out, summary: summary)
            case let .replay(request):
                return try request.apply(to: sim)
            }
        } catch let e as SimulationError {
            throw Self.apiError(e)
        } catch let e as APIError {
            throw e
        } catch {
            throw APIError(.internalError, "\(error)")
        }
    }

    static func tooManyProcesses(_ limit: Int) -> APIError {
        APIError(.limitExceeded, "session has \(limit) live processes (max_processes_per_session)")
    }

    /// Processes that have not exited: the ones `max_processes_per_session`
    /// counts (an exited process holds no address space any more).
    static func liveProcesses(_ sim: Simulation) -> Int {
        var n = 0
        for p in sim.processes.values where p.state != .exited { n += 1 }
        return n
    }

    /// The API error of a simulation error.
    static func apiError(_ e: SimulationError) -> APIError {
        switch e {
        case let .noSuchProcess(pid): APIError(.notFound, "no process with pid \(pid) in this session")
        case let .processExited(pid): APIError(.conflict, "process \(pid) has exited")
        case let .noSuchThread(pid, tid): APIError(.notFound, "no thread \(tid) in process \(pid)")
        case let .fileExists(path): APIError(.conflict, "file '\(path)' already exists in this session")
        case let .limitExceeded(m): APIError(.limitExceeded, m)
        }
    }
}

extension ReplayRequest {
    /// Parses the text and replays it into `sim` (MMTrace).
    func apply(to sim: Simulation) throws(APIError) -> OpResult {
        try apply(to: sim, admit: nil).result
    }

    /// Replays into `sim`, asking `admit` before each trace event (nil:
    /// apply it; a limit's name: stop there). Returns the result and, when
    /// `admit` stopped it, how many events were applied and where it stopped.
    func apply(to sim: Simulation, admit: ((TraceEvent) -> String?)?)
        throws(APIError) -> (result: OpResult, stopped: (events: Int, line: Int, limit: String)?) {
        if let pid {
            do { _ = try sim.process(pid) } catch { throw Op.apiError(error) }
        }
        if format == .maps {
            let entries: [MapsEntry]
            do { entries = try MapsParser.parse(text) } catch {
                throw .badRequest("field 'text': maps line \(error.line): \(error.reason)")
            }
            let p = pid.flatMap { sim.processes[$0] } ?? sim.createProcess(comm: "maps")
            let r = Replayer(sim: sim, rootPid: p.pid)
            return (.replayMaps(pid: p.pid, steps: r.importMaps(entries, into: p)), nil)
        }
        // perf or strace, named or recognised from the content, streamed
        // line by line (TraceReplay); a text neither importer understands
        // changes nothing and is a 400. A spooled replay reads its file.
        let replay = makeReplay(on: sim)
        replay.replayer.admit = admit
        replay.replayer.maxEvents = maxEvents
        if let spool {
            guard replay.feed(contentsOf: spool) else { throw APIError(.internalError, "replay spool \(spool) cannot be read") }
        } else {
            replay.feed(text.utf8)
        }
        do {
            let report = try replay.finish()
            guard let stop = replay.replayer.stopped else { return (.replay(report), nil) }
            let stopped = (events: replay.replayer.eventsApplied, line: stop.line, limit: stop.reason)
            guard case let .object(m) = DTO.replay(report) else { return (.replay(report), stopped) }
            let note: JSONValue = .object([("line", .num(stop.line)), ("limit", .string(stop.reason)),
                                           ("events_applied", .num(stopped.events))])
            return (.json(.object(m + [("stopped", note)])), stopped)
        } catch {
            throw .badRequest("field 'text': \(error.description); give \"format\" to name it")
        }
    }

    /// The streaming replay these options ask for, into `sim`. A spooled
    /// (big) replay keeps no per-event steps: its report stays the size of
    /// the simulated state.
    func makeReplay(on sim: Simulation) -> TraceReplay {
        let known: TraceReplay.Format? = format.map { $0 == .perf ? .perf : .strace }
        let defaultFaults: ReplayFaults = known == .strace ? .none : .trace
        let replay = TraceReplay(sim: sim, rootPid: pid, faults: faults ?? defaultFaults, format: known, detail: detail)
        replay.replayer.recordSteps = spool == nil
        return replay
    }
}

extension Session {
    /// Applies one decoded operation (caller holds the lock), records it in
    /// the log and returns its result. Errors change nothing.
    /// A replay stopped by a limit part-way is recorded (as the events it
    /// applied, `max_events`) and then refused with `422` naming the limit.
    func apply(_ op: Op, summary: Bool) throws(APIError) -> OpResult {
        try checkLogRoom(for: 1)
        lastReplayStop = nil  // perform sets it only for a replay
        let result = try perform(op, summary: summary)
        let stop = lastReplayStop
        record(op: op, result: result)
        if let stop {
            throw APIError(.limitExceeded, "the replay stopped at line \(stop.line): its next event could take the session past "
                           + "\(stop.limit); the \(stop.events) event(s) before it were applied and logged "
                           + "(as a replay with max_events \(stop.events))")
        }
        return result
    }

    /// Applies one decoded operation (caller holds the lock) without
    /// recording it: the caller records it (`record`) if this returns.
    /// Errors change nothing.
    /// A trace replay is bounded event by event (TraceEvent.worstCase):
    /// refused at its first event, it changes nothing (422); stopped later,
    /// the events before stay applied, as a syscall failing half-way keeps
    /// what it did (the session records it with `max_events`, see
    /// ``replayed``). A maps layout is bounded before it runs.
    /// `lastReplayStop` is set here only for a replay (nil when it ran
    /// whole): a caller that reads it clears it first.
    func perform(_ op: Op, summary: Bool) throws(APIError) -> OpResult {
        // `sim` read once: each access to a stored property of the session
        // is an exclusivity check (~80 instructions) on the per-op path.
        let sim = self.sim
        try budget.admit(op, sim)
        sim.tracer.enabled = !summary
        guard case let .replay(request) = op else {
            return try op.apply(to: sim, maxProcesses: limits.maxProcessesPerSession, summary: summary)
        }
        lastReplayStop = nil
        let touch = request.faults == .touch
        let (result, stopped) = try request.apply(to: sim) { [self] event in
            budget.admit(event.worstCase(sim, touch: touch), sim).map { "\($0)" }
        }
        budget.remeasure(sim)  // the worst cases reserved per event, back to what is there
        if let stopped {
            if stopped.events == 0 {
                throw APIError(.limitExceeded, "the replay's first event (line \(stopped.line)) could take the session past "
                               + "\(stopped.limit); nothing was changed")
            }
            var logged = request
            logged.maxEvents = stopped.events
            replayed.append(.replay(logged))
            lastReplayStop = (stopped.events, stopped.line, stopped.limit)
        } else {
            replayed.append(op)
        }
        return result
    }

    /// The process `pid`, or 404 (caller holds the lock).
    func process(_ pid: Int) throws(APIError) -> MMCore.Process {
        guard let p = sim.processes[pid] else { throw .notFound("no process with pid \(pid) in this session") }
        return p
    }

    /// GET …/log?pretty: every operation with its `seq` (caller holds the lock).
    func logJSON() -> JSONValue {
        .object([("ops", .array(log.enumerated().map { n, op in Self.logEntry(seq: n + 1, op) }))])
    }

    /// One entry of GET …/log: the op that replays it, with its `seq` first.
    static func logEntry(seq: Int, _ op: Op) -> JSONValue {
        guard case let .object(members) = op.json else { return op.json }
        return .object([("seq", .num(seq))] + members)
    }
}
