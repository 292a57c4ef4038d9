/// Allocation, linking, cloning and unlinking of anon_vmas and their chains
/// (mm/rmap.c). The search for a reusable anon_vma lives in AnonVMAPrepare.swift,
/// fork in AnonVMAFork.swift.
extension Simulation {
    /// Models anon_vma_alloc() (mm/rmap.c): refcount 1, root = parent = self,
    /// no children, no active VMAs.
    func anonVMAAlloc() -> AnonVMA {
        let av = AnonVMA(id: nextAnonVMAId)
        nextAnonVMAId += 1
        anonVMAs[av.id] = av
        stats.anonVMA.allocated += 1
        stats.anonVMA.live += 1
        return av
    }

    /// Models anon_vma_chain_link() (mm/rmap.c): a new AVC on the VMA's list
    /// and in the anon_vma's interval tree.
    func anonVMAChainLink(_ vma: VMA, _ av: AnonVMA, pid: Int) {
        let avc = AnonVMAChain(id: nextAVCId, vma: vma, anonVMA: av, pid: pid)
        nextAVCId += 1
        vma.chain.append(avc)
        av.avcs[avc.id] = avc
    }

    /// Models anon_vma_clone() for a split or an mremap copy (mm/rmap.c): `dst`
    /// already carries `src`'s anon_vma pointer; link it to every anon_vma on
    /// `src`'s chain (oldest first) so both chains are identical, and count
    /// `dst` as an active user of its anon_vma.
    func anonVMAClone(dst: VMA, src: VMA, pid: Int) {
        precondition(dst.chain.isEmpty)
        for avc in src.chain { anonVMAChainLink(dst, avc.anonVMA, pid: pid) }
        if let av = dst.anonVMA { av.numActiveVMAs += 1 }
    }

    /// Models dup_anon_vma() (mm/vma.c): a merge target without an anon_vma
    /// adopts the source's anon_vma and clones its chain.
    func dupAnonVMA(target: VMA, source: VMA, pid: Int) {
        guard let av = source.anonVMA, target.anonVMA == nil else { return }
        tracer.step("dup_anon_vma", "\(target.rangeDescription) adopts av\(av.id) from \(source.rangeDescription)")
        target.anonVMA = av
        anonVMAClone(dst: target, src: source, pid: pid)
    }

    /// Models unlink_anon_vmas() (mm/rmap.c), docs/KERNEL-MODEL.md §7.2: removes every
    /// AVC of `vma`; an anon_vma whose tree empties drops its parent's
    /// num_children and one reference (put_anon_vma()).
    func unlinkAnonVMAs(_ vma: VMA) {
        guard !vma.chain.isEmpty || vma.anonVMA != nil else { return }
        // The anon_vmas whose tree empties, in that order: the first (the
        // only one of a usual chain) without an array.
        var firstEmptied: AnonVMA?
        var moreEmptied: [AnonVMA] = []
        for avc in vma.chain.reversed() {   // newest first
            let av = avc.anonVMA
            av.avcs.removeValue(forKey: avc.id)
            if av.avcs.isEmpty {
                av.parent.numChildren -= 1
                if firstEmptied == nil { firstEmptied = av } else { moreEmptied.append(av) }
            }
        }
        vma.chain.removeAll()
        if let av = vma.anonVMA {
            av.numActiveVMAs -= 1
            vma.anonVMA = nil
        }
        if let av = firstEmptied { putAnonVMA(av) }
        for av in moreEmptied { putAnonVMA(av) }
    }

    /// Models put_anon_vma() / __put_anon_vma() (mm/rmap.c): drop a reference;
    /// at zero free it and drop the reference it held on its root.
    func putAnonVMA(_ av: AnonVMA) {
        av.refcount -= 1
        guard av.refcount == 0 else { return }
        av.freed = true
        anonVMAs.removeValue(forKey: av.id)
        stats.anonVMA.freed += 1
        stats.anonVMA.live -= 1
        tracer.step("__put_anon_vma", "av\(av.id) freed")
        if let root = av.rootLink, root !== av {
            av.rootLink = nil
            av.parentLink = nil
            putAnonVMA(root)
        }
    }
}
