import Foundation
import MMCore

// Exploration benchmarks (docs/CONCURRENCY.md §6): every acceptance scenario
// S1–S11 explored to completion at preemption bound 3: with the sleep-set
// reduction and state hashing, without the reduction, and without either. `mmsim-bench explore` runs only these.

/// One scenario: a process set up with real syscalls, then thread programs.
struct ExploreScenario {
    var name: String
    var models: [KernelModel]
    var mutant: Mutant? = nil
    var enomem = false
    var setup: (Simulation, Int) -> Void
    var threads: (UInt64) -> [ThreadProgram]
}

let X: UInt64 = 0x1000_0000
let P: UInt64 = 4096
func at(_ page: UInt64) -> UInt64 { X + page * P }
func mapAt(_ sim: Simulation, _ pid: Int, _ page: UInt64, _ pages: UInt64, _ prot: UInt64, growsdown: Bool = false) {
    _ = try! sim.syscall(pid: pid, .mmap(addr: at(page), length: pages * P, prot: prot,
                                         flags: anonFixed | (growsdown ? Linux.MAP_GROWSDOWN : 0), fd: -1, offset: 0))
}
func writeAt(_ sim: Simulation, _ pid: Int, _ page: UInt64) { _ = try! sim.fault(pid: pid, address: at(page), access: .write) }
func faultOp(_ page: UInt64, _ access: Access = .write) -> ThreadOp { .fault(address: at(page), access: access) }
let rwx = rw | Linux.PROT_EXEC

nonisolated(unsafe) let exploreScenarios: [ExploreScenario] = [
    ExploreScenario(name: "S1", models: [.v3No26, .v6_4, .v6_18], setup: { s, p in
        mapAt(s, p, 1, 1, rw); writeAt(s, p, 1); mapAt(s, p, 0, 1, rwx)
    }, threads: { _ in [ThreadProgram(name: "T1", ops: [faultOp(0)]),
                        ThreadProgram(name: "T2", ops: [.syscall(.munmap(addr: at(1), length: P))])] }),
    ExploreScenario(name: "S2", models: [.v6_4, .v6_18], setup: { s, p in mapAt(s, p, 0, 1, rw); writeAt(s, p, 0) },
                    threads: { _ in [ThreadProgram(name: "K", ops: [.syscall(.fork)]), ThreadProgram(name: "T2", ops: [faultOp(0)])] }),
    ExploreScenario(name: "S3", models: [.v3No26, .v6_18], setup: { s, p in mapAt(s, p, 0, 1, rw) },
                    threads: { _ in [ThreadProgram(name: "K", ops: [.syscall(.fork)]), ThreadProgram(name: "T2", ops: [faultOp(0)])] }),
    ExploreScenario(name: "S4", models: [.v6_4, .v6_18], setup: { s, p in
        mapAt(s, p, 0, 4, rw, growsdown: true); mapAt(s, p, 8, 8, rw, growsdown: true); writeAt(s, p, 15); mapAt(s, p, 32, 1, rw)
    }, threads: { _ in [ThreadProgram(name: "T1", ops: [faultOp(4)]),
                        ThreadProgram(name: "T2", ops: [.syscall(.madvise(addr: at(32), length: P, advice: Linux.MADV_DONTNEED))])] }),
    ExploreScenario(name: "S5", models: [.v6_4, .v6_18], setup: { s, p in mapAt(s, p, 8, 8, rw, growsdown: true); writeAt(s, p, 15) },
                    threads: { _ in [ThreadProgram(name: "T1", ops: [faultOp(7)]), ThreadProgram(name: "T2", ops: [faultOp(14)])] }),
    ExploreScenario(name: "S6", models: [.v6_4, .v6_18], setup: { s, p in
        mapAt(s, p, 0, 2, rwx); writeAt(s, p, 0); mapAt(s, p, 2, 1, rw); writeAt(s, p, 2)
    }, threads: { _ in [ThreadProgram(name: "T1", ops: [faultOp(1)]),
                        ThreadProgram(name: "T2", ops: [.syscall(.mremap(oldAddress: at(0), oldSize: 2 * P, newSize: 2 * P,
                                                                         flags: Linux.MREMAP_MAYMOVE | Linux.MREMAP_DONTUNMAP, newAddress: 0))]),
                        ThreadProgram(name: "T3", ops: [.syscall(.munmap(addr: at(2), length: P))])] }),
    ExploreScenario(name: "S7", models: [.v6_4, .v6_18], enomem: true, setup: { s, p in
        mapAt(s, p, 2, 1, rw); writeAt(s, p, 2); mapAt(s, p, 1, 1, Linux.PROT_READ); mapAt(s, p, 0, 1, rw)
    }, threads: { _ in [ThreadProgram(name: "T1", ops: [.syscall(.mprotect(addr: at(1), length: P, prot: rw))]),
                        ThreadProgram(name: "T2", ops: [faultOp(0)])] }),
    ExploreScenario(name: "S8", models: [.v6_4, .v6_18], setup: { s, p in mapAt(s, p, 0, 2, rw); writeAt(s, p, 1) },
                    threads: { _ in [ThreadProgram(name: "T1", ops: [faultOp(0, .read)]),
                                     ThreadProgram(name: "T2", ops: [.syscall(.munmap(addr: at(0), length: 2 * P))])] }),
    ExploreScenario(name: "S9", models: [.v6_4, .v6_18], setup: { s, p in mapAt(s, p, 0, 4, rw); writeAt(s, p, 3) },
                    threads: { _ in [ThreadProgram(name: "T1", ops: [faultOp(0)]),
                                     ThreadProgram(name: "T2", ops: [.syscall(.mprotect(addr: at(2), length: 2 * P, prot: Linux.PROT_READ))]),
                                     ThreadProgram(name: "T3", ops: [faultOp(1)])] }),
    ExploreScenario(name: "S10", models: [.v6_18], mutant: .blockingPrepare, setup: { s, p in mapAt(s, p, 0, 1, rw) },
                    threads: { _ in [ThreadProgram(name: "T1", ops: [faultOp(0)]),
                                     ThreadProgram(name: "T2", ops: [.syscall(.mprotect(addr: at(0), length: P, prot: Linux.PROT_READ))])] }),
    ExploreScenario(name: "S11", models: [.v3No26, .v6_18], setup: { s, p in mapAt(s, p, 0, 2, rw) },
                    threads: { _ in [ThreadProgram(name: "T1", ops: [faultOp(0)]), ThreadProgram(name: "T2", ops: [faultOp(1)])] }),
]

