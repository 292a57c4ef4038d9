/// Runs one given schedule step by step (docs/CONCURRENCY.md §5.2, §5.4).
enum Interleaver {
    static func run(_ start: EngineStart, schedule: [String]) throws(ExploreError) -> InterleaveResult {
        var m = Machine(start, config: EngineConfig(start))
        m.label.verbose = true
        var steps: [EngineStep] = []
        var hazards: [Hazard] = []
        var linearization: [OpRef] = []
        var deadlock: DeadlockReport?
        for (idx, name) in schedule.enumerated() {
            let i: Int
            if name == "rcu" {
                guard m.gpEnabled else {
                    throw .threadBlocked(step: idx, thread: "rcu", lock: "no grace period can complete: nothing queued, or an older RCU read section is open")
                }
                i = Machine.rcuThread
            } else {
                guard let j = start.names.firstIndex(of: name) else { throw .unknownThread(step: idx, name: name) }
                if m.th[j].done { throw .threadFinished(step: idx, thread: name) }
                if let b = m.th[j].blocked { throw .threadBlocked(step: idx, thread: name, lock: b.describe(m.w)) }
                i = j
            }
            m.runStep(i)
            var held: [String: [String]] = [:]
            for k in m.th.indices {
                let l = m.locksHeld(k)
                if !l.isEmpty { held[start.names[k]] = l }
            }
            for f in m.rec.fired where !hazards.contains(where: { $0.detector == f.detector }) {
                hazards.append(m.hazard(f, schedule: Array(schedule[...idx]), step: idx, thread: name,
                                        locks: i == Machine.rcuThread ? [] : m.locksHeld(i)))
            }
            var detectors = m.rec.fired.map(\.detector)
            if let f = m.rec.finished { linearization.append(f) }
            if deadlock == nil, let d = Explorer.deadlock(m, schedule: Array(schedule[...idx])) {
                deadlock = d
                detectors.append(.D12)
                if !hazards.contains(where: { $0.detector == .D12 }) {
                    hazards.append(m.hazard(Firing(detector: .D12, race: d.cycle.isEmpty ? .deadlock : Explorer.deadlockRace(m), locations: []),
                                            schedule: Array(schedule[...idx]), step: idx, thread: name, locks: []))
                }
            }
            steps.append(EngineStep(index: idx, thread: name, fn: m.label.fn, note: m.label.note,
                                    reads: m.rec.reads.map { $0.describe(m.w) }, writes: m.rec.writes.map { $0.describe(m.w) },
                                    locksHeld: held, detectors: detectors, vmas: m.vmaViews(), anonVMAs: m.anonVMAViews()))
        }
        var blocked: [String: String] = [:]
        for (k, s) in m.th.enumerated() { if let b = s.blocked { blocked[start.names[k]] = b.describe(m.w) } }
        return InterleaveResult(steps: steps, finished: m.allDone, digest: m.digest(), linearization: linearization,
                                hazards: hazards.sorted { $0.detector < $1.detector }, deadlock: deadlock,
                                faultCodes: m.faultCodes(), blocked: blocked)
    }
}
