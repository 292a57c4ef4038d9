import MMCore

/// A session's state is the replay of its log (operations are
/// deterministic): these rebuild it, for interleave's commit check and for
/// undoing a streamed replay cut short. Called with the session lock held.
extension Session {
    /// A new Simulation with this session's model, options and layout and
    /// its log applied, tracing off; the session itself is untouched.
    func replayedSimulation() -> Simulation {
        let copy = Simulation(model: sim.model, options: sim.options, config: SimulationConfig(layout: sim.config.layout, tracing: false))
        for op in log { _ = try? op.apply(to: copy, maxProcesses: .max, summary: true) }
        return copy
    }

    /// Replaces `sim` with the replay of the log, as a restart would.
    func rebuildFromLog() {
        let fresh = replayedSimulation()
        fresh.config.tracing = sim.config.tracing
        fresh.tracer.enabled = true
        sim = fresh
        budget.remeasure(sim)
    }
}
