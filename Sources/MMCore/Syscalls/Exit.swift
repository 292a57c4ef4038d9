/// exit_group(2): exit_mmap() (docs/KERNEL-MODEL.md §7).
extension Simulation {
    /// exit(): tears the address space down and marks the process exited.
    func sysExit(_ p: Process, status: Int) -> SysReturn {
        exitMmap(p)
        p.fds = FDTable()
        p.state = .exited
        p.exitStatus = status
        tracer.step("do_exit", "pid \(p.pid) exited with status \(status)")
        return .zero
    }

    /// Models exit_mmap() (mm/mmap.c): zap every PTE (anonymous folios lose a
    /// mapping and are freed when unmapped everywhere; page-cache pages stay
    /// cached), then free_pgtables() → unlink_anon_vmas() for every VMA in
    /// address order (an anon_vma is freed when its tree empties and its
    /// refcount drops to 0; a root outlives its descendants), then free the VMAs.
    func exitMmap(_ p: Process) {
        let mm = p.mm
        let zapped = zapRange(mm, 0, mm.taskSize &+ Linux.PAGE_SIZE)
        let n = mm.vmas.count
        effects.vmasRemoved.append(contentsOf: mm.vmas.all.map(VMASnapshot.init))
        for vma in mm.vmas { unlinkAnonVMAs(vma) }
        mm.vmas = VMATree()
        mm.committedPages = 0
        tracer.step("exit_mmap", "\(zapped) PTE(s) zapped, \(n) VMA(s) unlinked from their anon_vmas and freed")
    }
}
