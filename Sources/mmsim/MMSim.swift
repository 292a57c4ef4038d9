import ArgumentParser
import MMServer
import MMTrace
import MMHTTP

/// `mmsim`: the simulator's command line, one file per subcommand. `serve`
/// (the default) runs the HTTP service and its visualizer; `compare` and
/// `replay` run a recorded trace through the kernel models offline;
/// `explore` runs a race scenario over every interleaving.
@main
struct MMSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mmsim",
        abstract: "Simulate Linux memory management: VMAs, anon_vmas, page faults and the lock path each takes, per kernel version.",
        discussion: "Without a subcommand, mmsim serves (see `mmsim serve --help`).",
        version: MMServerInfo.version,
        subcommands: [Serve.self, Compare.self, Replay.self, Explore.self],
        defaultSubcommand: Serve.self)
}
