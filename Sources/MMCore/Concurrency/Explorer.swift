/// Bounded exhaustive exploration (docs/CONCURRENCY.md §5.3): depth-first
/// over schedules with a preemption bound, sleep-set partial-order reduction
/// on the recorded accesses, and state hashing. Deterministic: threads are
/// tried in program order, the running thread first.
struct Explorer {
    let start: EngineStart
    let options: ExploreOptions
    let config: EngineConfig

    private var schedules = 0
    private var pruned = 0
    private var steps = 0
    private var boundedBy = Set<ExploreBound>()
    private var outcomes: [String: ExploreOutcome] = [:]
    private var outcomeOrder: [String] = []
    private var hazards: [Detector: Hazard] = [:]
    private var deadlocks: [DeadlockReport] = []
    private var edges: [LockWaitEdge: Int] = [:]
    private var edgeOrder: [LockWaitEdge] = []
    private var faultPaths: [String: Set<LockCode>] = [:]
    /// State hash → the largest preemption budget it was explored with.
    private var visited: [Int: Int] = [:]
    private var schedule: [Int] = []
    private var deadline: ContinuousClock.Instant?
    private var stop = false

    init(start: EngineStart, options: ExploreOptions) {
        self.start = start
        self.options = options
        self.config = EngineConfig(start)
    }

    /// What a step touched, for the independence test of §5.3.
    struct Footprint {
        var reads: [Loc]
        var writes: [Loc]

        /// Independent: no location written by one and touched by the other.
        func independent(of o: Footprint) -> Bool {
            for x in writes where o.writes.contains(x) || o.reads.contains(x) { return false }
            for x in reads where o.writes.contains(x) { return false }
            return true
        }
    }

    mutating func run() -> ExploreResult {
        if let limit = options.timeLimit { deadline = ContinuousClock.now.advanced(by: limit) }
        let m = Machine(start, config: config)
        dfs(m, last: nil, preemptions: 0, sleep: [])
        let names = start.names
        var paths: [String: [LockCode]] = [:]
        for (k, v) in faultPaths { paths[k] = v.sorted { $0.rawValue < $1.rawValue } }
        _ = names
        return ExploreResult(
            schedulesExplored: schedules, statesPruned: pruned, stepsExecuted: steps, bounded: !boundedBy.isEmpty,
            boundedBy: ExploreBound.allCases.filter(boundedBy.contains),
            outcomes: outcomeOrder.map { outcomes[$0]! },
            hazards: hazards.values.sorted { $0.detector < $1.detector },
            deadlocks: deadlocks,
            lockWaitGraph: edgeOrder.map { var e = $0; e.count = edges[$0]!; return e },
            faultPaths: paths)
    }

    private mutating func dfs(_ m: Machine, last: Int?, preemptions: Int, sleep: [(Int, Footprint)]) {
        if stop { return }
        if m.allDone || m.stuck || m.waitCycle() != nil {
            terminal(m)
            return
        }
        if schedules >= options.maxSchedules {
            boundedBy.insert(.maxSchedules)
            stop = true
            return
        }
        if let d = deadline, steps & 255 == 0, ContinuousClock.now >= d {
            boundedBy.insert(.timeLimit)
            stop = true
            return
        }
        var choices = m.runnableThreads
        if let l = last, let i = choices.firstIndex(of: l) { choices.remove(at: i); choices.insert(l, at: 0) }
        if m.gpEnabled { choices.append(Machine.rcuThread) }
        var done: [(Int, Footprint)] = []
        var sleeping = sleep
        for c in choices {
            if stop { return }
            let cost = (c != Machine.rcuThread && last != nil && c != last && m.runnable(last!)) ? 1 : 0
            if preemptions + cost > options.preemptionBound {
                boundedBy.insert(.preemptionBound)
                continue
            }
            if options.reduction, sleeping.contains(where: { $0.0 == c }) {
                pruned += 1
                continue
            }
            var child = m
            child.runStep(c)
            steps += 1
            schedule.append(c)
            defer { schedule.removeLast() }
            let fp = Footprint(reads: child.rec.reads, writes: child.rec.writes)
            record(child, thread: c)
            if c != Machine.rcuThread, child.th[c].steps > options.maxStepsPerThread {
                boundedBy.insert(.maxSteps)
                continue
            }
            let nextSleep = options.reduction ? sleeping.filter { $0.1.independent(of: fp) } : []
            let nextLast = c == Machine.rcuThread ? last : c
            if options.stateHashing {
                var h = Hasher()
                h.combine(child.w)
                h.combine(child.th)
                h.combine(nextLast ?? -2)
                for s in nextSleep.map(\.0).sorted() { h.combine(s) }
                let key = h.finalize()
                let budget = options.preemptionBound - preemptions - cost
                if let seen = visited[key], seen >= budget {
                    pruned += 1
                    done.append((c, fp))
                    if options.reduction { sleeping.append((c, fp)) }
                    continue
                }
                visited[key] = budget
            }
            dfs(child, last: nextLast, preemptions: preemptions + cost, sleep: nextSleep)
            done.append((c, fp))
            if options.reduction { sleeping.append((c, fp)) }
        }
    }

