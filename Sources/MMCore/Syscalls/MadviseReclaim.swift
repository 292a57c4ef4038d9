/// MADV_FREE and MADV_PAGEOUT (mm/madvise.c `madvise_free_single_vma`,
/// `madvise_cold_or_pageout_pte_range`; mm/vmscan.c `reclaim_pages`,
/// `shrink_folio_list`; mm/rmap.c `try_to_unmap_one`). The machine has no
/// swap: reclaim can only discard lazily freed anonymous folios and clean
/// page-cache pages; every other anonymous page stays mapped.
extension Simulation {
    /// Models madvise_free_single_vma() → madvise_free_pte_range()
    /// (mm/madvise.c): only anonymous VMAs (else EINVAL). Every present PTE of
    /// [start, end) mapping an anonymous folio (not the zero page) is made old
    /// and clean, and the folio lazily freeable (folio_mark_lazyfree()); the
    /// pages stay mapped. A folio shared with a fork child is marked too (its
    /// PG_dirty is not set: the dirty bit lives in the PTEs).
    func madviseFreeSingleVMA(_ p: Process, _ vma: VMA, _ start: UInt64, _ end: UInt64) -> Errno? {
        if !vma.isAnonymous {
            tracer.step("madvise_free_single_vma", "\(vma.rangeDescription) is not anonymous: EINVAL")
            return .EINVAL
        }
        let mm = p.mm
        var marked = 0
        for vpn in mm.pageTable.vpns(in: start, end) {
            guard var pte = mm.pageTable[vpn], pte.present, let f = pte.folio, f.isAnon else { continue }
            pte.dirty = false
            pte.young = false
            mm.pageTable[vpn] = pte
            f.lazyFree = true
            marked += 1
        }
        tracer.step("madvise_free_single_vma", "\(marked) page(s) in [\(hex(start))-\(hex(end))) made clean and lazily freeable; they stay mapped until reclaim")
        return nil
    }

    /// Models MADV_PAGEOUT: madvise_cold_or_pageout_pte_range() (mm/madvise.c)
    /// isolates the folios of [start, end) that are mapped exactly once
    /// (folio_mapcount() == 1; shared folios are left alone; the zero page is
    /// not a normal folio), then reclaim_pages() → shrink_folio_list()
    /// (mm/vmscan.c, references ignored) reclaims each: see reclaimFolio().
    func madvisePageout(_ p: Process, _ vma: VMA, _ start: UInt64, _ end: UInt64) {
        let mm = p.mm
        var discarded = 0, kept = 0
        for vpn in mm.pageTable.vpns(in: start, end) {
            guard let pte = mm.pageTable[vpn], pte.present, let f = pte.folio, !f.isZero, f.mapcount == 1 else { continue }
            if reclaimFolio(mm, vpn, pte, f) { discarded += 1 } else { kept += 1 }
        }
        tracer.step("madvise_cold_or_pageout", "MADV_PAGEOUT [\(hex(start))-\(hex(end))): \(discarded) page(s) reclaimed, \(kept) kept (no swap: only lazily freed anonymous and clean page-cache pages can go)")
    }

    /// Models shrink_folio_list() (mm/vmscan.c) with try_to_unmap_one()
    /// (mm/rmap.c) for a folio mapped once, at `vpn` of `mm`, without swap:
    /// * a lazily freed anonymous folio whose PTE is clean is discarded (the
    ///   PTE cleared, the folio freed: a later read maps the zero page); if
    ///   the PTE was dirtied since MADV_FREE the folio is re-marked swap-backed
    ///   (PG_swapbacked set again) and kept;
    /// * any other anonymous or shmem folio needs swap: add_to_swap() fails, kept;
    /// * a clean page-cache page of a regular file is unmapped and removed from
    ///   the page cache (__remove_mapping()); a dirty one would need writeback: kept.
    /// Returns whether the folio was reclaimed.
    func reclaimFolio(_ mm: MM, _ vpn: UInt64, _ pte: PTE, _ f: Folio) -> Bool {
        switch f.kind {
        case .anon:
            guard f.lazyFree else { return false }
            if pte.dirty {
                f.lazyFree = false
                return false
            }
        case .file:
            guard let inode = f.inode, !inode.isShmem, !pte.dirty else { return false }
            inode.pageCache.removeValue(forKey: f.index)
            inode.uncachedPages.insert(f.index)
        case .shmem, .zero:
            return false
        }
        mm.pageTable.remove(vpn)
        folioRemoveRmap(f)
        effects.pagesZapped += 1
        return true
    }
}
