/// VMA surgery shared by the syscall steps, on the engine's values:
/// __split_vma(), unlink_anon_vmas(), put_anon_vma(), the zap of a range
/// (mm/vma.c, mm/rmap.c, mm/memory.c).
extension Machine {
    /// __split_vma() (mm/vma.c) of `v` at `at`: the new VMA takes the part
    /// below (`newBelow`) or above `at`, with a clone of v's anon_vma chain
    /// (anon_vma_clone()). The caller write-locked `v`; the new VMA is
    /// write-locked before insertion only where every new VMA is (~6.6+).
    mutating func splitVMA(_ v: Int, at: UInt64, newBelow: Bool, race: Race) -> Int {
        var proto = w.vmas[v]
        let old = proto
        if newBelow {
            proto.end = at
        } else {
            proto.start = at
            proto.pgoff = old.pgoff + ((at - old.start) >> 12)
        }
        let n = w.newVMA(proto)
        for a in w.vmas[n].chain { w.avs[a].links += 1 }
        copyPolicy(to: n)
        if model.everyNewVMALockedBeforeInsert { w.vmas[n].lockSeq = w.mmLockSeq }
        writeVMA(v, .layout, race: race)
        writeTree(race: race)
        w.storeTree({ $0.append(n) }, layout: { w in
            if newBelow {
                w.vmas[v].start = at
                w.vmas[v].pgoff = old.pgoff + ((at - old.start) >> 12)
            } else {
                w.vmas[v].end = at
            }
        })
        return n
    }

    /// vma_expand() of `tgt` over the new range [start, end) next to it
    /// (pgoff: the range's, when tgt grows down), absorbing `next` (then
    /// detached, unlinked and freed). The caller write-locked both.
    mutating func expandOver(_ tgt: Int, _ start: UInt64, _ end: UInt64, pgoff: UInt64, absorbing next: Int?) {
        writeVMA(tgt, .layout, race: .dupAnonVMA)
        if let n = next {
            let newEnd = w.vmas[n].end
            rec.writes.append(.vma(n, .detached))
            w.vmas[n].detached = true
            w.storeTree({ $0.removeAll { $0 == n } }, layout: { $0.vmas[tgt].end = newEnd })
            unlinkAnonVMAs(n, race: .dupAnonVMA)
            removeVMA(n)
        } else if w.vmas[tgt].end == start {
            w.storeTree({ _ in }, layout: { $0.vmas[tgt].end = end })
        } else {
            w.storeTree({ _ in }, layout: { $0.vmas[tgt].start = start; $0.vmas[tgt].pgoff = pgoff })
        }
    }

    /// put_anon_vma(): the last reference frees it at once (SLAB_TYPESAFE_BY_RCU:
    /// no grace period); a freed child drops its reference on its parent.
    mutating func putAnonVMAIfUnused(_ a: Int) {
        var a = a
        while w.avs[a].links == 0 && w.avs[a].children == 0 && !w.avs[a].freed {
            w.avs[a].freed = true
            rec.writes.append(.av(a))
            let p = w.avs[a].parent
            guard p != a else { return }
            w.avs[p].children -= 1
            a = p
        }
    }

    /// unlink_anon_vmas() (mm/rmap.c): vma->anon_vma = NULL, the chain emptied,
    /// every anon_vma left without links put.
    mutating func unlinkAnonVMAs(_ v: Int, race: Race) {
        guard w.vmas[v].anonVMA != nil || !w.vmas[v].chain.isEmpty else { return }
        writeVMA(v, .anonVMA, race: race)
        writeVMA(v, .chain, race: race)
        let chain = w.vmas[v].chain
        w.vmas[v].anonVMA = nil
        w.vmas[v].chain = []
        for a in chain {
            w.avs[a].links -= 1
            putAnonVMAIfUnused(a)
        }
    }

    /// zap_page_range_single(): clears the PTEs of mm `mm` in [start, end).
    mutating func zap(_ mm: Int, _ start: UInt64, _ end: UInt64) {
        var i = 0
        while i < w.ptes.count {
            let p = w.ptes[i]
            if p.mm == mm && p.vpn >= start >> 12 && p.vpn < end >> 12 {
                writePTE(mm, p.vpn)
                if w.folios[p.folio].anon { w.folios[p.folio].mapcount -= 1 }
                w.ptes.remove(at: i)
            } else {
                i += 1
            }
        }
    }

    /// Detaches `vmas` from the tree (vma_mark_detached() + the tree store).
    mutating func detach(_ vmas: [Int], race: Race) {
        for v in vmas {
            rec.writes.append(.vma(v, .detached))
            w.vmas[v].detached = true
        }
        writeTree(race: race)
        w.storeTree { tree in tree.removeAll { vmas.contains($0) } }
    }

    /// remove_vma(): mpol_put() of its policy, then vm_area_free(): freed after a grace period.
    mutating func removeVMA(_ v: Int) {
        rec.writes.append(.vma(v, .layout))
        if let p = w.vmas[v].policy { putPolicy(p) }
        w.queueFree(.vma(v))
    }
}
