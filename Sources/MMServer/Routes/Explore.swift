import MMCore
import MMHTTP

/// The handlers of POST …/explore and …/interleave: threads sharing one
/// process's mm, run by MMCore's step engine under the session's kernel
/// model (docs/CONCURRENCY.md). Neither changes the session, except
/// interleave with `"commit": true`.
extension MMSimApp {
    /// POST …/explore: every interleaving within bounds. The session lock is
    /// held while the engine runs (it reads the process as its start), so
    /// other requests on this session wait; the search is bounded in time.
    func explore(_ r: RouteRequest) throws(APIError) -> HTTPResponse {
        let s = try store.get(r.sid)
        let req = try ExploreRequest.decode(try body(r.http), limits: config.limits, interleave: false)
        let result = try s.locked { () throws(APIError) in
            do throws(ExploreError) { return try s.sim.explore(pid: req.pid, programs: req.programs, options: req.options) } catch {
                throw Self.apiError(error)
            }
        }
        return json(ExploreJSON.explore(result, kernel: s.sim.model, mutant: req.options.mutant), r)
    }

    /// POST …/interleave: one schedule step by step; with `commit`, the ops
    /// are applied to the session in the order they took effect.
    func interleave(_ r: RouteRequest) throws(APIError) -> HTTPResponse {
        let s = try store.get(r.sid)
        let req = try ExploreRequest.decode(try body(r.http), limits: config.limits, interleave: true)
        let value = try s.locked { () throws(APIError) in
            let result: InterleaveResult
            do throws(ExploreError) {
                result = try s.sim.interleave(pid: req.pid, programs: req.programs, schedule: req.schedule, options: req.options)
            } catch {
                throw Self.apiError(error)
            }
            if req.commit { try commit(s, req, result) }
            return ExploreJSON.interleave(result, kernel: s.sim.model, committed: req.commit)
        }
        return json(value, r)
    }

    /// Makes an interleaving's end state the session's: its operations, in
    /// the order they took effect (`linearization`), are applied serially
    /// and logged, so the log still replays. Refused (409, nothing changes)
    /// when the schedule does not finish, when an injection or mutant made
    /// it (the log could not replay those), or when a race left the
    /// process's VMAs other than any serial order would — the state a race
    /// corrupts is not one a sequence of syscalls can reach.
    /// Called with the session lock held.
    private func commit(_ s: Session, _ req: ExploreRequest, _ result: InterleaveResult) throws(APIError) {
        guard result.finished else {
            throw APIError(.conflict, "field 'commit': the schedule stops before every thread finished its program")
        }
        guard req.options.mutant == nil, req.options.inject == ExploreInjection() else {
            throw APIError(.conflict, "field 'commit': a schedule run with a mutant or an injection cannot be committed (the log could not replay it)")
        }
        let programs = Dictionary(uniqueKeysWithValues: req.programs.map { ($0.name, $0.ops) })
        let ops: [Op] = try result.linearization.map { ref throws(APIError) in
            switch programs[ref.thread]![ref.opIndex] {
            case let .fault(address, access):
                .fault(pid: req.pid, tid: nil, address: address, access: access, mode: .user, inject: FaultInjection())
            case let .syscall(call): .syscall(pid: req.pid, tid: nil, call)
            case .mbind:
                // The session's Simulation has no mempolicies: mbind is an engine-only op.
                throw APIError(.conflict, "field 'commit': thread '\(ref.thread)' runs mbind, which only the step engine models (the session log could not replay it)")
            }
        }
        try s.checkLogRoom(for: ops.count)
        // Applied first to a copy rebuilt from the log, compared, and only then to the session.
        let scratch = s.replayedSimulation()
        for op in ops { _ = try? op.apply(to: scratch, maxProcesses: config.limits.maxProcessesPerSession, summary: true) }
        let want = result.steps.last?.vmas.filter { $0.mm == 0 && !$0.detached && !$0.freed }
            .map { Layout(start: $0.start, end: $0.end, flags: $0.flags, hasAnonVMA: $0.anonVMA != nil) } ?? []
        let got = (scratch.processes[req.pid]?.mm.vmas.map { Layout(start: $0.start, end: $0.end, flags: $0.flags, hasAnonVMA: $0.anonVMA != nil) }) ?? []
        guard want == got else {
            throw APIError(.conflict, "field 'commit': this schedule's end state differs from applying its operations serially "
                           + "(a race changed it: \(result.hazards.map(\.detector.rawValue).joined(separator: ", "))); nothing was committed")
        }
        var results: [OpResult] = []
        for op in ops {
            do throws(APIError) { results.append(try s.perform(op, summary: false)) } catch {
                results.append(.json(error.body(requestID: "commit")))
            }
        }
        s.record(ops: ops, results: results)
    }

    /// What commit compares: a VMA's range, flags and whether it has an anon_vma.
    private struct Layout: Equatable {
        var start: UInt64, end: UInt64, flags: VMFlags, hasAnonVMA: Bool
    }

    /// The API error of an engine refusal: 400 for a bad program or schedule,
    /// 404/409 for the process, 422 `schedule_rejected` for a schedule that
    /// runs a thread which cannot run.
    static func apiError(_ e: ExploreError) -> APIError {
        switch e {
        case let .noSuchProcess(pid): APIError(.notFound, "field 'pid': no running process \(pid) in this session")
        case .noThreads: .badRequest("field 'threads' names no thread")
        case let .emptyProgram(thread): .badRequest("field 'threads.\(thread)' is an empty program")
        case let .invalidThreadName(name): .badRequest("field 'threads': '\(name)' is not a usable thread name")
        case let .invalidOp(thread, index, reason): .badRequest("field 'threads.\(thread)[\(index)]': \(reason)")
        case let .unknownThread(step, name): .badRequest("field 'schedule[\(step)]': unknown thread '\(name)'")
        case let .threadBlocked(step, thread, lock):
            APIError(.scheduleRejected, "field 'schedule[\(step)]': \(thread) cannot run: it waits for \(lock)")
        case let .threadFinished(step, thread):
            APIError(.scheduleRejected, "field 'schedule[\(step)]': \(thread) has finished its program")
        }
    }
}