func exploreBenchmarks() {
    var worst = 0.0, worstName = ""
    for (reduction, hashing) in [(true, true), (false, true), (false, false)] {
        let variant = reduction ? "" : hashing ? ", no reduction" : ", no reduction, no state hashing"
        var totalSchedules = 0, totalSteps = 0, totalTime = 0.0
        for sc in exploreScenarios {
            for model in sc.models {
                let sim = Simulation(model: model, config: SimulationConfig(tracing: false))
                let pid = sim.createProcess().pid
                sc.setup(sim, pid)
                let opts = ExploreOptions(preemptionBound: 3, reduction: reduction, stateHashing: hashing,
                                          inject: ExploreInjection(anonVMACloneENOMEM: sc.enomem), mutant: sc.mutant)
                var best = Double.infinity
                var r: ExploreResult!
                for _ in 0..<3 {
                    let t0 = now()
                    r = try! sim.explore(pid: pid, programs: sc.threads(X), options: opts)
                    best = min(best, now() - t0)
                }
                precondition(!r.boundedBy.contains(.maxSchedules) && !r.boundedBy.contains(.timeLimit), "\(sc.name) cut")
                totalSchedules += r.schedulesExplored
                totalSteps += r.stepsExecuted
                totalTime += best
                if reduction && best > worst { worst = best; worstName = "\(sc.name) \(model.id)" }
                let label = "explore \(sc.name) \(model.id)\(sc.mutant.map { " (\($0.rawValue))" } ?? "")\(variant)"
                record(label, String(format: "%.1f ms, %d schedules, %d steps, %d pruned, hazards %@", best * 1e3,
                                     r.schedulesExplored, r.stepsExecuted, r.statesPruned,
                                     r.hazards.map(\.detector.rawValue).joined(separator: " ")), "≤ 1 s")
            }
        }
        record("explore S1–S11 total\(variant)",
               String(format: "%.0f schedules/s, %.0f steps/s (%.0f ms)", Double(totalSchedules) / totalTime,
                      Double(totalSteps) / totalTime, totalTime * 1e3), "—")
    }
    record("explore: slowest scenario (bound 3, reduction)", String(format: "%.1f ms (%@)", worst * 1e3, worstName), "≤ 1 s")
}
