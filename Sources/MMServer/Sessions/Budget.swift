import MMCore
import MMTrace
import Synchronization

/// What a session's simulated machine holds that costs the server memory:
/// page-table entries (pages), VMAs and anon_vmas (docs/API.md "Limits").
struct Usage: Equatable {
    var pages = 0
    var vmas = 0
    var anonVMAs = 0

    /// Counts `sim` exactly (O(processes)); the caller holds the session lock.
    init(_ sim: Simulation) {
        for p in sim.processes.values where p.state != .exited {
            pages += p.mm.pageTable.count
            vmas += p.mm.vmas.underestimatedCount
        }
        anonVMAs = sim.anonVMAs.count
    }

    init(pages: Int = 0, vmas: Int = 0, anonVMAs: Int = 0) {
        self.pages = pages
        self.vmas = vmas
        self.anonVMAs = anonVMAs
    }

    static func + (a: Usage, b: Usage) -> Usage {
        Usage(pages: a.pages &+ b.pages, vmas: a.vmas &+ b.vmas, anonVMAs: a.anonVMAs &+ b.anonVMAs)
    }
}

/// Pages held by every session together, against `max_total_pages`.
final class GlobalBudget: Sendable {
    let maxPages: Int
    private let pages = Atomic<Int>(0)

    init(maxPages: Int) { self.maxPages = maxPages }

    var used: Int { pages.load(ordering: .relaxed) }

    /// A session's measured pages changed by `delta`.
    func add(_ delta: Int) { if delta != 0 { pages.add(delta, ordering: .relaxed) } }
}

/// A session's memory budget (`max_session_pages`, `max_session_vmas`,
/// `max_session_anon_vmas`, and the server's `max_total_pages`). Before an
/// operation runs, the most it could add (``Op/worstCase(_:)``) is checked
/// against the budget; an operation that could pass it is refused with
/// `422 limit_exceeded` naming the limit, before anything changes. To keep
/// the check O(1) on the fault path the session keeps an upper bound of its
/// usage (the last exact count plus every worst case since) as the room it
/// leaves under each limit, kept incrementally: an operation whose worst
/// case fits that room is admitted with three compares and three
/// subtractions; only one that does not fit counts the session exactly.
struct SessionBudget {
    let limits: Limits
    let global: GlobalBudget
    /// Usage counted exactly, last time.
    private var measured = Usage()
    /// `measured` plus the worst case of every operation since.
    private var bound = Usage()
    /// Each session limit less `bound` (`Int.max` less `bound` for a limit
    /// of 0, none): what the fast path of `admit` compares a worst case with.
    private var room: Usage

    init(limits: Limits, global: GlobalBudget) {
        self.limits = limits
        self.global = global
        func most(_ limit: Int) -> Int { limit > 0 ? limit : Int.max }
        room = Usage(pages: most(limits.maxSessionPages), vmas: most(limits.maxSessionVMAs),
                     anonVMAs: most(limits.maxSessionAnonVMAs))
    }

    /// Refuses `op` (422) if it could take `sim` past a limit; else notes its
    /// worst case (the server's total counts every session's bound, so it
    /// never under-counts). Caller holds the session lock.
    @inline(__always)
    mutating func admit(_ op: Op, _ sim: Simulation) throws(APIError) {
        let worst = op.worstCase(sim)
        guard let name = admit(worst, sim) else { return }
        throw refusal(worst, name)
    }

    private func refusal(_ worst: Usage, _ name: String) -> APIError {
        APIError(.limitExceeded, "this operation could take the session past \(name) "
                 + "(now \(measured.pages) pages, \(measured.vmas) VMAs, \(measured.anonVMAs) anon_vmas; "
                 + "at most \(worst.pages) pages, \(worst.vmas) VMAs more); nothing was changed")
    }

    /// Reserves `worst` and returns nil, or returns the limit it could pass
    /// (reserving nothing). Caller holds the session lock.
    @inline(__always)
    mutating func admit(_ worst: Usage, _ sim: Simulation) -> String? {
        // Fast path: the worst case fits the room left under the bound (the
        // same answer `exceeded(bound + worst)` gives, without overflow).
        if worst.pages <= room.pages && worst.vmas <= room.vmas && worst.anonVMAs <= room.anonVMAs
            && (global.maxPages == 0 || global.used &+ worst.pages <= global.maxPages) {
            reserve(worst)
            return nil
        }
        return admitMeasured(worst, sim)
    }

    /// The slow path of `admit`: counts the session exactly, then checks.
    private mutating func admitMeasured(_ worst: Usage, _ sim: Simulation) -> String? {
        remeasure(sim)
        guard let name = exceeded(measured + worst, globalExtra: worst.pages) else {
            reserve(worst)
            return nil
        }
        return name
    }

    @inline(__always)
    private mutating func reserve(_ worst: Usage) {
        global.add(worst.pages)
        bound = bound + worst
        room = Usage(pages: room.pages &- worst.pages, vmas: room.vmas &- worst.vmas, anonVMAs: room.anonVMAs &- worst.anonVMAs)
    }

    /// Counts the session exactly and updates the server's total.
    mutating func remeasure(_ sim: Simulation) {
        let now = Usage(sim)
        global.add(now.pages - bound.pages)
        measured = now
        setBound(now)
    }

    /// The session is gone: its pages leave the server's total.
    mutating func release() {
        global.add(-bound.pages)
        measured = Usage()
        setBound(Usage())
    }

