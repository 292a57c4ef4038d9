/// The engine's machine: the world, the threads, and what the step being
/// executed records (docs/CONCURRENCY.md §5.1). Steps are `mutating`
/// functions on it; detectors run inside the access helpers below.

/// The fixed part of a run: model, programs, switches.
final class EngineConfig {
    let model: KernelModel
    let mutant: Mutant?
    let inject: ExploreInjection
    let programs: [[ThreadOp]]
    let names: [String]
    let mmapFlags: [[VMFlags?]]
    let mmapFiles: [[EngineFileMapping?]]

    init(_ s: EngineStart) {
        mmapFlags = s.mmapFlags
        mmapFiles = s.mmapFiles
        model = s.model
        mutant = s.mutant
        inject = s.inject
        programs = s.programs
        names = s.names
    }

    /// The race a D1/D2/D5/D6 in __anon_vma_prepare() belongs to: R-A where
    /// the model admits faults without anon_vma, else R-E.
    var prepareRace: Race { model.anonPrepareUnderVMALock ? .prepareUnderVMALock : .anonTestBeforeLock }
}

/// A VMA field, for locations ("V#3.anon_vma").
enum Field: String, Hashable {
    case layout, flags, anonVMA = "anon_vma", chain, file, pgoff, policy, detached
}

/// A location a step reads or writes, or a lock it operates on.
enum Loc: Hashable {
    case vma(Int, Field)
    case tree
    case node(Int)
    case av(Int)
    case pte(Int, UInt64)
    case mmapLock
    case vmaLock(Int)
    case avLock(Int)
    case ptl
    case rcu
    case folio(Int)
    case policy(Int)

    func describe(_ w: World) -> String {
        switch self {
        case let .vma(v, f): "V#\(w.vmas[v].id).\(f.rawValue)"
        case .tree: "TREE"
        case let .node(n): "node#\(n)"
        case let .av(a): "av\(w.avs[a].id)"
        case let .pte(mm, vpn): mm == 0 ? "PTE(\(hex(vpn << 12)))" : "PTE(\(hex(vpn << 12)))@mm\(mm)"
        case .mmapLock: "mmap_lock"
        case let .vmaLock(v): "V#\(w.vmas[v].id).lock"
        case let .avLock(a): "av\(w.avs[a].id).rwsem"
        case .ptl: "page_table_lock"
        case .rcu: "RCU"
        case let .folio(f): "folio#\(w.folios[f].id)"
        case let .policy(p): "mpol#\(w.policies[p].id)"
        }
    }

    /// A lock operation: always dependent with another on the same lock (§5.3).
    var isLock: Bool {
        switch self {
        case .mmapLock, .vmaLock, .avLock, .ptl, .rcu: true
        default: false
        }
    }
}

/// A detector firing inside a step.
struct Firing: Hashable {
    var detector: Detector
    var race: Race
    var locations: [Loc]
}

/// The name and note of the step being run: a reference shared by the
/// copies of a Machine, so naming a step does not mutate the machine.
final class StepLabel {
    var verbose = false
    var fn = ""
    var note = ""
}

/// What one step did.
struct StepRecord {
    var reads: [Loc] = []
    var writes: [Loc] = []
    var fired: [Firing] = []
    /// The operation that completed in this step.
    var finished: OpRef?
}

struct Machine {
    var w: World
    var th: [ThreadState]
    let cfg: EngineConfig
    /// The thread whose step is running.
    var cur = 0
    var rec = StepRecord()
    /// The step's kernel function and note (filled only for `interleave`).
    let label = StepLabel()

    init(_ s: EngineStart, config: EngineConfig) {
        w = s.world
        th = s.threads
        cfg = config
    }

    var model: KernelModel { cfg.model }
    var t: ThreadState {
        get { th[cur] }
        _modify { yield &th[cur] }
    }

    /// Names the step (only when verbose: string building costs in the search).
    func step(_ fn: StaticString, _ note: @autoclosure () -> String = "") {
        if label.verbose {
            label.fn = "\(fn)"
            label.note = note()
        }
    }

    // MARK: holds (docs/CONCURRENCY.md §7 notation)

    /// mm(T): T holds mmap_lock (read, downgraded or write).
    func holdsMmap(_ tid: Int) -> Bool { w.mmapHolder(tid) }
    /// vr(T, v).
    func holdsRead(_ tid: Int, _ v: Int) -> Bool { w.vmas[v].readers.contains(tid) }
    /// rcu(T).
    func inRCU(_ tid: Int) -> Bool { th[tid].rcuSince != nil }

    // MARK: accesses with their detectors

    mutating func fire(_ d: Detector, _ race: Race, _ locs: [Loc]) {
        if !rec.fired.contains(where: { $0.detector == d }) { rec.fired.append(Firing(detector: d, race: race, locations: locs)) }
    }

