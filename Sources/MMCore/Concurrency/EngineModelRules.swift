/// Rules of the step engine that differ between kernel versions but that
/// the single-threaded Simulation does not need (they change only which
/// lock a step holds, never a serial result). Of the modelled kernels only
/// `6.18` is newer than 6.14, so each is derived from the refcount form of
/// the VMA lock (6.15+); docs/CONCURRENCY.md "Checked against the kernel
/// source" names the function and commit of each.
extension KernelModel {
    /// do_vmi_align_munmap() (mm/mmap.c, 6.1 – 6.5) splits the first VMA with
    /// `__split_vma(vmi, vma, start, 0)`: the new VMA is the part unmapped and
    /// the original keeps the part below; "mm/mmap: change vma iteration
    /// order in do_vmi_align_munmap()" (6.6) reversed it (`new_below = 1`),
    /// as vms_gather_munmap_vmas() (mm/vma.c) still does.
    var munmapSplitsNewBelow: Bool { vmaLockImpl == .refcount }

    /// Up to 6.4.y do_vmi_align_munmap() does not downgrade mmap_lock when
    /// the VMA after the range is VM_GROWSDOWN (it could grow under the read
    /// lock); e4bd84c069f2 ("mm: Always downgrade mmap_lock if requested",
    /// 6.5) removed the exception.
    var munmapAlwaysDowngrades: Bool { vmaLockImpl == .refcount }

    /// madvise(MADV_DONTNEED) (mm/madvise.c, 6.17+): get_lock_mode() answers
    /// MADVISE_VMA_READ_LOCK and try_vma_read_lock() zaps under
    /// lock_vma_under_rcu() alone when the range stays inside one VMA.
    var madviseDontneedUnderVMALock: Bool { vmaLockImpl == .refcount }

    /// lock_vma_under_rcu() (mm/mmap_lock.c, 6.18): vma_start_read() drops
    /// the RCU read lock itself and the range is checked after
    /// rcu_read_unlock() (0b16f8bed19c); before, the range check ran inside
    /// the RCU section.
    var rangeCheckAfterRCUUnlock: Bool { vmaLockImpl == .refcount }
}