    /// A complete schedule (or one ending in deadlock).
    private mutating func terminal(_ m: Machine) {
        schedules += 1
        let names = schedule.map(m.name)
        for (k, v) in m.faultCodes() { faultPaths[k, default: []].formUnion(v) }
        guard m.allDone else { return }
        let d = m.digest()
        if var o = outcomes[d] {
            o.count += 1
            outcomes[d] = o
        } else {
            outcomes[d] = ExploreOutcome(digest: d, count: 1, firstSchedule: names, vmas: m.vmaViews(),
                                         anonVMAs: m.anonVMAViews(), summary: m.summaryLines(), faultCodes: m.faultCodes())
            outcomeOrder.append(d)
        }
    }

    /// Hazards, wait-for edges and deadlocks after a step.
    private mutating func record(_ m: Machine, thread c: Int) {
        let names = schedule.map(m.name)
        for f in m.rec.fired {
            if let h = hazards[f.detector], h.firstSchedule.count <= names.count { continue }
            hazards[f.detector] = m.hazard(f, schedule: names, step: names.count - 1, thread: m.name(c),
                                           locks: c == Machine.rcuThread ? [] : m.locksHeld(c))
        }
        for e in m.waitEdges() {
            let key = LockWaitEdge(from: m.name(e.from), to: m.name(e.to), lock: e.lock, count: 0)
            if edges[key] == nil { edgeOrder.append(key) }
            edges[key, default: 0] += 1
        }
        if let d = Self.deadlock(m, schedule: names) {
            if !deadlocks.contains(where: { Set($0.cycle) == Set(d.cycle) }) { deadlocks.append(d) }
            if hazards[.D12].map({ $0.firstSchedule.count > names.count }) ?? true {
                hazards[.D12] = m.hazard(Firing(detector: .D12, race: Self.deadlockRace(m), locations: []),
                                         schedule: names, step: names.count - 1, thread: m.name(c), locks: [])
            }
        }
    }

    /// A deadlock after the last step: a wait-for cycle, or nothing runnable.
    static func deadlock(_ m: Machine, schedule: [String]) -> DeadlockReport? {
        if let c = m.waitCycle() {
            return DeadlockReport(schedule: schedule, cycle: c.threads.map(m.name), locks: c.locks)
        }
        if m.stuck {
            let waiting = m.th.indices.filter { m.th[$0].blocked != nil }
            return DeadlockReport(schedule: schedule, cycle: waiting.map(m.name),
                                  locks: waiting.map { m.th[$0].blocked!.describe(m.w) })
        }
        return nil
    }

    /// R-I when a thread blocks on mmap_lock holding a VMA read lock.
    static func deadlockRace(_ m: Machine) -> Race {
        m.th.contains { s in s.readLocked != nil && { if case .mmap = s.blocked { true } else { false } }() }
            ? .blockingPrepare : .deadlock
    }
}
