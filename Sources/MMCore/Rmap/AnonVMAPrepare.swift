/// Lazy anon_vma creation (docs/KERNEL-MODEL.md §4.8, §5, §8.4).
///
/// An anon_vma is created only when something first needs one: a fault that
/// installs an anonymous page, stack expansion, guard installation — never by
/// mmap/mprotect/brk (unless the hypothetical `eagerAnonVMA` option is on).
extension Simulation {
    /// Models vmf_anon_prepare() (mm/internal.h) around __vmf_anon_prepare()
    /// (mm/memory.c). Already set → nothing. Under the VMA lock: 6.10+ takes
    /// mmap_read_trylock() (failure → RETRY, `ANON_VMA_TRYLOCK_FAILED`); older
    /// per-VMA kernels cannot get here without an anon_vma and would RETRY.
    /// Under mmap_lock: __anon_vma_prepare() directly.
    ///
    /// With `skipMergeableForFile`, a private file VMA needs no neighbour walk
    /// and therefore no mmap_lock at all.
    func vmfAnonPrepare(_ ctx: inout FaultContext, _ vma: VMA) -> VMFault {
        if let id = vma.anonVMA?.id {
            if ctx.anon.action == .none {
                ctx.anon = AnonVMAOutcome(action: .present, id: id, fromSide: nil, fromVMA: nil, candidates: [])
            }
            return []
        }
        if options.skipMergeableForFile && vma.file != nil {
            ctx.step("vmf_anon_prepare", "no_lock_needed", "skip_mergeable_for_file")
            trace(ctx.tracing, "vmf_anon_prepare", "skip_mergeable_for_file: no neighbour walk, so no mmap_lock needed")
            ctx.anon = anonVMAPrepare(ctx.p, vma)
            return []
        }
        if ctx.underVMALock {
            if model.anonPrepareUnderVMALock {
                // v3-no-26 / 6.4-no-26: no mmap_lock at all; the neighbour walk is unlocked (race R-A).
                ctx.step("__anon_vma_prepare", "vma_lock_only", "anon_vma_prepare")
                trace(ctx.tracing, "anon_vma_prepare", "__anon_vma_prepare() holding only the VMA read lock: find_mergeable_anon_vma() walks the tree unlocked")
                ctx.anon = anonVMAPrepare(ctx.p, vma)
                return []
            }
            guard model.anonPrepareTrylock else {
                trace(ctx.tracing, "vmf_anon_prepare", "no anon_vma under the VMA lock: vma_end_read(), VM_FAULT_RETRY")
                ctx.retryCode = .NO_ANON_VMA
                return .retry
            }
            if ctx.inject.mmapLockContended {
                ctx.step("mmap_read_trylock", "fail", LockCode.ANON_VMA_TRYLOCK_FAILED.reason)
                trace(ctx.tracing, "vmf_anon_prepare", "mmap_read_trylock() failed: vma_end_read(), VM_FAULT_RETRY")
                ctx.retryCode = .ANON_VMA_TRYLOCK_FAILED
                return .retry
            }
            ctx.step("mmap_read_trylock", "locked", "anon_vma_prepare")
            trace(ctx.tracing, "vmf_anon_prepare", "mmap_read_trylock() succeeded: __anon_vma_prepare() under both locks")
            ctx.anon = anonVMAPrepare(ctx.p, vma)
            ctx.trylocked = true
            ctx.step("mmap_read_unlock", "unlocked")
            return []
        }
        ctx.anon = anonVMAPrepare(ctx.p, vma)
        return []
    }

    /// Models __anon_vma_prepare() (mm/rmap.c): reuse a neighbour's anon_vma
    /// found by find_mergeable_anon_vma(), or allocate a new root (num_children
    /// 1 for its self-parent link); link one AVC and count the VMA active.
    /// The VMA's chain length becomes 1. Requires `vma.anonVMA == nil`.
    ///
    /// Also the entry point for other callers that need an anon_vma
    /// (MADV_GUARD_INSTALL, the `eagerAnonVMA` option).
    @discardableResult
    func anonVMAPrepare(_ p: Process, _ vma: VMA) -> AnonVMAOutcome {
        if let av = vma.anonVMA {
            return AnonVMAOutcome(action: .present, id: av.id, fromSide: nil, fromVMA: nil, candidates: [])
        }
        var candidates: [AnonVMACandidate] = []
        var found: (av: AnonVMA, side: AnonVMACandidate.Side, vma: VMA)?
        if options.skipMergeableForFile && vma.file != nil {
            tracer.step("__anon_vma_prepare", "skip_mergeable_for_file: private file VMA, find_mergeable_anon_vma() skipped")
        } else {
            found = findMergeableAnonVMA(p, vma, &candidates)
        }
        let av: AnonVMA
        let outcome: AnonVMAOutcome
        if let found {
            av = found.av
            if found.side == .next { stats.anonVMA.reusedNext += 1 } else { stats.anonVMA.reusedPrev += 1 }
            outcome = AnonVMAOutcome(action: .reused, id: av.id, fromSide: found.side,
                                     fromVMA: found.vma.rangeDescription, candidates: candidates)
            tracer.step("__anon_vma_prepare", "\(vma.rangeDescription) reuses av\(av.id) of its \(found.side.rawValue) \(found.vma.rangeDescription)")
        } else {
            av = anonVMAAlloc()
            av.numChildren += 1   // self-parent link of a new root
            outcome = AnonVMAOutcome(action: .allocated, id: av.id, fromSide: nil, fromVMA: nil, candidates: candidates)
            tracer.step("__anon_vma_prepare", TraceNote("%x-%x: no reusable neighbour, allocated root av%d", vma.start, vma.end, UInt64(av.id)))
        }
        vma.anonVMA = av
        anonVMAChainLink(vma, av, pid: p.pid)
        av.numActiveVMAs += 1
        return outcome
    }

