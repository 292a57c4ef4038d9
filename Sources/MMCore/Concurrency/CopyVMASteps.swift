/// copy_vma() (mm/vma.c; mm/mmap.c before 6.12) as steps of an mremap move
/// (docs/CONCURRENCY.md §2.8): the destination range is first offered to
/// its neighbours — vma_merge_copied_range() → vma_merge_new_range() →
/// vma_expand() in 6.18, vma_merge() in 6.4 — and only when neither takes
/// it is a new VMA linked, sharing the source's anon_vma chain.
///
/// The rules are the Simulation's (`vmaMergeCopiedRange()`, Merge.swift):
/// is_mergeable_vma(), pgoff contiguity, is_mergeable_anon_vma() with the
/// copied-from VMA as donor (6.16+: a fork child source, vma_had_uncowed_parents(),
/// never donates its anon_vma to an unfaulted neighbour), and the target
/// adopts the anon_vma of the next VMA it absorbs or of the source
/// (dup_anon_vma()). The locks are the model's, as in mmap and mprotect:
/// [v3] prev and next write-locked before the decision (16/35);
/// [6.4 – 6.4.7] dup_anon_vma() publishes before vma_prepare() locks;
/// [6.4.8] dup_anon_vma() write-locks the target when it copies
/// (d8ab9f7b644a); [6.18] vma_expand() write-locks the target and the next
/// VMA it removes first. The source is already write-locked (move_vma()).
extension Machine {
    /// Called in the step that split the source to the moved range: the
    /// neighbours of the destination, and [v3] their entry locks.
    mutating func copyVMAStart(_ len: UInt64) {
        let (prev, next) = newRangeNeighbours(t.a2, t.a2 + len)
        t.queue = model.mergeLocksBeforeDecision ? [prev, next].compactMap { $0 } : []
        t.pc = MremapPC.entryLocks
        if !lockNext() {
            t.pc = MremapPC.decide
            copyVMADecide(len)
        }
    }

