/// anon_vma handling of fork (docs/KERNEL-MODEL.md §6.2).
extension Simulation {
    /// What anon_vma_fork() did for one child VMA.
    enum AnonVMAForkResult {
        /// The parent VMA had no anon_vma: nothing to do.
        case none
        /// An idle anon_vma of the chain was reused.
        case reused(AnonVMA)
        /// A new child anon_vma was allocated.
        case allocated(AnonVMA)
    }

    /// Models anon_vma_fork() (mm/rmap.c): `child` is a vm_area_dup() of
    /// `parent` with an empty chain. Clone the parent's chain oldest first
    /// (anon_vma_clone()), choosing as the child's anon_vma the first anon_vma
    /// met with fewer than two children and no active VMA (the fork-exit-fork
    /// reuse heuristic; a root is never chosen). Without one, allocate a child
    /// anon_vma (root = parent's root, +1 reference on the root, parent
    /// num_children +1) and link it. The child's chain is then ≥ 2 long: a
    /// fork child.
    func anonVMAFork(child: VMA, parent: VMA, childPid: Int) -> AnonVMAForkResult {
        guard let pav = parent.anonVMA else {
            child.anonVMA = nil
            return .none
        }
        child.anonVMA = nil
        // anon_vma_clone(child, parent) with the reuse heuristic.
        child.chain.reserveCapacity(parent.chain.count + 1)
        for avc in parent.chain {
            let av = avc.anonVMA
            anonVMAChainLink(child, av, pid: childPid)
            if child.anonVMA == nil && av.numChildren < 2 && av.numActiveVMAs == 0 {
                child.anonVMA = av
            }
        }
        if let reused = child.anonVMA {
            reused.numActiveVMAs += 1
            stats.anonVMA.forkReused += 1
            tracer.step("anon_vma_fork", "chain cloned; idle av\(reused.id) (num_children \(reused.numChildren), no active VMA) reused for the child")
            return .reused(reused)
        }
        let av = anonVMAAlloc()
        av.numActiveVMAs = 1
        av.rootLink = pav.root
        av.parentLink = pav
        pav.root.refcount += 1          // get_anon_vma(anon_vma->root)
        child.anonVMA = av
        anonVMAChainLink(child, av, pid: childPid)
        pav.numChildren += 1
        stats.anonVMA.forkCloned += 1
        tracer.step("anon_vma_fork", "chain cloned; new av\(av.id) (parent av\(pav.id), root av\(pav.root.id)) for the child")
        return .allocated(av)
    }
}