    /// Models find_mergeable_anon_vma() (mm/vma.c; mm/mmap.c before 6.12): the
    /// VMA starting exactly at `vma.end` first, then the VMA just before `vma`;
    /// no other VMA is examined. Every neighbour looked at is reported.
    func findMergeableAnonVMA(_ p: Process, _ vma: VMA,
                              _ candidates: inout [AnonVMACandidate]) -> (av: AnonVMA, side: AnonVMACandidate.Side, vma: VMA)? {
        let tree = p.mm.vmas
        if let next = tree.find(containing: vma.end) {
            let (av, why) = reusableAnonVMA(old: next, a: vma, b: next)
            candidates.append(AnonVMACandidate(side: .next, vma: next.rangeDescription, compatible: av != nil,
                                               anonVMA: next.anonVMA?.id, why: why))
            if let av { return (av, .next, next) }
        }
        if let prev = tree.prev(of: vma) {
            let (av, why) = reusableAnonVMA(old: prev, a: prev, b: vma)
            candidates.append(AnonVMACandidate(side: .prev, vma: prev.rangeDescription, compatible: av != nil,
                                               anonVMA: prev.anonVMA?.id, why: why))
            if let av { return (av, .prev, prev) }
        }
        return nil
    }

    /// Models reusable_anon_vma() (mm/vma.c): `old.anon_vma` if `a` and `b`
    /// are anon_vma_compatible() and `old`'s chain is singular (not a fork
    /// child). Also returns why, for the API.
    func reusableAnonVMA(old: VMA, a: VMA, b: VMA) -> (AnonVMA?, String) {
        if let why = anonVMAIncompatibility(a, b) { return (nil, why) }
        guard let av = old.anonVMA else { return (nil, "compatible, but it has no anon_vma yet") }
        guard old.chain.count == 1 else {
            return (nil, "compatible, but its anon_vma chain has \(old.chain.count) entries (fork child): list_is_singular() fails")
        }
        return (av, "compatible and its chain is singular: reuse av\(av.id)")
    }

    /// Models anon_vma_compatible() (mm/vma.c) for `a` directly below `b`:
    /// adjacent, same mempolicy, the same `struct file` (identity), flags equal
    /// except VM_READ|VM_WRITE|VM_EXEC|VM_SOFTDIRTY, contiguous pgoff.
    func anonVMACompatible(_ a: VMA, _ b: VMA) -> Bool { anonVMAIncompatibility(a, b) == nil }

    /// The first anon_vma_compatible() condition that fails, or nil.
    func anonVMAIncompatibility(_ a: VMA, _ b: VMA) -> String? {
        if a.end != b.start { return "not adjacent (\(hex(a.end)) != \(hex(b.start)))" }
        // Mempolicies: default everywhere in this model.
        if a.file !== b.file {
            func name(_ f: OpenFile?) -> String { f.map { "file\($0.id)" } ?? "none" }
            return "vm_file differs (\(name(a.file)) vs \(name(b.file)))"
        }
        let diff = a.flags.symmetricDifference(b.flags).subtracting([.READ, .WRITE, .EXEC, .SOFTDIRTY])
        if !diff.isEmpty { return "vm_flags differ beyond access bits: \(diff.names.joined(separator: "|"))" }
        if b.pgoff != a.pgoff &+ ((b.start - a.start) >> Linux.PAGE_SHIFT) {
            return "pgoff not contiguous (\(a.pgoff) + \((b.start - a.start) >> Linux.PAGE_SHIFT) != \(b.pgoff))"
        }
        return nil
    }

    /// The `eagerAnonVMA` option (docs/KERNEL-MODEL.md §8.4, Matthew Wilcox's "why not
    /// at mmap time?"): a private (neither VM_SHARED nor VM_MAYSHARE), writable
    /// VMA left without an anon_vma by mmap/brk/mprotect/mremap gets one at
    /// once, with the normal neighbour search. Not kernel behaviour.
    func eagerAnonVMAIfNeeded(_ p: Process, _ vma: VMA) {
        guard options.eagerAnonVMA, vma.anonVMA == nil, vma.flags.contains(.WRITE),
              vma.flags.intersection([.SHARED, .MAYSHARE]).isEmpty else { return }
        tracer.step("eager_anon_vma", "option: preparing an anon_vma for private writable \(vma.rangeDescription) now")
        anonVMAPrepare(p, vma)
    }
}