    /// `bound` becomes `u` and `room` what the limits leave above it.
    private mutating func setBound(_ u: Usage) {
        bound = u
        func left(_ limit: Int, _ used: Int) -> Int { limit > 0 ? limit - used : Int.max - max(0, used) }
        room = Usage(pages: left(limits.maxSessionPages, u.pages), vmas: left(limits.maxSessionVMAs, u.vmas),
                     anonVMAs: left(limits.maxSessionAnonVMAs, u.anonVMAs))
    }

    /// The first limit `u` passes (the server's total grown by `globalExtra`), if any.
    private func exceeded(_ u: Usage, globalExtra: Int) -> String? {
        if limits.maxSessionPages > 0 && u.pages > limits.maxSessionPages { return "max_session_pages (\(limits.maxSessionPages))" }
        if limits.maxSessionVMAs > 0 && u.vmas > limits.maxSessionVMAs { return "max_session_vmas (\(limits.maxSessionVMAs))" }
        if limits.maxSessionAnonVMAs > 0 && u.anonVMAs > limits.maxSessionAnonVMAs {
            return "max_session_anon_vmas (\(limits.maxSessionAnonVMAs))"
        }
        if global.maxPages > 0 && global.used + globalExtra > global.maxPages { return "max_total_pages (\(global.maxPages))" }
        return nil
    }
}

extension Op {
    /// The most this operation can add to a session: pages (page-table
    /// entries: a populate of the whole range, the fault-around of a file
    /// read fault, a fork's copy of the parent's table), VMAs (splits on
    /// both sides and a new one) and anon_vmas.
    func worstCase(_ sim: Simulation) -> Usage {
        let faultAround = 16  // do_fault_around(): fault_around_bytes (64 KiB) of file pages
        func pages(_ length: UInt64) -> Int { Int(clamping: length / Linux.PAGE_SIZE + 1) }
        switch self {
        case .file: return Usage()
        case .process: return Usage(pages: 0, vmas: 8, anonVMAs: 1)
        case .thread: return Usage()  // shares its process's mm
        case .fault: return Usage(pages: faultAround, vmas: 1, anonVMAs: 1)
        case let .touch(_, _, n, _): return Usage(pages: faultAround &* n, vmas: 1, anonVMAs: n)
        case let .replay(r):
            // a maps layout: at most a VMA and an anon_vma per line (and a
            // process); a trace is bounded event by event as it replays
            // (TraceEvent.worstCase).
            guard r.format == .maps else { return Usage() }
            let lines = r.text.utf8.reduce(into: 1) { n, b in if b == UInt8(ascii: "\n") { n += 1 } }
            return Usage(pages: 0, vmas: lines &+ 8, anonVMAs: lines &+ 1)
        case let .syscall(pid, _, call):
            switch call {
            case .open, .close, .exit: return Usage()
            case let .mmap(_, length, _, flags, _, _):
                let populates = flags & (Linux.MAP_POPULATE | Linux.MAP_LOCKED) != 0
                return Usage(pages: populates ? pages(length) : 0, vmas: 3, anonVMAs: 1)
            case .munmap: return Usage(pages: 0, vmas: 1, anonVMAs: 0)
            case .mprotect: return Usage(pages: 0, vmas: 2, anonVMAs: 1)
            case let .madvise(_, length, advice):
                let populates = advice == Linux.MADV_POPULATE_READ || advice == Linux.MADV_POPULATE_WRITE
                return Usage(pages: populates ? pages(length) : 0, vmas: 2, anonVMAs: 1)
            case let .mremap(_, _, newSize, _, _):
                return Usage(pages: pages(newSize), vmas: 3, anonVMAs: 1)  // a locked VMA is populated as it grows
            case .brk: return Usage(pages: 0, vmas: 1, anonVMAs: 1)
            case .fork:
                guard let p = sim.processes[pid], p.state != .exited else { return Usage() }
                let vmas = p.mm.vmas.underestimatedCount
                return Usage(pages: p.mm.pageTable.count, vmas: vmas, anonVMAs: vmas + 1)
            }
        }
    }
}

extension TraceEvent {
    /// The most this trace event can add when the replayer applies it, as
    /// ``Op/worstCase(_:)`` for the operation it becomes: a syscall as the
    /// same syscall (plus the 256 pages `faults: touch` touches after an
    /// mmap or brk), a fork the largest live page table and VMA count (the
    /// parent's is among them), a fault its fault-around, an exec or a
    /// perf mapping record a new layout.
    func worstCase(_ sim: Simulation, touch: Bool) -> Usage {
        let touched = touch ? 256 : 0
        switch kind {
        case let .syscall(call, _):
            var u = Op.syscall(pid: 0, tid: nil, call).worstCase(sim)
            switch call {
            case .mmap, .brk: u.pages &+= touched
            default: break
            }
            return u
        case .fork:
            var pages = 0, vmas = 0
            for p in sim.processes.values where p.state != .exited {
                pages = max(pages, p.mm.pageTable.count)
                vmas = max(vmas, p.mm.vmas.underestimatedCount)
            }
            return Usage(pages: pages, vmas: vmas &+ 8, anonVMAs: vmas &+ 1)
        case .fault: return Usage(pages: 16, vmas: 1, anonVMAs: 1)
        case .execve, .execNewMM: return Usage(pages: 16, vmas: 64, anonVMAs: 8)
        case .mapping, .mappingInSyscall: return Usage(pages: 0, vmas: 3, anonVMAs: 1)
        case .vfork, .thread: return Usage(pages: 0, vmas: 8, anonVMAs: 1)
        case .exit, .threadExit, .mmapLock, .skipped, .unrecognised: return Usage()
        }
    }
}