    /// vma_merge_new_range()'s decision for the copied range: merge into
    /// prev and/or next, or link a new VMA at once.
    mutating func copyVMADecide(_ len: UInt64) {
        let v = t.v!
        let src = w.vmas[v]
        let start = t.a2, end = t.a2 + len
        // An unfaulted anonymous source gets pgoff = new address (so it can merge there).
        let pg = src.anonymous && src.anonVMA == nil ? start >> 12 : src.pgoff
        t.a0 = pg
        readTree(race: .anonTestBeforeLock)
        let (prev, next) = newRangeNeighbours(start, end)
        for n in [prev, next].compactMap({ $0 }) {
            for f in [Field.flags, .file, .pgoff, .policy, .anonVMA, .chain] { readVMA(n, f, race: .anonTestBeforeLock) }
        }
        let mp = prev.map { copiedRangeCanMerge($0, source: v, pg, len, below: true) } ?? false
        var mn = next.map { copiedRangeCanMerge($0, source: v, pg, len, below: false) } ?? false
        // can_vma_merge_right(): prev and next with different anon_vmas merge left only.
        if mp && mn, let pa = w.vmas[prev!].anonVMA, let na = w.vmas[next!].anonVMA, pa != na { mn = false }
        guard mp || mn else { return copyVMALinkNew(len) }
        let tgt = mp ? prev! : next!
        t.n = tgt
        t.source = mp && mn ? next : nil
        step("vma_merge_copied_range", "expand V#\(w.vmas[tgt].id)\(t.source.map { " absorbing V#\(w.vmas[$0].id)" } ?? "")")
        let donor = copyVMADonor()
        if model.everyNewVMALockedBeforeInsert {
            // vma_expand(): the target, and the next VMA it removes, before dup_anon_vma().
            t.queue = [tgt, t.source].compactMap { $0 }
        } else if model.dupAnonVMAWriteLocks && w.vmas[tgt].anonVMA == nil && donor != nil {
            // d8ab9f7b644a: dup_anon_vma() write-locks dst only when it copies.
            t.queue = [tgt]
        }
        t.pc = MremapPC.dupLocks
        if !lockNext() {
            t.pc = MremapPC.dup
            copyVMADupAnonVMA(len)
        }
    }

    /// The VMA whose anon_vma the target adopts: the next VMA it absorbs,
    /// else the source (vma_expand(): dup_anon_vma() from each in turn, a
    /// no-op once the target has one).
    private func copyVMADonor() -> Int? {
        [t.source, t.v].compactMap { $0 }.first { w.vmas[$0].anonVMA != nil }
    }

    /// is_mergeable_vma() + is_mergeable_anon_vma() with the source as the
    /// copied-from donor + pgoff contiguity, for the copied range against `n`.
    func copiedRangeCanMerge(_ n: Int, source v: Int, _ pg: UInt64, _ len: UInt64, below: Bool) -> Bool {
        let o = w.vmas[n], s = w.vmas[v]
        guard o.anonymous == s.anonymous, o.file == s.file, samePolicy(o, s),
              o.flags.symmetricDifference(s.flags).subtracting(VMFlags.ignoredByMerge).isEmpty,
              s.flags.intersection(VMFlags.special).isEmpty, mergeableAnon(n, src: v) else { return false }
        return below ? o.pgoff + ((o.end - o.start) >> 12) == pg : o.pgoff == pg + (len >> 12)
    }

    /// dup_anon_vma(target, donor): target->anon_vma = donor's, then
    /// anon_vma_clone(). With the injected ENOMEM the merge is abandoned
    /// (vma_expand() fails, the target keeps no anon_vma) and copy_vma()
    /// links a new VMA instead.
    mutating func copyVMADupAnonVMA(_ len: UInt64) {
        let tgt = t.n!
        t.pc = MremapPC.prepareLocks
        guard w.vmas[tgt].anonVMA == nil, let d = copyVMADonor(), let a = w.vmas[d].anonVMA else {
            return mremapContinue()
        }
        if cfg.inject.anonVMACloneENOMEM {
            step("anon_vma_clone", "ENOMEM (injected): no merge, copy_vma() links a new VMA")
            t.source = nil
            return copyVMALinkNew(len)
        }
        useAV(a, race: .dupAnonVMA)
        writeVMA(tgt, .anonVMA, race: .dupAnonVMA)
        writeVMA(tgt, .chain, race: .dupAnonVMA)
        w.vmas[tgt].anonVMA = a
        for x in w.vmas[d].chain where !w.vmas[tgt].chain.contains(x) {
            w.vmas[tgt].chain.append(x)
            w.avs[x].links += 1
        }
        step("dup_anon_vma", "V#\(w.vmas[tgt].id)->anon_vma = av\(w.avs[a].id)\(w.isWriteLocked(tgt) ? "" : " (V not write-locked)")")
    }

    /// Runs the next mremap step in this one (after a lock queue that took nothing).
    private mutating func mremapContinue() {
        guard case let .syscall(.mremap(old, size, _, flags, newAddr)) = cfg.programs[cur][t.op] else { return }
        mremapStep(old, size, flags, newAddr)
    }

    /// vma_expand() → commit_merge(): the target covers the copied range
    /// (and the absorbed next VMA, detached and freed). When the source
    /// itself was merged, it is the target from now on (copy_vma()'s `*vmap`).
    mutating func copyVMAExpand(_ old: UInt64, _ len: UInt64) {
        let tgt = t.n!
        let start = t.a2, end = t.a2 + len, pg = t.a0
        writeTree(race: .dupAnonVMA)
        expandOver(tgt, start, end, pgoff: pg, absorbing: t.source)
        if w.vmas[tgt].contains(old) { t.v = tgt }
        step("vma_expand", "V#\(w.vmas[tgt].id) is now \(hexRange(w.vmas[tgt].start, w.vmas[tgt].end))\(t.v == tgt ? " (the source merged into it)" : "")")
        t.pc = MremapPC.move
    }

    /// No merge: a new VMA at the destination sharing the source's anon_vma
    /// and chain (anon_vma_clone()), write-locked before vma_link().
    mutating func copyVMALinkNew(_ len: UInt64) {
        let src = w.vmas[t.v!]
        var proto = src
        proto.start = t.a2
        proto.end = t.a2 + len
        proto.pgoff = t.a0
        let n = w.newVMA(proto)
        for a in src.chain { w.avs[a].links += 1 }
        copyPolicy(to: n)
        if model.perVMALock { w.vmas[n].lockSeq = w.mmLockSeq }
        writeTree(race: .anonTestBeforeLock)
        w.storeTree { $0.append(n) }
        t.n = n
        step("copy_vma", "V#\(w.vmas[n].id) at \(hex(t.a2))\(src.anonVMA.map { ", shares av\(w.avs[$0].id)" } ?? "")")
        t.pc = MremapPC.move
    }
}