    /// R(v.f) by the running thread: D5 on a freed VMA, D1 for an unlocked read of a published field.
    mutating func readVMA(_ v: Int, _ f: Field, race: Race) {
        rec.reads.append(.vma(v, f))
        if w.vmas[v].freed { fire(.D5, race, [.vma(v, f)]) }
        if f != .layout && f != .detached && !holdsMmap(cur) && !holdsRead(cur, v) && !inRCU(cur) {
            fire(.D1, race, [.vma(v, f)])
        }
    }

    /// W(v.f): D5 on a freed VMA; D3/D3b for a write to an attached VMA not
    /// write-locked (per-VMA-lock models; `ptlSection`: __anon_vma_prepare()'s
    /// NULL → non-NULL store under page_table_lock, which is allowed).
    mutating func writeVMA(_ v: Int, _ f: Field, race: Race, ptlSection: Bool = false) {
        rec.writes.append(.vma(v, f))
        let e = w.vmas[v]
        if e.freed { fire(.D5, race, [.vma(v, f)]) }
        if model.perVMALock { rec.reads.append(.vmaLock(v)) }
        guard model.perVMALock, !ptlSection, e.mm == 0, !e.detached, w.tree.vmas.contains(v),
              [.layout, .flags, .policy, .anonVMA].contains(f), !w.isWriteLocked(v) else { return }
        fire(.D3, race, [.vma(v, f)])
        if e.readers.contains(where: { $0 != cur }) {
            rec.reads.append(.vmaLock(v))
            fire(.D3b, race, [.vma(v, f), .vmaLock(v)])
        }
    }

    /// R(TREE): D2 without mmap_lock or RCU.
    mutating func readTree(race: Race) {
        rec.reads.append(.tree)
        if !holdsMmap(cur) && !inRCU(cur) { fire(.D2, race, [.tree]) }
    }

    /// W(TREE): D4 holding mmap_lock only for read.
    mutating func writeTree(race: Race) {
        rec.writes.append(.tree)
        if w.mmap.readers.contains(cur) { fire(.D4, race, [.tree]) }
    }

    /// "walk: load node": the maple state remembers the leaf and its slots.
    mutating func loadNode(race: Race) {
        readTree(race: race)
        rec.reads.append(.node(w.tree.node))
        t.masNode = w.tree.node
        t.mas = w.entries()
    }

    /// "walk: read slot" on the leaf loaded before: D4s when a gap-removing
    /// store replaced it and a grace period freed it since.
    mutating func readLoadedNode(race: Race) {
        rec.reads.append(.node(t.masNode))
        if let fate = w.tree.replaced[t.masNode], fate.freed, fate.gapDeleted {
            fire(.D4s, race, [.node(t.masNode)])
        }
    }

    /// A use of anon_vma `a` (lock, reference, assignment): D6 if freed.
    mutating func useAV(_ a: Int, race: Race) {
        rec.reads.append(.av(a))
        if w.avs[a].freed { fire(.D6, race, [.av(a)]) }
    }

    /// W(PTE(vpn)) in mm 0: D8 inside another thread's fork window.
    mutating func writePTE(_ mm: Int, _ vpn: UInt64) {
        rec.writes.append(.pte(mm, vpn))
        if mm == 0, let k = w.tlbPending[vpn], k != cur { fire(.D8, .forkVsFault, [.pte(mm, vpn)]) }
    }

    // MARK: end-of-step state predicates

    /// D6 (a VMA points at a freed anon_vma), D7 (orphan anonymous folio), D9
    /// (a fork child's VMA without anon_vma maps an anonymous page).
    mutating func checkState() {
        for (i, v) in w.vmas.enumerated() where !v.freed && !v.pendingFree {
            if let a = v.anonVMA, w.avs[a].freed { fire(.D6, cfg.prepareRace, [.vma(i, .anonVMA), .av(a)]) }
        }
        for p in w.ptes {
            let f = w.folios[p.folio]
            guard f.anon, let a = f.anonVMA else { continue }
            guard let v = vmaCovering(p.mm, p.vpn << 12) else { continue }
            if p.mm > 0 && w.vmas[v].anonVMA == nil {
                fire(.D9, .forkVsFault, [.vma(v, .anonVMA), .pte(p.mm, p.vpn)])
            }
            if !w.vmas[v].chain.contains(a) {
                fire(.D7, p.mm > 0 ? .forkVsFault : .dupAnonVMA, [.pte(p.mm, p.vpn), .vma(v, .chain), .av(a)])
            }
        }
    }

    /// The VMA of mm `mm` covering `addr` (the tree for mm 0, the child's list for others).
    func vmaCovering(_ mm: Int, _ addr: UInt64) -> Int? {
        if mm == 0 { return w.find(containing: addr) }
        return w.vmas.indices.first { w.vmas[$0].mm == mm && !w.vmas[$0].freed && w.vmas[$0].contains(addr) }
    }
}
