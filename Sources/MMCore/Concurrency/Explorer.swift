/// Bounded exhaustive exploration (docs/CONCURRENCY.md §5.3).
struct Explorer {
    let start: EngineStart
    let options: ExploreOptions

    init(start: EngineStart, options: ExploreOptions) {
        self.start = start
        self.options = options
    }

    mutating func run() -> ExploreResult {
        ExploreResult(schedulesExplored: 0, statesPruned: 0, stepsExecuted: 0, bounded: false, boundedBy: [],
                      outcomes: [], hazards: [], deadlocks: [], lockWaitGraph: [], faultPaths: [:])
    }
}

/// Runs one given schedule (docs/CONCURRENCY.md §5.2).
enum Interleaver {
    static func run(_ start: EngineStart, schedule: [String]) throws(ExploreError) -> InterleaveResult {
        InterleaveResult(steps: [], finished: false, digest: "", linearization: [], hazards: [], deadlock: nil,
                         faultCodes: [:], blocked: [:])
    }
}
